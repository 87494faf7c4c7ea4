"""Downloader middlewares."""

from __future__ import annotations

from scrapy import Request, Spider

from corpus import clock

REQUESTED_AT = "memoryhole_requested_at"


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
