"""Evidence as WARC: every response a crawl receives, archived with the raw bytes as received.

Layout: `DATA/warc/crawl-<crawl id, 6 digits>-<sequence, 5 digits>.warc.gz`, WARC/1.1, one gzip
member per record, a new file once the current one passes `max_bytes`. Each file opens with a
`warcinfo` record (software version, crawl id, plan, spider). Each exchange is a `response`
record (status line, headers and body exactly as the downloader handed them over, so still
gzip-encoded when the server sent gzip) followed by its `request` record (WARC-Concurrent-To the
response). Response records carry what a reparse needs in extension headers:

    Memoryhole-Crawl-Id: 42
    Memoryhole-Crawl-Kind: timeline | probe
    Memoryhole-Spider: weibo_timeline
    Memoryhole-Callback: parse_page
    Memoryhole-Requested-At: 2026-11-24T02:05:00.000000Z
    Memoryhole-Meta: {"account":"1001","page":1,...}   (the request's plain-valued meta, JSON)

WARC-Date is when the response was received (UTC, microseconds). A corpus row points at its
response record by (file relative to the data directory, byte offset, WARC-Record-ID): a
`memoryhole.corpus.store.WarcRef`.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.warcwriter import WARCWriter

from .clock import iso, parse_iso
from .store import WarcRef

WARC_DIR = "warc"
WARC_VERSION = "1.1"
DEFAULT_MAX_BYTES = 100 * 1024 * 1024

CRAWL_ID = "Memoryhole-Crawl-Id"
CRAWL_KIND = "Memoryhole-Crawl-Kind"
SPIDER = "Memoryhole-Spider"
CALLBACK = "Memoryhole-Callback"
REQUESTED_AT = "Memoryhole-Requested-At"
META = "Memoryhole-Meta"
# Twisted hands over a de-chunked body; the header is kept under this name so that readers do
# not try to de-chunk it again.
DECHUNKED = "Memoryhole-Dechunked-Transfer-Encoding"

_FILE_NAME = re.compile(r"^crawl-(\d+)-(\d+)\.warc\.gz$")

# The gzip level of each record's member. warcio's 9 costs CPU for next to nothing on the pages
# crawled (JSON timelines: 25.6% of their size at 9, 26.6% at 1); the bytes inside are the same.
GZIP_LEVEL = 1


class EvidenceError(Exception):
    """Archived evidence that cannot be read; the message names the file and offset."""


def warc_file_name(crawl_id: int, sequence: int) -> str:
    return f"crawl-{crawl_id:06d}-{sequence:05d}.warc.gz"


def crawl_files(data_dir: str | Path, crawl_id: int) -> list[Path]:
    """The WARC files of one crawl, in the order they were written."""
    folder = Path(data_dir) / WARC_DIR
    found = []
    for path in folder.glob(f"crawl-{crawl_id:06d}-*.warc.gz"):
        if m := _FILE_NAME.match(path.name):
            found.append((int(m[2]), path))
    return [path for _, path in sorted(found)]


def contained_path(data_dir: str | Path, file: str | Path) -> Path:
    """DATA/file, for a WARC file a corpus row names; EvidenceError unless it resolves inside
    the data directory (resolved first, so neither an absolute path, `..` nor a symlink leads
    out)."""
    root = Path(data_dir).resolve()
    if not (root / file).resolve().is_relative_to(root):
        raise EvidenceError(f"{str(file)!r}: outside the data directory {root}; WARC files are "
                            "read only from inside it (warc/..., no symlinks out)")
    return Path(data_dir) / file


@dataclass(frozen=True)
class Exchange:
    """One request and the response it got, as the downloader saw them."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes                     # raw, as received (not decompressed)
    received_at: datetime
    protocol: str = "HTTP/1.1"
    requested_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)   # Memoryhole-* headers


def status_line(status: int) -> str:
    """`200 OK`; the downloader keeps no reason phrase, so the standard one (if any) is used."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} "


class _GzipMember:
    """One record's gzip member at GZIP_LEVEL, written into the file's buffer (warcio's wrapper
    also flushes the file after every record; CrawlArchive.append flushes once per exchange)."""

    def __init__(self, out: BinaryIO) -> None:
        self.compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self.out = out

    def write(self, data: bytes) -> None:
        self.out.write(self.compressor.compress(data))

    def flush(self) -> None:
        self.out.write(self.compressor.flush())


class _Writer(WARCWriter):
    """warcio's WARC writer with each record gzipped by _GzipMember (warcio hard-codes level 9)."""

    def _write_warc_record(self, out: Any, record: Any) -> None:
        if not self.gzip:
            return super()._write_warc_record(out, record)
        self.gzip = False   # warcio would wrap `out` in its own level-9 gzip
        try:
            super()._write_warc_record(_GzipMember(out), record)
        finally:
            self.gzip = True


class CrawlArchive:
    """Appends a crawl's exchanges to its WARC files, rotating them by size.

    Every exchange is flushed to the operating system before `append` returns, so a crash of the
    crawler loses nothing that was already handed to a spider.
    """

    def __init__(self, data_dir: str | Path, crawl_id: int, info: dict[str, Any],
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.data_dir = Path(data_dir)
        self.crawl_id = crawl_id
        self.info = info
        self.max_bytes = max_bytes
        self.sequence = 0
        self.path: Path | None = None
        self._file: BinaryIO | None = None
        self._writer: WARCWriter | None = None

    def append(self, exchange: Exchange) -> WarcRef:
        if self._file is None or self._file.tell() >= self.max_bytes:
            self._next_file()
        assert self._file is not None and self._writer is not None and self.path is not None
        writer = self._writer
        response = writer.create_warc_record(
            exchange.url, "response", payload=BytesIO(exchange.body), length=len(exchange.body),
            http_headers=StatusAndHeaders(status_line(exchange.status),
                                          _archivable(exchange.response_headers),
                                          protocol=exchange.protocol),
            warc_headers_dict=_standard_first("response", exchange.url, exchange.received_at,
                                              exchange.extra),
        )
        target = exchange.url.split("://", 1)[-1]
        path_and_query = "/" + target.split("/", 1)[1] if "/" in target else "/"
        request = writer.create_warc_record(
            exchange.url, "request", payload=BytesIO(exchange.request_body),
            length=len(exchange.request_body),
            http_headers=StatusAndHeaders(f"{exchange.method} {path_and_query} {exchange.protocol}",
                                          exchange.request_headers, is_http_request=True),
            warc_headers_dict=_standard_first(
                "request", exchange.url, exchange.requested_at or exchange.received_at,
                {"WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
                 CRAWL_ID: str(self.crawl_id)}),
        )
        offset = self._file.tell()
        writer.write_record(response)
        writer.write_record(request)
        self._file.flush()
        return WarcRef(file=self.path.relative_to(self.data_dir).as_posix(), offset=offset,
                       record_id=response.rec_headers.get_header("WARC-Record-ID"))

    def file_name(self, sequence: int) -> str:
        """The name of this archive's `sequence`-th file (a subclass may name its own)."""
        return warc_file_name(self.crawl_id, sequence)

    def _next_file(self) -> None:
        self.close()
        folder = self.data_dir / WARC_DIR
        folder.mkdir(parents=True, exist_ok=True)
        while True:
            self.sequence += 1
            path = folder / self.file_name(self.sequence)
            try:
                self._file = open(path, "xb")   # never append to another run's file
                break
            except FileExistsError:
                continue
        self.path = path
        self._writer = _Writer(self._file, gzip=True, warc_version=WARC_VERSION)
        self._writer.write_record(self._writer.create_warcinfo_record(path.name, self.info))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = self._writer = None


def _standard_first(kind: str, url: str, at: datetime, extra: dict[str, str]) -> dict[str, str]:
    """WARC headers with the standard fields first, so a reader sees them before ours."""
    return {"WARC-Type": kind, "WARC-Record-ID": StatusAndHeadersParser.make_warc_id(),
            "WARC-Target-URI": url, "WARC-Date": iso(at), **extra}


def _archivable(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(DECHUNKED if name.lower() == "transfer-encoding" else _ascii(name), _ascii(value))
            for name, value in headers]


# Printable ASCII but %: what stays as it is in a header that has to be percent-encoded.
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def _ascii(text: str) -> str:
    """Header text (bytes as latin-1) as WARC can hold it: unchanged when ASCII, else its bytes
    percent-encoded (unquote_to_bytes gives them back). warcio's own repair of such headers fails
    on some values (`;` then non-ASCII), which lost the whole response."""
    if text.isascii():
        return text
    return quote(text.encode("latin-1", errors="replace"), safe=_HEADER_SAFE)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchivedResponse:
    """A response record read back: the HTTP answer as received and the crawl's notes on it."""

    ref: WarcRef
    url: str
    date: datetime                  # WARC-Date: when it was received
    protocol: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes                     # raw, as received
    warc_headers: dict[str, str]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def crawl_id(self) -> int | None:
        value = self.warc_headers.get(CRAWL_ID)
        return int(value) if value else None

    @property
    def meta(self) -> dict[str, Any]:
        return json.loads(self.warc_headers.get(META) or "{}")

    @property
    def requested_at(self) -> datetime | None:
        value = self.warc_headers.get(REQUESTED_AT)
        return parse_iso(value) if value else None

    def decoded_body(self) -> bytes:
        """The body with its Content-Encoding undone (gzip, deflate; identity otherwise)."""
        body = self.body
        encodings = [e.strip().lower() for e in (self.header("Content-Encoding") or "").split(",")
                     if e.strip()]
        for encoding in reversed(encodings):
            if encoding in ("gzip", "x-gzip"):
                body = gzip.decompress(body)
            elif encoding == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:   # raw deflate, as some servers send it
                    body = zlib.decompress(body, -zlib.MAX_WBITS)
            elif encoding != "identity":
                raise EvidenceError(f"{self.ref.file}@{self.ref.offset}: cannot decode a "
                                    f"{encoding!r}-encoded body")
        return body

    def text(self) -> str:
        """The decoded body as text, in the charset the response declared (UTF-8 otherwise)."""
        match = re.search(r"charset=([\w.-]+)", self.header("Content-Type") or "", re.I)
        try:
            return self.decoded_body().decode(match[1] if match else "utf-8", errors="replace")
        except LookupError:
            return self.decoded_body().decode("utf-8", errors="replace")


# What a damaged file raises while it is read: a cut or garbled gzip member, a record that is
# not one, a field that does not parse (warcio lets its internal errors through on garbage).
_UNREADABLE = (ArchiveLoadFailed, zlib.error, EOFError, OSError, ValueError, AttributeError,
               TypeError, KeyError, IndexError)


def _checked_block(record: Any, where: str) -> bytes:
    """A record's payload, read to its end and checked: all Content-Length bytes present (a cut
    record otherwise reads as a short or empty body) and the block and payload digests agree."""
    body = record.raw_stream.read()
    missing = getattr(record.raw_stream, "limit", 0) or 0
    if missing:
        raise EvidenceError(f"{where}: {record.rec_type} record truncated: {missing} of its "
                            f"{record.length} bytes missing")
    problems = record.digest_checker.problems if record.digest_checker else []
    if problems:
        raise EvidenceError(f"{where}: {record.rec_type} record damaged ({'; '.join(problems)})")
    return body


def _archived(record: Any, ref: WarcRef, where: str) -> ArchivedResponse:
    http = record.http_headers
    code, _, reason = http.statusline.partition(" ")
    return ArchivedResponse(
        ref=ref, url=record.rec_headers.get_header("WARC-Target-URI"),
        date=parse_iso(record.rec_headers.get_header("WARC-Date")), protocol=http.protocol,
        status=int(code), reason=reason, headers=list(http.headers),
        body=_checked_block(record, where), warc_headers=dict(record.rec_headers.headers),
    )


def read_response(data_dir: str | Path, ref: WarcRef) -> ArchivedResponse:
    """The response record `ref` points at; EvidenceError (naming file and offset) when it is
    missing, not that one, truncated or fails its digests."""
    path = contained_path(data_dir, ref.file)
    if not path.is_file():
        raise EvidenceError(f"{path}: WARC file missing (referenced by record {ref.record_id})")
    where = f"{path}@{ref.offset}"
    with open(path, "rb") as stream:
        stream.seek(ref.offset)
        try:
            record = next(iter(ArchiveIterator(stream, check_digests=True)), None)
            if record is None or record.rec_type != "response":
                raise EvidenceError(f"{where}: no response record there")
            found = record.rec_headers.get_header("WARC-Record-ID")
            if found != ref.record_id:
                raise EvidenceError(f"{where}: record {found}, expected {ref.record_id}")
            return _archived(record, ref, where)
        except _UNREADABLE as exc:
            raise EvidenceError(f"{where}: not a readable WARC record ({_one_line(exc)})") from None


def iter_responses(data_dir: str | Path, path: Path) -> Iterator[ArchivedResponse]:
    """Every response record of one WARC file, in file order. Every record (requests too) is
    checked; the first damaged one raises EvidenceError naming the file and its offset, after
    the intact records before it have been yielded."""
    relative = contained_path(data_dir, os.path.relpath(path, data_dir)).relative_to(data_dir).as_posix()
    with open(path, "rb") as stream:
        records = ArchiveIterator(stream, check_digests=True)
        try:
            for record in records:
                start = records.offset   # where this record's gzip member begins
                where = f"{path}@{start}"
                if record.rec_type != "response":
                    _checked_block(record, where)
                    continue
                record_id = record.rec_headers.get_header("WARC-Record-ID")
                yield _archived(record, WarcRef(relative, start, record_id), where)
        except _UNREADABLE as exc:
            # The record that failed begins where the last one read ended.
            raise EvidenceError(f"{path}@{records.offset}: not a readable WARC record "
                                f"({_one_line(exc)})") from None
        # A record cut in its first bytes reads as the end of the file: bytes must not remain.
        size = os.fstat(stream.fileno()).st_size
        if records.offset < size:
            raise EvidenceError(f"{path}@{records.offset}: not a readable WARC record "
                                f"({size - records.offset} bytes that are not one, at the end)")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "…") if len(text) > 200 else text or type(exc).__name__
