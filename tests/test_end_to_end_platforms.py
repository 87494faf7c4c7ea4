"""End to end for the platforms beyond Weibo: the simulated platform on 127.0.0.1 (Telegram's
preview pages, WeChat's article pages), the real CLI and Scrapy, driven clocks. Removals and
reasons must equal the ground truth of what the crawls could see, true times must lie inside the
intervals, and failed fetches must never be removals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
CHANNELS = ["mhchannel1", "mhchannel2", "mhchannel3"]
POLITE = {"delay": 0, "concurrency": 4, "timeout": "5s", "retries": 3}


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


# --- Telegram: a listing watch ------------------------------------------------------------------


@pytest.fixture
def telegram():
    scenario = load_scenario({
        "seed": 11, "start": T0.isoformat(), "duration": 0, "faults": {"rate": 0},
        **QUIET_WEIBO,
        "telegram": {"channels": 3, "posts": 45, "delete": {"share": 0},
                     "edits": {"share": 0}},
    })
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        yield server


def telegram_plan(path: Path, base_url: str, pages: int = 2) -> Path:
    path.write_text(yaml.safe_dump({
        "platform": "telegram", "base_url": f"{base_url}/telegram", "pagination": "cursor",
        "watchlists": [{"name": "channels", "accounts": CHANNELS, "every": "10s",
                        "pages": pages}],
        "politeness": POLITE}), encoding="utf-8")
    return path


def test_telegram_removals_equal_ground_truth_across_faults(telegram, tmp_path):
    data, plan = tmp_path / "data", telegram_plan(tmp_path / "plan.yaml", telegram.url)
    world = telegram.telegram
    nth = {c: [p.post_id for p in world.newest_first(c)] for c in CHANNELS}

    telegram.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    assert exported_removals(data) == []

    world.schedule(minutes(2), "delete", "mhchannel1", nth=0)
    world.schedule(minutes(2), "delete", "mhchannel1", nth=7)
    world.schedule(minutes(2), "delete", "mhchannel2", nth=25)       # on page 2
    world.schedule(minutes(2), "edit", "mhchannel2", nth=3, text="更正：数字写错了")
    world.schedule(minutes(3), "post", "mhchannel3", count=15)      # pushes old posts down
    world.schedule(minutes(4), "delete", "mhchannel3", nth=4)       # still in the window
    world.schedule(minutes(4), "delete", "mhchannel3", nth=38)      # pushed off: unseeable
    # Faults on the first attempt of some fetches: none of them may remove anything.
    telegram.inject_fault("http_502", "/telegram/s/mhchannel1", 1)
    telegram.inject_fault("truncated", "/telegram/s/mhchannel2", 1)
    telegram.inject_fault("captcha", "embed=1", 2)                   # flood wait (429)
    telegram.inject_fault("truncated", "embed=1", 1)

    telegram.clock.set(minutes(5))
    crawl_once(plan, data, minutes(5))

    truth = {p["post_id"]: p for p in world.truth(minutes(5))["posts"]}
    sighted = {r[0] for r in corpus_rows(data, "SELECT post_id FROM posts")}
    unseeable = nth["mhchannel3"][38]
    assert truth[unseeable]["removed_at"] and unseeable in sighted
    expected = {pid: t for pid, t in truth.items()
                if t["removed_at"] and pid in sighted and pid != unseeable}
    got = by_post(exported_removals(data))
    assert len(expected) == 4
    assert_removals_equal_truth(got, expected)
    for removal in got.values():
        assert removal["last_seen_at"].startswith("2026-11-24T02:01:00")
        assert removal["first_missing_at"].startswith("2026-11-24T02:05:00")
    failures = {r[0] for r in corpus_rows(data, "SELECT failure FROM fetch_failures")}
    assert {"server_error", "truncated_body", "rate_limited"} <= failures
    # The edit is a new version of the post, with the new text.
    edited = nth["mhchannel2"][3]
    versions = corpus_rows(data, "SELECT COUNT(*) FROM post_versions WHERE post_id = "
                                 f"'{edited}'")[0][0]
    assert versions == 2
    text = corpus_rows(data, f"SELECT text FROM posts WHERE post_id = '{edited}'")[0][0]
    assert text == "更正：数字写错了"
    card = scorecard(data, telegram, "telegram", minutes(5))
    assert (card.detected, card.observable, card.precision, card.recall,
            card.reason_accuracy) == (4, 4, 1.0, 1.0, 1.0)


def test_telegram_a_probe_that_keeps_failing_removes_nothing(telegram, tmp_path):
    data, plan = tmp_path / "data", telegram_plan(tmp_path / "plan.yaml", telegram.url, pages=1)
    world = telegram.telegram
    gone = world.newest_first("mhchannel1")[2].post_id
    telegram.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    world.schedule(minutes(2), "delete", "mhchannel1", post=int(gone.split("/")[1]))
    telegram.inject_fault("http_500", "embed=1", -1)
    telegram.clock.set(minutes(3))
    crawl_once(plan, data, minutes(3))
    assert exported_removals(data) == []
    telegram.clear_faults()
    telegram.clock.set(minutes(4))
    crawl_once(plan, data, minutes(4))
    got = by_post(exported_removals(data))
    assert set(got) == {gone}
    assert got[gone]["first_missing_at"].startswith("2026-11-24T02:04:00")   # the answer
    assert got[gone]["last_seen_at"].startswith("2026-11-24T02:01:00")


def test_telegram_a_channel_that_hides_its_preview_loses_nothing(telegram, tmp_path):
    data, plan = tmp_path / "data", telegram_plan(tmp_path / "plan.yaml", telegram.url)
    telegram.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    telegram.telegram.schedule(minutes(2), "hide_preview", "mhchannel2")
    telegram.clock.set(minutes(3))
    crawl_once(plan, data, minutes(3))
    assert exported_removals(data) == []
    # The empty listing was checked by probing the channel's newest post: still there.
    statuses = corpus_rows(data, "SELECT status FROM windows WHERE account_id = 'mhchannel2' "
                                 "ORDER BY crawl_id")
    assert [s[0] for s in statuses][-1] in ("empty", "unconfirmed")
    answers = corpus_rows(data, "SELECT outcome FROM probes WHERE account_id = 'mhchannel2'")
    assert answers and {a[0] for a in answers} == {"visible"}


def test_telegram_a_deleted_channel_takes_its_posts_with_it(telegram, tmp_path):
    data, plan = tmp_path / "data", telegram_plan(tmp_path / "plan.yaml", telegram.url, pages=1)
    telegram.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    telegram.telegram.schedule(minutes(2), "delete_channel", "mhchannel3")
    telegram.clock.set(minutes(3))
    crawl_once(plan, data, minutes(3))
    telegram.clock.set(minutes(4))
    crawl_once(plan, data, minutes(4))     # the candidates the empty listing opened are probed
    truth = {p["post_id"]: p for p in telegram.telegram.truth(minutes(4))["posts"]}
    sighted = {r[0] for r in corpus_rows(data, "SELECT post_id FROM posts")}
    expected = {pid: t for pid, t in truth.items() if t["removed_at"] and pid in sighted}
    assert len(expected) == 20   # the first page of mhchannel3, all the crawl ever saw
    assert_removals_equal_truth(by_post(exported_removals(data)), expected)
