"""The probe spider: the second pass of a cycle (the only one for item watches), driven by what
the corpus says needs asking.

- watch: each watched item (item watches) its plan's schedule says is due;
- classify: each open candidate (a post absent from a covered window, or tombstoned);
- confirm / recheck: removals the re-probe policy says are due;
- long texts: live long posts whose whole text is not had yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import scrapy
from memoryhole.corpus import clock
from memoryhole.corpus.store import Corpus, LongTextObservation, ProbeObservation

from .. import failures
from ..middlewares import evidence_of
from ..plan import CrawlPlan
from ..sessions import redact_headers
from .base import PlanSpider


class ProbeSpider(PlanSpider):
    """Asks the platform about single posts; the differ reads the answers."""

    kind = "probe"

    def __init__(self, *args: Any, work: dict[str, list[dict]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The scheduler's admitted probes (as probe_work gives them); None: all that is due.
        self.work = work

    async def start(self) -> AsyncIterator[Any]:
        if self.work is None:
            self.work = probe_work(self.data_dir, self.platform, self.plan.long_texts, self.plan)
        self.work = {"watch": [], "candidates": [], "reprobes": [], "long_texts": [], **self.work}
        session = self.adapter.session_request(self.plan.base_url, self.plan.options)
        if session is not None and any(self.work.values()):
            # A visitor session first (Toutiao's ttwid); its answer sends the probes.
            yield scrapy.Request(session.url, method=session.method, body=session.body,
                                 headers=dict(session.headers), callback=self.parse_session,
                                 errback=self.download_error, dont_filter=True,
                                 meta={"purpose": "session"})
            return
        for request in self.work_requests({}):
            yield request

    def work_requests(self, cookies: dict[str, str]) -> Iterator[scrapy.Request]:
        """The requests of this pass's work, each carrying the session's cookies."""
        work = self.work
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in sorted(cookies.items()))} \
            if cookies else {}
        for purpose, rows in (("watch", work["watch"]), ("classify", work["candidates"]),
                              (None, work["reprobes"])):
            for row in rows:
                yield self.probe_request(row["post_id"], row["account_id"],
                                         purpose or row["purpose"], headers)
        for row in work["long_texts"]:
            url = self.adapter.long_text_url(self.plan.base_url, row["post_id"])
            yield scrapy.Request(url, callback=self.parse_long_text, errback=self.download_error,
                                 dont_filter=True, headers=headers,
                                 meta={"post_id": row["post_id"], "purpose": "long_text"})

    def probe_request(self, post_id: str, account_id: str, purpose: str,
                      headers: dict[str, str] | None = None) -> scrapy.Request:
        return scrapy.Request(
            self.adapter.probe_url(self.plan.base_url, post_id),
            callback=self.parse_probe, errback=self.download_error, dont_filter=True,
            headers=headers or {},
            meta={"post_id": post_id, "account": account_id, "purpose": purpose},
        )

    def parse_session(self, response: scrapy.http.Response) -> Iterator[Any]:
        """The session's answer: its cookies go with every probe. A session refused is a
        recorded failure, and the probes go without it (they fail or answer on their own)."""
        headers = {k.decode("latin-1"): [v.decode("latin-1") for v in vs]
                   for k, vs in response.headers.items()}
        cookies = self.adapter.parse_session(response.status, headers, response.body)
        if cookies is None:
            items, retrying = self.failed_attempt(
                response, self.adapter.failure_for_status(response.status)
                or failures.UNEXPECTED_ANSWER, "the session answer granted no cookie")
            yield from items
            if retrying:
                return
        yield from self.work_requests(cookies or {})

    def parse_probe(self, response: scrapy.http.Response) -> Iterator[Any]:
        requested_at, fetched_at = self.times(response)
        asked = (response.meta.get("redirect_urls") or [response.url])[0]
        result = self.adapter.parse_probe_response(response.status, response.body, fetched_at,
                                                   url=response.url, asked_url=asked)
        if result.outcome == "failed":
            items, retrying = self.failed_attempt(response, result.failure, result.detail)
            yield from items
            if retrying:
                return
        headers: dict[str, list[str]] = {}
        for name, value in redact_headers(
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, vs in response.headers.items() for v in vs):
            headers.setdefault(name, []).append(value)
        shown = result.post if result.outcome == "visible" else None
        account = response.meta["account"] or (shown.account_id if shown else None)
        if shown is not None and not shown.account_id and account:
            shown = replace(shown, account_id=account)   # the page names no publisher
        yield ProbeObservation(
            platform=self.platform, post_id=response.meta["post_id"],
            account_id=account, url=response.url, requested_at=requested_at,
            probed_at=fetched_at, http_status=response.status, outcome=result.outcome,
            reason=result.reason, message=result.message, failure=result.failure,
            headers=headers, body=response.body, purpose=response.meta["purpose"],
            evidence=evidence_of(response), post=shown,
        )

    def parse_long_text(self, response: scrapy.http.Response) -> Iterator[Any]:
        _, fetched_at = self.times(response)
        result = self.adapter.parse_long_text(response.status, response.body, fetched_at)
        if result.outcome == "failed":
            items, retrying = self.failed_attempt(response, result.failure, None)
            yield from items
            if retrying:
                return
        yield LongTextObservation(
            platform=self.platform, post_id=response.meta["post_id"], url=response.url,
            fetched_at=fetched_at, http_status=response.status, outcome=result.outcome,
            failure=result.failure, text=result.text, evidence=evidence_of(response),
        )

    def gave_up(self, request: scrapy.Request, failure: str) -> Iterator[Any]:
        now = clock.now()
        meta = request.meta
        if meta["purpose"] == "session":   # no session: the probes go without one
            yield from self.work_requests({})
            return
        if meta["purpose"] == "long_text":
            yield LongTextObservation(platform=self.platform, post_id=meta["post_id"],
                                      url=request.url, fetched_at=now, http_status=None,
                                      outcome="failed", failure=failure, text=None)
            return
        yield ProbeObservation(
            platform=self.platform, post_id=meta["post_id"], account_id=meta["account"],
            url=request.url, requested_at=now, probed_at=now, http_status=None,
            outcome="failed", reason=None, message=None, failure=failure, headers=None,
            body=None, purpose=meta["purpose"],
        )


def due_items(corpus: Corpus, plan: CrawlPlan) -> list[dict[str, Any]]:
    """The watched items due now (memoryhole.crawlers.cadence.due_items)."""
    from ..cadence import due_items as due

    return due(corpus, plan, clock.now())[0]


def probe_work(data_dir: str, platform: str, long_texts: bool = True,
               plan: CrawlPlan | None = None) -> dict[str, list[dict]]:
    """What a probe pass would ask now: watched items due, candidates, due re-probes, missing
    long texts."""
    corpus = Corpus(data_dir, create=False)
    try:
        return {
            "watch": due_items(corpus, plan) if plan is not None else [],
            "candidates": corpus.open_candidates(platform),
            "reprobes": corpus.due_reprobes(platform, clock.now()),
            "long_texts": corpus.long_texts_needed(platform) if long_texts else [],
        }
    finally:
        corpus.close()

