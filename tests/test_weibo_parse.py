"""The Weibo parsers on recorded responses: one fixture per platform message, plus every kind of
answer that is not an observation (tests/fixtures/weibo/manifest.yaml)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from memoryhole.corpus.clock import parse_iso
from memoryhole.corpus.reasons import REASONS
from memoryhole.crawlers import failures
from memoryhole.crawlers.platforms import adapter_for
from memoryhole.crawlers.platforms.weibo import (
    BEIJING,
    html_to_text,
    parse_created_at,
    parse_created_interval,
    signatures,
)

FIXTURES = Path(__file__).parent / "fixtures" / "weibo"
MANIFEST = yaml.safe_load((FIXTURES / "manifest.yaml").read_text("utf-8"))["fixtures"]
weibo = adapter_for("weibo")


def parse(entry):
    body = (FIXTURES / f"{entry['name']}.body").read_bytes()
    fetched_at = parse_iso(entry["fetched_at"])
    parser = weibo.parse_probe if entry["endpoint"] == "probe" else weibo.parse_timeline
    return body, parser(entry["status"], body, fetched_at)


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_fixture(entry):
    body, result = parse(entry)
    expect = entry["expect"]
    assert result.outcome == expect["outcome"], result
    if "reason" in expect:
        assert result.reason == expect["reason"]
        # The platform's exact words are kept, as they appear in the response.
        assert result.message and result.message in html_to_text(body.decode("utf-8"))
    if "failure" in expect:
        assert result.failure == expect["failure"]
        assert getattr(result, "reason", None) is None
    if "posts" in expect:
        assert len(result.posts) == expect["posts"]
        assert len({p.post_id for p in result.posts}) == expect["posts"]
    if "pinned" in expect:
        assert sum(p.pinned for p in result.posts) == expect["pinned"]
    if "post_id" in expect:
        assert result.post.post_id == expect["post_id"]


def test_every_signature_is_backed_by_a_fixture():
    sigs = signatures()
    words = [s.words for s in sigs.post_messages + sigs.account_messages]
    bodies = "".join(html_to_text((FIXTURES / f"{e['name']}.body").read_text("utf-8"))
                     for e in MANIFEST if e["expect"]["outcome"] == "removed")
    for w in words:
        assert w in bodies, f"no fixture shows {w!r}"


def test_every_reason_is_in_the_vocabulary_and_every_fixture_reason_occurs():
    reasons = {e["expect"].get("reason") for e in MANIFEST} - {None}
    assert reasons == set(REASONS)


def test_every_failure_name_is_known():
    for e in MANIFEST:
        if "failure" in e["expect"]:
            assert e["expect"]["failure"] in failures.names()


def test_timeline_page_fields():
    entry = next(e for e in MANIFEST if e["name"] == "timeline_page1")
    body, page = parse(entry)
    cards = json.loads(body)["data"]["cards"]
    first = cards[0]["mblog"]
    post = page.posts[0]
    assert post.post_id == first["mid"] and post.order_key == int(first["mid"])
    assert post.account_id == str(first["user"]["id"]) == "5864320102"
    assert post.extra["bid"] == first["bid"]
    assert post.created_at is not None
    keys = [p.order_key for p in page.posts if not p.pinned]
    assert keys == sorted(keys, reverse=True)   # newest first


def test_pinned_and_card_groups():
    entry = next(e for e in MANIFEST if e["name"] == "timeline_card_group")
    _, page = parse(entry)
    pinned, inner = page.posts
    assert pinned.pinned and not inner.pinned
    assert inner.text == "你好[哈哈]世界"
    assert inner.created_at == datetime(2026, 11, 23, 23, 10, tzinfo=BEIJING)


FETCHED = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)   # 10:30 in Beijing


@pytest.mark.parametrize("text, expected", [
    ("刚刚", FETCHED),
    ("5分钟前", datetime(2026, 11, 24, 2, 25, tzinfo=UTC)),
    ("3小时前", datetime(2026, 11, 23, 23, 30, tzinfo=UTC)),
    ("昨天 23:10", datetime(2026, 11, 23, 23, 10, tzinfo=BEIJING)),
    ("今天 08:05", datetime(2026, 11, 24, 8, 5, tzinfo=BEIJING)),
    ("11-02", datetime(2026, 11, 2, tzinfo=BEIJING)),
    ("2019-03-04", datetime(2019, 3, 4, tzinfo=BEIJING)),
    ("Sat Nov 21 10:00:00 +0800 2020", datetime(2020, 11, 21, 2, 0, tzinfo=UTC)),
    ("sometime", None),
])
def test_created_at_forms(text, expected):
    assert parse_created_at(text, FETCHED) == expected


@pytest.mark.parametrize("text, earliest, latest", [
    ("刚刚", FETCHED - timedelta(minutes=1), FETCHED),
    ("5分钟前", datetime(2026, 11, 24, 2, 24, tzinfo=UTC), datetime(2026, 11, 24, 2, 25, tzinfo=UTC)),
    ("3小时前", datetime(2026, 11, 23, 22, 30, tzinfo=UTC), datetime(2026, 11, 23, 23, 30, tzinfo=UTC)),
    ("昨天 23:10", datetime(2026, 11, 23, 23, 10, tzinfo=BEIJING),
     datetime(2026, 11, 23, 23, 11, tzinfo=BEIJING)),
    # A coarse date names a whole Beijing day: midnight is the *earliest* time, not the latest.
    ("11-02", datetime(2026, 11, 2, tzinfo=BEIJING), datetime(2026, 11, 3, tzinfo=BEIJING)),
    ("2019-03-04", datetime(2019, 3, 4, tzinfo=BEIJING), datetime(2019, 3, 5, tzinfo=BEIJING)),
    ("今天 08:05", datetime(2026, 11, 24, 8, 5, tzinfo=BEIJING),
     datetime(2026, 11, 24, 8, 6, tzinfo=BEIJING)),
    ("11-24", datetime(2026, 11, 24, tzinfo=BEIJING), FETCHED),   # never later than the fetch
    ("sometime", None, None),
])
def test_created_at_is_an_interval_from_the_form(text, earliest, latest):
    interval = parse_created_interval(text, FETCHED)
    assert interval == (None if earliest is None else (earliest, latest))
    if interval:
        assert interval[0] <= parse_created_at(text, FETCHED) <= interval[1]


def test_yesterday_crosses_beijing_midnight_not_utc():
    # 00:30 in Beijing is 16:30 UTC the previous day; "昨天" is Beijing's yesterday.
    fetched = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)
    assert parse_created_at("昨天 23:00", fetched) == datetime(2026, 11, 23, 23, 0, tzinfo=BEIJING)


@pytest.mark.parametrize("status, failure", [(500, "server_error"), (503, "server_error"),
                                             (418, "anti_crawler"), (432, "user_agent_refused"),
                                             (403, "ip_limited"), (429, "rate_limited"),
                                             (302, "unexpected_status")])
def test_status_failures_even_with_a_removal_message_in_the_body(status, failure):
    body = '{"ok":0,"msg":"抱歉，此微博已被作者删除。"}'.encode()
    result = weibo.parse_probe(status, body, FETCHED)
    assert (result.outcome, result.failure) == ("failed", failure)


def test_cut_body_is_truncated_wherever_it_is_cut():
    body = (FIXTURES / "probe_visible.body").read_bytes()
    for cut in range(2, len(body) - 1, max(1, len(body) // 97)):
        result = weibo.parse_probe(200, body[:cut], FETCHED)
        assert (result.outcome, result.failure) == ("failed", "truncated_body"), cut


def test_an_empty_listing_answer_to_a_probe_is_not_a_removal():
    """`这里还没有内容` is what Weibo gives clients it distrusts; on a single post it said
    nothing about the post, but was read as an `unknown` removal."""
    from datetime import UTC, datetime

    from memoryhole.crawlers.platforms.weibo import WeiboAdapter

    body = json.dumps({"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}},
                      ensure_ascii=False).encode()
    at = datetime(2026, 1, 5, tzinfo=UTC)
    probe = WeiboAdapter().parse_probe(200, body, at)
    assert (probe.outcome, probe.failure) == ("failed", "unexpected_answer")
    assert WeiboAdapter().parse_long_text(200, body, at).outcome == "failed"

