"""End to end on a simulated news site with an RSS feed (a listing watch whose articles are
probed by URL) and on simulated Toutiao pages (an item watch with a ttwid session): the real CLI
and Scrapy, driven clocks. Removals and reasons equal the truth, true times lie inside the
intervals, failed fetches and a feed rolling over are never removals, changed bodies (and only
they) are new versions."""

from __future__ import annotations

import json
import re
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
    memoryhole,
    scorecard,
)
from test_end_to_end_platforms import POLITE, T0, minutes

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

BASE = {"seed": 11, "start": T0.isoformat(), "duration": 0, "faults": {"rate": 0},
        **QUIET_WEIBO}


# --- a news site through its feed ---------------------------------------------------------------


@pytest.fixture
def news():
    scenario = load_scenario({**BASE, "news": {"articles": 10, "later": 8,
                                               "later_within": "600s", "feed_size": 8}})
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        yield server


def news_plan(path: Path, server: SandboxServer, schedule: bool = True) -> Path:
    watchlist = {"name": "site", "accounts": [f"{server.url}/news/feed.xml"], "every": "10s",
                 "pages": 1}
    if schedule:
        watchlist["probe_schedule"] = [{"every": "1m"}]
    path.write_text(yaml.safe_dump({
        "platform": "news", "watchlists": [watchlist],
        "reprobe": {"confirm_after": "1m", "recheck_after": ["1h"]},
        "politeness": {**POLITE, "obey_robots_txt": False}}, allow_unicode=True),
        encoding="utf-8")
    return path


def versions(data: Path, post_id: str) -> list[dict]:
    rows = corpus_rows(data, "SELECT version, changed FROM post_versions WHERE post_id = "
                             f"'{post_id}' ORDER BY version")
    return [{"version": v, "changed": json.loads(c)} for v, c in rows]


def feed_urls(world, at) -> list[str]:
    """The articles the feed lists at `at`, newest first."""
    return re.findall(r"<link>(http[^<]+\.html)</link>", world.feed(at).decode())


def test_news_removals_equal_ground_truth_and_a_rolling_feed_removes_nothing(news, tmp_path):
    world = news.news
    data, plan = tmp_path / "data", news_plan(tmp_path / "plan.yaml", news)
    news.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    assert exported_removals(data) == []
    in_feed = feed_urls(world, minutes(1))
    assert len(in_feed) == 8
    seen = {r[0] for r in corpus_rows(data, "SELECT post_id FROM posts")}
    assert seen == set(in_feed)
    # Every article's page was read once: version 1 is its main text, not the feed's teaser.
    for url in in_feed:
        assert [v["version"] for v in versions(data, url)] == [1], url

    fates = ("gone404", "gone410", "redirect_home", "redirect_section", "soft404")
    # The five oldest go; the newest is edited; later articles push the rest off the feed.
    edited, targets = in_feed[0], in_feed[-5:]
    for url, action in zip(targets, fates, strict=True):
        world.schedule(minutes(2), action, url)
    world.schedule(minutes(2), "edit", edited)
    # Failures on first attempts: retried, never removals (a cut feed, a 500, a captcha page).
    news.inject_fault("truncated", "/news/feed.xml", 1)
    news.inject_fault("http_500", world.article(targets[0]).key, 1)
    news.inject_fault("captcha", world.article(targets[2]).key, 1)

    news.clock.set(minutes(12))
    crawl_once(plan, data, minutes(12))
    truth = {a["item_id"]: a for a in world.truth(minutes(12))}
    expected = {pid: t for pid, t in truth.items() if t["removed_at"]}
    assert set(expected) == set(targets)
    got = by_post(exported_removals(data))
    assert_removals_equal_truth(got, expected)
    assert {r["reason"] for r in got.values()} == {"removed_unattributed", "unknown"}
    failures = {r[0] for r in corpus_rows(data, "SELECT failure FROM fetch_failures")}
    assert {"truncated_body", "server_error", "captcha"} <= failures
    # A redirect's evidence: the archived answer the redirect led to, and what it meant.
    shown = memoryhole("evidence", targets[2], "--data", str(data), "--json").stdout
    assert "redirected to" in shown and "removed_unattributed" in shown
    # Rolled off the feed, still there: no removal (and still probed on the schedule).
    rolled = [u for u in in_feed if u not in feed_urls(world, minutes(12)) and u not in expected]
    assert rolled and not set(rolled) & set(got)
    # The edit is a new version of the body; the related box that changes every minute is not.
    edits = versions(data, edited)
    assert [v["version"] for v in edits] == [1, 2]
    assert edits[1]["changed"]["body"] == truth[edited]["versions"][-1]["text"]
    for url in set(in_feed) - set(expected) - {edited}:
        assert [v["version"] for v in versions(data, url)] == [1], url

    # Rolled off, then removed: only the scheduled probe of the article itself sees it.
    world.schedule(minutes(13), "gone404", rolled[0])
    news.clock.set(minutes(14))
    crawl_once(plan, data, minutes(14))
    got = by_post(exported_removals(data))
    truth = {a["item_id"]: a for a in world.truth(minutes(14))}
    assert_removals_equal_truth(got, {p: t for p, t in truth.items() if t["removed_at"]})
    assert got[rolled[0]]["reason"] == "removed_unattributed"
    # Scored against the truth: every probe that answered while an article was gone counts.
    card = scorecard(data, news, "news", minutes(14), item_watch=True)
    assert (card.precision, card.recall, card.reason_accuracy) == (1.0, 1.0, 1.0)
    assert card.observable == 6 and card.interval_accuracy == 1.0

    # The archive alone gives the same removals again: redirects, sessions and feeds replay.
    into = tmp_path / "reparsed"
    memoryhole("reparse", "--data", str(data), "--into", str(into))
    assert by_post(exported_removals(into)) == got
    assert corpus_rows(into, "SELECT post_id, version, changed FROM post_versions ORDER BY 1, 2") \
        == corpus_rows(data, "SELECT post_id, version, changed FROM post_versions ORDER BY 1, 2")


@pytest.mark.long
def test_news_without_a_schedule_probes_only_what_left_the_covered_feed(news, tmp_path):
    world = news.news
    data, plan = tmp_path / "data", news_plan(tmp_path / "plan.yaml", news, schedule=False)
    news.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    in_feed = feed_urls(world, minutes(1))
    gone = in_feed[0]   # the newest: still inside the part of the feed the next crawl covers
    world.schedule(minutes(2), "gone410", gone)
    news.clock.set(minutes(4))
    crawl_once(plan, data, minutes(4))
    [removal] = exported_removals(data)
    assert (removal["post_id"], removal["reason"], removal["message"]) == (
        gone, "removed_unattributed", "HTTP 410")
    # Articles that rolled off lie below the feed's window: never candidates, never probed.
    rolled = set(in_feed) - set(feed_urls(world, minutes(4))) - {gone}
    assert rolled
    probed = {r[0] for r in corpus_rows(data, "SELECT post_id FROM probes")}
    assert probed == {gone}


@pytest.mark.long
def test_a_feed_that_is_a_verification_page_every_time_removes_nothing(news, tmp_path):
    world = news.news
    data, plan = tmp_path / "data", news_plan(tmp_path / "plan.yaml", news)
    news.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    world.schedule(minutes(2), "gone404", world.url(world.articles[-5]))
    news.inject_fault("captcha", "/news/", -1)
    news.clock.set(minutes(3))
    run = memoryhole("crawl", str(plan), "--data", str(data), "--once", now=minutes(3),
                     check=False)
    assert run.returncode == 1
    assert f"nothing could be fetched from 127.0.0.1:{news.port}" in run.stderr
    assert "check the feeds' URLs" in run.stderr
    assert exported_removals(data) == []
    failures = {r[0] for r in corpus_rows(data, "SELECT DISTINCT failure FROM fetch_failures")}
    assert failures == {"captcha"}


# --- Toutiao pages with a ttwid session --------------------------------------------------------


@pytest.fixture
def toutiao():
    scenario = load_scenario({**BASE, "toutiao": {"articles": 3, "posts": 2, "videos": 2}})
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        yield server


def toutiao_plan(path: Path, server: SandboxServer, items: list[str],
                 ttwid: str = "register") -> Path:
    path.write_text(yaml.safe_dump({
        "platform": "toutiao", "base_url": f"{server.url}/toutiao",
        "options": {"ttwid": ttwid,
                    "ttwid_register_url": f"{server.url}/toutiao/ttwid/union/register/"},
        "watchlists": [{"name": "items", "items": items, "schedule": [{"every": "1m"}]}],
        "reprobe": {"confirm_after": "1m", "recheck_after": ["1h"]},
        "politeness": {**POLITE, "obey_robots_txt": False}}, allow_unicode=True),
        encoding="utf-8")
    return path


def test_toutiao_removals_are_unknown_with_the_page_kept(toutiao, tmp_path):
    world = toutiao.toutiao
    items = [world.item_id(i) for i in world.items]
    data = tmp_path / "data"
    plan = toutiao_plan(tmp_path / "plan.yaml", toutiao,
                        [f"https://www.toutiao.com/{i}/" for i in items])
    toutiao.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    assert exported_removals(data) == []
    assert len(corpus_rows(data, "SELECT post_id FROM posts")) == len(items)
    # The session's cookie went with every probe.
    headers = corpus_rows(data, "SELECT COUNT(*) FROM probes WHERE outcome = 'visible'")
    assert headers[0][0] == len(items)

    world.schedule(minutes(2), "gone", items[0])        # an article: words, no data
    world.schedule(minutes(2), "gone404", items[3])     # a micro-post: HTTP 404
    world.schedule(minutes(2), "gone", items[5])        # a video
    world.schedule(minutes(2), "edit", items[1])
    world.schedule(minutes(4), "restore", items[5])
    toutiao.inject_fault("http_500", items[0], 1)
    toutiao.clock.set(minutes(3))
    crawl_once(plan, data, minutes(3))
    truth = {t["item_id"]: t for t in world.truth(minutes(3))}
    expected = {pid: t for pid, t in truth.items() if t["removed_at"]}
    got = by_post(exported_removals(data))
    assert_removals_equal_truth(got, expected)
    assert {r["reason"] for r in got.values()} == {"unknown"}
    # The raw page is kept as the evidence of each unknown removal.
    kept = corpus_rows(data, "SELECT r.post_id, length(p.response_body) FROM removals r "
                             "JOIN probes p ON p.id = r.probe_id")
    assert len(kept) == 3 and all(n > 0 for _, n in kept)
    assert [v[0] for v in corpus_rows(
        data, f"SELECT version FROM post_versions WHERE post_id = '{items[1]}'")] == [1, 2]

    toutiao.clock.set(minutes(5))
    crawl_once(plan, data, minutes(5))
    got = by_post(exported_removals(data))
    assert got[items[5]]["restored_at"].startswith("2026-11-24T02:05:00")
    card = scorecard(data, toutiao, "toutiao", minutes(5), item_watch=True)
    assert (card.precision, card.recall, card.reason_accuracy) == (1.0, 1.0, 1.0)
    assert card.observable == 3 and card.restorations_detected == 1
    # The archive alone (the ttwid session's answer included) gives the same removals again.
    into = tmp_path / "reparsed"
    memoryhole("reparse", "--data", str(data), "--into", str(into))
    assert by_post(exported_removals(into)) == got


@pytest.mark.long
def test_toutiao_without_the_cookie_every_page_is_a_failure(toutiao, tmp_path):
    world = toutiao.toutiao
    item = world.item_id(world.items[0])
    data = tmp_path / "data"
    plan = toutiao_plan(tmp_path / "plan.yaml", toutiao, [item], ttwid="off")
    toutiao.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    world.schedule(minutes(2), "gone", item)
    toutiao.clock.set(minutes(3))
    crawl_once(plan, data, minutes(3))
    assert exported_removals(data) == []
    assert {r[0] for r in corpus_rows(data, "SELECT failure FROM fetch_failures")} == {"captcha"}


@pytest.mark.long
def test_news_over_hours_of_random_fates_and_faults_scores_perfectly(tmp_path):
    """60 articles (30 published during the run), a feed of 12, 40% removed by a random fate,
    20% edited, 10% of requests faulted; crawled every 15 minutes for 4 hours."""
    scenario = load_scenario({**BASE, "faults": {"rate": 0.1},
                              "news": {"articles": 30, "later": 30, "later_within": "2h",
                                       "feed_size": 12,
                                       "removals": {"share": 0.4, "delay": {"min": "10m",
                                                                            "max": "3h"}},
                                       "edits": {"share": 0.2, "delay": {"min": "5m",
                                                                         "max": "2h"}}}})
    data = tmp_path / "data"
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        plan = news_plan(tmp_path / "plan.yaml", server)
        raw = yaml.safe_load(plan.read_text("utf-8"))
        raw["watchlists"][0]["probe_schedule"] = [{"every": "15m"}]
        raw["reprobe"] = {"confirm_after": "30m", "recheck_after": ["2h"]}
        plan.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        end = 0
        for cycle in range(1, 17):
            end = cycle * 15
            server.clock.set(minutes(end))
            crawl_once(plan, data, minutes(end))
        card = scorecard(data, server, "news", minutes(end), item_watch=True)
        truth = {a["item_id"]: a for a in server.news.truth(minutes(end))}
    print(card.table("news, 4 simulated hours"))
    assert card.observable >= 10
    assert (card.precision, card.recall, card.reason_accuracy, card.interval_accuracy) == (
        1.0, 1.0, 1.0, 1.0)
    # No version without a true edit: a page changing around the same text makes none.
    latest = corpus_rows(data, "SELECT post_id, MAX(version) FROM post_versions GROUP BY 1")
    for post_id, count in latest:
        assert count <= len(truth[post_id]["versions"]), post_id
    edited = sum(count > 1 for _, count in latest)
    print(f"articles seen edited (a second version): {edited}")
    assert edited >= 1
