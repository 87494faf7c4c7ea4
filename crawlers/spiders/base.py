"""What every memoryhole spider shares: a plan, a data directory, a platform adapter, and one way
to turn an answer that is not an observation into a recorded failure and a retry."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import scrapy
from memoryhole.corpus import clock
from memoryhole.corpus.store import FetchFailure
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from twisted.python.failure import Failure

from .. import failures
from ..cooldown import GATE_RETRIES, cooldowns_enabled
from ..middlewares import RECEIVED_AT, REQUESTED_AT
from ..plan import CrawlPlan, load_plan
from ..platforms import adapter_for
from ..sessions import gate_blocked

log = logging.getLogger(__name__)
_ROBOTS_WARNED: set[str] = set()


class PlanSpider(scrapy.Spider):
    """A spider driven by a crawl plan (`-a plan=PLAN.yaml -a data=DIR`)."""

    platform: str = ""
    kind: str = ""

    def __init__(self, plan: CrawlPlan | str | None = None, data: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if plan is None:
            raise ValueError(f"{self.name}: give a crawl plan: -a plan=PLAN.yaml")
        self.plan = plan if isinstance(plan, CrawlPlan) else load_plan(plan)
        if self.plan.platform != self.platform:
            raise ValueError(f"{self.name}: the plan is for {self.plan.platform!r}, "
                             f"this spider crawls {self.platform!r}")
        self.data_dir = data
        self.adapter = adapter_for(self.platform)
        self.crawl_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> PlanSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.data_dir = spider.data_dir or crawler.settings.get("MEMORYHOLE_DATA")
        if not spider.data_dir:
            raise ValueError(f"{spider.name}: say where the corpus is: -a data=DIR")
        # The plan's politeness governs this crawl (settings are frozen after the spider is made).
        p = spider.plan.politeness
        settings = crawler.settings
        settings.set("DOWNLOAD_DELAY", p.delay, priority="spider")
        settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", p.concurrency, priority="spider")
        settings.set("CONCURRENT_REQUESTS", max(p.concurrency, 1), priority="spider")
        settings.set("DOWNLOAD_TIMEOUT", p.timeout, priority="spider")
        settings.set("RETRY_TIMES", p.retries, priority="spider")
        settings.set("ROBOTSTXT_OBEY", p.obey_robots_txt, priority="spider")
        settings.set("USER_AGENT", p.user_agent, priority="spider")
        where = spider.plan.path or spider.plan.name or "plan"
        if not p.obey_robots_txt and where not in _ROBOTS_WARNED:
            _ROBOTS_WARNED.add(where)   # once per plan and process, not every crawl
            log.warning("%s: the plan says not to obey robots.txt (politeness.obey_robots_txt: "
                        "false)", where)
        return spider

    # --- shared answer handling -------------------------------------------------------------

    @staticmethod
    def times(response: scrapy.http.Response) -> tuple[datetime, datetime]:
        """(requested_at, fetched_at) of a response; fetched_at is when the archiving middleware
        received it, so a reparse of the archive gets the same time."""
        fetched_at = response.meta.get(RECEIVED_AT) or clock.now()
        return response.meta.get(REQUESTED_AT, fetched_at), fetched_at

    def failed_attempt(self, response: scrapy.http.Response, failure: str,
                       detail: str | None) -> tuple[list[Any], bool]:
        """Record one failed attempt. Returns (items to yield, retrying): the failure record,
        plus the retry request while retries remain."""
        request = response.request
        items: list[Any] = [FetchFailure(platform=self.platform, url=request.url,
                                         failure=failure, http_status=response.status,
                                         detail=detail,
                                         at=response.meta.get(RECEIVED_AT) or clock.now())]
        retry = None
        if self.adapter.is_gate_failure(failure):
            # The platform is blocking us: the host cools down (crawlers/cooldown.py), a visitor
            # session may be renewed (crawlers/sessions.py), and the request waits its turn.
            self.crawler.signals.send_catch_log(signal=gate_blocked, request=request,
                                                response=response, failure=failure)
            tries = request.meta.get(GATE_RETRIES, 0)
            if cooldowns_enabled(self.plan) and tries < self.plan.access.cooldown.retries:
                retry = request.replace(dont_filter=True, priority=request.priority - 1)
                retry.meta[GATE_RETRIES] = tries + 1
        if retry is None:
            retry = get_retry_request(request, spider=self, reason=failure)
        if retry is not None:
            retry.meta.pop("download_latency", None)   # belongs to the attempt that failed
            items.append(retry)
        return items, retry is not None

    def download_error(self, error: Failure) -> Iterator[Any]:
        """Errback: timeouts, refused connections, redirect loops. Retries already happened."""
        request = error.request
        kind = failures.failure_for_exception(error.value)
        yield FetchFailure(platform=self.platform, url=request.url, failure=kind,
                           http_status=None, detail=repr(error.value)[:500], at=clock.now())
        yield from self.gave_up(request, kind)

    def gave_up(self, request: scrapy.Request, failure: str) -> Iterator[Any]:
        """What to store when no attempt succeeded; spiders override."""
        return iter(())
