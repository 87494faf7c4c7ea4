"""Cool-downs: when the platform blocks us, that host rests, and nothing it answers meanwhile is
believed.

A block is an answer whose failure the adapter calls a gate failure (HTTP 418, 432, 403, 429,
captcha `ok: -100`, login walls: `failures.GATE` and the adapter's `gate_failures`). The spider
reports it (the `sessions.gate_blocked` signal, from `PlanSpider.failed_attempt`), and:

- the host cools down for `base * 2^(n-1)` seconds (n: blocks in a row, a block soon after the
  previous cool-down ended counts as in a row), at most `max`, ± `jitter`; a `Retry-After` the
  platform sends is honoured (up to `max`). Plan: `access.cooldown` (crawlers/plan.py);
- requests to a cooling host are held (not dropped) and go when it ends; other hosts go on;
- the blocked request is asked again after the cool-down, up to `access.cooldown.retries` times
  on top of the ordinary `politeness.retries`; a request still unanswered when those run out is
  a failure as before (recorded, never a removal);
- an answer to a request sent before a cool-down began and received after is not an
  observation (a platform that blocks a client may hand it empty or false pages meanwhile): it
  is archived, marked in its record's meta (`memoryhole_fetched_during_cooldown`), and asked
  again after the cool-down (HeldAnswerMiddleware, which a reparse runs too);
- each cool-down is a row in the corpus table `cooldowns` (crawl, platform, host, session
  label, cause, started_at, until), for `memoryhole status`; Scrapy stats count them
  (`memoryhole/cooldowns`, `memoryhole/cooldown_seconds`).

Requests on a session (the researcher's cookies or a visitor session) are also paced:
`access.pace` seconds between two of them (weibo-crawler's 8-15 s by default).

`MEMORYHOLE_COOLDOWNS=off` in the environment (or `access.cooldown.base: 0s`) turns cool-downs
off: the test suite's simulated faults are single bad answers, not bans.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from memoryhole.corpus import clock
from memoryhole.corpus.store import Corpus
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK

from .plan import CrawlPlan
from .sessions import FLOW_STEP, SESSION, gate_blocked

log = logging.getLogger(__name__)

FETCHED_DURING_COOLDOWN = "memoryhole_fetched_during_cooldown"   # archived in the record's meta
ASKED_AGAIN = "memoryhole_asked_after_cooldown"                  # times an answer was set aside
GATE_RETRIES = "memoryhole_gate_retries"                          # times asked again after a block
_SENT_IN = "memoryhole_cooldown_epoch"   # an object: not archived (plain meta only)


def cooldowns_enabled(plan: CrawlPlan) -> bool:
    """Cool-downs are on unless the plan's `access.cooldown.base` is 0 or the environment says
    MEMORYHOLE_COOLDOWNS=off."""
    off = os.environ.get("MEMORYHOLE_COOLDOWNS", "").strip().lower() in ("off", "0", "false", "no")
    return not off and plan.access.cooldown.base > 0


def retry_after(response: Response | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (seconds or an HTTP date), or None."""
    raw = response.headers.get("Retry-After") if response is not None else None
    if not raw:
        return None
    text = raw.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class _Epoch:
    """Which cool-down of its host a request was sent after (0: none yet)."""

    number: int


@dataclass
class HostState:
    until: float = 0.0          # time.monotonic() when the current cool-down ends
    epoch: int = 0              # cool-downs begun so far
    streak: int = 0             # blocks in a row
    last_end: float = float("-inf")
    last_seconds: float = 0.0
    cause: str = ""


# Process-wide, so a cool-down begun in a cycle's timeline crawl holds its probe crawl and the
# next cycle too (the scheduler runs every crawl of a campaign in one process).
HOSTS: dict[str, HostState] = {}
NEXT_FREE: dict[str, float] = {}   # session label -> time.monotonic() of its next request


class CooldownMiddleware:
    """Downloader middleware next to the network (after archiving in process_request order,
    before it in process_response order): holds requests to cooling hosts, paces sessions, and
    marks answers that arrive during a cool-down begun after they were sent."""

    def __init__(self, crawler: Crawler, plan: CrawlPlan) -> None:
        self.crawler = crawler
        self.plan = plan
        self.enabled = cooldowns_enabled(plan)
        self.settings = plan.access.cooldown
        self.hosts = HOSTS
        self.next_free = NEXT_FREE
        self.corpus: Corpus | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CooldownMiddleware:
        plan = getattr(crawler.spider, "plan", None)
        if plan is None:
            raise NotConfigured("not a plan spider")
        middleware = cls(crawler, plan)
        crawler.signals.connect(middleware.blocked, signal=gate_blocked)
        crawler.signals.connect(middleware.close, signal=signals.spider_closed)
        return middleware

    async def process_request(self, request: Request, spider: Any = None) -> None:
        host = urlsplit(request.url).netloc
        state = self.hosts.setdefault(host, HostState())
        session = request.meta.get(SESSION)
        pace = self.plan.access.pace
        while True:
            wait = state.until - time.monotonic()
            if wait > self.settings.hold:
                # Not worth holding the crawl (and the campaign's tick) for: not sent, a failure
                # (never an observation); the scheduler asks again after the cool-down.
                raise IgnoreRequest(f"{host} is cooling down for {wait:.0f} s more, longer than "
                                    f"access.cooldown.hold ({self.settings.hold:.0f} s): not sent")
            if wait > 0:
                await self._rest(wait, request)
                continue
            if session and pace.max > 0:
                now = time.monotonic()
                start = max(now, self.next_free.get(session, now))
                self.next_free[session] = start + (
                    pace.min if pace.max <= pace.min else random.uniform(pace.min, pace.max))
                if start > now:
                    await self._rest(start - now, request)
                    if state.until > time.monotonic():
                        continue   # a cool-down began while this request waited its turn
            break
        request.meta[_SENT_IN] = _Epoch(state.epoch)

    async def _rest(self, seconds: float, request: Request) -> None:
        """Wait, a second at a time: a crawl told to stop (SIGINT, SIGTERM) must not wait out
        an hours-long cool-down. A held request is then given up (a failure, as a request the
        crawl could not make)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            engine = getattr(self.crawler, "engine", None)
            if engine is not None and not engine.running:
                raise IgnoreRequest(f"the crawl stopped while {urlsplit(request.url).netloc} "
                                    "was cooling down")
            await asyncio.sleep(min(left, 1.0))

    def process_response(self, request: Request, response: Response,
                         spider: Any = None) -> Response:
        sent = request.meta.get(_SENT_IN)
        state = self.hosts.get(urlsplit(request.url).netloc)
        if FLOW_STEP in request.meta or request.callback is NO_CALLBACK:
            return response   # the visitor flow's and Scrapy's own requests: not observations
        if isinstance(sent, _Epoch) and state is not None and state.epoch > sent.number:
            request.meta[FETCHED_DURING_COOLDOWN] = state.cause
            return response
        # A block its status tells (418, 432, 403, 429) starts the cool-down now, before the
        # spider reads it: answers still in flight then count as fetched during it. (The
        # spider's report of the same answer finds it begun; a captcha in a 200 is known only
        # when the spider reads it.)
        adapter = getattr(self.crawler.spider, "adapter", None)
        failure = adapter.failure_for_status(response.status) if adapter is not None else None
        if failure is not None and adapter.is_gate_failure(failure):
            self.blocked(request, response, failure)
        return response

    def blocked(self, request: Request, response: Response | None, failure: str) -> None:
        """The spider's gate_blocked signal: start a cool-down of the answer's host, unless the
        request went out before the current one began (the same block, seen again)."""
        if not self.enabled:
            return
        host = urlsplit(request.url).netloc
        state = self.hosts.setdefault(host, HostState())
        sent = request.meta.get(_SENT_IN)
        if isinstance(sent, _Epoch) and sent.number < state.epoch:
            return
        now = time.monotonic()
        near = now - state.last_end <= max(self.settings.base, state.last_seconds)
        state.streak = state.streak + 1 if near else 1
        seconds = min(self.settings.max, self.settings.base * 2 ** (state.streak - 1))
        seconds *= 1 + random.uniform(-self.settings.jitter, self.settings.jitter)
        asked = retry_after(response)
        if asked is not None:
            seconds = max(seconds, min(asked, self.settings.max))
        state.until = state.last_end = now + seconds
        state.last_seconds = seconds
        state.epoch += 1
        state.cause = failure
        session = request.meta.get(SESSION, "anonymous")
        stats = self.crawler.stats
        stats.inc_value("memoryhole/cooldowns")
        stats.inc_value("memoryhole/cooldown_seconds", round(seconds, 3))
        log.warning("%s blocked us (%s, session %s): cooling down %.1fs (block %d in a row)",
                    host, failure, session, seconds, state.streak)
        self._record(host, session, failure, seconds)

    def _record(self, host: str, session: str, cause: str, seconds: float) -> None:
        spider = self.crawler.spider
        crawl_id = getattr(spider, "crawl_id", None)
        if crawl_id is None:
            return
        if self.corpus is None:
            self.corpus = Corpus(spider.data_dir)
        started = clock.now()
        corpus = self.corpus
        corpus.write(lambda: corpus.record_cooldown(
            crawl_id, self.plan.platform, host, session, cause, started,
            started + timedelta(seconds=seconds)))

    def close(self, spider: Any = None) -> None:
        if self.corpus is not None:
            self.corpus.close()
            self.corpus = None


class HeldAnswerMiddleware:
    """Sends back to be asked again an answer the CooldownMiddleware marked as fetched during a
    cool-down: archived, but never an observation. Runs after archiving, so a reparse (which
    replays the archived mark) sets the same answers aside."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HeldAnswerMiddleware:
        return cls()

    def process_response(self, request: Request, response: Response,
                         spider: Any = None) -> Request | Response:
        if not request.meta.get(FETCHED_DURING_COOLDOWN):
            return response
        again = request.replace(dont_filter=True)
        again.meta.pop(FETCHED_DURING_COOLDOWN, None)
        again.meta[ASKED_AGAIN] = request.meta.get(ASKED_AGAIN, 0) + 1
        return again
