"""End to end: the simulated platform on 127.0.0.1, the real CLI and Scrapy, driven clocks.

Between crawl cycles the platform deletes, censors, restricts, suspends, posts and throws faults;
the exported removals must equal the ground truth of what the crawls could see, reasons included.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from e2e import crawl_once, exported_removals, write_plan
from memoryhole.corpus.clock import parse_iso

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
ACCOUNTS = ["1001", "1002", "1003", "1004", "1005"]


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


@pytest.fixture
def sandbox():
    scenario = load_scenario({
        "seed": 11, "start": T0.isoformat(), "duration": 0,
        "accounts": {"count": 5, "first_uid": 1001, "pinned_share": 0.4, "initial_posts": 25,
                     "posts_per_hour": 0},
        "author_delete": {"share": 0}, "censor": {"share": 0}, "restrict": {"share": 0},
        "restore": {"share": 0}, "suspend": {"accounts": 0}, "unknown": {"share": 0},
        "faults": {"rate": 0},
    })
    clock = ManualClock(T0)
    with SandboxServer(scenario, clock=clock) as server:
        yield server


def newest_first(server, account: str) -> list[str]:
    """The account's posts at T0, newest first: index n is the scenario's `nth: n`."""
    posts = [p for p in server.world.truth(T0)["posts"] if p["account_id"] == account]
    return [p["post_id"] for p in sorted(posts, key=lambda p: int(p["post_id"]), reverse=True)]


def by_post(rows):
    return {r["post_id"]: r for r in rows}


def test_removals_equal_ground_truth_across_faults(sandbox, tmp_path):
    data, plan = tmp_path / "data", write_plan(tmp_path / "plan.yaml", sandbox.url, ACCOUNTS)
    world = sandbox.world
    nth = {a: newest_first(sandbox, a) for a in ACCOUNTS}

    # Cycle 1: the baseline.
    sandbox.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    assert exported_removals(data) == []

    # Between the cycles: every kind of disappearance, and one that the crawl cannot see.
    world.schedule(minutes(2), "author_delete", post_id=nth["1001"][0])
    world.schedule(minutes(2), "censor_rules", post_id=nth["1001"][5])
    world.schedule(minutes(2), "censor_complaints", post_id=nth["1002"][12])   # on page 2
    world.schedule(minutes(2), "remove_unattributed", post_id=nth["1002"][3])
    world.schedule(minutes(2), "restrict", post_id=nth["1003"][2])
    world.schedule(minutes(2), "unknown", post_id=nth["1003"][7])
    world.schedule(minutes(3), "suspend", account_id="1004")
    world.schedule(minutes(3), "post", account_id="1005", count=15)  # pushes old posts down
    world.schedule(minutes(4), "author_delete", post_id=nth["1005"][3])   # still in the window
    world.schedule(minutes(4), "author_delete", post_id=nth["1005"][18])  # pushed off: unseeable

    # Faults during cycle 2, each on the first attempt of some fetch.
    sandbox.inject_fault("http_500", "value=1001", 1)
    sandbox.inject_fault("truncated", "value=1002", 1)
    sandbox.inject_fault("captcha", "value=1003", 1)
    sandbox.inject_fault("http_418", "statuses/show", 2)
    sandbox.inject_fault("login_wall", "statuses/show", 1)
    sandbox.inject_fault("http_432", "statuses/show", 1)

    sandbox.clock.set(minutes(5))
    crawl_once(plan, data, minutes(5))

    truth = {p["post_id"]: p for p in world.truth(minutes(5))["posts"]}
    unseeable = nth["1005"][18]
    from memoryhole.corpus.store import Corpus
    corpus = Corpus(data, create=False)
    sighted = {r["post_id"] for r in corpus.db.query("SELECT post_id FROM posts")}
    failures = {r["failure"] for r in corpus.db.query("SELECT failure FROM fetch_failures")}
    corpus.close()

    expected = {pid: t for pid, t in truth.items()
                if t["removed_at"] and pid in sighted and pid != unseeable}
    got = by_post(exported_removals(data))
    assert set(got) == set(expected)
    assert unseeable in truth and truth[unseeable]["removed_at"]   # it was removed, unseen
    for pid, removal in got.items():
        t = expected[pid]
        assert removal["reason"] == t["cause"], pid
        assert removal["message"] == t["message"], pid
        assert parse_iso(removal["last_seen_at"]) <= parse_iso(t["removed_at"])
        assert parse_iso(t["removed_at"]) <= parse_iso(removal["first_missing_at"])
        assert removal["last_seen_at"].startswith("2026-11-24T02:01:00")
        assert removal["first_missing_at"].startswith("2026-11-24T02:05:00")
    reasons = {r["reason"] for r in got.values()}
    assert reasons == {"author_deleted", "platform_removed", "removed_unattributed",
                       "restricted", "unknown", "account_suspended"}
    # The faults happened, were recorded, and removed nothing.
    assert {"server_error", "truncated_body", "captcha", "anti_crawler", "login_wall",
            "user_agent_refused"} <= failures


def test_failed_probes_wait_and_restorations_are_seen(sandbox, tmp_path):
    data, plan = tmp_path / "data", write_plan(tmp_path / "plan.yaml", sandbox.url, ACCOUNTS)
    world = sandbox.world
    nth = {a: newest_first(sandbox, a) for a in ACCOUNTS}
    deleted, restricted = nth["1001"][1], nth["1002"][4]

    sandbox.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    world.schedule(minutes(2), "author_delete", post_id=deleted)
    world.schedule(minutes(2), "restrict", post_id=restricted)
    world.schedule(minutes(6), "restore", post_id=restricted)

    # Cycle 2: every probe answer is a captcha, however often it is retried.
    sandbox.inject_fault("captcha", "statuses/show", -1)
    sandbox.clock.set(minutes(3))
    crawl_once(plan, data, minutes(3))
    assert exported_removals(data) == []

    # Cycle 3: the platform answers; the interval ends at this answer, not at cycle 2.
    sandbox.clear_faults()
    sandbox.clock.set(minutes(4))
    crawl_once(plan, data, minutes(4))
    got = by_post(exported_removals(data))
    assert set(got) == {deleted, restricted}
    assert got[deleted]["reason"] == "author_deleted"
    assert got[restricted]["reason"] == "restricted"
    assert got[deleted]["first_missing_at"].startswith("2026-11-24T02:04:00")
    assert got[deleted]["last_seen_at"].startswith("2026-11-24T02:01:00")

    # Cycle 4: the restricted post is public again.
    sandbox.clock.set(minutes(7))
    crawl_once(plan, data, minutes(7))
    got = by_post(exported_removals(data))
    assert got[restricted]["restored_at"].startswith("2026-11-24T02:07:00")
    assert got[deleted]["restored_at"] is None


def test_since_id_pagination_covers_the_same_windows(sandbox, tmp_path):
    data = tmp_path / "data"
    plan = write_plan(tmp_path / "plan.yaml", sandbox.url, ACCOUNTS, pagination="cursor")
    world = sandbox.world
    nth = {a: newest_first(sandbox, a) for a in ACCOUNTS}
    sandbox.clock.set(minutes(1))
    crawl_once(plan, data, minutes(1))
    world.schedule(minutes(2), "author_delete", post_id=nth["1001"][14])   # on page 2
    world.schedule(minutes(2), "post", account_id="1002", count=6)         # pushes 1002 down
    world.schedule(minutes(2), "censor_rules", post_id=nth["1002"][8])     # still covered
    world.schedule(minutes(2), "author_delete", post_id=nth["1002"][18])   # pushed off
    sandbox.clock.set(minutes(3))
    crawl_once(plan, data, minutes(3))
    got = by_post(exported_removals(data))
    assert {pid: r["reason"] for pid, r in got.items()} == {
        nth["1001"][14]: "author_deleted", nth["1002"][8]: "platform_removed"}
    from memoryhole.corpus.store import Corpus
    corpus = Corpus(data, create=False)
    cursors = corpus.db.execute(
        "SELECT COUNT(*) FROM pages WHERE page = 2 AND cursor IS NOT NULL").fetchone()[0]
    urls = [r[0] for r in corpus.db.execute("SELECT url FROM pages WHERE page = 2")]
    corpus.close()
    assert cursors == 2 * len(ACCOUNTS)   # page 2 of every account, both cycles
    assert all("containerid=230413" in u and "since_id=" in u for u in urls)
