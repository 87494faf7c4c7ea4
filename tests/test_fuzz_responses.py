"""Whole responses fuzzed through what a live crawl runs: the WARC archive middleware, Scrapy's
HttpCompressionMiddleware (Content-Encoding) and the spiders' callbacks, with any status, any
headers and any body. Nothing raises out of a callback (an exception from decompression takes
Scrapy's errback route, which records a failure), every answer is archived and reads back byte
for byte, and a fuzzed answer is a removal only on the platform's words (as in
test_fuzz_parsers)."""

from __future__ import annotations

import gzip
import zlib
from datetime import UTC, datetime
from urllib.parse import unquote_to_bytes

import pytest
import scrapy
from hypothesis import given
from hypothesis import strategies as st
from memoryhole.corpus.store import FetchFailure, LongTextObservation, PageObservation, ProbeObservation
from memoryhole.corpus.warc import read_response
from memoryhole.crawlers import failures
from memoryhole.crawlers.middlewares import REQUESTED_AT, WarcArchiveMiddleware, evidence_of
from memoryhole.crawlers.plan import plan_from_dict
from memoryhole.crawlers.sessions import SECRET_HEADERS, redact_value
from memoryhole.crawlers.spiders import PROBE_SPIDERS, TIMELINE_SPIDERS
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.settings import Settings
from scrapy.utils.misc import load_object
from test_fuzz_parsers import CI, LONG, bodies, check_removal, statuses
from twisted.python.failure import Failure

AT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
PLAN = plan_from_dict({"platform": "weibo", "base_url": "http://127.0.0.1:9",
                       "watchlists": [{"name": "w", "accounts": [1001]}]})

token = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz-ABCXYZ0123456789_"), min_size=1,
                max_size=12)
# What an HTTP/1.1 parser can hand over: latin-1 text without CR or LF.
header_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                     blacklist_characters="\x7f"), max_size=40)
headers = st.lists(st.one_of(
    st.tuples(token, header_value),
    st.tuples(st.just("Content-Encoding"),
              st.sampled_from(["gzip", "deflate", "br", "identity", "x-garbage", "gzip, gzip"])),
    st.tuples(st.just("Content-Type"), st.sampled_from(
        ["application/json; charset=utf-8", "text/html", "text/plain; charset=gbk", ""])),
    st.tuples(st.just("Transfer-Encoding"), st.just("chunked")),
    st.tuples(st.just("Content-Length"), st.integers(0, 10**6).map(str)),
), max_size=6)


def encoded(body: bytes, encoding: str) -> bytes:
    """The body as the server might send it under that Content-Encoding (or garbage)."""
    return {"gzip": gzip.compress, "deflate": zlib.compress}.get(encoding, lambda b: b)(body)


@st.composite
def responses(draw):
    status, body, pairs = draw(statuses), draw(bodies), draw(headers)
    encodings = [v for k, v in pairs if k == "Content-Encoding"]
    if encodings and draw(st.booleans()):   # honestly encoded, or a lie about the encoding
        body = encoded(body, encodings[-1])
    return status, pairs, body


CALLBACKS = [("timeline", "parse_page"), ("timeline", "parse_profile"),
             ("probe", "parse_probe"), ("probe", "parse_long_text")]
ITEMS = (PageObservation, ProbeObservation, LongTextObservation, FetchFailure, scrapy.Request)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    """Spiders as a crawl makes them, with the archive middleware and HttpCompression."""
    data = tmp_path_factory.mktemp("fuzz-responses")
    made = {}
    for kind, spiders in (("timeline", TIMELINE_SPIDERS), ("probe", PROBE_SPIDERS)):
        settings = Settings()
        settings.setmodule("memoryhole.crawlers.settings", priority="project")
        crawler = Crawler(spiders["weibo"], settings)
        crawler.stats = load_object(settings["STATS_CLASS"])(crawler)
        spider = spiders["weibo"].from_crawler(crawler, plan=PLAN, data=str(data))
        spider.crawl_id = 1 if kind == "timeline" else 2
        crawler.spider = spider
        made[kind] = (spider, WarcArchiveMiddleware.from_crawler(crawler),
                      HttpCompressionMiddleware.from_crawler(crawler))
    yield data, made
    for _, archive, _ in made.values():
        archive.close()


def request_for(callback: str, spider) -> scrapy.Request:
    meta = {"parse_page": {"account": "1001", "watchlist": "w", "pages": 2, "page": 1,
                           "cursor": None},
            "parse_profile": {"observation": PageObservation(
                platform="weibo", account_id="1001", watchlist="w", page=1, url="http://x/",
                requested_at=AT, fetched_at=AT, http_status=200, outcome="end", failure=None,
                posts=())},
            "parse_probe": {"post_id": "5079548542000000", "account": "1001",
                            "purpose": "classify"},
            "parse_long_text": {"post_id": "5079548542000000", "purpose": "long_text"}}[callback]
    return scrapy.Request("http://127.0.0.1:9/x", callback=getattr(spider, callback),
                          errback=spider.download_error, meta={**meta, REQUESTED_AT: AT},
                          dont_filter=True)


def fuzz_response(crawl, kind: str, callback: str, status: int, pairs, body: bytes) -> None:
    data, made = crawl
    spider, archive, compression = made[kind]
    request = request_for(callback, spider)
    response = scrapy.http.Response(request.url, status=status, headers=pairs, body=body,
                                    request=request)
    response = archive.process_response(request, response, spider)
    ref = evidence_of(response)
    archived = read_response(data, ref)        # every answer archived, byte for byte
    assert (archived.status, archived.body) == (status, body)
    try:
        response = compression.process_response(request, response)
    except Exception as exc:   # Scrapy hands this to the request's errback
        failure = Failure(exc, exc_tb=None)
        failure.request = request   # as Scrapy's engine sets it
        items = list(spider.download_error(failure))
        assert items and all(isinstance(i, ITEMS) for i in items)
        assert isinstance(items[0], FetchFailure) and items[0].failure in failures.names()
        return
    items = list(request.callback(response))
    assert all(isinstance(i, ITEMS) for i in items)
    for item in items:
        if isinstance(item, ProbeObservation) and item.outcome == "removed":
            check_removal(spider.adapter.parse_probe(response.status, response.body, AT),
                          response.body)
        if isinstance(item, FetchFailure):
            assert item.failure in failures.names()


@pytest.mark.parametrize("kind, callback", CALLBACKS)
@CI
@given(answer=responses())
def test_response_fuzz(crawl, kind, callback, answer):
    fuzz_response(crawl, kind, callback, *answer)


@pytest.mark.long
@pytest.mark.parametrize("kind, callback", CALLBACKS)
@LONG
@given(answer=responses())
def test_response_fuzz_long(crawl, kind, callback, answer):
    fuzz_response(crawl, kind, callback, *answer)


@pytest.mark.parametrize("header", [("X-Odd", ";\x80=0"), ("Set-Cookie", "a=b; ü=1; path=/"),
                                    ("Content-Disposition", "attachment; filename=\xe9t\xe9")])
def test_a_header_warcio_cannot_write_is_still_archived(crawl, header):
    """warcio's own repair of non-ASCII header values fails on some (';' then non-ASCII): the
    response was lost as an unknown_failure. Header text is archived percent-encoded instead."""
    data, made = crawl
    spider, archive, _ = made["probe"]
    request = request_for("parse_probe", spider)
    response = scrapy.http.Response(request.url, status=200, headers=[header], body=b"{}",
                                    request=request)
    archive.process_response(request, response, spider)
    archived = read_response(data, evidence_of(response))
    [value] = [v for n, v in archived.headers if n == header[0]]
    received = response.headers[header[0]]
    if header[0].lower() in SECRET_HEADERS:   # a cookie's value is never archived
        received = redact_value(header[0], received.decode("latin-1")).encode("latin-1")
    assert unquote_to_bytes(value) == received   # the bytes as received
