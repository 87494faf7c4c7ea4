"""Reparse: rebuild a corpus from its WARC evidence with today's parsers, so a parser fix reaches
old crawls. The original corpus is never modified; the result is a new corpus.

Each crawl is replayed in order, with the archive standing in for the network: today's spider
for the crawl's kind is built with the crawl's recorded plan; its requests (from `start()`,
which reads the new corpus as it stood at that point, and from its callbacks) are answered by
the archived responses of that crawl, matched by URL and the request's plain meta in arrival
order; each answer passes through the downloader middlewares that ran after archiving
(redirects, decompression) and reaches the same callback, at the archived receipt time; the
items go through the corpus pipeline. Then, as the scheduler did, the differ runs:
`diff_timeline` after a timeline crawl that was diffed, `resolve_probes` after a probe crawl.

What the archive cannot say is copied from the original: the `crawls` rows (same ids) and the
network errors (`fetch_failures` rows without an HTTP status), whose errbacks are replayed so
the spider records its give-ups as it did. A request today's code makes that the crawl never
made has no archived answer (`unanswered`); an archived answer today's code no longer asks for
is skipped (`unrequested`).

A crawl is replayed the way the live pipeline treated it, by its status: a `finished` or
`interrupted` timeline crawl is diffed when it was (it has windows), a probe crawl is resolved
when its resolution was committed; a `crashed` crawl (killed, then recovered from its archive by
the next start, see `recover_dead_crawls`) is replayed whole and neither diffed nor resolved; a
crawl still `running` (alive, or dead and not yet recovered) gives only the rows it had stored.
A damaged WARC record is reported (`damaged`); the records after it are read by the offsets the
corpus points at, and a probe whose record cannot be read is replayed from the response its row
kept, so its rows are the original ones.

The new corpus is built in a hidden directory beside `--into` and renamed into place when
complete: a failed reparse leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import shutil
import sqlite3
import tempfile
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from memoryhole.corpus.clock import iso, parse_iso
from memoryhole.corpus.differ import diff_timeline, resolve_probes
from memoryhole.corpus.provenance import software_version
from memoryhole.corpus.schema import migrate
from memoryhole.corpus.store import (
    DB_NAME,
    RESOLVE,
    Corpus,
    CorpusError,
    FetchFailure,
    LongTextObservation,
    PageObservation,
    ProbeObservation,
    WarcRef,
    damaged,
)
from memoryhole.corpus.warc import (
    CALLBACK,
    CRAWL_ID,
    DECHUNKED,
    META,
    REQUESTED_AT,
    WARC_DIR,
    ArchivedResponse,
    EvidenceError,
    contained_path,
    crawl_files,
    iter_responses,
    read_response,
)

# Meta keys Scrapy keeps for itself: they differ between attempts and say nothing about what
# was asked, so requests are not matched on them.
_BOOKKEEPING = {"retry_times", "max_retry_times", "depth", "download_latency", "download_slot",
                "download_timeout", "is_start_request", "redirect_times", "redirect_ttl",
                "redirect_urls", "redirect_reasons", "dont_obey_robotstxt",
                "memoryhole_session"}   # the session label (crawlers/sessions.py) of each attempt


class ReparseError(Exception):
    """A corpus that cannot be reparsed; the message names the crawl or file and the fix."""


@dataclass
class ReparseReport:
    source: Path
    target: Path
    crawls: int = 0
    responses: int = 0        # archived responses read
    replayed: int = 0         # ... that reached a callback
    unrequested: int = 0      # ... that today's code did not ask for
    internal: int = 0         # ... Scrapy's own (robots.txt)
    unanswered: int = 0       # requests today's code made that have no archived answer
    network_errors: int = 0   # fetch_failures without a response, copied
    salvaged: int = 0         # probes replayed from their row, their WARC record damaged
    damaged: list[str] = field(default_factory=list)   # "file@offset: what is wrong"

    def summary(self) -> str:
        text = (f"reparsed {self.crawls} crawls from {self.source} into {self.target}: "
                f"{self.replayed} of {self.responses} archived responses replayed "
                f"({self.internal} were Scrapy's own, robots.txt), "
                f"{self.unrequested} not asked for, {self.unanswered} requests without an "
                f"archived answer, {self.network_errors} network errors copied")
        if self.damaged:
            text += (f"; {len(self.damaged)} damaged WARC records ({self.salvaged} probes "
                     "replayed from their stored response):\n  " + "\n  ".join(self.damaged))
        return text


def default_target(data_dir: str | Path) -> Path:
    return Path(data_dir) / f"reparse-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def reparse(data_dir: str | Path, into: str | Path | None = None) -> ReparseReport:
    """Rebuild the corpus in `data_dir` from its WARC files into a new corpus (`into`, default
    DATA/reparse-<UTC time>/). Returns what was replayed; ReparseError when it cannot be done."""
    source_dir = Path(data_dir)
    if not (source_dir / DB_NAME).is_file():
        raise ReparseError(f"{source_dir / DB_NAME}: no corpus here")
    target_dir = Path(into) if into is not None else default_target(source_dir)
    if target_dir.resolve() == source_dir.resolve():
        raise ReparseError(f"{target_dir}: reparse writes a new corpus; give another --into")
    if target_dir.exists() and any(target_dir.iterdir()):
        raise ReparseError(f"{target_dir}: not empty; reparse needs a new directory")
    try:
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.building-",
                                         dir=target_dir.parent))
    except OSError as exc:
        raise ReparseError(f"{target_dir}: cannot create it ({exc.strerror}); choose another "
                           "--into") from None
    try:
        report = _build(source_dir, building, target_dir)
        if target_dir.exists():
            target_dir.rmdir()   # empty, checked above
        building.rename(target_dir)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return report


def _build(source_dir: Path, building: Path, target_dir: Path) -> ReparseReport:
    try:
        target = Corpus(building)
    except CorpusError as exc:
        raise ReparseError(str(exc)) from None
    snapshot_path = building / ".source-snapshot.db"
    report = ReparseReport(source=source_dir, target=target_dir)
    try:
        source = _snapshot(source_dir / DB_NAME, snapshot_path)
        try:
            crawls = list(source.query("SELECT * FROM crawls ORDER BY id"))
            _check_evidence(source, source_dir)
            _link_warc_files(source_dir, building)
            for crawl in crawls:
                _replay(crawl, source, source_dir, target, report)
                report.crawls += 1
            from memoryhole.crawlers.search_campaign import reparse_search

            reparse_search(source, target, source_dir)   # search blocking's tests, re-read
        except sqlite3.DatabaseError as exc:
            raise ReparseError(str(damaged(source_dir / DB_NAME, exc))) from None
        finally:
            source.close()
    finally:
        target.close()
        snapshot_path.unlink(missing_ok=True)
    (building / "reparse.json").write_text(json.dumps(
        {"software": software_version(), "at": iso(datetime.now(UTC)),
         **{k: str(v) if isinstance(v, Path) else v for k, v in asdict(report).items()}},
        indent=2) + "\n", encoding="utf-8")
    return report


def _snapshot(db_path: Path, copy_path: Path) -> sqlite_utils.Database:
    """A consistent copy of the source database, migrated to this schema (the original is read
    only, so an old corpus is not upgraded behind the researcher's back)."""
    try:
        original = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        copy = sqlite3.connect(copy_path)
        try:
            original.backup(copy)
        finally:
            original.close()
        db = sqlite_utils.Database(copy)
        migrate(db)
        # A copy that only looks whole: reparse must not rebuild from a damaged corpus.
        problems = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
    except RuntimeError as exc:   # made by a newer memoryhole
        raise ReparseError(f"{db_path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise ReparseError(str(damaged(db_path, exc))) from None
    if problems != ["ok"]:
        db.close()
        raise ReparseError(str(damaged(db_path, sqlite3.DatabaseError(
            "integrity check: " + "; ".join(problems)))))
    return db


def _check_evidence(source: sqlite_utils.Database, source_dir: Path) -> None:
    for table in ("pages", "probes", "long_texts"):
        row = source.execute(
            f"SELECT crawl_id FROM {table} WHERE http_status IS NOT NULL "
            "AND warc_record_id IS NULL LIMIT 1").fetchone()
        if row:
            raise ReparseError(f"crawl {row[0]} was made without WARC archiving (before schema "
                               "v2, or with MEMORYHOLE_WARC_ENABLED off): its answers cannot be "
                               "reparsed")
        for row_id, file in source.execute(f"SELECT MIN(id), warc_file FROM {table} "
                                           "WHERE warc_file IS NOT NULL GROUP BY warc_file"):
            try:
                contained_path(source_dir, file)
            except EvidenceError as exc:
                raise ReparseError(f"{table} row {row_id}: warc_file {exc}") from None
            if not (source_dir / file).is_file():
                raise ReparseError(f"{source_dir / file}: WARC file missing; restore it from "
                                   "backup before reparsing")


def _link_warc_files(source_dir: Path, target_dir: Path) -> None:
    """The new corpus refers to the same records, so it gets the same files (hard links)."""
    folder = target_dir / WARC_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted((source_dir / WARC_DIR).glob("*.warc.gz")):
        try:
            contained_path(source_dir, path.relative_to(source_dir))
        except EvidenceError as exc:
            raise ReparseError(f"{path}: {exc}") from None
        try:
            os.link(path, folder / path.name)
        except OSError:
            shutil.copy2(path, folder / path.name)


@contextmanager
def frozen_clock(moment: datetime) -> Iterator[None]:
    """Run with memoryhole.corpus.clock.now() frozen at `moment` (the clock's MEMORYHOLE_NOW)."""
    before = os.environ.get("MEMORYHOLE_NOW")
    os.environ["MEMORYHOLE_NOW"] = iso(moment)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MEMORYHOLE_NOW", None)
        else:
            os.environ["MEMORYHOLE_NOW"] = before


# --- one crawl -------------------------------------------------------------------------------


def _replay(crawl: dict[str, Any], source: sqlite_utils.Database, source_dir: Path,
            target: Corpus, report: ReparseReport) -> None:
    target.db["crawls"].insert(crawl)
    status = crawl["status"]
    # A crawl still `running` stored only some of what it archived: exactly those rows.
    keep = _StoredRows(source, crawl["id"]).take if status == "running" else None
    replay = _CrawlReplay(crawl, target, keep=keep)
    for archived in _crawl_answers(crawl["id"], source, source_dir, report):
        report.responses += 1
        replay.answer(archived, report)
    network = _network_errors(source, crawl["id"])
    replay.network_errors(network, _gave_up(source, crawl["id"]))
    report.unanswered += len(replay.pending)
    report.network_errors += len(network)
    with target.db.atomic():
        target.db["fetch_failures"].insert_all([{k: v for k, v in row.items() if k != "id"}
                                                for row in network])
    replay.close()
    if status not in ("finished", "interrupted"):
        return   # killed (or still going): the live pipeline neither diffed nor resolved it
    with frozen_clock(parse_iso(crawl["ended_at"] or crawl["started_at"])):
        if crawl["kind"] == "timeline" and source.execute(
                "SELECT 1 FROM windows WHERE crawl_id = ? LIMIT 1", [crawl["id"]]).fetchone():
            diff_timeline(target.db, crawl["id"])
        elif crawl["kind"] == "probe" and json.loads(
                crawl["stats_json"] or "{}").get(RESOLVE, "done") == "done":
            resolve_probes(target.db, crawl["id"])


def _network_errors(db: sqlite_utils.Database, crawl_id: int) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT * FROM fetch_failures WHERE crawl_id = ? AND http_status IS NULL ORDER BY id",
        [crawl_id]))


def _gave_up(db: sqlite_utils.Database, crawl_id: int) -> list[dict[str, Any]]:
    """When the spider gave up on requests that got no response, as it recorded it."""
    return list(db.query(
        """SELECT url, requested_at AS at FROM pages WHERE crawl_id = :crawl
               AND http_status IS NULL AND warc_record_id IS NULL
           UNION ALL SELECT url, requested_at FROM probes WHERE crawl_id = :crawl
               AND http_status IS NULL AND warc_record_id IS NULL
           UNION ALL SELECT url, fetched_at FROM long_texts WHERE crawl_id = :crawl
               AND http_status IS NULL AND warc_record_id IS NULL""", {"crawl": crawl_id}))


def _crawl_answers(crawl_id: int, source: sqlite_utils.Database, source_dir: Path,
                   report: ReparseReport) -> Iterator[ArchivedResponse]:
    """A crawl's archived responses in order. Past a damaged record the file is read by the
    offsets the corpus points at; a probe whose own record is damaged answers from its row."""
    for path in crawl_files(source_dir, crawl_id):
        last = -1
        try:
            for archived in iter_responses(source_dir, path):
                last = archived.ref.offset
                yield archived
        except EvidenceError as exc:
            report.damaged.append(str(exc))
            yield from _salvaged(source, source_dir, path.relative_to(source_dir).as_posix(),
                                 last, report)


def _salvaged(source: sqlite_utils.Database, source_dir: Path, file: str, after: int,
              report: ReparseReport) -> Iterator[ArchivedResponse]:
    rows = source.query(
        """SELECT 'pages' AS kind, warc_offset, warc_record_id, NULL AS id FROM pages
               WHERE warc_file = :file AND warc_offset > :after
           UNION ALL SELECT 'probes', warc_offset, warc_record_id, id FROM probes
               WHERE warc_file = :file AND warc_offset > :after
           UNION ALL SELECT 'long_texts', warc_offset, warc_record_id, NULL FROM long_texts
               WHERE warc_file = :file AND warc_offset > :after
           ORDER BY warc_offset""", {"file": file, "after": after})
    for row in rows:
        ref = WarcRef(file, row["warc_offset"], row["warc_record_id"])
        try:
            yield read_response(source_dir, ref)
        except EvidenceError as exc:
            if str(exc) not in report.damaged:
                report.damaged.append(str(exc))
            if row["kind"] == "probes":
                report.salvaged += 1
                yield _answer_kept_by_probe(source, row["id"], ref)


def _answer_kept_by_probe(source: sqlite_utils.Database, probe_id: int,
                          ref: WarcRef) -> ArchivedResponse:
    """A probe's answer as its row kept it (headers and body as the spider saw them, already
    decoded), standing in for a damaged WARC record."""
    row = next(source.query("SELECT * FROM probes WHERE id = ?", [probe_id]))
    headers = [(name, value) for name, values in
               json.loads(row["response_headers"] or "{}").items() for value in values]
    meta = {"post_id": row["post_id"], "account": row["account_id"], "purpose": row["purpose"]}
    warc_headers = {CRAWL_ID: str(row["crawl_id"]), CALLBACK: "parse_probe",
                    META: json.dumps(meta), REQUESTED_AT: row["requested_at"]}
    return ArchivedResponse(ref=ref, url=row["url"], date=parse_iso(row["probed_at"]),
                            protocol="HTTP/1.1", status=row["http_status"], reason="",
                            headers=headers, body=row["response_body"] or b"",
                            warc_headers=warc_headers)


class _StoredRows:
    """The observations a crawl stored, as a multiset: `take(item)` says whether an item the
    replay produced is one of them (and uses it up)."""

    def __init__(self, db: sqlite_utils.Database, crawl_id: int) -> None:
        self.rows: Counter[tuple] = Counter()
        for table, time_column in (("pages", "requested_at"), ("probes", "requested_at"),
                                   ("long_texts", "fetched_at")):
            for record_id, url, at in db.execute(
                    f"SELECT warc_record_id, url, {time_column} FROM {table} "
                    "WHERE crawl_id = ?", [crawl_id]):
                self.rows[(table, record_id) if record_id else (table, url, at)] += 1
        for url, at, failure in db.execute(
                "SELECT url, at, failure FROM fetch_failures WHERE crawl_id = ?", [crawl_id]):
            self.rows[("fetch_failures", url, at, failure)] += 1

    @staticmethod
    def key(item: Any) -> tuple:
        if isinstance(item, FetchFailure):
            return ("fetch_failures", item.url, iso(item.at), item.failure)
        table, at = {PageObservation: ("pages", "requested_at"),
                     ProbeObservation: ("probes", "requested_at"),
                     LongTextObservation: ("long_texts", "fetched_at")}[type(item)]
        if item.evidence is not None:
            return (table, item.evidence.record_id)
        return (table, item.url, iso(getattr(item, at)))

    def take(self, item: Any) -> bool:
        key = self.key(item)
        if self.rows[key] > 0:
            self.rows[key] -= 1
            return True
        return False


# --- recovery of killed crawls ---------------------------------------------------------------


@dataclass
class Recovery:
    """What the archive of one dead crawl gave back."""

    crawl_id: int
    kind: str
    stored_before: int = 0    # observations the crawl had stored before it died
    recovered: int = 0        # observations recovered from its WARC files
    damaged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"crawl {self.crawl_id} ({self.kind}) had stopped without closing: marked "
                f"crashed; {self.recovered} observations recovered from its WARC files "
                f"({self.stored_before} were stored before it stopped)")
        return text + "".join(f"; damaged: {d}" for d in self.damaged)


def recover_dead_crawls(data_dir: str | Path) -> list[Recovery]:
    """Close every `running` crawl of the corpus whose process is gone (killed, crashed, or
    stopped because it could not store its results): what it archived and had not stored is
    stored from its WARC files, through today's spider and pipeline as in a reparse, then it is
    marked `crashed` (never diffed or resolved; its candidates are probed by the next cycle).
    A live crawl is left alone (its process holds its lock). Network errors it had not stored
    are lost: they have no response to archive."""
    corpus = Corpus(data_dir)
    try:
        return [recover_crawl(crawl, corpus) for crawl in corpus.claim_dead_crawls()]
    finally:
        corpus.close()


def recover_crawl(crawl: dict[str, Any], corpus: Corpus) -> Recovery:
    """Store what one claimed dead crawl (`Corpus.claim_dead_crawls`) archived and had not
    stored, then mark it crashed (recover_dead_crawls)."""
    crawl_id = crawl["id"]
    stored = _StoredRows(corpus.db, crawl_id)
    recovery = Recovery(crawl_id, crawl["kind"], stored_before=sum(stored.rows.values()))
    report = ReparseReport(source=corpus.data_dir, target=corpus.data_dir)
    latest = [crawl["started_at"]]

    def keep(item: Any) -> bool:
        if stored.take(item):
            return False
        recovery.recovered += 1
        return True

    replay = _CrawlReplay(crawl, corpus, keep=keep)
    for archived in _crawl_answers(crawl_id, corpus.db, corpus.data_dir, report):
        latest.append(iso(archived.date))
        replay.answer(archived, report)
    replay.network_errors(_network_errors(corpus.db, crawl_id), _gave_up(corpus.db, crawl_id))
    replay.close()
    for table, column in (("pages", "fetched_at"), ("probes", "probed_at"),
                          ("long_texts", "fetched_at"), ("fetch_failures", "at")):
        last = corpus.db.execute(f"SELECT MAX({column}) FROM {table} WHERE crawl_id = ?",
                                 [crawl_id]).fetchone()[0]
        if last:
            latest.append(last)
    recovery.damaged = report.damaged
    corpus.mark_crashed(crawl_id, max(latest), {
        "finish_reason": "crashed", "found_dead_at": iso(datetime.now(UTC)),
        "stored_before": recovery.stored_before, "recovered_from_warc": recovery.recovered,
        "damaged_warc_records": report.damaged})
    return recovery


class _CrawlReplay:
    """Today's spider for one recorded crawl, fed from the archive instead of the network."""

    def __init__(self, crawl: dict[str, Any], target: Corpus,
                 keep: Callable[[Any], bool] | None = None) -> None:
        from memoryhole.crawlers.pipelines import CorpusPipeline
        from memoryhole.crawlers.plan import PlanError, plan_from_dict
        from memoryhole.crawlers.spiders import PROBE_SPIDERS, TIMELINE_SPIDERS
        from scrapy import Request
        from scrapy.crawler import Crawler
        from scrapy.settings import Settings
        from scrapy.utils.misc import load_object

        self.crawl_id = crawl["id"]
        spiders = {"timeline": TIMELINE_SPIDERS, "probe": PROBE_SPIDERS}.get(crawl["kind"], {})
        spider_cls = spiders.get(crawl["platform"])
        if spider_cls is None:
            raise ReparseError(f"crawl {self.crawl_id}: no {crawl['kind']} spider for platform "
                               f"{crawl['platform']!r}")
        try:
            plan = plan_from_dict(json.loads(crawl["plan_json"]),
                                  source=f"crawl {self.crawl_id}'s plan")
        except PlanError as exc:
            raise ReparseError(str(exc)) from None
        settings = Settings()
        settings.setmodule("memoryhole.crawlers.settings", priority="project")
        self.crawler = Crawler(spider_cls, settings)
        self.crawler.stats = load_object(settings["STATS_CLASS"])(self.crawler)
        self.spider = spider_cls.from_crawler(self.crawler, plan=plan, data=str(target.data_dir))
        self.crawler.spider = self.spider
        self.spider.crawl_id = self.crawl_id
        # What the crawl's start recorded: today's declaration of the platform, the members.
        target.record_platform(crawl["platform"], self.spider.adapter.declaration(),
                               self.crawl_id)
        target.record_members(self.crawl_id, crawl["platform"], plan.members())
        self.pipeline = CorpusPipeline(self.crawler)
        self.pipeline.corpus, self.pipeline.crawl_id = target, self.crawl_id
        self.after_archive = _middlewares_after_archive(self.crawler)
        self.request_type = Request
        self.pending: list[Any] = []
        self.keep = keep   # which items go to the pipeline (default: all)
        with frozen_clock(parse_iso(crawl["started_at"])):
            self._route(self.spider.start())

    def answer(self, archived: ArchivedResponse, report: ReparseReport) -> None:
        if archived.crawl_id not in (None, self.crawl_id):
            return
        if archived.warc_headers.get(CALLBACK) == "NO_CALLBACK":
            report.internal += 1   # robots.txt and other requests of Scrapy's own
            return
        request = self._take(archived)
        if request is None:
            report.unrequested += 1
            return
        response = _response(archived, request)
        for middleware in self.after_archive:
            result = _settled(middleware.process_response(response.request, response))
            if isinstance(result, self.request_type):   # a redirect: its answer comes later
                self.pending.append(result)
                return
            response = result
        callback = request.callback or self.spider.parse
        with frozen_clock(archived.date):
            self._route(callback(response))
        report.replayed += 1

    def network_errors(self, rows: list[dict[str, Any]], gave_up: list[dict[str, Any]]) -> None:
        """Replay the errbacks of requests that got no response, as the crawl recorded them,
        at the moment the crawl recorded giving up (else when the error was recorded)."""
        from twisted.python.failure import Failure

        by_url: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        for row in rows:
            by_url[row["url"]].append(row)
        gave_up_at: dict[str, deque[str]] = defaultdict(deque)
        for row in sorted(gave_up, key=lambda r: r["at"]):
            gave_up_at[row["url"]].append(row["at"])
        progress = True
        while progress:
            progress = False
            for request in list(self.pending):
                if not by_url.get(request.url) or request.errback is None:
                    continue
                row = by_url[request.url].popleft()
                self.pending.remove(request)
                failure = Failure(_exception_for(row["failure"], row["detail"]))
                failure.request = request
                at = gave_up_at[request.url].popleft() if gave_up_at[request.url] else row["at"]
                with frozen_clock(parse_iso(at)):
                    # The failure rows themselves are copied from the original.
                    self._route(request.errback(failure), keep_failures=False)
                progress = True

    def _take(self, archived: ArchivedResponse) -> Any | None:
        meta = archived.meta
        for i, request in enumerate(self.pending):
            if request.url == archived.url and _agrees(request.meta, meta):
                return self.pending.pop(i)
        return None

    def _route(self, output: Any, keep_failures: bool = True) -> None:
        for thing in _drain(output):
            if isinstance(thing, self.request_type):
                self.pending.append(thing)
            elif keep_failures or not isinstance(thing, FetchFailure):
                if self.keep is None or self.keep(thing):
                    self.pipeline.process_item(thing)

    def close(self) -> None:
        """Store what is pending; an error storing it is raised, not left in the log."""
        self.pipeline.close_spider()
        if self.pipeline.store_error is not None:
            raise self.pipeline.store_error


def _agrees(asked: dict[str, Any], archived: dict[str, Any]) -> bool:
    """A request matches an archived answer when every plain meta value both carry is equal."""
    from memoryhole.crawlers.middlewares import plain_meta

    for key, value in plain_meta(asked).items():
        if key in _BOOKKEEPING or key not in archived:
            continue
        if json.loads(json.dumps(value)) != archived[key]:
            return False
    return True


def _response(archived: ArchivedResponse, request: Any) -> Any:
    """The archived answer as the downloader handed it on: raw body, headers as received."""
    from memoryhole.crawlers.middlewares import RECEIVED_AT, REQUESTED_AT, WARC_REF
    from scrapy.http import Headers
    from scrapy.responsetypes import responsetypes

    headers = Headers([("Transfer-Encoding" if k == DECHUNKED else k, v)
                       for k, v in archived.headers])
    meta = {**request.meta, **archived.meta, WARC_REF: archived.ref, RECEIVED_AT: archived.date}
    if archived.requested_at is not None:
        meta[REQUESTED_AT] = archived.requested_at
    replayed = request.replace(meta=meta)
    cls = responsetypes.from_args(headers=headers, url=archived.url, body=archived.body)
    return cls(url=archived.url, status=archived.status, headers=headers, body=archived.body,
               request=replayed, protocol=archived.protocol)


def _middlewares_after_archive(crawler: Any) -> list[Any]:
    """The downloader middlewares whose process_response ran after the archiving one, in the
    order they ran (highest priority number first)."""
    from memoryhole.crawlers.middlewares import WarcArchiveMiddleware
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.misc import build_from_crawler, load_object

    priorities = {load_object(k) if isinstance(k, str) else k: v for k, v in
                  crawler.settings.getwithbase("DOWNLOADER_MIDDLEWARES").items() if v is not None}
    own = priorities.get(WarcArchiveMiddleware)
    if own is None:
        raise ReparseError("WarcArchiveMiddleware is not in DOWNLOADER_MIDDLEWARES")
    chosen = sorted((item for item in priorities.items() if item[1] < own),
                    key=lambda item: item[1], reverse=True)
    middlewares = []
    for cls, _ in chosen:
        if not hasattr(cls, "process_response"):
            continue
        try:
            middlewares.append(build_from_crawler(cls, crawler))
        except NotConfigured:
            continue
    return middlewares


def _settled(result: Any) -> Any:
    if inspect.isawaitable(result):
        async def wait() -> Any:
            return await result
        return asyncio.run(wait())
    return result


def _drain(output: Any) -> Iterable[Any]:
    """The items and requests of a callback, start() or errback (sync or async)."""
    if output is None:
        return ()
    if inspect.isasyncgen(output):
        async def collect() -> list[Any]:
            return [thing async for thing in output]
        return asyncio.run(collect())
    return output


def _exception_for(failure: str, detail: str | None) -> BaseException:
    """An exception that memoryhole.crawlers.failures names `failure`, for replaying an errback."""
    from memoryhole.crawlers import failures
    from scrapy.exceptions import IgnoreRequest
    from twisted.internet import error

    exception: BaseException = {
        failures.TIMEOUT: error.TimeoutError(detail),
        failures.CONNECTION_ERROR: error.ConnectionRefusedError(detail),
        failures.REDIRECT_LOOP: IgnoreRequest(f"redirect: {detail}"),
    }.get(failure) or ReplayedNetworkError(detail)
    return exception


class ReplayedNetworkError(Exception):
    """A network error recorded by the original crawl, replayed."""
