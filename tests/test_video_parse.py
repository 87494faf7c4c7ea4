"""The Bilibili and Youku parsers on their fixtures (tests/fixtures/{bilibili,youku}/manifest.yaml):
one fixture per entry of their signature files, the visible answers, and answers that are not
observations; and what every signature file must say about words the facts do not confirm."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from memoryhole.corpus.clock import parse_iso
from memoryhole.crawlers.platforms import ADAPTERS, adapter_for
from memoryhole.crawlers.platforms.base import load_signatures

FIXTURES = Path(__file__).parent / "fixtures"
BILIBILI = yaml.safe_load((FIXTURES / "bilibili" / "manifest.yaml").read_text("utf-8"))["fixtures"]
YOUKU = yaml.safe_load((FIXTURES / "youku" / "manifest.yaml").read_text("utf-8"))["fixtures"]
AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def body_of(platform: str, entry: dict) -> bytes:
    return (FIXTURES / platform / f"{entry['name']}.body").read_bytes()


def check_outcome(result, expect: dict) -> None:
    assert result.outcome == expect["outcome"], result
    if "reason" in expect:
        assert (result.reason, result.message) == (expect["reason"], expect["message"])
    if "failure" in expect:
        assert result.failure == expect["failure"]
        assert getattr(result, "reason", None) is None


@pytest.mark.parametrize("entry", BILIBILI, ids=[e["name"] for e in BILIBILI])
def test_bilibili_fixture(entry):
    platform = "bilibili"
    adapter, expect = adapter_for(platform), entry["expect"]
    if entry["endpoint"] == "timeline":
        page = adapter.parse_timeline(entry["status"], body_of("bilibili", entry), AT)
        check_outcome(page, expect)
        if expect["outcome"] == "posts":
            assert [p.post_id for p in page.posts] == expect["post_ids"]
            assert [p.extra["duration"] for p in page.posts] == expect["durations"]
            assert all(p.platform == "bilibili" and p.account_id == "3845290" and
                       p.order_key == p.created_at.timestamp() * 1000 for p in page.posts)
        return
    result = adapter.parse_probe(entry["status"], body_of("bilibili", entry), AT)
    check_outcome(result, expect)
    if expect["outcome"] == "visible":
        post = result.post
        assert (post.platform, post.post_id, post.account_id, post.screen_name, post.text) == (
            platform, expect["post_id"], expect["account_id"], expect["screen_name"],
            expect["text"])
        assert (post.extra["title"], post.extra["duration"]) == (expect["title"],
                                                                 expect["duration"])
        assert post.created_at == parse_iso(expect["created_at"])
        assert post.versioned(adapter.versioned_fields) == {
            "title": expect["title"], "text": expect["text"],
            "screen_name": expect["screen_name"], "duration": expect["duration"]}


@pytest.mark.parametrize("entry", YOUKU, ids=[e["name"] for e in YOUKU])
def test_youku_fixture(entry):
    result = adapter_for("youku").parse_probe(entry["status"], body_of("youku", entry), AT)
    expect = entry["expect"]
    check_outcome(result, expect)
    if expect["outcome"] == "visible":
        post = result.post
        assert (post.extra["title"], post.extra["duration"], post.account_id,
                post.screen_name) == (expect["title"], expect["duration"], expect["account_id"],
                                      expect["screen_name"])


@pytest.mark.parametrize("platform, manifest", [("bilibili", BILIBILI), ("youku", YOUKU)])
def test_every_signature_is_backed_by_a_fixture(platform, manifest):
    """Each entry of the signature file classifies at least one fixture as it says."""
    sigs = adapter_for(platform).signatures()
    for section, table in sigs.tables.items():
        for sig in table:
            backing = [e for e in manifest if sig.words.split("=")[-1] in
                       body_of(platform, e).decode("utf-8", "replace")
                       and e["expect"].get("failure" if sig.failure else "reason")
                       in (sig.failure, sig.reason)]
            assert backing, f"{section}: no fixture shows {sig.words!r}"


def test_a_code_is_matched_exactly_not_as_a_substring():
    """state=-4 (locked) must not classify state=-40, nor code=-404 as code=-4."""
    sigs = adapter_for("bilibili").signatures()
    assert sigs.exact("video_states", "state=-4").reason == "platform_removed"
    assert sigs.exact("video_states", "state=-40") is None
    assert sigs.match("video_states", "state=-40") is not None   # why `exact` exists
    body = (FIXTURES / "bilibili" / "view_state_minus4.body").read_text("utf-8")
    result = adapter_for("bilibili").parse_probe(
        200, body.replace('"state": -4', '"state": -40').encode(), AT)
    assert (result.reason, result.message) == ("unknown", "state=-40")


@pytest.mark.parametrize("platform", sorted(ADAPTERS))
def test_unconfirmed_words_classify_as_unknown_and_are_declared(platform):
    adapter = adapter_for(platform)
    if adapter.messages_file is None:
        pytest.skip("no signature file")
    rows = adapter.declaration()["signatures"]
    assert rows and all(isinstance(r["confirmed"], bool) for r in rows)
    for row in rows:
        if not row["confirmed"]:
            assert row["reason"] in (None, "unknown"), row


def test_a_signature_file_cannot_confirm_by_accident(tmp_path, monkeypatch):
    """An unconfirmed entry with a real reason is refused when the file is read."""
    package = tmp_path / "wordspkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "m.yaml").write_text(
        "version: 1\npost_messages:\n"
        "  - {words: 已删除, reason: platform_removed, unconfirmed: true}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="unconfirmed, so its reason must be unknown"):
        load_signatures("wordspkg", "m.yaml")


def test_bilibili_and_youku_name_their_items():
    videos, youku = adapter_for("bilibili"), adapter_for("youku")
    assert videos.item_id("https://www.bilibili.com/video/BV1vb411879C/?p=2") == "BV1vb411879C"
    assert videos.item_id("BV1vb411879C") == "BV1vb411879C"
    with pytest.raises(ValueError, match="not a Bilibili video"):
        videos.item_id("https://www.bilibili.com/video/av44721369")
    assert youku.item_id("https://v.youku.com/v_show/id_XNDgyMDQ2NTQw.html") == "XNDgyMDQ2NTQw"
    assert youku.item_id("XMTc1ODE5Njcy") == "XMTc1ODE5Njcy"
    with pytest.raises(ValueError, match="not a Youku video"):
        youku.item_id("https://www.youtube.com/watch?v=x")
    with pytest.raises(ValueError, match="mid"):
        adapter_for("bilibili").timeline_url("https://api.bilibili.com", "space.x/1", 1)
    assert adapter_for("bilibili").timeline_url("https://api.bilibili.com", "3845290", 2) == (
        "https://api.bilibili.com/x/space/wbi/arc/search?mid=3845290&pn=2&ps=30&order=pubdate")


def test_datasette_lists_each_platforms_words_with_whether_they_are_confirmed(tmp_path):
    """The declaration a crawl records carries the words; Datasette's platform_signatures
    query shows each with its section, meaning and `confirmed` (real Datasette)."""
    import asyncio

    from memoryhole.analysis.publish import make_datasette, prepare
    from memoryhole.corpus.store import Corpus

    corpus = Corpus(tmp_path)
    for name in ("bilibili", "youku", "weibo"):
        corpus.record_platform(name, ADAPTERS[name].declaration())
    corpus.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    corpus.close()
    prepare(tmp_path)

    async def fetch():
        return await make_datasette(tmp_path).client.get(
            "/corpus/platform_signatures.json?_shape=array")

    response = asyncio.run(fetch())
    assert response.status_code == 200, response.text[:300]
    rows = {(r["platform"], r["words"]): r for r in response.json()}
    assert rows[("bilibili", "state=-3")]["reason"] == "platform_removed"
    assert rows[("bilibili", "state=-3")]["confirmed"] == 1
    assert rows[("bilibili", "code=-412")]["failure"] == "request_blocked"
    deleted = rows[("youku", "删除")]
    assert (deleted["confirmed"], deleted["reason"], deleted["section"]) == (
        0, "unknown", "post_messages")
    assert all(r["confirmed"] == 1 for (platform, _), r in rows.items() if platform == "weibo")


def test_a_bilibili_plan_watches_uploaders_and_named_videos_together():
    """A listing platform that can name items (`item_watch`) takes `items:` watchlists beside
    `accounts:` ones; a listing-only platform still refuses them."""
    from memoryhole.crawlers.plan import PlanError, plan_from_dict

    plan = plan_from_dict({"platform": "bilibili", "watchlists": [
        {"name": "uploaders", "accounts": ["3845290"], "pages": 2},
        {"name": "videos", "items": ["https://www.bilibili.com/video/BV1vb411879C"],
         "schedule": [{"every": "1h"}]}]})
    assert plan.members() == [("uploaders", "account", "3845290"),
                              ("videos", "item", "BV1vb411879C")]
    with pytest.raises(PlanError, match="watched through its listings"):
        plan_from_dict({"platform": "weibo", "watchlists": [
            {"name": "w", "items": ["5076757400000001"]}]})
