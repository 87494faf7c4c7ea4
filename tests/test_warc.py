"""WARC evidence: the archive format (memoryhole.corpus.warc) and the archiving downloader middleware, with
real warcio files checked by the `warcio check` CLI and a real Scrapy crawl of a local server."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from memoryhole.corpus import warc
from memoryhole.corpus.store import WarcRef
from memoryhole.crawlers.middlewares import WarcArchiveMiddleware
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 24, 2, 5, tzinfo=UTC)
PAYLOAD = {"ok": 0, "errno": "20101", "msg": "该微博因违反《微博社区公约》的相关规定，已被删除"}


def warcio_check(files: list[Path]) -> subprocess.CompletedProcess:
    """The `warcio check` command line on the files, verbose."""
    script = Path(sys.executable).with_name("warcio")
    command = [str(script)] if script.exists() else [
        sys.executable, "-c", "import sys; from warcio.cli import main; sys.exit(main())"]
    return subprocess.run([*command, "check", "-v", *map(str, files)], capture_output=True,
                          text=True, timeout=60)


def exchange(url: str, body: bytes, status: int = 200, **extra: str) -> warc.Exchange:
    return warc.Exchange(
        url=url, method="GET", request_headers=[("User-Agent", "memoryhole test")],
        request_body=b"", status=status,
        response_headers=[("Content-Type", "application/json; charset=utf-8"),
                          ("Content-Length", str(len(body)))],
        body=body, received_at=T0, requested_at=T0, extra=extra)


# --- the archive format ----------------------------------------------------------------------


def test_records_read_back_by_reference_and_pass_warcio_check(tmp_path):
    body = json.dumps(PAYLOAD, ensure_ascii=False).encode("utf-8")
    archive = warc.CrawlArchive(tmp_path, 42, {"software": "memoryhole test", "isPartOf": "x"})
    refs = [archive.append(exchange("http://127.0.0.1/statuses/show?id=1", body, status=200,
                                    **{warc.CRAWL_ID: "42", warc.META: '{"post_id":"1"}'})),
            archive.append(exchange("http://127.0.0.1/statuses/show?id=2", b"", status=432)),
            archive.append(exchange("http://127.0.0.1/statuses/show?id=3", b'{"ok":-100,"url":',
                                    status=200))]
    archive.close()

    assert [r.file for r in refs] == ["warc/crawl-000042-00001.warc.gz"] * 3
    first = warc.read_response(tmp_path, refs[0])
    assert (first.status, first.reason, first.body) == (200, "OK", body)
    assert first.date == T0 and first.crawl_id == 42 and first.meta == {"post_id": "1"}
    assert json.loads(first.text()) == PAYLOAD
    teapot = warc.read_response(tmp_path, refs[1])
    assert (teapot.status, teapot.body) == (432, b"")
    assert warc.read_response(tmp_path, refs[2]).body == b'{"ok":-100,"url":'   # truncated, kept
    # Offsets are where the records start: the file iterates to the same ones.
    listed = list(warc.iter_responses(tmp_path, tmp_path / refs[0].file))
    assert [r.ref for r in listed] == refs

    result = warcio_check([tmp_path / refs[0].file])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("digest pass") == 7   # warcinfo + 3 × (response, request)


def test_a_reference_to_the_wrong_record_or_a_missing_file_is_an_error(tmp_path):
    archive = warc.CrawlArchive(tmp_path, 1, {"software": "test"})
    ref = archive.append(exchange("http://127.0.0.1/a", b"{}"))
    archive.close()
    with pytest.raises(warc.EvidenceError, match="expected <urn:uuid:nope>"):
        warc.read_response(tmp_path, WarcRef(ref.file, ref.offset, "<urn:uuid:nope>"))
    with pytest.raises(warc.EvidenceError, match="WARC file missing"):
        warc.read_response(tmp_path, WarcRef("warc/crawl-000009-00001.warc.gz", 0, "x"))


def test_files_rotate_by_size_each_with_its_warcinfo(tmp_path):
    archive = warc.CrawlArchive(tmp_path, 3, {"software": "test", "memoryhole-crawl-id": 3},
                                max_bytes=1500)
    refs = [archive.append(exchange(f"http://127.0.0.1/p{i}", os.urandom(3000))) for i in range(4)]
    archive.close()
    files = warc.crawl_files(tmp_path, 3)
    assert [f.name for f in files] == [warc.warc_file_name(3, n) for n in (1, 2, 3, 4)]
    assert [r.file for r in refs] == [f"warc/{f.name}" for f in files]
    for f in files:
        text = gzip.open(f).read()
        assert text.startswith(b"WARC/1.1\r\nWARC-Type: warcinfo")
        assert b"memoryhole-crawl-id: 3" in text
    assert [warc.read_response(tmp_path, r).url for r in refs] == [
        f"http://127.0.0.1/p{i}" for i in range(4)]
    assert warcio_check(files).returncode == 0


def test_a_new_archive_never_appends_to_an_existing_file(tmp_path):
    first = warc.CrawlArchive(tmp_path, 5, {"software": "test"})
    first.append(exchange("http://127.0.0.1/a", b"1"))
    first.close()
    second = warc.CrawlArchive(tmp_path, 5, {"software": "test"})
    ref = second.append(exchange("http://127.0.0.1/b", b"2"))
    second.close()
    assert ref.file.endswith("crawl-000005-00002.warc.gz")
    assert warc.read_response(tmp_path, ref).body == b"2"


def test_the_middleware_switches_off_with_its_setting():
    crawler = Crawler(Spider, {"MEMORYHOLE_WARC_ENABLED": False})
    with pytest.raises(NotConfigured):
        WarcArchiveMiddleware.from_crawler(crawler)


# --- the middleware in a real crawl ----------------------------------------------------------


class GzipHandler(BaseHTTPRequestHandler):
    """Answers every GET with gzip-encoded JSON (and /plain/... without encoding)."""

    def do_GET(self) -> None:
        raw = json.dumps({**PAYLOAD, "path": self.path}, ensure_ascii=False).encode("utf-8")
        encoded = not self.path.startswith("/plain")
        data = gzip.compress(raw, mtime=0) if encoded else raw
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        if encoded:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def gzip_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), GzipHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


CRAWL_SCRIPT = """
import json, sys
import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from memoryhole.crawlers.middlewares import evidence_of

base, data_dir, out, priority, max_bytes = sys.argv[1:6]

class Archived(scrapy.Spider):
    name = "archived"
    kind = "test"
    crawl_id = 7
    data_dir = data_dir
    seen = []

    async def start(self):
        for i, path in enumerate(["/gz/1", "/plain/2", "/gz/3"]):
            yield scrapy.Request(base + path, dont_filter=True,
                                 meta={"account": "1001", "page": i + 1, "cursor": None,
                                       "observation": object()})

    def parse(self, response):
        ref = evidence_of(response)
        self.seen.append({"url": response.url, "text": response.text,
                          "encoding_header": response.headers.get("Content-Encoding"),
                          "ref": None if ref is None else [ref.file, ref.offset, ref.record_id]})

settings = Settings()
settings.setmodule("memoryhole.crawlers.settings", priority="project")
settings.set("ROBOTSTXT_OBEY", False)
settings.set("DOWNLOAD_DELAY", 0)
settings.set("ITEM_PIPELINES", {})
settings.set("LOG_LEVEL", "WARNING")
settings.set("MEMORYHOLE_WARC_MAX_BYTES", int(max_bytes))
settings.set("DOWNLOADER_MIDDLEWARES", {
    "memoryhole.crawlers.middlewares.WarcArchiveMiddleware": int(priority),
    "memoryhole.crawlers.middlewares.RequestTimeMiddleware": 990})
process = CrawlerProcess(settings)
process.crawl(Archived)
process.start()
with open(out, "w") as f:
    json.dump(Archived.seen, f, default=repr)
"""


def crawl(base: str, tmp_path: Path, priority: int = 950, max_bytes: int = 100_000_000
          ) -> list[dict]:
    out = tmp_path / "seen.json"
    result = subprocess.run(
        [sys.executable, "-c", CRAWL_SCRIPT, base, str(tmp_path), str(out), str(priority),
         str(max_bytes)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return sorted(json.loads(out.read_text()), key=lambda s: s["url"])


def test_the_raw_gzip_bytes_are_archived_and_the_spider_gets_the_decoded_body(gzip_server,
                                                                              tmp_path):
    seen = crawl(gzip_server, tmp_path)
    assert [s["url"].split("/", 3)[3] for s in seen] == ["gz/1", "gz/3", "plain/2"]
    for s in seen:
        # The spider sees JSON, decoded by HttpCompressionMiddleware after the archiving ...
        assert json.loads(s["text"])["msg"] == PAYLOAD["msg"]
        assert s["encoding_header"] is None
        # ... and the archive holds the bytes as they came off the wire.
        archived = warc.read_response(tmp_path, WarcRef(*s["ref"]))
        assert archived.url == s["url"]
        if "/gz/" in s["url"]:
            assert archived.header("Content-Encoding") == "gzip"
            assert archived.body[:2] == b"\x1f\x8b"
            assert gzip.decompress(archived.body).decode("utf-8") == s["text"]
        else:
            assert archived.header("Content-Encoding") is None
            assert archived.body.decode("utf-8") == s["text"]
        assert archived.decoded_body().decode("utf-8") == s["text"]
        assert archived.crawl_id == 7
        assert archived.warc_headers[warc.SPIDER] == "archived"
        assert archived.warc_headers[warc.CRAWL_KIND] == "test"
        assert archived.warc_headers[warc.CALLBACK] == "parse"
        meta = archived.meta
        assert {k: meta[k] for k in ("account", "cursor")} == {"account": "1001", "cursor": None}
        assert "observation" not in meta            # objects are not serialised
    files = warc.crawl_files(tmp_path, 7)
    assert [f.name for f in files] == ["crawl-000007-00001.warc.gz"]
    result = warcio_check(files)
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("digest pass") == 7


def test_placed_after_decompression_the_archive_would_lose_the_raw_bytes(gzip_server, tmp_path):
    """Why the priority matters: below 590 the middleware sees the decoded body."""
    seen = crawl(gzip_server, tmp_path, priority=500)
    archived = warc.read_response(tmp_path, WarcRef(*seen[0]["ref"]))
    assert archived.header("Content-Encoding") is None
    assert archived.body.decode("utf-8") == seen[0]["text"]


def test_a_crawl_rotates_its_files_and_every_reference_stays_valid(gzip_server, tmp_path):
    seen = crawl(gzip_server, tmp_path, max_bytes=1)
    files = warc.crawl_files(tmp_path, 7)
    assert len(files) == 3
    assert sorted(s["ref"][0] for s in seen) == [f"warc/{f.name}" for f in files]
    for s in seen:
        assert warc.read_response(tmp_path, WarcRef(*s["ref"])).url == s["url"]
    assert warcio_check(files).returncode == 0
