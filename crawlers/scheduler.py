"""The crawl scheduler: ticks of snapshot → diff → probe → resolve, each watchlist at its cadence.

Each tick asks `cadence.due_work` what is due (each watchlist's accounts at their own cadence,
denser while their newest post is young; watched items on their schedule; candidates and
re-probes) within each host's hourly request budget, records the tick in the corpus, then runs
each plan's cycle over its share: the platform's listing spider over the due accounts, the diff
against the corpus, the probe spider over the admitted probes, the resolution into removals. A
platform with item watches has no listing: its cycle is the probe pass alone. Several plans (one
per platform) run side by side in one reactor. `run()` keeps ticking until `once`, `cycles` or
`duration` says stop, or SIGINT/SIGTERM arrives: then the crawls in flight close cleanly (their
items are flushed and their crawl rows marked `interrupted`) and no new tick starts; a second
signal changes nothing. A plan file edited meanwhile is read at the next tick.

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
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

from memoryhole.corpus import clock
from memoryhole.corpus.differ import ProbeResolution, TimelineDiff, diff_timeline, resolve_probes
from memoryhole.corpus.store import Corpus
from scrapy import signals
from scrapy.crawler import CrawlerRunner
from scrapy.utils.log import configure_logging
from scrapy.utils.project import get_project_settings
from scrapy.utils.reactor import install_reactor

from . import cadence, failures
from .plan import CrawlPlan, PlanError, load_plan
from .platforms import ADAPTERS
from .spiders import probe_spider, timeline_spider

log = logging.getLogger(__name__)


MIN_SLEEP, MAX_SLEEP = 1.0, 60.0   # seconds between ticks: the next due poll, within these


class CrawlStoreError(Exception):
    """A crawl's results could not be stored; it is left for recovery on the next start."""


@dataclass
class CycleReport:
    number: int
    platform: str = ""
    behind: list[str] = field(default_factory=list)   # watchlists falling behind, in words
    idle: bool = False                                 # nothing was due for this plan
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
        parts = [f"cycle {self.number}" + (f" {self.platform}" if self.platform else "")]
        if self.idle:
            parts.append("nothing due")
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
    on_tick: Callable[[Any], None] | None = None       # the tick's cadence.DueWork, before it runs
    on_response: Callable[[], None] | None = None      # each response received (progress bars)
    on_tick_end: Callable[[list[CycleReport]], None] | None = None   # driven clocks move here


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


def _diff(corpus: Corpus, report: CycleReport) -> None:
    """Diff the cycle's timeline crawl; when every window failed, what the pages failed with."""
    report.diff = corpus.write(lambda: diff_timeline(corpus.db, report.timeline_crawl_id))
    if report.diff.windows and report.diff.failed == report.diff.windows:
        report.page_failures = dict(corpus.db.execute(
            "SELECT failure, COUNT(*) FROM pages WHERE crawl_id = ? AND outcome = 'failed' "
            "GROUP BY failure ORDER BY COUNT(*) DESC, failure",
            [report.timeline_crawl_id]).fetchall())


def _resolved(corpus: Corpus, report: CycleReport) -> ProbeResolution:
    """Resolve the cycle's probe crawl into the report; when only watched items were asked and
    every one failed, what they failed with."""
    resolution = corpus.write(lambda: _resolve(corpus, report.probe_crawl_id))
    report.resolution = _add(report.resolution, resolution)
    if report.diff is None and resolution.watched == 0 and resolution.watch_failed:
        report.page_failures = dict(corpus.db.execute(
            "SELECT failure, COUNT(*) FROM probes WHERE crawl_id = ? AND purpose = 'watch' "
            "GROUP BY failure ORDER BY COUNT(*) DESC, failure",
            [report.probe_crawl_id]).fetchall())
    return resolution


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


def _reloaded(plan: CrawlPlan, seen: dict[str, str]) -> CrawlPlan:
    """The plan as its file says now: an edit is taken at the next tick (a new plan version on
    the crawls it drives); an edit that does not load is said in a log line and the plan runs
    on as it was."""
    if not plan.path or not Path(plan.path).is_file():
        return plan
    try:
        text = Path(plan.path).read_text("utf-8")
    except OSError:
        return plan
    if seen.setdefault(plan.path, text) == text:
        return plan
    seen[plan.path] = text
    try:
        edited = load_plan(plan.path)
    except PlanError as exc:
        log.warning("the edited plan is not taken, the campaign keeps the one it had: %s", exc)
        return plan
    if edited.platform != plan.platform:
        log.warning("%s: the edited plan changes its platform (%s to %s); not taken",
                    plan.path, plan.platform, edited.platform)
        return plan
    before = {m for m in plan.members()}
    after = {m for m in edited.members()}
    log.warning("%s: plan edited: %d watched added, %d removed; taken from this tick on",
                plan.path, len(after - before), len(before - after))
    return edited


def prepare_tick(data_dir: str | Path, plans: Sequence[CrawlPlan], everything: bool = False
                 ) -> tuple[cadence.DueWork, dict[str, int]]:
    """Fold the crawls that ended, decide what is due now, record the tick: (work, tick ids)."""
    corpus = Corpus(data_dir)
    try:
        corpus.write(lambda: cadence.fold(corpus.db))
        work = cadence.due_work(corpus, plans, clock.now(), everything=everything)
        ticks = corpus.write(lambda: cadence.record_tick(corpus.db, work))
    finally:
        corpus.close()
    return work, ticks


def run(plan: CrawlPlan | Sequence[CrawlPlan], data_dir: str | Path,
        options: RunOptions | None = None) -> list[CycleReport]:
    """Run ticks in this process, for one plan or several (one platform each, side by side in
    one reactor); returns a report per plan per tick. Call once per process.

    Each tick folds the crawls that ended into the schedule state, asks `cadence.due_work` what
    is due within each host's budget, records the tick, then runs each plan's cycle over its
    share: a timeline crawl of the due accounts, the diff, a probe crawl of the admitted probes,
    their resolution. With `once` everything is due (the budget still holds). Between ticks it
    sleeps until the next poll falls due (paced), at most a minute, so an edited plan is read
    within a minute.
    """
    options = options or RunOptions()
    plans = [plan] if isinstance(plan, CrawlPlan) else list(plan)
    platforms = [p.platform for p in plans]
    if len(set(platforms)) != len(platforms):
        raise ValueError(f"one plan per platform in a run, got {', '.join(platforms)}")
    # Fail early, before the reactor, on an unusable data dir; then close the crawls whose
    # process died (recover_dead_crawls). The replay machinery is imported only when there is one.
    corpus = Corpus(data_dir)
    try:
        dead = corpus.claim_dead_crawls()
        if dead:
            from memoryhole.crawlers.reparse import recover_crawl

            for crawl in dead:
                (options.on_recovery or log.warning)(recover_crawl(crawl, corpus).summary())
    finally:
        corpus.close()
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
    state: dict[str, Any] = {"stopping": False, "sleep": None, "error": None, "signals": 0}
    seen_plans: dict[str, str] = {}
    data = str(data_dir)

    def made(crawler) -> int:
        return int(crawler.stats.get_value("downloader/request_count", 0) or 0)

    def watch(crawler) -> None:
        if options.on_response is not None:
            crawler.signals.connect(lambda *a, **k: options.on_response(),
                                    signal=signals.response_received, weak=False)

    @defer.inlineCallbacks
    def cycle(number: int, work: cadence.PlanWork, tick_id: int | None):
        plan = work.plan
        report = CycleReport(number, platform=plan.platform, behind=work.behind_lines(),
                             idle=work.idle)
        if work.idle:
            return report
        began = time.monotonic()
        listing = ADAPTERS[plan.platform].watch == "listing"
        corpus = Corpus(data)

        def count(crawler) -> None:
            if tick_id is not None:
                corpus.write(lambda: cadence.count_requests(corpus.db, tick_id, made(crawler)))

        try:
            if listing and work.polls:
                crawler = runner.create_crawler(timeline_spider(plan.platform))
                watch(crawler)
                yield runner.crawl(crawler, plan=plan, data=data, polls=work.polls)
                report.timeline_crawl_id = crawler.spider.crawl_id
                _stored(corpus, report.timeline_crawl_id)
                count(crawler)
                if state["stopping"]:
                    report.interrupted = True
                    return report
                _diff(corpus, report)
            if report.diff is not None:
                probes, left = cadence.probes_after_poll(corpus, work)
            else:
                probes, left = dict(work.probes), work.budget_left
            # A second pass only when the first found accounts gone: their posts are asked now.
            for _ in range(2):
                if not any(probes.values()) or state["stopping"]:
                    break
                crawler = runner.create_crawler(probe_spider(plan.platform))
                watch(crawler)
                yield runner.crawl(crawler, plan=plan, data=data, work=probes)
                report.probe_crawl_id = crawler.spider.crawl_id
                _stored(corpus, report.probe_crawl_id)
                count(crawler)
                if not _resolved(corpus, report).opened:
                    break
                probes, left = cadence.second_pass(corpus, plan, left)
                if not probes:
                    break
            report.interrupted = state["stopping"]
        finally:
            corpus.close()
            report.seconds = time.monotonic() - began
        return report

    @defer.inlineCallbacks
    def loop():
        nonlocal plans
        started = time.monotonic()
        number = 0
        try:
            while not state["stopping"]:
                number += 1
                plans = [_reloaded(p, seen_plans) for p in plans]
                work, ticks = prepare_tick(data, plans, everything=options.once)
                for line in work.behind_lines():
                    log.warning(line)
                if options.on_tick is not None:
                    options.on_tick(work)
                results = yield defer.gatherResults(
                    [cycle(number, w, ticks.get(w.plan.platform)) for w in work.plans],
                    consumeErrors=True)
                for report in results:
                    reports.append(report)
                    if options.on_cycle:
                        options.on_cycle(report)
                if options.on_tick_end is not None:
                    options.on_tick_end(results)
                if options.once or (options.cycles and number >= options.cycles):
                    break
                if state["stopping"]:   # a signal during the tick: no sleep, no next tick
                    break
                if options.duration is not None and time.monotonic() - started >= options.duration:
                    break
                wait = 0.0
                if options.paced:
                    after = clock.now().timestamp()
                    due = work.next_due_at
                    wait = min(MAX_SLEEP, max(MIN_SLEEP, (due - after) if due else MAX_SLEEP))
                if options.duration is not None:
                    wait = min(wait, max(0.0, options.duration - (time.monotonic() - started)))
                state["sleep"] = deferLater(reactor, wait, lambda: None)
                try:
                    yield state["sleep"]
                except defer.CancelledError:
                    break
        except defer.FirstError as exc:  # a plan's cycle failed: its own error
            state["error"] = exc.subFailure.value
        except Exception as exc:  # surfaced after the reactor stops
            state["error"] = exc
        finally:
            reactor.stop()

    def request_stop(signum, _frame):
        def stop():
            state["signals"] += 1
            if state["stopping"]:
                log.warning("received signal %s again: still finishing the requests in flight "
                            "(nothing is lost if this process is killed: the next start "
                            "recovers its crawl)", signum)
                return
            state["stopping"] = True
            log.warning("received signal %s: finishing the requests in flight", signum)
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
