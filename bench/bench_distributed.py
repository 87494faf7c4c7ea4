"""Distributed crawling: timeline pages/s with 1, 2 and 4 workers, and the ingester's rows/s.

(a) Crawl. The simulated platform (memoryhole.sandbox, one threaded HTTP server on 127.0.0.1)
    serves ACCOUNTS accounts x 3 pages; a real redis-server on a free port; `memoryhole worker`
    processes (1, 2, 4) and the campaign (`run_distributed`, in this process: queue, ingest,
    diff), each its own process, as on separate machines. Politeness: no delay, 8 requests in
    flight per worker, no shared host budget. Two cycles; figure: timeline pages per second of
    the second cycle's timeline crawl (its crawl row's start to end: the workers are warm, as in
    a running campaign). Baseline: the single-process crawl (`memoryhole crawl --cycles 2`,
    second cycle) of the same platform. The sandbox's own capacity (16 client threads asking timeline pages,
    nothing else running) is printed as the ceiling the crawl cannot pass.

(b) Ingest. MESSAGES synthetic worker answers (a timeline page of 10 posts, Chinese text, ~5%
    reposts, its ~2 KB raw exchange) pushed to Redis, then taken by the Ingester: WARC append,
    placeholder evidence resolved, receipts, `record_batch`, worker columns. Figure: sightings
    stored per second. Baselines in the same run: raw `executemany` of exactly those sighting
    rows into a bare sightings table (bench_ingest's baseline), and `Corpus.record_batch` of the
    same pages without Redis or WARC (the single-process store path).

Environment: BENCH_QUICK=1 (tiny sizes), BENCH_DIST_ACCOUNTS (default 200), BENCH_DIST_WORKERS
(default 1,2,4), BENCH_DIST_MESSAGES (default 4000).
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from _common import Figure, env_int, env_ints, table

QUICK = os.environ.get("BENCH_QUICK") == "1"
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
PAGES = 3


def _redis(directory: Path):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from redis_server import RedisServer

    return RedisServer(directory).start()


def _plan(path: Path, base_url: str, accounts: list[str]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({
        "platform": "weibo", "base_url": base_url, "long_texts": False,
        "watchlists": [{"name": "bench", "accounts": accounts, "every": "1s", "pages": PAGES}],
        "politeness": {"delay": 0, "concurrency": 8, "timeout": "30s", "retries": 1,
                       "obey_robots_txt": False},
    }))
    return path


def _timeline_rate(data: Path) -> tuple[int, float]:
    """(pages, pages/s) of the corpus's last timeline crawl, from its crawl row."""
    from memoryhole.corpus.clock import parse_iso

    db = sqlite3.connect(data / "corpus.db")
    try:
        crawl_id, started, ended = db.execute(
            "SELECT id, started_at, ended_at FROM crawls WHERE kind = 'timeline' ORDER BY id DESC "
            "LIMIT 1").fetchone()
        pages = db.execute("SELECT COUNT(*) FROM pages WHERE crawl_id = ? AND outcome != "
                           "'failed'", [crawl_id]).fetchone()[0]
    finally:
        db.close()
    seconds = (parse_iso(ended) - parse_iso(started)).total_seconds()
    return pages, pages / seconds


def _children_cpu() -> float:
    """CPU seconds of the child processes waited for so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _sandbox_capacity(base_url: str, accounts: list[str], seconds: float) -> float:
    from memoryhole.crawlers.platforms import adapter_for

    adapter = adapter_for("weibo")
    urls = [adapter.timeline_url(base_url, a, p, None, by_cursor=False)
            for a in accounts for p in range(1, PAGES + 1)]
    done = [0]
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        i = offset
        while time.monotonic() < stop:
            with urllib.request.urlopen(urls[i % len(urls)], timeout=30) as answer:
                answer.read()
            done[0] += 1
            i += 16
    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / (time.monotonic() - began)


def crawl_figures(root: Path, accounts_n: int, worker_counts: list[int]) -> list[Figure]:
    from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

    scenario = load_scenario({
        "seed": 5, "start": T0.isoformat(), "duration": 0,
        "accounts": {"count": accounts_n, "first_uid": 1001, "initial_posts": 10 * PAGES + 5,
                     "posts_per_hour": 0},
        "faults": {"rate": 0}})
    redis_server = _redis(root)
    env = dict(os.environ)
    env.pop("MEMORYHOLE_NOW", None)
    rows, figures = [], []
    try:
        with SandboxServer(scenario, clock=ManualClock(T0)) as sandbox:
            accounts = [a["account_id"] for a in sandbox.world.truth(T0)["accounts"]]
            plan_path = _plan(root / "plan.yaml", sandbox.url, accounts)
            capacity = _sandbox_capacity(sandbox.url, accounts, 1.0 if QUICK else 3.0)
            single = root / "single"
            cpu = _children_cpu()
            subprocess.run([sys.executable, "-m", "memoryhole.cli", "crawl", str(plan_path),
                            "--data", str(single), "--cycles", "2"], env=env, check=True,
                           capture_output=True, timeout=1800)
            base_pages, base_rate = _timeline_rate(single)
            # CPU per timeline page over both cycles (start-up included).
            per_page = 1000 * (_children_cpu() - cpu) / (2 * base_pages)
            rows.append(("single process", 0, base_pages, base_rate, per_page, None))
            for count in worker_counts:
                client = redis_server.client()
                client.flushdb()
                workers = [subprocess.Popen(
                    [sys.executable, "-m", "memoryhole.cli", "worker", "--redis",
                     redis_server.url, "--name", f"bench{k}"], env=env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for k in range(count)]
                try:
                    deadline = time.monotonic() + 60
                    while len(client.keys("memoryhole:worker:*")) < count:
                        if time.monotonic() > deadline:
                            raise RuntimeError("the workers did not start")
                        time.sleep(0.1)
                    data = root / f"workers-{count}"
                    cpu = _children_cpu()
                    subprocess.run([sys.executable, "-m", "memoryhole.cli", "crawl",
                                    str(plan_path), "--data", str(data), "--cycles", "2",
                                    "--redis", redis_server.url], env=env, check=True,
                                   capture_output=True, timeout=1800)
                    campaign_cpu = _children_cpu() - cpu
                finally:
                    for worker in workers:
                        worker.terminate()
                    for worker in workers:
                        worker.wait(60)
                workers_cpu = _children_cpu() - cpu - campaign_cpu
                pages, rate = _timeline_rate(data)
                rows.append((f"{count} worker{'s' * (count > 1)}", count, pages, rate,
                             1000 * workers_cpu / (2 * pages), 1000 * campaign_cpu / (2 * pages)))
                figures.append(Figure(
                    f"distributed timeline pages/s, {count} worker(s), {accounts_n} accounts x "
                    f"{PAGES} pages", rate, "pages/s", base_rate, "single process",
                    "grows with machines until the one ingester core caps it"))
    finally:
        redis_server.stop()
    print(table(f"(a) timeline crawl, {accounts_n} accounts x {PAGES} pages (sandbox alone "
                f"serves {capacity:.0f} pages/s to 16 threads)",
                ["fetched by", "workers", "pages", "pages/s", "fetch CPU ms/page",
                 "campaign+ingest CPU ms/page"], rows))
    print(f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}: pages/s cannot pass "
          "CPUs x 1000 / the CPU ms a page costs in all processes together)")
    return figures


def ingest_figures(root: Path, messages_n: int) -> list[Figure]:
    import uuid

    from bench_ingest import Timelines, open_raw, sighting_rows
    from memoryhole.corpus.store import Corpus, PageObservation, WarcRef
    from memoryhole.corpus.warc import Exchange
    from memoryhole.crawlers import workqueue
    from memoryhole.crawlers.ingester import Ingester
    from memoryhole.crawlers.worker import PENDING

    timelines = Timelines(max(1, messages_n // 2))
    pages: list[PageObservation] = timelines.next_poll()[:messages_n]
    body = b'{"ok":1,"data":{"cards":[' + b"x" * 2000 + b"]}}"
    redis_server = _redis(root)
    try:
        client = redis_server.client()
        corpus = Corpus(root / "ingested")
        crawl_id = corpus.start_crawl(kind="timeline", platform="weibo", plan={})
        payloads = []
        for obs in pages:
            exchange_id = uuid.uuid4().hex
            exchange = Exchange(url=obs.url, method="GET", request_headers=[("Host", "x")],
                                request_body=b"", status=200,
                                response_headers=[("Content-Type", "application/json")],
                                body=body, received_at=obs.fetched_at, extra={})
            placed = PageObservation(**{**obs.__dict__,
                                        "evidence": WarcRef(PENDING + exchange_id, -1, "")})
            payloads.append(workqueue.Message(
                id=uuid.uuid4().hex, worker="bench", address="192.0.2.1", crawl_id=crawl_id,
                spider="weibo_timeline", exchanges=[(exchange_id, exchange)],
                items=[placed]).dumps())
        for i in range(0, len(payloads), 1000):
            client.rpush(workqueue.RESULTS, *payloads[i:i + 1000])
        ingester = Ingester(corpus, client)
        ingester.live.add(crawl_id)
        began = time.perf_counter()
        while ingester.take(0.01):
            pass
        ingester.close()
        ingest_seconds = time.perf_counter() - began
        sightings = corpus.db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0]

        # The single-process store path, same pages, same batches.
        direct = Corpus(root / "direct")
        direct_crawl = direct.start_crawl(kind="timeline", platform="weibo", plan={})
        began = time.perf_counter()
        for i in range(0, len(pages), 500):
            direct.record_batch(direct_crawl, pages=pages[i:i + 500])
        direct_seconds = time.perf_counter() - began

        # Raw executemany of the same sighting rows.
        rows = sighting_rows(crawl_id, pages, 1)
        raw = open_raw(root / "raw.db", corpus.db.conn)
        began = time.perf_counter()
        for i in range(0, len(rows), 5000):
            raw.execute("BEGIN")
            raw.executemany("INSERT INTO sightings (crawl_id, platform, post_id, account_id, "
                            "page, position, pinned, seen_at, page_id, via_post_id) "
                            "VALUES (?,?,?,?,?,?,?,?,?,?)", rows[i:i + 5000])
            raw.execute("COMMIT")
        raw_seconds = time.perf_counter() - began
        raw.close()
        direct.close()
        corpus.close()
    finally:
        redis_server.stop()
    ingest_rate, direct_rate = sightings / ingest_seconds, sightings / direct_seconds
    raw_rate = len(rows) / raw_seconds
    print(table(f"(b) ingest, {len(pages)} answers ({sightings} sightings)",
                ["path", "seconds", "sightings/s", "answers/s"],
                [("ingester (Redis -> WARC -> SQLite)", ingest_seconds, ingest_rate,
                  len(pages) / ingest_seconds),
                 ("Corpus.record_batch (no Redis, no WARC)", direct_seconds, direct_rate,
                  len(pages) / direct_seconds),
                 ("raw executemany of the sightings", raw_seconds, raw_rate, None)]))
    return [
        Figure(f"ingester sightings/s, {len(pages)} worker answers", ingest_rate, "rows/s",
               raw_rate, "raw executemany", "far above the crawl's pages/s x 10"),
        Figure(f"ingester sightings/s, {len(pages)} worker answers", ingest_rate, "rows/s",
               direct_rate, "record_batch (single process)", ">= 0.5x"),
    ]


def main() -> list[Figure]:
    if not shutil.which("redis-server"):
        print("bench_distributed: redis-server is not installed; skipped")
        return []
    accounts = env_int("BENCH_DIST_ACCOUNTS", 12 if QUICK else 200)
    worker_counts = env_ints("BENCH_DIST_WORKERS", [1, 2] if QUICK else [1, 2, 4])
    messages = env_int("BENCH_DIST_MESSAGES", 200 if QUICK else 4000)
    root = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    try:
        (root / "crawl").mkdir()
        (root / "ingest").mkdir()
        figures = crawl_figures(root / "crawl", accounts, worker_counts)
        return figures + ingest_figures(root / "ingest", messages)
    finally:
        shutil.rmtree(root, ignore_errors=True)

if __name__ == "__main__":
    main()
