"""The Telegram preview parsers on recorded pages: listing pages (newest first, `before`
cursors, the redirect of a channel without a public preview), the embed of a live and of a
deleted post, and answers that are not observations (tests/fixtures/telegram/manifest.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from memoryhole.corpus.clock import parse_iso
from memoryhole.crawlers.platforms import adapter_for
from memoryhole.crawlers.platforms.telegram import channel_name

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
MANIFEST = yaml.safe_load((FIXTURES / "manifest.yaml").read_text("utf-8"))["fixtures"]
telegram = adapter_for("telegram")
BASE = "https://t.me"


def parse(entry):
    body = (FIXTURES / f"{entry['name']}.body").read_bytes()
    parser = telegram.parse_probe if entry["endpoint"] == "probe" else telegram.parse_timeline
    return body, parser(entry["status"], body, parse_iso(entry["fetched_at"]),
                        f"{BASE}/{entry['path']}")


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_fixture(entry):
    body, result = parse(entry)
    expect = entry["expect"]
    assert result.outcome == expect["outcome"], result
    if "reason" in expect:
        assert (result.reason, result.message) == (expect["reason"], expect["message"])
        assert result.message.encode() in body
    if "failure" in expect:
        assert result.failure == expect["failure"]
    if "posts" in expect:
        assert [p.post_id for p in result.posts] == expect["posts"]
        assert [p.order_key for p in result.posts] == sorted(
            (p.order_key for p in result.posts), reverse=True)
        assert all(p.account_id == p.post_id.split("/")[0] for p in result.posts)
        assert all(p.created_at is not None and p.created_at.tzinfo for p in result.posts)
        assert result.next_cursor == expect["next_cursor"]
    if "first_text" in expect:
        assert result.posts[0].text == expect["first_text"]
    if expect["outcome"] == "visible":
        assert result.post.post_id == expect["post_id"]
        assert result.post.text == expect["text"]
        assert result.post.created_at == parse_iso(expect["created_at"])


def test_every_signature_is_backed_by_a_fixture():
    pages = {e["name"]: (FIXTURES / f"{e['name']}.body").read_bytes().decode("utf-8", "replace")
             for e in MANIFEST}
    for sig in telegram.signatures().post_messages:
        assert any(sig.words in pages[e["name"]] and e["expect"].get("reason") == sig.reason
                   for e in MANIFEST), sig.words


def test_a_redirect_away_from_the_preview_is_no_page_of_posts():
    entry = next(e for e in MANIFEST if e["name"] == "timeline_no_public_preview")
    assert "/s/" not in entry["path"]
    body = (FIXTURES / f"{entry['name']}.body").read_bytes()
    # Without the final URL, the channel page itself says so (no history, a .tgme_page).
    assert telegram.parse_timeline(200, body, datetime.now(UTC)).outcome == "end"
    # Some other page is no observation.
    other = b"<!DOCTYPE html><html><body><div class='x'>hello</div></body></html>"
    assert telegram.parse_timeline(200, other, datetime.now(UTC)).outcome == "failed"


def test_pages_go_by_cursor_only():
    assert telegram.timeline_url(BASE, "@MHChannel1", 1) == f"{BASE}/s/mhchannel1"
    assert telegram.timeline_url(BASE, "mhchannel1", 2, "7") == f"{BASE}/s/mhchannel1?before=7"
    with pytest.raises(ValueError):
        telegram.timeline_url(BASE, "mhchannel1", 2)
    assert telegram.probe_url(BASE, "mhchannel1/7") == f"{BASE}/mhchannel1/7?embed=1"


@pytest.mark.parametrize("ref", ["mhchannel1", "@MhChannel1", "https://t.me/s/mhchannel1",
                                 "t.me/mhchannel1"])
def test_channel_names(ref):
    assert channel_name(ref) == "mhchannel1"


def test_a_page_cut_short_is_not_an_observation():
    for entry in MANIFEST:
        body = (FIXTURES / f"{entry['name']}.body").read_bytes()
        for cut in (len(body) // 2, len(body) - 10):
            for parser in (telegram.parse_probe, telegram.parse_timeline):
                assert parser(200, body[:cut], datetime.now(UTC)).outcome == "failed"


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:00",
                                  "2026-02-31T00:00:00", "x"])
def test_an_odd_time_leaves_the_post_undated(when):
    # Found by the long fuzz: a time that exists in its own offset but not in UTC raised.
    page = ('<!DOCTYPE html><html><body><section class="tgme_channel_history">'
            '<div class="tgme_widget_message" data-post="mhchannel1/7"><div class="tgme_widget_'
            'message_text">x</div><a class="tgme_widget_message_date"><time datetime="'
            f'{when}">x</time></a></div></section></body></html>').encode()
    result = telegram.parse_timeline(200, page, datetime.now(UTC))
    assert result.outcome == "posts" and result.posts[0].created_at is None
