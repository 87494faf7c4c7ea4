"""Downloader middlewares."""

from __future__ import annotations

from scrapy import Request, Spider

from corpus import clock
from corpus.store import WarcRef

REQUESTED_AT = "memoryhole_requested_at"
WARC_REF = "memoryhole_warc"   # set on response.meta by the archiving middleware


def evidence_of(response) -> WarcRef | None:
    """Where the archiving middleware stored this response's raw bytes, if it did."""
    return response.meta.get(WARC_REF)


class RequestTimeMiddleware:
    """Stamps each request with the moment it goes to the downloader.

    A sighting's time is when its request was sent (the post was visible at some moment between
    send and receipt, so the send time is a safe lower bound for a removal); a probe's time is when
    its answer arrived (a safe upper bound). Placed last before the downloader, so retries are
    stamped anew.
    """

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        request.meta[REQUESTED_AT] = clock.now()
        return None
