"""Distributed crawling on scrapy-redis, against a real redis-server and the simulated platform.

Workers (`memoryhole worker`) and the campaign (`memoryhole crawl --redis`, which ingests) run as
processes, as on separate machines; the crawler's clock is frozen per cycle (MEMORYHOLE_NOW) so
the distributed corpus can be compared with a single-process one row for row.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from e2e import crawl_once, exported_removals, memoryhole, write_plan
from memoryhole.corpus.clock import iso
from memoryhole.corpus.store import Corpus, FetchFailure, PageObservation, WarcRef
from memoryhole.corpus.warc import Exchange, crawl_files, iter_responses, read_response
from memoryhole.crawlers import workqueue
from memoryhole.crawlers.ingester import Ingester
from memoryhole.crawlers.worker import PENDING
from redis_server import RedisServer, start_worker, stop

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
ACCOUNTS = ["1001", "1002", "1003", "1004"]


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def scenario():
    return load_scenario({
        "seed": 11, "start": T0.isoformat(), "duration": 0,
        "accounts": {"count": 4, "first_uid": 1001, "pinned_share": 0.4, "initial_posts": 25,
                     "posts_per_hour": 0},
        "author_delete": {"share": 0}, "censor": {"share": 0}, "restrict": {"share": 0},
        "restore": {"share": 0}, "suspend": {"accounts": 0}, "unknown": {"share": 0},
        "faults": {"rate": 0, "slow_seconds": 3},
    })


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def newest_first(server, account: str) -> list[str]:
    posts = [p for p in server.world.truth(T0)["posts"] if p["account_id"] == account]
    return [p["post_id"] for p in sorted(posts, key=lambda p: int(p["post_id"]), reverse=True)]


def schedule_removals(server) -> None:
    nth = {a: newest_first(server, a) for a in ACCOUNTS}
    world = server.world
    world.schedule(minutes(2), "author_delete", post_id=nth["1001"][0])
    world.schedule(minutes(2), "censor_rules", post_id=nth["1001"][5])
    world.schedule(minutes(2), "censor_complaints", post_id=nth["1002"][12])   # on page 2
    world.schedule(minutes(2), "restrict", post_id=nth["1003"][2])
    world.schedule(minutes(3), "suspend", account_id="1004")


def inject_faults(server) -> None:
    server.inject_fault("http_500", "value=1001", 1)
    server.inject_fault("truncated", "value=1002", 1)
    server.inject_fault("http_418", "statuses/show", 2)


def env_at(now: datetime, tmp_path: Path) -> dict[str, str]:
    # Every warning shown once per place, as a researcher's terminal would show it.
    return dict(os.environ, MEMORYHOLE_NOW=iso(now), WORKER_LOG_DIR=str(tmp_path),
                PYTHONWARNINGS="default")


def campaign(plan: Path, data: Path, url: str, now: datetime, tmp_path: Path,
             *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "memoryhole.cli", "crawl", str(plan), "--data", str(data),
         "--once", "--redis", url, "--lease", "2s", *extra],
        env=env_at(now, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process: subprocess.Popen, timeout: float = 120) -> str:
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"the campaign did not finish in {timeout} s:\n{err}") from None
    assert process.returncode == 0, err
    return err


def distributed_cycle(plan: Path, data: Path, url: str, now: datetime, tmp_path: Path,
                      names=("alpha", "beta")) -> str:
    workers = [start_worker(url, name, env_at(now, tmp_path)) for name in names]
    try:
        return finished(campaign(plan, data, url, now, tmp_path))
    finally:
        for worker in workers:
            stop(worker)


def rows(data: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(data / "corpus.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def corpus_shape(data: Path) -> dict[str, object]:
    """What a campaign stored, without ids, workers and WARC offsets."""
    return {
        "posts": rows(data, "SELECT platform, post_id, account_id, text, first_seen_at, "
                            "last_seen_at, version FROM posts ORDER BY post_id"),
        "pages": Counter(rows(data, "SELECT c.kind, account_id, page, outcome, failure, n_posts, "
                                    "fetched_at, warc_file IS NOT NULL FROM pages "
                                    "JOIN crawls c ON c.id = crawl_id")),
        "probes": Counter(rows(data, "SELECT post_id, purpose, outcome, reason, failure, "
                                     "warc_file IS NOT NULL FROM probes")),
        "failures": Counter(rows(data, "SELECT failure, http_status FROM fetch_failures")),
        "candidates": rows(data, "SELECT post_id, status, last_seen_at, first_absent_at, "
                                 "probes FROM candidates ORDER BY 1"),
        "removals": rows(data, "SELECT post_id, reason, message, last_seen_at, "
                               "first_missing_at FROM removals ORDER BY post_id"),
        "crawls": rows(data, "SELECT kind, status FROM crawls ORDER BY id"),
    }


def responses(data: Path) -> Counter:
    """Every archived response: (crawl kind, callback, path and query, status)."""
    found: Counter = Counter()
    for (crawl_id,) in rows(data, "SELECT id FROM crawls"):
        for path in crawl_files(data, crawl_id):
            for archived in iter_responses(data, path):
                found[(archived.warc_headers.get("Memoryhole-Crawl-Kind"),
                       archived.warc_headers.get("Memoryhole-Callback"),
                       archived.url.split("/", 3)[3], archived.status)] += 1
    return found


def test_two_workers_and_the_ingester_store_what_one_process_stores(redis_server, tmp_path):
    single, double = tmp_path / "single", tmp_path / "distributed"
    with SandboxServer(scenario(), clock=ManualClock(T0)) as one, \
            SandboxServer(scenario(), clock=ManualClock(T0)) as two:
        plan_one = write_plan(tmp_path / "one.yaml", one.url, ACCOUNTS)
        plan_two = write_plan(tmp_path / "two.yaml", two.url, ACCOUNTS)
        for server in (one, two):
            server.clock.set(minutes(1))
        crawl_once(plan_one, single, minutes(1))
        distributed_cycle(plan_two, double, redis_server.url, minutes(1), tmp_path)
        for server in (one, two):
            schedule_removals(server)
            inject_faults(server)
            server.clock.set(minutes(5))
        crawl_once(plan_one, single, minutes(5))
        distributed_cycle(plan_two, double, redis_server.url, minutes(5), tmp_path)

    a, b = corpus_shape(single), corpus_shape(double)
    for key in a:
        assert b[key] == a[key], key
    # The campaign's scheduler decided the work of both (crawlers/cadence.py): the same ticks
    # against the host's budget, the same polls of each watched account.
    for sql in ("SELECT platform, budget, requests_due, requests_admitted "
                "FROM schedule_ticks ORDER BY id",
                "SELECT platform, watchlist, member_id, last_polled_at, polls "
                "FROM schedule_members ORDER BY 1, 2, 3"):
        assert rows(double, sql) == rows(single, sql) != [], sql
    assert {r[1] for r in a["removals"]} == {"author_deleted", "platform_removed",
                                             "restricted", "account_suspended"}
    # The same responses archived, each once (robots.txt: once per worker and spider, here as
    # there); every row's evidence is the record it names.
    robots = {k: n for k, n in responses(double).items() if k[2] == "robots.txt"}
    assert robots and all(k[1] == "NO_CALLBACK" for k in robots)
    # (Which probe meets the injected 418 depends on the order the workers ask in.)
    def archived(data: Path) -> tuple[Counter, set]:
        found = {k: n for k, n in responses(data).items() if k[2] != "robots.txt"}
        by_status: Counter = Counter()
        for (kind, callback, _, status), n in found.items():
            by_status[(kind, callback, status)] += n
        return by_status, {k[:3] for k in found}
    assert archived(double) == archived(single)
    for file, offset, record_id in rows(double, "SELECT warc_file, warc_offset, warc_record_id "
                                                "FROM pages UNION ALL SELECT warc_file, "
                                                "warc_offset, warc_record_id FROM probes "
                                                "WHERE warc_file IS NOT NULL"):
        assert read_response(double, WarcRef(file, offset, record_id)).status > 0
    # Who fetched what: every page, probe and failure names its worker and address.
    for table in ("pages", "probes", "fetch_failures"):
        workers = rows(double, f"SELECT DISTINCT worker_name, worker_address FROM {table}")
        assert workers and {w for w, _ in workers} <= {"alpha", "beta"}, table
        assert all(address.startswith("198.51.100.") for _, address in workers), table
    assert rows(single, "SELECT COUNT(*) FROM pages WHERE worker_name IS NOT NULL") == [(0,)]
    # scrapy-redis under the pinned Scrapy: no deprecation warning reaches the researcher.
    for log in tmp_path.glob("worker-*.log"):
        assert "DeprecationWarning" not in log.read_text(), log.read_text()
    # `memoryhole evidence` finds the archived answer behind a removal.
    removed = a["removals"][0][0]
    assert "HTTP" in memoryhole("evidence", removed, "--data", str(double)).stdout or \
        "200" in memoryhole("evidence", removed, "--data", str(double)).stdout


def test_a_worker_killed_mid_request_loses_nothing(redis_server, tmp_path):
    data = tmp_path / "data"
    with SandboxServer(scenario(), clock=ManualClock(T0)) as server:
        plan = write_plan(tmp_path / "plan.yaml", server.url, ACCOUNTS)
        server.clock.set(minutes(1))
        server.inject_fault("slow", "value=", -1)   # every timeline page takes 3 s
        client = redis_server.client()
        env = env_at(minutes(1), tmp_path)
        doomed = start_worker(redis_server.url, "doomed", env)
        run = campaign(plan, data, redis_server.url, minutes(1), tmp_path)
        survivor = None
        try:
            deadline = time.monotonic() + 60
            while client.zcard(workqueue.keys("weibo_timeline")["leases"]) < 1:
                assert time.monotonic() < deadline and run.poll() is None
                time.sleep(0.05)
            time.sleep(0.5)   # the request is at the platform, its answer not yet back
            stop(doomed, signal.SIGKILL)
            server.clear_faults()
            survivor = start_worker(redis_server.url, "survivor", env)
            finished(run)
        finally:
            stop(doomed, signal.SIGKILL)
            if survivor is not None:
                stop(survivor)
            if run.poll() is None:
                stop(run)
    pages = rows(data, "SELECT account_id, page, outcome, worker_name FROM pages")
    # Every account's two pages, once each, all fetched by the worker that survived.
    assert sorted((a, p) for a, p, _, _ in pages) == [(a, p) for a in ACCOUNTS for p in (1, 2)]
    assert {(o, w) for _, _, o, w in pages} == {("posts", "survivor")}
    stats = rows(data, "SELECT json_extract(stats_json, '$.leases_expired'), status FROM crawls "
                       "WHERE kind = 'timeline'")
    assert stats[0][0] >= 1 and stats[0][1] == "finished"
    answers = {k: n for k, n in responses(data).items() if k[2] != "robots.txt"}
    assert set(answers.values()) == {1}   # each answer archived once (robots.txt: per worker)


def test_redis_restarted_mid_campaign_resumes_without_false_removals(redis_server, tmp_path):
    data = tmp_path / "data"
    with SandboxServer(scenario(), clock=ManualClock(T0)) as server:
        plan = write_plan(tmp_path / "plan.yaml", server.url, ACCOUNTS)
        server.clock.set(minutes(1))
        distributed_cycle(plan, data, redis_server.url, minutes(1), tmp_path, names=("alpha",))
        nth = newest_first(server, "1002")
        server.world.schedule(minutes(2), "censor_rules", post_id=nth[3])
        server.clock.set(minutes(5))
        server.inject_fault("slow", "value=", 4)   # the first pages of cycle 2 take 3 s
        env = env_at(minutes(5), tmp_path)
        worker = start_worker(redis_server.url, "alpha", env)
        run = campaign(plan, data, redis_server.url, minutes(5), tmp_path)
        try:
            client = redis_server.client()
            deadline = time.monotonic() + 60
            while client.zcard(workqueue.keys("weibo_timeline")["leases"]) < 1:
                assert time.monotonic() < deadline and run.poll() is None
                time.sleep(0.05)
            redis_server.stop()      # everything queued, leased and unread is forgotten
            time.sleep(2)
            redis_server.start()     # same port, empty
            err = finished(run)
        finally:
            stop(worker)
            if run.poll() is None:
                stop(run)
    assert "unreachable" in err and "queued again" in err
    removals = exported_removals(data)
    assert [(r["post_id"], r["reason"]) for r in removals] == [(nth[3], "platform_removed")]
    pages = rows(data, "SELECT c.id, account_id, page FROM pages JOIN crawls c ON c.id = crawl_id "
                       "WHERE c.kind = 'timeline'")
    assert len(pages) == len(set(pages)) == 2 * len(ACCOUNTS) * 2   # each page once, both cycles


def test_the_ingester_takes_each_answer_and_each_observation_once(redis_server, tmp_path):
    """A message delivered twice, and a request answered twice (its lease expired while the
    first answer was on its way): one row each, every exchange archived."""
    corpus = Corpus(tmp_path / "data")
    crawl_id = corpus.start_crawl(kind="timeline", platform="weibo", plan={})
    ingester = Ingester(corpus, redis_server.client())
    ingester.live.add(crawl_id)

    def answer(exchange_id: str) -> workqueue.Message:
        page = PageObservation(platform="weibo", account_id="1001", watchlist="w", page=1,
                               url="http://x/1", requested_at=T0, fetched_at=T0, http_status=200,
                               outcome="end", failure=None, posts=(),
                               evidence=WarcRef(PENDING + exchange_id, -1, ""))
        failure = FetchFailure(platform="weibo", url="http://x/1", failure="server_error",
                               http_status=500, detail=None, at=T0)
        exchange = Exchange(url="http://x/1", method="GET", request_headers=[], request_body=b"",
                            status=200, response_headers=[("Content-Type", "application/json")],
                            body=b'{"ok": 1}', received_at=T0, extra={})
        return workqueue.Message(id=f"m-{exchange_id}", worker="w1", address="192.0.2.1",
                                 crawl_id=crawl_id, spider="weibo_timeline",
                                 exchanges=[(exchange_id, exchange)], items=[page, failure])

    first, again = answer("x1"), answer("x2")
    client = redis_server.client()
    for message in (first, first, again):
        client.rpush(workqueue.RESULTS, message.dumps())
    while ingester.take(0.01):
        pass
    ingester.close()
    assert corpus.db.execute("SELECT COUNT(*), MIN(worker_name), MIN(worker_address) FROM pages"
                             ).fetchone() == (1, "w1", "192.0.2.1")
    assert corpus.db.execute("SELECT COUNT(*) FROM fetch_failures").fetchone() == (2,)
    ref = WarcRef(*corpus.db.execute("SELECT warc_file, warc_offset, warc_record_id FROM pages"
                                     ).fetchone())
    assert read_response(tmp_path / "data", ref).body == b'{"ok": 1}'
    assert sum(1 for p in crawl_files(tmp_path / "data", crawl_id)
               for _ in iter_responses(tmp_path / "data", p)) == 2
    corpus.close()


def test_one_campaign_ingests_from_a_redis_database(redis_server, tmp_path):
    from memoryhole.crawlers.ingester import Campaign, DistributedError, DistributedOptions
    from memoryhole.crawlers.plan import load_plan
    from memoryhole.crawlers.scheduler import RunOptions

    plan = load_plan(write_plan(tmp_path / "plan.yaml", "http://127.0.0.1:9", ["1001"]))
    options = DistributedOptions(redis_url=redis_server.url)
    first = Campaign(plan, tmp_path / "a", RunOptions(), options)
    first.claim()
    first.claim()   # renewing its own claim
    with pytest.raises(DistributedError, match="another campaign ingests from"):
        Campaign(plan, tmp_path / "b", RunOptions(), options).claim()


def test_worker_errors_name_the_problem_in_one_line():
    bad = memoryhole("worker", "--redis", "http://127.0.0.1:6379/0", check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip() == ("Error: --redis: 'http://127.0.0.1:6379/0': not a Redis URL "
                                  "(redis://[:PASSWORD@]HOST:6379/0)")
    closed = "redis://:secret@127.0.0.1:9/0"   # nothing listens on port 9
    down = memoryhole("worker", "--redis", closed, check=False)
    assert down.returncode == 1 and len(down.stderr.strip().splitlines()) == 1
    assert "cannot reach Redis at redis://***@127.0.0.1:9/0" in down.stderr
    assert "secret" not in down.stderr


@pytest.mark.long
def test_three_workers_one_killed_each_cycle_store_what_one_process_stores(redis_server,
                                                                          tmp_path):
    """Three cycles with three workers; in every cycle one of them is killed (kill -9) while
    its requests are at the platform: the corpus is the single-process one all the same."""
    single, double = tmp_path / "single", tmp_path / "distributed"
    with SandboxServer(scenario(), clock=ManualClock(T0)) as one, \
            SandboxServer(scenario(), clock=ManualClock(T0)) as two:
        plan_one = write_plan(tmp_path / "one.yaml", one.url, ACCOUNTS, pages=3)
        plan_two = write_plan(tmp_path / "two.yaml", two.url, ACCOUNTS, pages=3)
        client = redis_server.client()
        for cycle, at in enumerate((minutes(1), minutes(5), minutes(9))):
            if cycle == 1:
                for server in (one, two):
                    schedule_removals(server)
            for server in (one, two):
                server.clock.set(at)
            crawl_once(plan_one, single, at)
            env = env_at(at, tmp_path)
            two.inject_fault("slow", "value=", 2)
            doomed = start_worker(redis_server.url, f"doomed{cycle}", env)
            run = campaign(plan_two, double, redis_server.url, at, tmp_path)
            others = []
            try:
                deadline = time.monotonic() + 60
                while client.zcard(workqueue.keys("weibo_timeline")["leases"]) < 1:
                    assert time.monotonic() < deadline and run.poll() is None
                    time.sleep(0.05)
                time.sleep(0.5)
                stop(doomed, signal.SIGKILL)
                others = [start_worker(redis_server.url, f"w{cycle}{k}", env) for k in (1, 2)]
                finished(run, timeout=300)
            finally:
                stop(doomed, signal.SIGKILL)
                for worker in others:
                    stop(worker)
                if run.poll() is None:
                    stop(run)
    a, b = corpus_shape(single), corpus_shape(double)
    for key in a:
        assert b[key] == a[key], key
    assert {r[1] for r in a["removals"]} == {"author_deleted", "platform_removed",
                                             "restricted", "account_suspended"}


def test_a_campaign_whose_redis_cannot_be_reached_says_so_at_once(tmp_path):
    plan = write_plan(tmp_path / "plan.yaml", "http://127.0.0.1:9", ["1001"])
    result = memoryhole("crawl", str(plan), "--data", str(tmp_path / "data"), "--once",
                        "--redis", "redis://:secret@127.0.0.1:9/0", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(
        "Error: cannot reach Redis at redis://***@127.0.0.1:9/0 (")
    assert len(result.stderr.strip().splitlines()) == 1 and "secret" not in result.stderr


def test_the_host_budget_holds_across_workers(redis_server):
    """Two workers' connections booking the same host at 10 requests/s get slots 100 ms apart
    in the order they asked, whoever asks; another host has its own budget."""
    one, two = redis_server.client(), redis_server.client()
    waits = [workqueue.reserve(client, "m.weibo.cn", 10.0) for _ in range(5)
             for client in (one, two)]
    assert waits[0] == pytest.approx(0.0, abs=0.02)
    # Each booking waits 100 ms longer than the one before (less the time the calls took).
    for before, after in zip(waits, waits[1:], strict=False):
        assert 0.07 <= after - before <= 0.1 + 1e-9
    assert workqueue.reserve(one, "other.example", 10.0) == pytest.approx(0.0, abs=0.02)
