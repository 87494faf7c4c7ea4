"""Timeline spiders: every account of every watchlist, page 1 to the plan's depth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy

from corpus import clock
from corpus.store import PageObservation

from .base import PlanSpider


class TimelineSpider(PlanSpider):
    """Fetches each account's timeline pages in order and yields one PageObservation per page.

    Pages are fetched one after another per account, stopping at the first page that fails or
    says there is nothing more: the window the differ may judge is then exactly the run of pages
    that succeeded from page 1 on (rule 4).
    """

    kind = "timeline"

    async def start(self) -> AsyncIterator[Any]:
        for watchlist in self.plan.watchlists:
            for account in watchlist.accounts:
                yield self.page_request(account, watchlist.name, watchlist.pages, 1)

    def page_request(self, account: str, watchlist: str, pages: int,
                     page: int) -> scrapy.Request:
        url = self.adapter.timeline_url(self.plan.base_url, account, page)
        return scrapy.Request(
            url, callback=self.parse_page, errback=self.download_error, dont_filter=True,
            # Plain values only: requests must stay serialisable for disk and Redis queues.
            meta={"account": account, "watchlist": watchlist, "pages": pages, "page": page},
        )

    def parse_page(self, response: scrapy.http.Response) -> Iterator[Any]:
        requested_at, fetched_at = self.times(response)
        result = self.adapter.parse_timeline(response.status, response.body, fetched_at)
        meta = response.meta
        if result.outcome == "failed":
            retry = list(self.failed_attempt(response.request, result.failure, response.status,
                                             result.detail))
            yield from retry
            if any(isinstance(r, scrapy.Request) for r in retry):
                return
        yield PageObservation(
            platform=self.platform, account_id=meta["account"], watchlist=meta["watchlist"],
            page=meta["page"], url=response.url, requested_at=requested_at, fetched_at=fetched_at,
            http_status=response.status, outcome=result.outcome, failure=result.failure,
            posts=result.posts,
        )
        if result.outcome == "posts" and meta["page"] < meta["pages"]:
            yield self.page_request(meta["account"], meta["watchlist"], meta["pages"],
                                    meta["page"] + 1)

    def gave_up(self, request: scrapy.Request, failure: str) -> Iterator[Any]:
        meta = request.meta
        now = clock.now()
        yield PageObservation(
            platform=self.platform, account_id=meta["account"], watchlist=meta["watchlist"],
            page=meta["page"], url=request.url, requested_at=now, fetched_at=now,
            http_status=None, outcome="failed", failure=failure, posts=(),
        )


class WeiboTimelineSpider(TimelineSpider):
    name = "weibo_timeline"
    platform = "weibo"
