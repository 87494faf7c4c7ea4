"""End to end on WeChat's simulated article pages (an item watch): the real CLI and Scrapy,
driven clocks. Removals and reasons equal the truth, true times inside the intervals, failed
probes (verification page, rate limit, 5xx, cut pages) are never removals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from e2e import (
    QUIET_WEIBO,
    assert_removals_equal_truth,
    by_post,
    corpus_rows,
    crawl_once,
    exported_removals,
    scorecard,
)
from test_end_to_end_platforms import POLITE, T0, minutes

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

# --- WeChat: an item watch ----------------------------------------------------------------------


@pytest.fixture
def wechat():
    scenario = load_scenario({
        "seed": 11, "start": T0.isoformat(), "duration": 0, "faults": {"rate": 0},
        **QUIET_WEIBO,
        "wechat": {"accounts": 3, "articles": 6, "removals": {"share": 0}},
    })
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        yield server


def wechat_plan(path: Path, server: SandboxServer, urls: list[str]) -> Path:
    path.write_text(yaml.safe_dump({
        "platform": "wechat", "base_url": f"{server.url}/wechat",
        "watchlists": [{"name": "articles", "items": urls, "schedule": [{"every": "1m"}]}],
        # Removed items leave the watch schedule for the re-probe policy: confirm soon.
        "reprobe": {"confirm_after": "1m", "recheck_after": ["1h"]},
        "politeness": POLITE}, allow_unicode=True), encoding="utf-8")
    return path


def test_wechat_removals_equal_ground_truth_across_faults(wechat, tmp_path):
    world = wechat.wechat
    articles = world.truth(T0)
    data = tmp_path / "data"
    plan = wechat_plan(tmp_path / "plan.yaml", wechat, [a["url"] for a in articles])

    wechat.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    assert exported_removals(data) == []
    assert len(corpus_rows(data, "SELECT post_id FROM posts")) == len(articles)

    first = [a for a in world.articles if a.account == 0]
    for article, action in zip(first, ("delete", "violation", "copyright", "marketing",
                                       "privacy", "unknown"), strict=True):
        world.schedule(minutes(2), action, article=article.item_id)
    world.schedule(minutes(2), "block", account=1)        # every article of account 1
    world.schedule(minutes(6), "restore", article=first[4].item_id)
    # Faults on the first attempt of some probes: retried, and never a removal.
    wechat.inject_fault("captcha", first[0].token if first[0].short else first[0].sn, 1)
    wechat.inject_fault("login_wall", "/wechat/", 2)
    wechat.inject_fault("http_500", "/wechat/", 1)
    wechat.inject_fault("truncated", "/wechat/", 1)

    wechat.clock.set(minutes(5))
    crawl_once(plan, data, minutes(5))

    truth = {a["item_id"]: a for a in world.truth(minutes(5))}
    expected = {pid: t for pid, t in truth.items() if t["removed_at"]}
    assert len(expected) == 6 + 6
    got = by_post(exported_removals(data))
    assert_removals_equal_truth(got, expected)
    for removal in got.values():
        assert removal["last_seen_at"].startswith("2026-11-24T02:01:00")
        assert removal["first_missing_at"].startswith("2026-11-24T02:05:00")
    assert {r["reason"] for r in got.values()} == {
        "author_deleted", "platform_removed", "restricted", "unknown", "account_suspended"}
    failures = {r[0] for r in corpus_rows(data, "SELECT failure FROM fetch_failures")}
    assert {"captcha", "rate_limited", "server_error", "truncated_body"} <= failures
    # A removed article can still be read: its text and title were kept when it was live.
    gone = first[0]
    text, extra = corpus_rows(data, "SELECT text, extra FROM posts WHERE post_id = "
                                    f"'{gone.item_id}'")[0]
    assert text == "\n".join(gone.paragraphs) and gone.title in extra

    # The restricted article comes back; the confirming re-probe sees it.
    wechat.clock.set(minutes(7))
    crawl_once(plan, data, minutes(7))
    got = by_post(exported_removals(data))
    assert got[first[4].item_id]["restored_at"].startswith("2026-11-24T02:07:00")
    card = scorecard(data, wechat, "wechat", minutes(7), item_watch=True)
    assert (card.precision, card.recall, card.reason_accuracy) == (1.0, 1.0, 1.0)
    assert card.observable == 12 and card.restorations_detected == 1


def test_wechat_a_verification_page_every_time_removes_nothing(wechat, tmp_path):
    world = wechat.wechat
    article = world.articles[0]
    data = tmp_path / "data"
    plan = wechat_plan(tmp_path / "plan.yaml", wechat, [article.url])
    wechat.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    world.schedule(minutes(2), "violation", article=article.item_id)
    wechat.inject_fault("captcha", "/wechat/", -1)
    wechat.clock.set(minutes(3))
    crawl_once(plan, data, minutes(3))
    assert exported_removals(data) == []
    wechat.clear_faults()
    wechat.clock.set(minutes(4))
    crawl_once(plan, data, minutes(4))
    [removal] = exported_removals(data)
    assert (removal["reason"], removal["message"]) == ("platform_removed", "此内容因违规无法查看")
    assert removal["first_missing_at"].startswith("2026-11-24T02:04:00")
