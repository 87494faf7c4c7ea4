"""Probe spiders: ask the platform about each post the differ found missing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy

from corpus import clock
from corpus.store import Corpus, ProbeObservation

from .base import PlanSpider


class ProbeSpider(PlanSpider):
    """Probes every open candidate once (with retries); the differ reads the answers."""

    kind = "probe"

    async def start(self) -> AsyncIterator[Any]:
        corpus = Corpus(self.data_dir, create=False)
        try:
            candidates = corpus.open_candidates(self.platform)
        finally:
            corpus.close()
        for candidate in candidates:
            yield scrapy.Request(
                self.adapter.probe_url(self.plan.base_url, candidate["post_id"]),
                callback=self.parse_probe, errback=self.download_error, dont_filter=True,
                meta={"post_id": candidate["post_id"], "account": candidate["account_id"]},
            )

    def parse_probe(self, response: scrapy.http.Response) -> Iterator[Any]:
        requested_at, fetched_at = self.times(response)
        result = self.adapter.parse_probe(response.status, response.body, fetched_at)
        if result.outcome == "failed":
            retry = list(self.failed_attempt(response.request, result.failure, response.status,
                                             result.detail))
            yield from retry
            if any(isinstance(r, scrapy.Request) for r in retry):
                return
        headers = {k.decode("latin-1"): [v.decode("latin-1") for v in vs]
                   for k, vs in response.headers.items()}
        yield ProbeObservation(
            platform=self.platform, post_id=response.meta["post_id"],
            account_id=response.meta["account"], url=response.url, requested_at=requested_at,
            probed_at=fetched_at, http_status=response.status, outcome=result.outcome,
            reason=result.reason, message=result.message, failure=result.failure,
            headers=headers, body=response.body,
        )

    def gave_up(self, request: scrapy.Request, failure: str) -> Iterator[Any]:
        now = clock.now()
        yield ProbeObservation(
            platform=self.platform, post_id=request.meta["post_id"],
            account_id=request.meta["account"], url=request.url, requested_at=now, probed_at=now,
            http_status=None, outcome="failed", reason=None, message=None, failure=failure,
            headers=None, body=None,
        )


class WeiboProbeSpider(ProbeSpider):
    name = "weibo_probe"
    platform = "weibo"
