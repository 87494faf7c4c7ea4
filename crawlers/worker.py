"""A distributed campaign's worker: Scrapy with scrapy-redis's scheduler and dupefilter, fetching
what the campaign queued in Redis and sending every answer back through Redis.

`memoryhole worker --redis redis://HOST:6379/0` runs the campaign's own spiders (the plan comes
from Redis) with the same adapters and politeness as a single-process crawl, but:

- work comes from the Redis queue (memoryhole.crawlers.workqueue.LeasedQueue) through
  scrapy-redis's scheduler, never from the spider's `start()`. scrapy-redis's RedisMixin is not
  used: it implements only `start_requests()`, which the pinned Scrapy (2.19) no longer calls at
  all (no warning: its first batch is silently not read; it reads only when the spider idles);
- each response is kept as a WARC exchange (RelayArchiveMiddleware) instead of being archived
  here; the ingester archives it in the campaign's WARC files and points the rows at it;
- each callback's output (observations, failures, follow-up requests) leaves in one Redis
  transaction with the response's exchanges and the lease dropped (workqueue.finish). While Redis
  is unreachable, answers wait in the worker's outbox and no new work is taken;
- the request budget per host is booked in Redis across all workers (HostBudgetMiddleware);
  sessions, cookies and cool-downs are this process's own, as in a single-process crawl.

A worker killed at any point loses nothing: what it had not sent is still leased, and the
campaign puts it back in the queue when the lease expires.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import pickle
import signal
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import redis
from memoryhole.corpus import clock
from memoryhole.corpus.provenance import software_version
from memoryhole.corpus.store import WarcRef
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler, CrawlerRunner
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy.utils.log import configure_logging
from scrapy.utils.misc import load_object
from scrapy.utils.reactor import install_reactor
from scrapy_redis.scheduler import Scheduler

from . import workqueue
from .middlewares import RECEIVED_AT, WARC_REF, exchange_of
from .platforms import ADAPTERS
from .spiders import probe_spider, timeline_spider
from .spiders.base import PlanSpider

log = logging.getLogger(__name__)

EXCHANGES = "memoryhole_exchange"   # request.meta: ((exchange id, warc.Exchange), ...) received
PENDING = "pending:"                # a WarcRef's file until the ingester has archived it
# The spider methods that answer a request: their output is relayed to Redis.
RELAYED = ("parse_page", "parse_profile", "profile_error", "parse_probe", "parse_long_text",
           "download_error")
IDLE_POLL_SECONDS = 0.25            # how soon an idle worker notices queued work
REGISTRATION_SECONDS = 30


class WorkerError(Exception):
    """The worker cannot start; the message names the cause."""


def local_address(redis_url: str) -> str | None:
    """The address this machine uses to reach Redis (the interface its requests leave from,
    unless a NAT or proxy sits in between: then give --address)."""
    host = urlsplit(redis_url).hostname or "127.0.0.1"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, 9))   # UDP: nothing is sent
            return probe.getsockname()[0]
    except OSError:
        return None


class Outbox:
    """Answers on their way to Redis, in order; kept while Redis is unreachable."""

    def __init__(self, server: redis.Redis) -> None:
        self.server = server
        self.pending: collections.deque[tuple[str, str | None, bytes, list[bytes]]] = (
            collections.deque())
        self.warned = False

    def send(self, spider: str, lease: str | None, message: bytes, follow_ups: list[bytes]
             ) -> None:
        self.pending.append((spider, lease, message, follow_ups))
        self.flush()

    def flush(self) -> bool:
        """Send what waits; False while Redis stays unreachable."""
        while self.pending:
            try:
                workqueue.finish(self.server, *self.pending[0])
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if not self.warned:
                    log.warning("Redis unreachable (%s): %d answers wait in this worker until "
                                "it is back", exc, len(self.pending))
                    self.warned = True
                return False
            self.pending.popleft()
        if self.warned:
            log.warning("Redis is back: every waiting answer sent")
            self.warned = False
        return True


class WorkerQueue(workqueue.LeasedQueue):
    """The worker's view of the queue: takes no new work while answers wait to be sent, and an
    unreachable Redis is no work rather than a crash."""

    def __len__(self) -> int:
        try:
            return super().__len__()
        except (redis.ConnectionError, redis.TimeoutError):
            return 0

    def pop(self, timeout: int = 0) -> Any:
        spider = self.spider
        if not spider.outbox.flush() or spider.stopping:
            return None
        try:
            request = super().pop(timeout)
        except (redis.ConnectionError, redis.TimeoutError):
            return None
        if request is not None:
            spider.leases.add(request.meta[workqueue.LEASE])
            spider.current_crawl = request.meta.get(workqueue.CRAWL, spider.current_crawl)
        return request


class WorkerScheduler(Scheduler):
    """scrapy-redis's scheduler (queue, dupefilter, persistence) without the Scrapy APIs that
    2.19 deprecates and scrapy-redis 0.9.1 still calls (`Spider.log`, the `spider` argument of
    `StatsCollector.inc_value`): their warnings are not the researcher's concern."""

    def open(self, spider: Spider) -> None:
        self.spider = spider
        self.queue = load_object(self.queue_cls)(
            server=self.server, spider=spider, key=self.queue_key % {"spider": spider.name},
            serializer=self.serializer)
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        if self.flush_on_start:
            self.flush()

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self) -> Request | None:
        request = self.queue.pop(self.idle_before_close)
        if request and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request


class WorkerSpider:
    """Mixed into a campaign spider on a worker: no start requests, answers relayed to Redis."""

    name: str
    crawler: Crawler

    def __init__(self, *args: Any, worker: tuple[Any, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setup_worker(*worker)

    async def start(self) -> Any:
        return   # the work comes from the Redis queue
        yield

    def setup_worker(self, server: redis.Redis, worker: str, address: str | None,
                     digest: bytes | None, stopping: bool) -> None:
        self.server = server
        self.plan_digest = digest
        self.worker = worker
        self.address = address
        self.outbox = Outbox(server)
        self.leases: set[str] = set()
        self.current_crawl: int | None = None   # of the last request taken
        self.stopping = stopping
        self._relaying = False
        self._encoder = workqueue.LeasedQueue(server, self, workqueue.QUEUE_KEY)

    def relay(self, result: Response | Any, output: Any) -> list[Any]:
        """Send what a callback or errback made, with the answer's exchanges, in one Redis
        transaction that also drops the request's lease; Scrapy gets nothing back."""
        request = result.request
        self._relaying = True
        try:
            out = list(output or ())
        except Exception:
            log.exception("%s: the callback for %s failed; its answer is archived, its "
                           "observation lost", self.name, request.url)
            out = []
        finally:
            self._relaying = False
        crawl_id = request.meta.get(workqueue.CRAWL)
        follow_ups = []
        for item in out:
            if isinstance(item, Request):
                item.meta.pop(EXCHANGES, None)
                item.meta[workqueue.CRAWL] = crawl_id
                follow_ups.append(self._encoder.encode(item))
        lease = request.meta.get(workqueue.LEASE)
        exchanges = list(request.meta.pop(EXCHANGES, ()))
        message = workqueue.Message(
            id=uuid.uuid4().hex, worker=self.worker, address=self.address, crawl_id=crawl_id,
            spider=self.name, exchanges=exchanges,
            items=[item for item in out if not isinstance(item, Request)],
            version=software_version())
        self.outbox.send(self.name, lease, message.dumps(), follow_ups)
        self.leases.discard(lease)
        if follow_ups:
            # Queued behind Scrapy's back (in the transaction above): ask the engine to look
            # at the queue now rather than at its next heartbeat.
            slot = getattr(getattr(self.crawler, "engine", None), "_slot", None)
            if slot is not None:
                slot.nextcall.schedule()
        return []


def _relayed(method: Any) -> Any:
    def relayed(self: Any, result: Any) -> Any:
        if self._relaying:   # called from another relayed method (profile_error)
            return method(self, result)
        return self.relay(result, method(self, result))
    relayed.__name__ = method.__name__
    return relayed


def worker_spider(base: type[PlanSpider]) -> type[PlanSpider]:
    """A campaign spider as a worker runs it: same name (the queue's key), same adapters."""
    attrs: dict[str, Any] = {"__module__": __name__}
    attrs.update({name: _relayed(getattr(base, name)) for name in RELAYED
                  if hasattr(base, name)})
    return type(f"Worker{base.__name__}", (WorkerSpider, base), attrs)


class RelayArchiveMiddleware:
    """The worker's WarcArchiveMiddleware: keeps each response as a WARC exchange on the request
    (the relay sends it) and gives the observation a placeholder reference the ingester
    replaces with the record's place in the campaign's WARC files."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RelayArchiveMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        received_at = clock.now()
        request.meta[RECEIVED_AT] = received_at
        exchange_id = uuid.uuid4().hex
        exchange = exchange_of(request, response, self.crawler.spider,
                               request.meta.get(workqueue.CRAWL, self.crawler.spider.current_crawl),
                               received_at)
        spider = self.crawler.spider
        if getattr(request.callback, "__name__", None) not in RELAYED:
            # Scrapy's own requests (robots.txt): archived now, in the crawl being worked on.
            message = workqueue.Message(
                id=uuid.uuid4().hex, worker=spider.worker, address=spider.address,
                crawl_id=request.meta.get(workqueue.CRAWL, spider.current_crawl),
                spider=spider.name, exchanges=[(exchange_id, exchange)],
                version=software_version())
            spider.outbox.send(spider.name, None, message.dumps(), [])
            return response
        request.meta[EXCHANGES] = (*request.meta.get(EXCHANGES, ()), (exchange_id, exchange))
        request.meta[WARC_REF] = WarcRef(PENDING + exchange_id, -1, "")
        return response


class HostBudgetMiddleware:
    """Books each request's slot in the host's budget across all workers before it is sent
    (`memoryhole:config` host_rate, requests per second; 0: no shared budget)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.rate: float = 0.0
        self.read_at = float("-inf")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostBudgetMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        server = self.crawler.spider.server
        host = urlsplit(request.url).netloc
        while True:
            try:
                if time.monotonic() - self.read_at > 5.0:
                    self.rate = float(server.hget(workqueue.CONFIG, "host_rate") or 0)
                    self.read_at = time.monotonic()
                wait = workqueue.reserve(server, host, self.rate) if self.rate > 0 else 0.0
                break
            except (redis.ConnectionError, redis.TimeoutError):
                await asyncio.sleep(1.0)   # the budget holds: no request without a slot
        if wait > 0:
            await asyncio.sleep(wait)
        return None


class WorkerExtension:
    """Keeps a worker's spiders open while the queue is empty, notices queued work quickly, and
    closes them when the worker stops or the campaign's plan changes."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.checked = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerExtension:
        extension = cls(crawler)
        crawler.signals.connect(extension.opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.closed, signal=signals.spider_closed)
        return extension

    def opened(self, spider: Spider) -> None:
        # The engine asks the scheduler for work every heartbeat (5 s by default).
        self.crawler.engine._SLOT_HEARTBEAT_INTERVAL = IDLE_POLL_SECONDS

    def idle(self, spider: Spider) -> None:
        if spider.stopping:
            return
        if time.monotonic() - self.checked > 2.0:
            self.checked = time.monotonic()
            try:
                digest = plan_digest(spider.server)
                # None: Redis forgot it (restarted empty); the campaign publishes it again.
                if digest is not None and digest != spider.plan_digest:
                    log.warning("the campaign's plan changed: reloading it")
                    return
            except (redis.ConnectionError, redis.TimeoutError):
                pass
        raise DontCloseSpider

    def closed(self, spider: Spider) -> None:
        spider.outbox.flush()
        if spider.leases:
            try:
                back = workqueue.release(spider.server, spider.name, sorted(spider.leases))
                log.warning("%s: %d requests in flight put back in the queue", spider.name, back)
            except (redis.ConnectionError, redis.TimeoutError):
                pass   # their leases expire


def plan_digest(server: redis.Redis) -> bytes | None:
    return server.hget(workqueue.CONFIG, "plan_digest")


def worker_settings(redis_url: str, log_level: str) -> Any:
    from .scheduler import RunOptions, scrapy_settings

    settings = scrapy_settings(RunOptions(log_level=log_level))
    # Merged into the project's own: the access middlewares (sessions, cool-downs) apply per
    # worker as they do in one process.
    middlewares = {**settings.getdict("DOWNLOADER_MIDDLEWARES"),
                   "memoryhole.crawlers.middlewares.WarcArchiveMiddleware": None,
                   f"{__name__}.RelayArchiveMiddleware": 950,
                   f"{__name__}.HostBudgetMiddleware": 980}
    pipelines = {**settings.getdict("ITEM_PIPELINES"),
                 "memoryhole.crawlers.pipelines.CorpusPipeline": None}
    settings.setdict({
        "SCHEDULER": f"{__name__}.WorkerScheduler",   # scrapy-redis's, see there
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,   # never flush the campaign's queue when a worker stops
        "SCHEDULER_QUEUE_CLASS": f"{__name__}.WorkerQueue",
        "REDIS_URL": redis_url,
        "ITEM_PIPELINES": pipelines,   # observations go to the ingester, not a local corpus
        "DOWNLOADER_MIDDLEWARES": middlewares,
        "EXTENSIONS": {**settings.getdict("EXTENSIONS"), f"{__name__}.WorkerExtension": 500},
        "LOGSTATS_INTERVAL": 0,
    }, priority="cmdline")
    return settings


def register(server: redis.Redis, name: str, address: str | None) -> bool:
    """Claim the worker name (expires unless renewed); False when a live worker holds it."""
    return bool(server.set(workqueue.WORKER % name, address or "", nx=True,
                           ex=REGISTRATION_SECONDS))


def run_worker(redis_url: str, name: str | None = None, address: str | None = None,
               log_level: str = "WARNING", max_idle: float | None = None) -> None:
    """Fetch the campaign's queued work until SIGINT/SIGTERM (or `max_idle` seconds without a
    plan). WorkerError when Redis cannot be reached or the name is taken."""
    server = workqueue.connect(redis_url)
    name = name or socket.gethostname()
    address = address or local_address(redis_url)
    try:
        server.ping()
        if not register(server, name, address):
            raise WorkerError(f"another worker named {name!r} is running on "
                              f"{workqueue.shown(redis_url)} (or stopped less than "
                              f"{REGISTRATION_SECONDS} s ago); give this one another --name")
    except redis.AuthenticationError as exc:
        raise WorkerError(f"{workqueue.shown(redis_url)}: Redis refused the password ({exc})"
                          ) from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise WorkerError(f"cannot reach Redis at {workqueue.shown(redis_url)} ({exc})") from None
    settings = worker_settings(redis_url, log_level)
    install_reactor(settings["TWISTED_REACTOR"])
    from twisted.internet import defer, reactor, task

    configure_logging(settings)
    runner = CrawlerRunner(settings)
    state: dict[str, Any] = {"stopping": False, "spiders": [], "error": None}

    def renew() -> None:
        try:
            server.set(workqueue.WORKER % name, address or "", ex=REGISTRATION_SECONDS)
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        for spider in state["spiders"]:
            spider.outbox.flush()

    heartbeat = task.LoopingCall(renew)

    @defer.inlineCallbacks
    def loop():
        waited = time.monotonic()
        try:
            while not state["stopping"]:
                try:
                    data = server.get(workqueue.PLAN)
                    digest = plan_digest(server)
                except (redis.ConnectionError, redis.TimeoutError):
                    data = None
                if data is None:
                    if max_idle is not None and time.monotonic() - waited > max_idle:
                        break
                    yield task.deferLater(reactor, 0.5, lambda: None)
                    continue
                plan = pickle.loads(data)
                bases = [probe_spider(plan.platform)]
                if ADAPTERS[plan.platform].watch == "listing":
                    bases.insert(0, timeline_spider(plan.platform))
                runs, state["spiders"] = [], []
                for base in bases:
                    crawler = runner.create_crawler(worker_spider(base))
                    crawler.signals.connect(lambda spider: state["spiders"].append(spider),
                                            signal=signals.spider_opened, weak=False)
                    runs.append(runner.crawl(crawler, plan=plan, data="-", worker=(
                        server, name, address, digest, state["stopping"])))
                for run in runs:   # the spiders of one plan close together, then reload it
                    run.addBoth(_close_siblings, state)
                yield defer.DeferredList(runs)
                waited = time.monotonic()
        except Exception as exc:
            state["error"] = exc
        finally:
            if heartbeat.running:
                heartbeat.stop()
            reactor.stop()

    def request_stop(signum: int, _frame: Any) -> None:
        def stop() -> None:
            state["stopping"] = True
            log.warning("received signal %s: finishing the requests in flight", signum)
            for spider in state["spiders"]:
                spider.stopping = True
        reactor.callFromThread(stop)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        heartbeat.start(5.0, now=False)
        reactor.callWhenRunning(loop)
        reactor.run(installSignalHandlers=False)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        try:
            server.delete(workqueue.WORKER % name)
        except redis.RedisError:
            pass
    if state["error"] is not None:
        raise state["error"]


def _close_siblings(result: Any, state: dict[str, Any]) -> Any:
    for spider in state["spiders"]:
        spider.stopping = True
    return result
