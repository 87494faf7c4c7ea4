"""The WeChat article parser on recorded pages: one fixture per word in wechat_messages.yaml, the
live article in both URL forms, and every page that is not an observation
(tests/fixtures/wechat/manifest.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from memoryhole.corpus.clock import parse_iso
from memoryhole.crawlers.platforms import adapter_for
from memoryhole.crawlers.platforms.html_pages import read_page, visible_text
from memoryhole.crawlers.platforms.wechat import article_id

FIXTURES = Path(__file__).parent / "fixtures" / "wechat"
MANIFEST = yaml.safe_load((FIXTURES / "manifest.yaml").read_text("utf-8"))["fixtures"]
MESSAGES = Path(__file__).parents[1] / "crawlers" / "platforms" / "wechat_messages.yaml"
wechat = adapter_for("wechat")
BASE = "https://mp.weixin.qq.com"


def parse(entry):
    body = (FIXTURES / f"{entry['name']}.body").read_bytes()
    return body, wechat.parse_probe(entry["status"], body, parse_iso(entry["fetched_at"]),
                                    f"{BASE}/{entry['path']}")


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_fixture(entry):
    body, result = parse(entry)
    expect = entry["expect"]
    assert result.outcome == expect["outcome"], result
    if "reason" in expect:
        assert result.reason == expect["reason"]
        assert result.message == expect.get("message", result.message)
        # The platform's words are kept as the page shows them.
        assert result.message == visible_text(read_page(200, body))
    if "failure" in expect:
        assert result.failure == expect["failure"]
        assert result.reason is None
    if expect["outcome"] == "visible":
        post = result.post
        assert post.post_id == entry["path"] == wechat.item_id(f"{BASE}/{entry['path']}")
        assert post.extra["rumor"] is expect.get("rumor", False)
        for key in ("account_id", "text"):
            if key in expect:
                assert getattr(post, key) == expect[key]
        if "title" in expect:
            assert post.extra["title"] == expect["title"]
        if "created_at" in expect:
            assert post.created_at == parse_iso(expect["created_at"])
            assert post.order_key == int(post.created_at.timestamp() * 1000)


def test_every_signature_is_backed_by_a_fixture():
    sigs = wechat.signatures()
    pages = {e["name"]: (FIXTURES / f"{e['name']}.body").read_bytes().decode("utf-8", "replace")
             for e in MANIFEST}
    for table in ("not_observations", "post_messages", "account_messages"):
        for sig in sigs.table(table):
            backing = [e for e in MANIFEST if sig.words in pages[e["name"]]
                       and e["expect"].get("failure" if sig.failure else "reason")
                       in (sig.failure, sig.reason)]
            assert backing, f"no fixture shows {sig.words!r} as {sig.failure or sig.reason}"


def test_unconfirmed_words_stay_unknown():
    raw = yaml.safe_load(MESSAGES.read_text("utf-8"))
    unconfirmed = [r for rows in raw.values() if isinstance(rows, list) for r in rows
                   if r.get("unconfirmed")]
    assert unconfirmed, "the complaints words are unconfirmed"
    assert all(r["reason"] == "unknown" for r in unconfirmed)


def test_the_facts_order_decides_a_page_with_several_words():
    # A verification page that also mentions a removal is still not an observation.
    from memoryhole.sandbox.wechat import message_page
    page = message_page("环境异常", "该内容已被发布者删除")
    assert wechat.parse_probe(200, page, datetime.now(UTC)).failure == "captcha"
    # A live article quoting removal words in its text is live.
    live = (FIXTURES / "probe_visible_short_link.body").read_bytes().replace(
        b"</div></body>", "<p>该内容已被发布者删除</p></div></body>".encode())
    assert wechat.parse_probe(200, live, datetime.now(UTC)).outcome == "visible"


def test_a_page_cut_short_is_not_an_observation():
    for entry in MANIFEST:
        body = (FIXTURES / f"{entry['name']}.body").read_bytes()
        for cut in (len(body) // 3, len(body) - 12):
            result = wechat.parse_probe(200, body[:cut], datetime.now(UTC))
            assert result.outcome == "failed", (entry["name"], cut)


@pytest.mark.parametrize("ref, item", [
    ("https://mp.weixin.qq.com/s/Xy_z-0123456789abcdEF", "s/Xy_z-0123456789abcdEF"),
    ("mp.weixin.qq.com/s/Xy_z-0123456789abcdEF/", "s/Xy_z-0123456789abcdEF"),
    ("http://mp.weixin.qq.com/s?__biz=MzA3MDM3NjE5NQ==&mid=2650&idx=2&sn=9f1c&chksm=ab#rd",
     "s?__biz=MzA3MDM3NjE5NQ==&mid=2650&idx=2&sn=9f1c"),
    ("s?sn=9f1c&idx=2&mid=2650&__biz=MzA3MDM3NjE5NQ%3D%3D",
     "s?__biz=MzA3MDM3NjE5NQ==&mid=2650&idx=2&sn=9f1c"),
])
def test_article_ids_are_canonical_and_idempotent(ref, item):
    assert article_id(ref) == item
    assert article_id(item) == item
    assert wechat.probe_url("http://127.0.0.1:9/wechat", item) == f"http://127.0.0.1:9/wechat/{item}"


@pytest.mark.parametrize("ref", ["https://mp.weixin.qq.com/", "s/", "s?__biz=MzA=&mid=1",
                                 "https://mp.weixin.qq.com/s?__biz=<x>&mid=1&idx=1&sn=2", ""])
def test_what_is_not_an_article_is_refused(ref):
    with pytest.raises(ValueError):
        article_id(ref)
