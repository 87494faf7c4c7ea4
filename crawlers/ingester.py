"""A distributed campaign's one process on the corpus machine: it decides what is due, queues it
in Redis for the workers (memoryhole.crawlers.worker), ingests their answers into the corpus
(SQLite has one writer) and runs the differ and probe resolution as a single-process crawl does.

`memoryhole crawl PLAN --data DIR --redis redis://HOST:6379/0` runs it. Each cycle is a tick
of the campaign's scheduler (memoryhole.crawlers.scheduler, crawlers/cadence.py: each watchlist
at its cadence, within the host's hourly budget) with the fetching done elsewhere:

1. a `crawls` row is opened; the requests of the work the tick admitted (`due_requests`: what
   the spider's `start()` asks for the polls and probes it was given) are queued, tagged with
   the crawl;
2. answers are ingested as they come: each response's exchange is appended to the crawl's WARC
   files here (the same records, headers and references a single-process crawl writes), the
   observations' placeholder evidence is pointed at those records, and the rows are stored with
   the worker's name and address. Each answer is taken once (`worker_receipts`: its id), each
   request's observation once (keyed by crawl and page / post and purpose), each exchange
   archived once (`worker_exchanges`);
3. leases that expire (a worker killed or hung) go back in the queue; a request whose lease
   expired MAX_ISSUES times is recorded as failed;
4. when nothing is queued, leased or waiting, the crawl is finished, then diffed or resolved.

Redis unreachable: the cycle waits (saying so) and carries on when it is back. Redis restarted
empty (no persistence): the crawl's requests are queued again; what was already ingested is
not stored twice. A page that is never answered leaves its window uncovered: never a removal.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import pickle
import signal
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import redis
from memoryhole.corpus import clock, warc
from memoryhole.corpus.provenance import software_version
from memoryhole.corpus.store import (
    RESOLVE,
    Corpus,
    FetchFailure,
    LongTextObservation,
    PageObservation,
    ProbeObservation,
    WarcRef,
)

from . import cadence, failures, workqueue
from .plan import CrawlPlan
from .platforms import ADAPTERS
from .scheduler import (
    MAX_SLEEP,
    MIN_SLEEP,
    CycleReport,
    RunOptions,
    _diff,
    _resolved,
    _stored,
    prepare_tick,
)
from .spiders import probe_spider, timeline_spider
from .spiders.base import PlanSpider
from .worker import PENDING

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
BATCH = 500                      # answers per ingest transaction
REDIS_PATIENCE_SECONDS = 600.0   # how long a cycle waits for an unreachable Redis
INGESTER_SECONDS = 300           # the ingester's claim on its Redis database, renewed
_TABLES = {PageObservation: "pages", ProbeObservation: "probes",
           LongTextObservation: "long_texts", FetchFailure: "fetch_failures"}


class DistributedError(Exception):
    """The campaign cannot go on (Redis unreachable too long, refused); the message says why."""


@dataclass
class DistributedOptions:
    redis_url: str
    lease: float = workqueue.DEFAULT_LEASE_SECONDS   # seconds a worker may hold a request
    host_rate: float | None = None   # requests/s per host across all workers; None: the plan's
    redis_patience: float = REDIS_PATIENCE_SECONDS


def default_host_rate(plan: CrawlPlan) -> float:
    """What one process would ask a host per second under the plan's politeness (0: no limit):
    the whole campaign is as polite as one process unless --host-rate says otherwise."""
    p = plan.politeness
    return p.concurrency / p.delay if p.delay > 0 else 0.0


def due_requests(spider: PlanSpider) -> list[Any]:
    """The requests a crawl starts with: what the spider's `start()` would yield in a
    single-process crawl (every watchlist's windows; for probes, `probe_work`)."""
    async def drain() -> list[Any]:
        return [request async for request in spider.start()]
    return asyncio.run(drain())


def observation_key(crawl_id: int, item: Any) -> str | None:
    """The request an observation answers, for taking it once; None for a failed attempt (each
    is its own record)."""
    if isinstance(item, PageObservation):
        return f"page:{crawl_id}:{item.account_id}:{item.watchlist}:{item.page}"
    if isinstance(item, ProbeObservation):
        return f"probe:{crawl_id}:{item.post_id}:{item.purpose}"
    if isinstance(item, LongTextObservation):
        return f"long:{crawl_id}:{item.post_id}"
    return None


class Ingester:
    """Takes workers' answers from Redis into the corpus, each once."""

    def __init__(self, corpus: Corpus, server: redis.Redis, plan: CrawlPlan | None = None,
                 max_bytes: int = warc.DEFAULT_MAX_BYTES) -> None:
        self.corpus = corpus
        self.server = server
        self.plan = plan
        self.max_bytes = max_bytes
        self.archives: dict[int, warc.CrawlArchive] = {}
        self.live: set[int] = set()          # crawls whose observations are stored
        self.by_worker: Counter[str] = Counter()
        self.dropped = 0                     # observations already stored (a re-issued request)

    def take(self, wait: float = POLL_SECONDS) -> int:
        """Ingest what waits (first what a previous ingester took and did not commit); returns
        how many answers."""
        server = self.server
        if not server.llen(workqueue.INGESTING):
            if server.blmove(workqueue.RESULTS, workqueue.INGESTING, wait, "LEFT", "RIGHT") is None:
                return 0
            pipe = server.pipeline(transaction=False)
            for _ in range(BATCH - 1):
                pipe.lmove(workqueue.RESULTS, workqueue.INGESTING, "LEFT", "RIGHT")
            pipe.execute()
        raw = server.lrange(workqueue.INGESTING, 0, -1)
        messages = []
        for data in raw:
            try:
                messages.append(workqueue.Message.loads(data))
            except Exception as exc:   # another memoryhole version, or not ours: kept aside
                server.rpush(workqueue.UNREADABLE, data)
                log.error("an answer that cannot be read (%s: %s) is kept in Redis under %s; "
                          "do the workers run this memoryhole version (%s)?",
                          type(exc).__name__, exc, workqueue.UNREADABLE, software_version())
        self.ingest(messages)
        server.delete(workqueue.INGESTING)
        return len(raw)

    def ingest(self, messages: list[workqueue.Message]) -> None:
        db = self.corpus.db
        ids = [m.id for m in messages]
        done = {row[0] for row in _select_in(db, "SELECT key FROM worker_receipts WHERE key IN",
                                             [f"answer:{i}" for i in ids])}
        # Once each: an answer taken before (an ingester stopped before it deleted its batch),
        # or pushed twice (a worker's transaction retried after a lost reply).
        messages = list({m.id: m for m in reversed(messages)
                         if f"answer:{m.id}" not in done}.values())[::-1]
        wanted = [x for m in messages for x, _ in m.exchanges]
        refs: dict[str, WarcRef] = {row[0]: WarcRef(*row[1:]) for row in _select_in(
            db, "SELECT exchange_id, warc_file, warc_offset, warc_record_id FROM "
                "worker_exchanges WHERE exchange_id IN", wanted)}
        archived = []
        # Archived before the transaction: a crash in between leaves a second copy of a record
        # in the WARC files, never a row without its record.
        for m in messages:
            for exchange_id, exchange in m.exchanges:
                if exchange_id not in refs:
                    refs[exchange_id] = self._archive(m.crawl_id, m.spider).append(exchange)
                    archived.append((exchange_id, m.crawl_id, *_astuple(refs[exchange_id])))

        def store() -> None:
            db.conn.executemany("INSERT OR IGNORE INTO worker_exchanges VALUES (?,?,?,?,?)",
                                archived)
            groups: dict[tuple[int, str, str | None], list[Any]] = defaultdict(list)
            for m in messages:
                db.conn.execute("INSERT INTO worker_receipts VALUES (?, ?)",
                                [f"answer:{m.id}", m.crawl_id])
                if m.crawl_id not in self.live:
                    continue   # a crawl already closed: its answers are archived, not stored
                for item in m.items:
                    key = observation_key(m.crawl_id, item)
                    if key is not None and db.conn.execute(
                            "INSERT OR IGNORE INTO worker_receipts VALUES (?, ?)",
                            [key, m.crawl_id]).rowcount == 0:
                        self.dropped += 1
                        continue
                    groups[(m.crawl_id, m.worker, m.address)].append(self._placed(item, refs))
            for (crawl_id, worker, address), items in groups.items():
                self._record(crawl_id, items, worker, address)
        self.corpus.write(store)
        self.by_worker.update(m.worker for m in messages)

    def record_local(self, crawl_id: int, items: list[Any]) -> None:
        """Store observations the campaign process made itself (requests given up)."""
        self.corpus.write(lambda: self._record(crawl_id, items, None, None))

    def _record(self, crawl_id: int, items: list[Any], worker: str | None,
                address: str | None) -> None:
        db = self.corpus.db
        by_type: dict[type, list[Any]] = defaultdict(list)
        for item in items:
            by_type[type(item)].append(item)
        before = {table: db.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}").fetchone()[0]
                  for table in _TABLES.values()}
        self.corpus.record_batch(crawl_id, failures=by_type[FetchFailure],
                                 pages=by_type[PageObservation], probes=by_type[ProbeObservation],
                                 long_texts=by_type[LongTextObservation])
        if worker is not None:
            for table, last in before.items():
                db.execute(f"UPDATE {table} SET worker_name = ?, worker_address = ? "
                           f"WHERE rowid > ?", [worker, address, last])

    def _placed(self, item: Any, refs: dict[str, WarcRef]) -> Any:
        """The item with its placeholder evidence pointed at the archived record."""
        evidence = getattr(item, "evidence", None)
        if evidence is not None and evidence.file.startswith(PENDING):
            ref = refs.get(evidence.file[len(PENDING):])
            if ref is None:   # archived by an earlier answer (a profile's page 1)
                row = self.corpus.db.execute(
                    "SELECT warc_file, warc_offset, warc_record_id FROM worker_exchanges "
                    "WHERE exchange_id = ?", [evidence.file[len(PENDING):]]).fetchone()
                ref = WarcRef(*row) if row else None
            item = replace(item, evidence=ref)
        return item

    def _archive(self, crawl_id: int, spider: str) -> warc.CrawlArchive:
        archive = self.archives.get(crawl_id)
        if archive is None:
            row = self.corpus.db.execute("SELECT kind, plan_name FROM crawls WHERE id = ?",
                                         [crawl_id]).fetchone()
            kind, plan_name = row if row else (None, None)
            p = self.plan.politeness if self.plan else None
            archive = self.archives[crawl_id] = warc.CrawlArchive(self.corpus.data_dir, crawl_id, {
                "software": software_version(),
                "format": "WARC File Format 1.1",
                "isPartOf": f"crawl-{crawl_id:06d}",
                "memoryhole-crawl-id": crawl_id,
                "memoryhole-crawl-kind": kind,
                "memoryhole-spider": spider,
                "memoryhole-plan": plan_name,
                "memoryhole-fetched-by": "distributed workers (see the rows' worker_name)",
                "http-header-user-agent": p.user_agent if p else None,
                "robots": ("obey" if p.obey_robots_txt else "ignore") if p else None,
            }, self.max_bytes)
        return archive

    def close_crawl(self, crawl_id: int) -> None:
        self.live.discard(crawl_id)
        archive = self.archives.pop(crawl_id, None)
        if archive is not None:
            archive.close()

    def close(self) -> None:
        for crawl_id in list(self.archives):
            self.close_crawl(crawl_id)


def _astuple(ref: WarcRef) -> tuple[str, int, str]:
    return ref.file, ref.offset, ref.record_id


def _select_in(db: Any, sql: str, values: list[str]) -> list[tuple]:
    rows: list[tuple] = []
    for i in range(0, len(values), 900):
        chunk = values[i:i + 900]
        rows += db.execute(f"{sql} ({','.join('?' * len(chunk))})", chunk).fetchall()
    return rows


class Campaign:
    """The cycles of a distributed campaign, run from the corpus machine."""

    def __init__(self, plan: CrawlPlan, data_dir: str | Path, options: RunOptions,
                 distributed: DistributedOptions) -> None:
        self.plan = plan
        self.data = str(data_dir)
        self.options = options
        self.distributed = distributed
        self.server = workqueue.connect(distributed.redis_url)
        self.where = workqueue.shown(distributed.redis_url)
        self.stopping = False
        self.next_due_at: float | None = None   # epoch seconds: the next poll or item due
        self.epoch = uuid.uuid4().hex
        self.plan_bytes = pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
        listing = ADAPTERS[plan.platform].watch == "listing"
        self.timeline_cls = timeline_spider(plan.platform) if listing else None
        self.probe_cls = probe_spider(plan.platform)
        self.spider_names = [c.name for c in (self.timeline_cls, self.probe_cls) if c]

    # --- Redis -------------------------------------------------------------------------------

    def redis(self, call: Callable[[], Any]) -> Any:
        """Run `call`, waiting (and saying so) while Redis is unreachable, up to the patience."""
        began = None
        while True:
            try:
                result = call()
                if began is not None:
                    log.warning("Redis at %s is back after %.0f s", self.where,
                                time.monotonic() - began)
                return result
            except redis.AuthenticationError as exc:
                raise DistributedError(f"{self.where}: Redis refused the password ({exc})"
                                       ) from None
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if began is None:
                    began = time.monotonic()
                    log.warning("Redis at %s unreachable (%s): waiting for it; the crawl in "
                                "flight goes on when it is back", self.where, exc)
                if time.monotonic() - began > self.distributed.redis_patience or self.stopping:
                    raise DistributedError(
                        f"Redis at {self.where} unreachable for {time.monotonic() - began:.0f} s "
                        f"({exc}); start the campaign again when it is back (nothing fetched "
                        "is lost: what was answered is stored or still in Redis)") from None
                time.sleep(1.0)

    def publish(self) -> None:
        """The plan and the settings workers read, under this run's epoch."""
        rate = self.distributed.host_rate
        config = {"lease": self.distributed.lease, "epoch": self.epoch,
                  "host_rate": default_host_rate(self.plan) if rate is None else rate,
                  "plan_digest": hashlib.sha256(self.plan_bytes).hexdigest()}
        pipe = self.server.pipeline(transaction=True)
        pipe.set(workqueue.PLAN, self.plan_bytes)
        pipe.hset(workqueue.CONFIG, mapping=config)
        pipe.execute()

    def reset(self) -> None:
        """Forget the queued work of an earlier run (what is due is decided again)."""
        pipe = self.server.pipeline(transaction=True)
        for name in self.spider_names:
            pipe.delete(*workqueue.keys(name).values())
        pipe.execute()

    def lost_state(self) -> bool:
        """Whether Redis forgot this run (restarted without persistence, or flushed)."""
        return self.server.hget(workqueue.CONFIG, "epoch") != self.epoch.encode()

    # --- cycles ------------------------------------------------------------------------------

    def claim(self) -> None:
        """Be this Redis database's one ingester (renewed as the campaign goes)."""
        if self.redis(lambda: self.server.set(workqueue.INGESTER, self.epoch, nx=True,
                                              ex=INGESTER_SECONDS)):
            return
        if self.redis(lambda: self.server.get(workqueue.INGESTER)) != self.epoch.encode():
            raise DistributedError(
                f"another campaign ingests from {self.where} (one Redis database per campaign, "
                f"one `memoryhole crawl --redis` each; it is free {INGESTER_SECONDS} s after "
                "that one stops)")
        self.redis(lambda: self.server.expire(workqueue.INGESTER, INGESTER_SECONDS))

    def start(self, ingester: Ingester) -> None:
        """Before the first cycle: answers a previous campaign process left in Redis are
        archived in their crawls' WARC files (the recovery of dead crawls then stores them)."""
        try:
            self.server.ping()   # a wrong URL is said at once; later outages are waited out
        except redis.AuthenticationError as exc:
            raise DistributedError(f"{self.where}: Redis refused the password ({exc})") from None
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise DistributedError(f"cannot reach Redis at {self.where} ({exc})") from None
        self.claim()
        while self.redis(lambda: ingester.take(0.01)):
            pass
        self.redis(self.reset)
        self.redis(self.publish)

    def crawl(self, kind: str, spider_cls: type[PlanSpider], ingester: Ingester,
              **work: Any) -> int | None:
        """One crawl through the workers: returns its id (its row finished or interrupted).
        `work`: what the campaign's scheduler admitted (`polls=` for a timeline spider, `work=`
        for a probe spider), as a single-process tick gives it."""
        corpus = ingester.corpus
        spider = spider_cls(plan=self.plan, data=self.data, **work)
        plan = self.plan
        crawl_id = corpus.start_crawl(
            kind=spider.kind, platform=plan.platform, plan=plan.as_record(),
            plan_name=plan.name, plan_path=plan.path, base_url=plan.base_url,
            declaration=spider.adapter.declaration(), members=plan.members())
        spider.crawl_id = crawl_id
        ingester.live.add(crawl_id)
        queue = workqueue.LeasedQueue(self.server, spider, workqueue.QUEUE_KEY)
        began = clock.now()
        roots = []
        for request in due_requests(spider):
            request.meta[workqueue.CRAWL] = crawl_id
            roots.append(queue.encode(request))
        stats: Counter[str] = Counter(requests_queued=len(roots))

        def enqueue() -> None:
            if roots:
                # LPUSH in order, RPOP by the workers: first queued, first asked.
                self.server.lpush(workqueue.keys(spider.name)["queue"], *roots)
        self.redis(enqueue)
        settled = 0
        status = "finished"
        taken_before, dropped_before = Counter(ingester.by_worker), ingester.dropped
        while True:
            if self.stopping:
                status = "interrupted"
                self.redis(self.reset)
                break
            if self.redis(self.lost_state):
                log.warning("Redis at %s lost the campaign's queue (restarted empty?): the "
                            "crawl's %d requests are queued again; answers already stored are "
                            "not stored twice", self.where, len(roots))
                stats["redis_resets"] += 1
                self.redis(self.reset)
                self.redis(self.publish)
                self.redis(enqueue)
            self.claim()
            stats["answers"] += self.redis(ingester.take)
            requeued, dropped = self.redis(lambda: workqueue.requeue_expired(self.server,
                                                                             spider.name))
            stats["leases_expired"] += requeued + len(dropped)
            if dropped:
                self._give_up(spider, queue, dropped, ingester)
                stats["requests_given_up"] += len(dropped)
            if self.redis(lambda: workqueue.outstanding(self.server, spider.name)) == (0, 0, 0, 0):
                settled += 1   # twice in a row: nothing in a worker's hands between the reads
                if settled >= 2:
                    break
            else:
                settled = 0
        ingester.close_crawl(crawl_id)
        workers = ingester.by_worker - taken_before
        record = {**stats, "observations_already_stored": ingester.dropped - dropped_before,
                  "answers_by_worker": dict(workers), "redis": self.where,
                  "distributed": True, "start_time": clock.iso(began),
                  "finish_reason": "finished" if status == "finished" else "shutdown"}
        if kind == "probe":
            record[RESOLVE] = "pending"
        corpus.finish_crawl(crawl_id, status, record)
        return crawl_id

    def _give_up(self, spider: PlanSpider, queue: workqueue.LeasedQueue, dropped: list[bytes],
                 ingester: Ingester) -> None:
        items = []
        for data in dropped:
            request = queue.decode(data)
            log.warning("%s: %s: its lease expired %d times (the workers that took it died or "
                        "hung); recorded as failed", spider.name, request.url,
                        workqueue.MAX_ISSUES)
            items.append(FetchFailure(
                platform=spider.platform, url=request.url, failure=failures.UNKNOWN_FAILURE,
                http_status=None, detail=f"lease expired {workqueue.MAX_ISSUES} times: no "
                "worker answered", at=clock.now()))
            items += list(spider.gave_up(request, failures.UNKNOWN_FAILURE))
        ingester.record_local(spider.crawl_id, items)

    def cycle(self, number: int, ingester: Ingester) -> CycleReport:
        """One tick of the campaign's scheduler (crawlers/cadence.py decides what is due, within
        the host's hourly budget), its requests fetched by the workers."""
        due, ticks = prepare_tick(self.data, [self.plan], everything=self.options.once)
        plan_work = due.plans[0]
        self.next_due_at = plan_work.next_due_at
        report = CycleReport(number, platform=self.plan.platform,
                             behind=plan_work.behind_lines(), idle=plan_work.idle)
        if plan_work.idle:
            return report
        began = time.monotonic()
        corpus = ingester.corpus
        tick_id = ticks.get(self.plan.platform)
        try:
            if self.timeline_cls is not None and plan_work.polls:
                report.timeline_crawl_id = self.crawl("timeline", self.timeline_cls, ingester,
                                                      polls=plan_work.polls)
                _stored(corpus, report.timeline_crawl_id)
                if self.stopping:
                    report.interrupted = True
                    return report
                _diff(corpus, report)
            if report.diff is not None:   # as a single-process tick does
                work, left = cadence.probes_after_poll(corpus, plan_work)
            else:
                work, left = dict(plan_work.probes), plan_work.budget_left
            for _ in range(2):
                if not any(work.values()) or self.stopping:
                    break
                report.probe_crawl_id = self.crawl("probe", self.probe_cls, ingester, work=work)
                _stored(corpus, report.probe_crawl_id)
                if self.stopping:
                    break
                if not _resolved(corpus, report).opened:
                    break
                work, left = cadence.second_pass(corpus, self.plan, left)
                if not work:
                    break
            report.interrupted = self.stopping
        finally:
            report.seconds = time.monotonic() - began
            if tick_id is not None and (report.timeline_crawl_id or report.probe_crawl_id):
                made = self.requests_made(corpus, report)
                corpus.write(lambda: cadence.count_requests(corpus.db, tick_id, made))
        return report

    @staticmethod
    def requests_made(corpus: Corpus, report: CycleReport) -> int:
        """The tick's requests as the corpus counts them (pages, probes, long texts): the
        workers' Scrapy stats stay on their machines."""
        crawls = [c for c in (report.timeline_crawl_id, report.probe_crawl_id) if c]
        marks = ",".join("?" * len(crawls))
        return sum(int(corpus.db.execute(
            f"SELECT COUNT(*) FROM {table} WHERE crawl_id IN ({marks})", crawls).fetchone()[0])
            for table in ("pages", "probes", "long_texts"))


def run_distributed(plan: CrawlPlan, data_dir: str | Path, distributed: DistributedOptions,
                    options: RunOptions | None = None) -> list[CycleReport]:
    """Run the campaign's cycles with the fetching done by workers; returns a report per cycle.
    DistributedError when Redis cannot be used."""
    from .reparse import recover_dead_crawls

    options = options or RunOptions()
    Corpus(data_dir).close()   # fail early on an unusable data dir
    campaign = Campaign(plan, data_dir, options, distributed)
    corpus = Corpus(data_dir)
    ingester = Ingester(corpus, campaign.server, plan)
    reports: list[CycleReport] = []

    def request_stop(signum: int, _frame: Any) -> None:
        if not campaign.stopping:
            log.warning("received signal %s: stopping the crawl in flight", signum)
        campaign.stopping = True

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        campaign.start(ingester)
        ingester.close()
        for recovery in recover_dead_crawls(data_dir):
            (options.on_recovery or log.warning)(recovery.summary())
        started = time.monotonic()
        number = 0
        while not campaign.stopping:
            number += 1
            report = campaign.cycle(number, ingester)
            reports.append(report)
            if options.on_cycle:
                options.on_cycle(report)
            if options.once or (options.cycles and number >= options.cycles):
                break
            if options.duration is not None and time.monotonic() - started >= options.duration:
                break
            # Until the next poll or item falls due (as `memoryhole schedule` waits), within
            # MIN_SLEEP..MAX_SLEEP: probes of candidates and re-probes fall due between.
            due = campaign.next_due_at
            until = (due - clock.now().timestamp()) if due is not None else MAX_SLEEP
            wait = min(MAX_SLEEP, max(MIN_SLEEP, until)) if options.paced else 0.0
            if options.duration is not None:
                wait = min(wait, max(0.0, options.duration - (time.monotonic() - started)))
            deadline = time.monotonic() + wait
            while not campaign.stopping and time.monotonic() < deadline:
                campaign.claim()
                time.sleep(min(0.5, deadline - time.monotonic()))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        ingester.close()
        corpus.close()
        try:
            if campaign.server.get(workqueue.INGESTER) == campaign.epoch.encode():
                campaign.server.delete(workqueue.INGESTER)
        except redis.RedisError:
            pass
    return reports
