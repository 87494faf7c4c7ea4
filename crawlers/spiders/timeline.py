"""Timeline spiders: every account of every watchlist, page 1 to the plan's depth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import scrapy
from memoryhole.corpus import clock
from memoryhole.corpus.store import PageObservation

from ..middlewares import evidence_of
from .base import PlanSpider


class TimelineSpider(PlanSpider):
    """Fetches each account's timeline pages in order and yields one PageObservation per page.

    Pages are fetched one after another per account, stopping at the first page that fails or
    says there is nothing more: the window the differ may judge is then exactly the run of pages
    that succeeded from page 1 on (rule 4). Pages follow the platform's cursor (since_id) when it
    offers one, else page numbers. When page 1 says there is nothing at all, the account's
    profile is asked before anything is believed: a timeline that empties while the account
    exists is a glitch, not mass removal.
    """

    kind = "timeline"

    def __init__(self, *args: Any, polls: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The scheduler's due polls (crawlers.cadence.Poll); None: every account of the plan.
        self.polls = polls

    async def start(self) -> AsyncIterator[Any]:
        if self.polls is not None:
            for poll in self.polls:
                yield self.page_request(poll.account, poll.watchlist, poll.pages, 1, None)
            return
        for watchlist in self.plan.watchlists:
            for account in watchlist.accounts:
                yield self.page_request(account, watchlist.name, watchlist.pages, 1, None)

    def page_request(self, account: str, watchlist: str, pages: int, page: int,
                     cursor: str | None) -> scrapy.Request:
        url = self.adapter.timeline_url(self.plan.base_url, account, page, cursor,
                                        by_cursor=self.plan.pagination == "cursor")
        return scrapy.Request(
            url, callback=self.parse_page, errback=self.download_error, dont_filter=True,
            # Plain values only: requests must stay serialisable for disk and Redis queues.
            meta={"account": account, "watchlist": watchlist, "pages": pages, "page": page,
                  "cursor": cursor},
        )

    def parse_page(self, response: scrapy.http.Response) -> Iterator[Any]:
        requested_at, fetched_at = self.times(response)
        result = self.adapter.parse_timeline(response.status, response.body, fetched_at)
        meta = response.meta
        if result.outcome == "failed":
            items, retrying = self.failed_attempt(response, result.failure, result.detail)
            yield from items
            if retrying:
                return
        # A post whose page does not name its publisher (a feed's entry) is the listing's.
        posts = tuple(p if p.account_id else replace(p, account_id=meta["account"])
                      for p in result.posts)
        observation = PageObservation(
            platform=self.platform, account_id=meta["account"], watchlist=meta["watchlist"],
            page=meta["page"], url=response.url, requested_at=requested_at, fetched_at=fetched_at,
            http_status=response.status, outcome=result.outcome, failure=result.failure,
            posts=posts, cursor=meta["cursor"], next_cursor=result.next_cursor,
            evidence=evidence_of(response),
        )
        profile_url = self.adapter.profile_url(self.plan.base_url, meta["account"])
        if result.outcome == "end" and meta["page"] == 1 and profile_url:
            yield scrapy.Request(profile_url, callback=self.parse_profile,
                                 errback=self.profile_error, dont_filter=True,
                                 meta={"observation": observation})
            return
        yield observation
        if self.plan.pagination == "cursor" and result.outcome == "posts" and not (
                result.next_cursor):
            return   # no cursor offered: nothing more can be asked in order
        if result.outcome == "posts" and meta["page"] < meta["pages"]:
            yield self.page_request(meta["account"], meta["watchlist"], meta["pages"],
                                    meta["page"] + 1, result.next_cursor)

    def parse_profile(self, response: scrapy.http.Response) -> Iterator[Any]:
        _, fetched_at = self.times(response)
        result = self.adapter.parse_profile(response.status, response.body, fetched_at)
        if result.outcome == "failed":
            items, retrying = self.failed_attempt(response, result.failure, result.message)
            yield from items
            if retrying:
                return
        observation: PageObservation = response.meta["observation"]
        yield replace(observation, account_check=result.outcome, account_state=result.state,
                    account_message=result.message)

    def profile_error(self, error) -> Iterator[Any]:
        yield from self.download_error(error)
        yield replace(error.request.meta["observation"], account_check="failed")

    def gave_up(self, request: scrapy.Request, failure: str) -> Iterator[Any]:
        meta = request.meta
        if "observation" in meta:   # the profile request: its errback records the page
            return
        now = clock.now()
        yield PageObservation(
            platform=self.platform, account_id=meta["account"], watchlist=meta["watchlist"],
            page=meta["page"], url=request.url, requested_at=now, fetched_at=now,
            http_status=None, outcome="failed", failure=failure, posts=(), cursor=meta["cursor"],
        )

