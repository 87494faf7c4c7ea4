"""The crawl scheduler: cycles of snapshot → diff → probe → resolve, at the plan's cadence.

One cycle runs the platform's listing spider over every watchlist, diffs what it saw against the
corpus, probes the open candidates and turns their answers into removals. A platform with item
watches has no listing: its cycle is the probe pass alone (the watched items its schedule says
are due, with the candidates and re-probes), then resolution. `run()` keeps cycles
going inside one Twisted reactor until `once`, `cycles` or `duration` says stop, or SIGINT/SIGTERM
arrives: then the crawl in flight closes cleanly (its items are flushed and its crawl row marked
`interrupted`) and no new cycle starts.

Before the first cycle, crawls of the corpus that a dead process left `running` (kill -9, power
loss, a batch that could not be stored) are recovered from their WARC files and marked `crashed`
(`memoryhole.crawlers.reparse.recover_dead_crawls`); a crawl another live process is running is left alone.
A crawl whose results could not be stored stops the run with CrawlStoreError.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

from memoryhole.corpus.differ import ProbeResolution, TimelineDiff, diff_timeline, resolve_probes
from memoryhole.corpus.store import Corpus
from scrapy.crawler import CrawlerRunner
from scrapy.utils.log import configure_logging
from scrapy.utils.project import get_project_settings
from scrapy.utils.reactor import install_reactor

from . import failures
from .plan import CrawlPlan
from .platforms import ADAPTERS
from .spiders import probe_spider, timeline_spider
from .spiders.probe import probe_work

log = logging.getLogger(__name__)


class CrawlStoreError(Exception):
    """A crawl's results could not be stored; it is left for recovery on the next start."""


@dataclass
class CycleReport:
    number: int
    timeline_crawl_id: int | None = None
    probe_crawl_id: int | None = None
    diff: TimelineDiff | None = None
    resolution: ProbeResolution | None = None
    seconds: float = 0.0
    interrupted: bool = False
    page_failures: dict[str, int] = field(default_factory=dict)   # failure -> pages, when
                                                                   # nothing was fetched

    @property
    def fetched_nothing(self) -> bool:
        """The cycle got no answer at all: every listing window failed (no page came back as
        posts or an empty listing), or, for item watches, every watched item's probe failed, and
        no other probe was answered. An interrupted cycle that never reached its diff is not
        judged."""
        d, r = self.diff, self.resolution
        if d is None:
            return (self.timeline_crawl_id is None and r is not None and r.watched == 0
                    and r.watch_failed > 0 and r.probed == r.still_open)
        if d.windows == 0:
            return False
        return d.failed == d.windows and (r is None or (r.probed == r.still_open
                                                        and r.watched == 0))

    def summary(self) -> str:
        d, r = self.diff, self.resolution
        parts = [f"cycle {self.number}"]
        if self.fetched_nothing:
            parts.append(f"nothing could be fetched ({failed_pages([self])})")
        if d:
            parts.append(f"windows {d.covered} covered/{d.empty} empty/{d.failed} failed")
            parts.append(f"{d.new_candidates} new candidates, {d.restored} restored")
        if r and (r.watched or r.watch_failed):
            parts.append(f"watched items probed {r.watched + r.watch_failed}: "
                         f"{r.watch_failed} failed")
        if r:
            parts.append(f"probed {r.probed}: {r.removed} removed, {r.visible} visible, "
                         f"{r.still_open} failed, {r.confirmed} confirmed, "
                         f"{r.restored} restored")
        parts.append(f"{self.seconds:.1f}s")
        return "; ".join(parts) + (" (interrupted)" if self.interrupted else "")


@dataclass
class RunOptions:
    once: bool = False
    cycles: int | None = None            # stop after this many cycles
    duration: float | None = None        # stop starting cycles after this many seconds
    paced: bool = True                   # wait the plan's cadence between cycles (validation
                                         # runs drive a simulated clock and do not wait)
    log_level: str = "WARNING"
    settings: dict[str, Any] = field(default_factory=dict)
    on_cycle: Callable[[CycleReport], None] | None = None
    on_recovery: Callable[[str], None] | None = None   # a line per dead crawl recovered


def fetched_nothing(reports: list[CycleReport]) -> bool:
    """Whether a run fetched nothing: it finished at least one cycle and none got an answer.
    A run with failures in some cycles and answers in others is a normal run."""
    judged = [r for r in reports if r.diff is not None]
    return bool(judged) and all(r.fetched_nothing for r in judged)


def failed_pages(reports: list[CycleReport]) -> str:
    """The failures of the pages of cycles that fetched nothing, counted: `connection_error ×4`."""
    counts: Counter[str] = Counter()
    for report in reports:
        counts.update(report.page_failures)
    return ", ".join(f"{name} ×{n}" for name, n in counts.most_common()) or "no failure recorded"


class NetworkErrorTracebacks(logging.Filter):
    """Keeps the one-line message of a log record about a connection error or timeout and drops
    its traceback (Scrapy's robots.txt middleware logs one per host): the failure is recorded in
    `fetch_failures` by name. `--log-level DEBUG` keeps the tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        for _ in range(8):   # the exception and what caused it (Scrapy wraps Twisted's)
            if error is None:
                break
            if failures.failure_for_exception(error) in (failures.CONNECTION_ERROR,
                                                         failures.TIMEOUT):
                record.exc_info, record.exc_text = None, None
                break
            error = error.__cause__ or error.__context__
        return True


# Where Scrapy logs download errors with their traceback.
_NETWORK_ERROR_LOGGERS = ("scrapy.downloadermiddlewares.robotstxt", "scrapy.core.scraper",
                          "scrapy.core.engine", "scrapy.core.downloader",
                          "scrapy.downloadermiddlewares.retry", "scrapy.utils.log")


def _add(a: ProbeResolution | None, b: ProbeResolution) -> ProbeResolution:
    if a is None:
        return b
    return ProbeResolution(*(x + y for x, y in zip(astuple(a), astuple(b), strict=True)))


def _stored(corpus: Corpus, crawl_id: int | None) -> None:
    """Raise CrawlStoreError when a crawl ended without its results stored."""
    if crawl_id is None:
        raise CrawlStoreError("the crawl did not start (see the log above)")
    if corpus.crawl_status(crawl_id) == "running":
        raise CrawlStoreError(
            f"crawl {crawl_id}: its results could not be stored in {corpus.path} (see the log "
            "above); the next `memoryhole crawl` recovers them from its WARC files")


def _resolve(corpus: Corpus, crawl_id: int) -> ProbeResolution:
    """resolve_probes and its record on the crawl, in one transaction."""
    resolution = resolve_probes(corpus.db, crawl_id)
    corpus.mark_resolved(crawl_id)
    return resolution


def scrapy_settings(options: RunOptions):
    settings = get_project_settings()
    settings.setmodule("memoryhole.crawlers.settings", priority="project")
    settings.set("LOG_LEVEL", options.log_level, priority="cmdline")
    for key, value in options.settings.items():
        settings.set(key, value, priority="cmdline")
    return settings


def run(plan: CrawlPlan, data_dir: str | Path, options: RunOptions | None = None
        ) -> list[CycleReport]:
    """Run crawl cycles in this process; returns a report per cycle. Call once per process."""
    options = options or RunOptions()
    Corpus(data_dir).close()   # fail early, before the reactor, on an unusable data dir
    from memoryhole.crawlers.reparse import recover_dead_crawls

    for recovery in recover_dead_crawls(data_dir):
        (options.on_recovery or log.warning)(recovery.summary())
    settings = scrapy_settings(options)
    install_reactor(settings["TWISTED_REACTOR"])
    from twisted.internet import defer, reactor
    from twisted.internet.task import deferLater

    configure_logging(settings)
    if options.log_level != "DEBUG":
        # On the loggers, not the root handler: Scrapy replaces that handler with every crawler.
        for name in _NETWORK_ERROR_LOGGERS:
            logging.getLogger(name).addFilter(NetworkErrorTracebacks())
    runner = CrawlerRunner(settings)
    reports: list[CycleReport] = []
    state: dict[str, Any] = {"stopping": False, "sleep": None, "error": None}
    listing = ADAPTERS[plan.platform].watch == "listing"
    timeline_cls = timeline_spider(plan.platform) if listing else None
    probe_cls = probe_spider(plan.platform)
    data = str(data_dir)

    @defer.inlineCallbacks
    def cycle(number: int):
        report = CycleReport(number)
        began = time.monotonic()
        if timeline_cls is not None:
            crawler = runner.create_crawler(timeline_cls)
            yield runner.crawl(crawler, plan=plan, data=data)
            report.timeline_crawl_id = crawler.spider.crawl_id
        corpus = Corpus(data)
        try:
            if timeline_cls is not None:
                _stored(corpus, report.timeline_crawl_id)
                if state["stopping"]:
                    report.interrupted = True
                    return report
                report.diff = corpus.write(
                    lambda: diff_timeline(corpus.db, report.timeline_crawl_id))
                if report.diff.windows and report.diff.failed == report.diff.windows:
                    report.page_failures = dict(corpus.db.execute(
                        "SELECT failure, COUNT(*) FROM pages WHERE crawl_id = ? AND outcome = "
                        "'failed' GROUP BY failure ORDER BY COUNT(*) DESC, failure",
                        [report.timeline_crawl_id]).fetchall())
            work = probe_work(data, plan.platform, plan.long_texts, plan)
            # A second pass only when the first found accounts gone: their posts are asked now.
            for _ in range(2):
                if not any(work.values()) or state["stopping"]:
                    break
                crawler = runner.create_crawler(probe_cls)
                yield runner.crawl(crawler, plan=plan, data=data)
                report.probe_crawl_id = crawler.spider.crawl_id
                _stored(corpus, report.probe_crawl_id)
                resolution = corpus.write(lambda: _resolve(corpus, report.probe_crawl_id))
                report.resolution = _add(report.resolution, resolution)
                if report.diff is None and resolution.watched == 0 and resolution.watch_failed:
                    report.page_failures = dict(corpus.db.execute(
                        "SELECT failure, COUNT(*) FROM probes WHERE crawl_id = ? AND purpose = "
                        "'watch' GROUP BY failure ORDER BY COUNT(*) DESC, failure",
                        [report.probe_crawl_id]).fetchall())
                if not resolution.opened:
                    break
                work = {"candidates": corpus.open_candidates(plan.platform)}
            report.interrupted = state["stopping"]
        finally:
            corpus.close()
            report.seconds = time.monotonic() - began
        return report

    @defer.inlineCallbacks
    def loop():
        started = time.monotonic()
        number = 0
        try:
            while not state["stopping"]:
                number += 1
                began = time.monotonic()
                report = yield cycle(number)
                reports.append(report)
                if options.on_cycle:
                    options.on_cycle(report)
                if options.once or (options.cycles and number >= options.cycles):
                    break
                if options.duration is not None and time.monotonic() - started >= options.duration:
                    break
                wait = max(0.0, plan.every - (time.monotonic() - began)) if options.paced else 0.0
                if options.duration is not None:
                    wait = min(wait, max(0.0, options.duration - (time.monotonic() - started)))
                state["sleep"] = deferLater(reactor, wait, lambda: None)
                try:
                    yield state["sleep"]
                except defer.CancelledError:
                    break
        except Exception as exc:  # surfaced after the reactor stops
            state["error"] = exc
        finally:
            reactor.stop()

    def request_stop(signum, _frame):
        def stop():
            if state["stopping"]:
                return
            state["stopping"] = True
            log.warning("received signal %s: finishing the crawl in flight", signum)
            if state["sleep"] is not None and not state["sleep"].called:
                state["sleep"].cancel()
            runner.stop()
        reactor.callFromThread(stop)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        reactor.callWhenRunning(loop)
        reactor.run(installSignalHandlers=False)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if state["error"] is not None:
        raise state["error"]
    return reports
