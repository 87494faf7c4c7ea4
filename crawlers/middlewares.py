"""Downloader middlewares."""

from __future__ import annotations

import json
import logging
from typing import Any

from memoryhole.corpus import clock, warc
from memoryhole.corpus.provenance import software_version
from memoryhole.corpus.store import WarcRef
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from .sessions import SECRET_HEADERS, redact_headers

REQUESTED_AT = "memoryhole_requested_at"
RECEIVED_AT = "memoryhole_received_at"   # set by the archiving middleware: when the answer came
WARC_REF = "memoryhole_warc"   # set on response.meta by the archiving middleware

log = logging.getLogger(__name__)


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


class WarcArchiveMiddleware:
    """Archives every response, as received, in the crawl's WARC files (memoryhole.corpus.warc).

    Placed between the downloader and HttpCompressionMiddleware (590), so the body is archived
    still encoded, with its Content-Encoding header. Failures are archived too (418, captcha,
    truncated bodies): they are the evidence that a failure was a failure. A network error has
    no response, so nothing to archive. The response record's place is left in
    `response.meta[WARC_REF]` for the spider to attach to its observation.

    Settings: MEMORYHOLE_WARC_ENABLED (default True), MEMORYHOLE_WARC_MAX_BYTES (rotation size).
    """

    def __init__(self, crawler: Crawler, max_bytes: int) -> None:
        self.crawler = crawler
        self.max_bytes = max_bytes
        self.archive: warc.CrawlArchive | None = None
        self.warned = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcArchiveMiddleware:
        settings = crawler.settings
        if not settings.getbool("MEMORYHOLE_WARC_ENABLED", True):
            raise NotConfigured("MEMORYHOLE_WARC_ENABLED is off")
        middleware = cls(crawler, settings.getint("MEMORYHOLE_WARC_MAX_BYTES",
                                                  warc.DEFAULT_MAX_BYTES))
        crawler.signals.connect(middleware.close, signal=signals.spider_closed)
        return middleware

    def process_response(self, request: Request, response: Response,
                         spider: Spider | None = None) -> Response:
        received_at = clock.now()
        request.meta[RECEIVED_AT] = received_at
        archive = self._archive()
        if archive is None:
            return response
        request.meta[WARC_REF] = archive.append(exchange_of(request, response, self.crawler.spider,
                                                            archive.crawl_id, received_at))
        return response

    def _archive(self) -> warc.CrawlArchive | None:
        if self.archive is None:
            spider = self.crawler.spider
            data_dir = getattr(spider, "data_dir", None)
            crawl_id = getattr(spider, "crawl_id", None)
            if data_dir is None or crawl_id is None:
                if not self.warned:
                    log.warning("not archiving: spider %s has no data_dir or crawl_id",
                                spider.name)
                    self.warned = True
                return None
            plan = getattr(spider, "plan", None)
            self.archive = warc.CrawlArchive(data_dir, crawl_id, {
                "software": software_version(),
                "format": "WARC File Format 1.1",
                "isPartOf": f"crawl-{crawl_id:06d}",
                "memoryhole-crawl-id": crawl_id,
                "memoryhole-crawl-kind": getattr(spider, "kind", None),
                "memoryhole-spider": spider.name,
                "memoryhole-plan": getattr(plan, "name", None),
                "http-header-user-agent": self.crawler.settings.get("USER_AGENT"),
                "robots": "obey" if self.crawler.settings.getbool("ROBOTSTXT_OBEY") else "ignore",
                "memoryhole-redacted-headers": ", ".join(sorted(SECRET_HEADERS)) + " (values "
                "replaced in request and response records; cookie names kept)",
            }, self.max_bytes)
        return self.archive

    def close(self, spider: Spider | None = None) -> None:
        if self.archive is not None:
            self.archive.close()
            self.archive = None


def exchange_of(request: Request, response: Response, spider: Spider, crawl_id: int,
                received_at: Any) -> warc.Exchange:
    """A request and its response as the WARC archive records them, with the Memoryhole-*
    headers a reparse needs (the single-process archive and distributed workers share it)."""
    requested_at = request.meta.get(REQUESTED_AT)
    # No callback means the spider's `parse`, as in Scrapy.
    callback = getattr(request.callback, "__name__", None) if request.callback else "parse"
    extra = {
        warc.CRAWL_ID: str(crawl_id),
        warc.CRAWL_KIND: str(getattr(spider, "kind", "") or ""),
        warc.SPIDER: spider.name,
        warc.META: json.dumps(plain_meta(request.meta), ensure_ascii=True, sort_keys=True,
                              separators=(",", ":")),
    }
    if callback:
        extra[warc.CALLBACK] = callback
    if requested_at is not None:
        extra[warc.REQUESTED_AT] = clock.iso(requested_at)
    # Cookies and credentials never reach the archive (sessions.redact_headers).
    return warc.Exchange(
        url=response.url, method=request.method,
        request_headers=redact_headers(_header_pairs(request.headers, host=_host(request.url))),
        request_body=request.body, status=response.status,
        response_headers=redact_headers(_header_pairs(response.headers)), body=response.body,
        received_at=received_at, protocol=response.protocol or "HTTP/1.1",
        requested_at=requested_at, extra=extra,
    )


# The distributed worker's bookkeeping (memoryhole.crawlers.workqueue) is not the request's.
_SKIPPED_META = {REQUESTED_AT, RECEIVED_AT, WARC_REF, "memoryhole_lease", "memoryhole_crawl",
                 "memoryhole_exchange"}


def plain_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The request meta values that survive JSON unchanged in kind (objects are left out)."""
    return {k: v for k, v in meta.items() if k not in _SKIPPED_META and _is_plain(v)}


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _header_pairs(headers: Any, host: str | None = None) -> list[tuple[str, str]]:
    pairs = [] if host is None or b"Host" in headers else [("Host", host)]
    for name, values in headers.items():
        pairs.extend((name.decode("latin-1"), v.decode("latin-1")) for v in values)
    return pairs


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]
