"""The campaign scheduler (issue 11): each watchlist at its own cadence, denser while an account's
newest post is young, a request budget per host per hour that is never exceeded (and says who
falls behind), plans edited while running, a campaign killed with -9 that resumes on schedule,
and `memoryhole status` on a healthy and an unhealthy corpus.

The campaigns run the real scheduler and Scrapy against the sandbox on a driven clock
(`memoryhole.driven_campaign`, in a subprocess: one reactor per process), or the real CLI."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from e2e import memoryhole
from memoryhole.corpus.clock import iso, parse_iso
from memoryhole.corpus.store import Corpus
from memoryhole.crawlers import cadence
from memoryhole.crawlers.plan import plan_from_dict, poll_interval

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
STEP = 120.0   # the driven clock's step: the cadences' tolerance on a driven clock
QUICK = {"delay": 0, "concurrency": 4, "timeout": "5s", "retries": 1}


def scenario(accounts: int, **over) -> dict:
    return {"seed": 3, "start": iso(T0), "duration": "3h",
            "accounts": {"count": accounts, "first_uid": 1001, "initial_posts": 12,
                         "posts_per_hour": 0.5, "pinned_share": 0},
            "faults": {"rate": 0}, **over}


def drive(tmp_path: Path, spec: dict) -> dict:
    spec = {"data": str(tmp_path / "data"), **spec}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    result = subprocess.run([sys.executable, "-m", "memoryhole.driven_campaign",
                             str(tmp_path / "spec.json"), str(tmp_path / "out.json")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((tmp_path / "out.json").read_text())


def polls(data: Path) -> dict[tuple[str, str], list[datetime]]:
    """(watchlist, account) -> when page 1 was requested, in order."""
    db = sqlite3.connect(data / "corpus.db")
    found: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for watchlist, account, at in db.execute(
            "SELECT watchlist, account_id, requested_at FROM pages WHERE page = 1 ORDER BY id"):
        found[watchlist, account].append(parse_iso(at))
    return found


def gaps(times: list[datetime]) -> list[float]:
    return [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]


# --- each watchlist at its cadence, adaptive for fresh posts, an edited plan -------------------

PLAN = {"platform": "weibo", "name": "campaign", "politeness": QUICK,
        "watchlists": [{"name": "fast", "accounts": [1001, 1002], "every": "10m", "pages": 1},
                       {"name": "slow", "accounts": [1003, 1004], "every": "30m", "pages": 1},
                       {"name": "fresh", "accounts": [1005, 1006], "every": "1d", "pages": 1,
                        "schedule": "fresh"}]}
EDITED = {**PLAN, "watchlists": [
    {"name": "fast", "accounts": [1001, 1007], "every": "10m", "pages": 1},   # 1002 out, 1007 in
    {"name": "slow", "accounts": [1003, 1004], "every": "20m", "pages": 1},   # denser
    PLAN["watchlists"][2]]}
EDIT_AFTER = 30   # ticks: one simulated hour


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cadence")
    record = drive(tmp, {"scenario": scenario(7), "ticks": 60, "step": STEP, "plans": [PLAN],
                         "edits": {str(EDIT_AFTER): [EDITED]}})
    return tmp / "data", record


def test_each_watchlist_keeps_its_own_cadence(campaign):
    data, record = campaign
    edit_at = parse_iso(record["ticks"][EDIT_AFTER - 1]["at"])
    found = polls(data)
    # On a driven clock every poll falls on a tick, and each is exactly its cadence after the
    # previous one: the measured tolerance is 0 s (on a live clock: plus the tick's sleep, <= 1 s).
    for account in ("1001",):
        assert set(gaps(found["fast", account])) == {600.0}
        assert len(found["fast", account]) == 12
    for account in ("1003", "1004"):
        before = [t for t in found["slow", account] if t <= edit_at]
        after = [t for t in found["slow", account] if t > edit_at]
        assert set(gaps(before)) == {1800.0}
        # The edited cadence from the next tick: overdue by it (30 min since the last poll, 20
        # wanted) at once, then every 20 minutes.
        assert after[0] == edit_at + timedelta(seconds=STEP)
        assert set(gaps(after)) == {1200.0}


def test_fresh_posts_make_their_account_polled_densely(campaign):
    data, _ = campaign
    found = polls(data)
    db = sqlite3.connect(data / "corpus.db")
    plan = plan_from_dict(PLAN)
    fresh = plan.watchlists[2]
    checked = 0
    for account in ("1005", "1006"):
        times = found["fresh", account]
        for before, after in zip(times, times[1:], strict=False):
            # The newest post this account had when it was last polled decides the interval.
            newest = db.execute(
                "SELECT MAX(COALESCE(p.created_at, p.first_seen_at)) FROM sightings s JOIN posts p "
                "ON p.post_id = s.post_id WHERE s.account_id = ? AND s.seen_at <= ? "
                "AND s.via_post_id IS NULL AND s.pinned = 0",
                [account, iso(before)]).fetchone()[0]
            wanted = poll_interval(fresh, (after - parse_iso(newest)).total_seconds())
            # Due once the interval at its age has passed, polled at the first tick after that:
            # never early, less than one step late.
            assert wanted <= (after - before).total_seconds() < wanted + STEP
            checked += 1
    assert checked >= 10
    # Denser than the fixed daily cadence it falls back to, and than the 10-minute watchlist.
    assert len(found["fresh", "1005"]) > len(found["fast", "1001"])


def test_an_edited_plan_is_taken_at_the_next_tick_as_a_new_version(campaign):
    data, record = campaign
    edit_at = parse_iso(record["ticks"][EDIT_AFTER - 1]["at"])
    db = sqlite3.connect(data / "corpus.db")
    versions = db.execute("SELECT version, plan_hash, first_used_at FROM plan_versions "
                          "WHERE plan_key = 'campaign' ORDER BY version").fetchall()
    assert [v[0] for v in versions] == [1, 2]
    assert parse_iso(versions[1][2]) > edit_at
    by_crawl = db.execute("SELECT started_at, plan_hash FROM crawls ORDER BY id").fetchall()
    assert all(h == versions[0][1] for at, h in by_crawl if parse_iso(at) <= edit_at)
    assert all(h == versions[1][1] for at, h in by_crawl if parse_iso(at) > edit_at)
    found = polls(data)
    assert max(found["fast", "1002"]) <= edit_at                     # removed: no longer polled
    assert min(found["fast", "1007"]) == edit_at + timedelta(seconds=STEP)   # added: at once
    # Status and analysts group by version.
    rows = db.execute("SELECT v.version, COUNT(*) FROM crawls c JOIN plan_versions v "
                      "USING (plan_hash) GROUP BY 1").fetchall()
    assert [r[0] for r in rows] == [1, 2] and all(r[1] > 0 for r in rows)


def test_status_of_a_healthy_campaign(campaign):
    data, record = campaign
    result = memoryhole("status", "--data", str(data), now=parse_iso(record["end"]))
    out = result.stdout
    assert "healthy: every watchlist on its cadence" in out, out
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("weibo ")}
    assert {"fast", "slow", "fresh"} <= set(lines)
    assert "adaptive" in lines["fresh"] and " 2 " in lines["slow"]   # plan version 2
    status = json.loads(memoryhole("status", "--data", str(data), "--json",
                                   now=parse_iso(record["end"])).stdout)
    fast = next(w for w in status["watchlists"] if w["watchlist"] == "fast")
    assert fast["pages_hour"] == 10 and fast["lag_seconds"] == 0 and fast["posts_watched"] > 0
    assert status["platforms"][0]["requests_hour"] <= status["platforms"][0]["budget"]


def test_status_is_a_page_in_datasette(campaign, tight):
    import asyncio

    from memoryhole.analysis.publish import make_datasette

    for (data, _), health in ((campaign, "on schedule"), (tight, "falling behind")):
        ds = make_datasette(data)
        response = asyncio.run(ds.client.get("/corpus/campaign_status.json?_shape=array"))
        assert response.status_code == 200, response.text[:500]
        rows = {r["watchlist"]: r for r in response.json()}
        row = rows["fast"] if "fast" in rows else rows["many"]
        assert row["health"].startswith(health) and row["pages_last_hour"] > 0
        if "fast" in rows:
            assert rows["slow"]["plan_version"] == 2 and rows["fast"]["lag_seconds"] == 0
            assert rows["fresh"]["removals_found"] > 0


def test_one_process_runs_several_platforms_each_at_its_cadence(tmp_path):
    weibo = {"platform": "weibo", "politeness": QUICK,
             "watchlists": [{"name": "w", "accounts": [1001, 1002], "every": "10m"}]}
    telegram = {"platform": "telegram", "base_url": "{sandbox}/telegram",
                "pagination": "cursor", "politeness": QUICK,
                "watchlists": [{"name": "channels", "every": "30m",
                                "accounts": ["mhchannel1", "mhchannel2"]}]}
    world = scenario(2, telegram={"channels": 2, "posts": 30, "delete": {"share": 0},
                                  "edits": {"share": 0}})
    record = drive(tmp_path, {"scenario": world, "ticks": 10, "step": 300,
                              "plans": [weibo, telegram]})
    found = polls(tmp_path / "data")
    minutes = {key: [round((t - T0).total_seconds() / 60) for t in times]
               for key, times in found.items()}
    assert minutes["w", "1001"] == [0, 10, 20, 30, 40]
    assert minutes["channels", "mhchannel1"] == [0, 30]
    both = [t for t in record["ticks"] if {c[0] for c in t["crawls"] if c[1]} == {"weibo",
                                                                                "telegram"}]
    assert [t["number"] for t in both] == [1, 7]      # side by side in the same ticks


# --- the budget -------------------------------------------------------------------------------

BUDGET = 40


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """Eight accounts, two pages every ten minutes (~100 requests an hour) on 40 an hour."""
    tmp = tmp_path_factory.mktemp("budget")
    plan = {"platform": "weibo", "name": "tight", "politeness": QUICK,
            "requests_per_hour": BUDGET,
            "watchlists": [{"name": "many", "accounts": list(range(1001, 1009)), "every": "10m",
                            "pages": 2}]}
    record = drive(tmp, {"scenario": scenario(8), "ticks": 40, "step": STEP, "plans": [plan]})
    return tmp / "data", record


def test_the_budget_is_never_exceeded_in_any_hour(tight):
    _, record = tight
    ticks = [(parse_iso(t["at"]), t["requests"]) for t in record["ticks"]]
    assert sum(n for _, n in ticks) > BUDGET          # the campaign did work ...
    worst = max(sum(n for at, n in ticks if end - timedelta(hours=1) < at <= end)
                for end, _ in ticks)
    assert worst <= BUDGET                            # ... and no hour ever went over
    assert worst >= BUDGET * 0.8                      # nor was the budget left unused


def test_a_watchlist_over_budget_is_said_to_fall_behind(tight):
    data, record = tight
    said = [line for t in record["ticks"] for line in t["behind"] if "'many'" in line]
    assert said and "watchlist 'many' is falling behind its cadence" in said[0]
    assert f"({BUDGET} requests/h)" in said[0] and "overdue" in said[-1]
    result = memoryhole("status", "--data", str(data), now=parse_iso(record["end"]), check=False)
    assert result.returncode == 3
    assert "'many' is falling behind its cadence" in result.stdout
    assert "raise requests_per_hour" in result.stdout


# --- kill -9, then resume ------------------------------------------------------------------------

def test_a_killed_campaign_resumes_without_repeating_or_skipping_due_work(tmp_path):
    world = load_scenario({"seed": 3, "start": iso(T0), "duration": 0, "faults": {"rate": 0},
                           "accounts": {"count": 12, "first_uid": 1001, "initial_posts": 12,
                                        "posts_per_hour": 0}})
    accounts = [str(a) for a in range(1001, 1013)]
    plan_path, data = tmp_path / "plan.yaml", tmp_path / "data"
    with SandboxServer(world, clock=ManualClock(T0)) as server:
        plan_path.write_text(yaml.safe_dump({
            "platform": "weibo", "base_url": server.url,
            "politeness": {"delay": "250ms", "concurrency": 1, "timeout": "5s", "retries": 1},
            "watchlists": [{"name": "w", "accounts": accounts, "every": "10m", "pages": 1}]}))
        env = dict(os.environ, MEMORYHOLE_NOW=iso(T0))
        process = subprocess.Popen([sys.executable, "-m", "memoryhole.cli", "schedule",
                                    str(plan_path), "--data", str(data)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while server.stats["requests"] < 6 and time.monotonic() < deadline:
                time.sleep(0.02)   # waiting on another process's progress, not for time to pass
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        killed_after = server.stats["requests"]
        assert 6 <= killed_after < len(accounts)    # it died in the middle of the crawl

        # Restart at the same moment: the dead crawl is recovered and its polls count.
        memoryhole("schedule", str(plan_path), "--data", str(data), "--cycles", "1", now=T0)
        first = polls(data)
        assert sorted(a for _, a in first) == accounts
        assert all(times == [T0] for times in first.values())    # each once: none repeated
        # Five minutes on nothing is due; at ten every account is, once.
        for minutes in (5, 10):
            server.clock.set(T0 + timedelta(minutes=minutes))
            memoryhole("schedule", str(plan_path), "--data", str(data), "--cycles", "1",
                       now=T0 + timedelta(minutes=minutes))
        after = polls(data)
        assert all(times == [T0, T0 + timedelta(minutes=10)] for times in after.values())
    db = sqlite3.connect(data / "corpus.db")
    assert db.execute("SELECT status FROM crawls ORDER BY id LIMIT 1").fetchone()[0] == "crashed"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_second_ctrl_c_changes_nothing(tmp_path):
    world = load_scenario({"seed": 3, "start": iso(T0), "duration": 0, "faults": {"rate": 0},
                           "accounts": {"count": 8, "first_uid": 1001, "initial_posts": 12,
                                        "posts_per_hour": 0}})
    plan_path, data = tmp_path / "plan.yaml", tmp_path / "data"
    with SandboxServer(world, clock=ManualClock(T0)) as server:
        plan_path.write_text(yaml.safe_dump({
            "platform": "weibo", "base_url": server.url,
            "politeness": {"delay": "250ms", "concurrency": 1, "timeout": "5s", "retries": 1},
            "watchlists": [{"name": "w", "accounts": list(range(1001, 1009)), "every": "10m"}]}))
        process = subprocess.Popen([sys.executable, "-m", "memoryhole.cli", "schedule",
                                    str(plan_path), "--data", str(data)],
                                   env=dict(os.environ, MEMORYHOLE_NOW=iso(T0)),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while server.stats["requests"] < 3 and time.monotonic() < deadline:
                time.sleep(0.02)   # waiting on another process's progress
            process.send_signal(signal.SIGINT)
            err = ""
            for line in process.stderr:   # the first is taken: now the impatient second one
                err += line
                if "finishing the requests in flight" in line:
                    break
            second = process.poll() is None
            if second:
                process.send_signal(signal.SIGINT)
            err += process.communicate(timeout=60)[1]
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    assert second and "still finishing the requests in flight" in err
    assert "Traceback" not in err
    db = sqlite3.connect(data / "corpus.db")
    assert [r[0] for r in db.execute("SELECT status FROM crawls")] == ["interrupted"]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = db.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
    assert 0 < stored < 8     # what was fetched before the stop is kept, nothing more asked


# --- due_work itself, and status when things go wrong ------------------------------------------


def _corpus_with_members(tmp_path: Path, polled: dict[str, datetime],
                         newest: dict[str, datetime]) -> Corpus:
    corpus = Corpus(tmp_path / "data")
    for account, at in polled.items():
        corpus.db.execute("INSERT INTO schedule_members (platform, watchlist, member_id, "
                          "last_polled_at, newest_post_at) VALUES ('weibo', 'w', ?, ?, ?)",
                          [account, iso(at), iso(newest[account]) if account in newest else None])
    corpus.db.conn.commit()
    return corpus


def test_due_work_takes_the_latest_for_their_cadence_first_and_keeps_the_rest_due(tmp_path):
    now = T0 + timedelta(hours=5)
    polled = {"1": now - timedelta(minutes=25), "2": now - timedelta(minutes=5),
              "3": now - timedelta(hours=2), "4": now - timedelta(minutes=3)}
    newest = {"2": now - timedelta(minutes=30), "4": now - timedelta(minutes=30)}  # young posts
    corpus = _corpus_with_members(tmp_path, polled, newest)
    plan = plan_from_dict({"platform": "weibo", "base_url": "http://h:1",
                           "requests_per_hour": 7, "politeness": {"obey_robots_txt": False},
                           "watchlists": [{"name": "w", "accounts": ["1", "2", "3", "4", "5"],
                                           "every": "20m", "pages": 2, "schedule": "fresh"}]})
    try:
        work = cadence.due_work(corpus, [plan], now)
        # Due: 5 (never polled), 3 (2 h ago: 5 intervals late), 1 (25 min: a quarter interval
        # late), 2 (5 min, a post under an hour old: 1.5 of its 2-minute intervals late), 4 (3
        # min, young too: half an interval late). Seven requests, one kept for probes, fit three
        # polls of two pages: never polled first, then the latest for its own cadence.
        (load,) = work.plans[0].watchlists
        assert [p.account for p in work.plans[0].polls] == ["5", "3", "2"]
        assert (load.due, load.admitted, load.behind) == (5, 3, 2)
        assert work.plans[0].requests_admitted == 6 <= plan.requests_per_hour
        assert "falling behind" in work.behind_lines()[0] and "2 of 5" in work.behind_lines()[0]
        # The hour's spending counts: once recorded, the next tick gets what is left.
        corpus.write(lambda: cadence.record_tick(corpus.db, work))
        later = cadence.due_work(corpus, [plan], now + timedelta(minutes=1))
        assert later.plans[0].polls == [] and later.hosts["h:1"].used == 6
        everything = cadence.due_work(corpus, [plan], now + timedelta(hours=1, minutes=1),
                                      everything=True)
        assert len(everything.plans[0].polls) == 3
    finally:
        corpus.close()


def test_status_says_what_is_wrong_in_words(tmp_path):
    now = T0 + timedelta(hours=3)
    corpus = _corpus_with_members(tmp_path, {"1": now - timedelta(hours=2)}, {})
    plan = plan_from_dict({"platform": "weibo", "base_url": "http://h:1",
                           "watchlists": [{"name": "w", "accounts": ["1"], "every": "10m"}]})
    try:
        corpus.write(lambda: cadence.record_tick(corpus.db, cadence.due_work(
            corpus, [plan], now - timedelta(hours=1))))
        for k in range(4):   # one session blocked four times today, and cooling down now
            corpus.db.execute(
                "INSERT INTO cooldowns (platform, host, session, cause, started_at, until) "
                "VALUES ('weibo', 'h:1', 'visitor-2', 'http_418', ?, ?)",
                [iso(now - timedelta(hours=4 - k)), iso(now + timedelta(minutes=10 * k - 20))])
        corpus.db.conn.commit()
    finally:
        corpus.close()
    result = memoryhole("status", "--data", str(tmp_path / "data"), now=now, check=False)
    assert result.returncode == 3
    out = result.stdout
    assert "'w' is 50.0 min behind its cadence" in out and "is `memoryhole schedule` running?" in out
    assert "session visitor-2 at h:1 keeps getting blocked: 4 cool-downs in the last day" in out
    assert "cooling down until" in out and "cool-downs now" in out


def test_status_of_an_empty_corpus_is_one_line(tmp_path):
    Corpus(tmp_path / "data").close()
    out = memoryhole("status", "--data", str(tmp_path / "data")).stdout
    assert out.strip().endswith("no scheduled crawl yet (`memoryhole schedule PLAN --data DIR`)")


@pytest.mark.long
def test_adaptive_cadence_narrows_the_intervals_of_young_posts_removals(tmp_path):
    """bench/bench_cadence.py, small: at one budget, removals of posts under an hour old get
    narrower intervals with `schedule: fresh` than with the densest fixed cadence."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from bench_cadence import measure

    found = measure(accounts=20, hours=8, budget=300, fixed_every="5m", root=tmp_path)
    fixed, adaptive = found["fixed"], found["adaptive"]
    assert adaptive["young"] >= 3 and fixed["young"] >= 3
    assert adaptive["median_young"] < fixed["median_young"]
    assert adaptive["worst_hour"] <= 300 and fixed["worst_hour"] <= 300
