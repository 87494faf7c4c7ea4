"""The corpus store: one SQLite database in the researcher's data directory.

Observations are appended (sightings, pages, probes, failures); `posts` and `accounts` hold the
latest known state. Writes go in one transaction per batch: sqlite-utils inserts are ~4x faster
that way, and a crash loses at most the batch in flight, never half of one (the next start
recovers it from the crawl's WARC files: memoryhole.crawlers.reparse.recover_dead_crawls). Several processes
may write one corpus: transactions begin IMMEDIATE, wait for each other (busy timeout), and a
batch is retried whole while another writer holds the corpus.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]   # C, as json uses
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from .clock import iso, now
from .provenance import software_version
from .schema import create as create_schema
from .schema import migrate

DB_NAME = "corpus.db"
LOCK_DIR = "locks"          # DATA/locks/crawl-<id>.lock, held by the process running the crawl
# A writer waits this long for another (a crawl, `analyze`, serve's index update) to commit...
BUSY_TIMEOUT_SECONDS = 30.0
# ... and a batch that still finds the corpus locked is retried whole until this much has passed.
WRITE_PATIENCE_SECONDS = 600.0

# A probe crawl's stats say whether the differ resolved its answers: "pending" when it ended,
# "done" in the transaction that resolved them (a process killed in between leaves "pending").
# Corpora made before this was recorded have neither; every probe crawl of theirs that ended
# was resolved.
RESOLVE = "memoryhole/resolve"

T = TypeVar("T")

# What makes a new version of a post whose platform recorded no declaration.
DEFAULT_VERSIONED = ("text", "edit_count")


class CorpusError(Exception):
    """The corpus cannot be opened or written; the message names the path and the fix."""


class CorpusDatabase(sqlite_utils.Database):
    """sqlite-utils with write transactions that take the write lock when they begin.

    A deferred `BEGIN` that reads first and writes later cannot wait for another writer: when
    that writer commits in between, SQLite answers "database is locked" at once (the snapshot is
    stale), whatever the busy timeout. `BEGIN IMMEDIATE` waits its turn instead.
    """

    @contextmanager
    def atomic(self) -> Iterator[CorpusDatabase]:
        if self.conn.in_transaction:
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise


def connect(path: Path) -> CorpusDatabase:
    """A connection to a corpus database: WAL (readers never block the writer), a busy timeout,
    and implicit transactions (Python's, before INSERT/UPDATE/DELETE) that are IMMEDIATE too."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level="IMMEDIATE")
    try:
        db = CorpusDatabase(conn, execute_plugins=False)   # no plugin scan: it costs every process 15-40 ms
        db.execute("PRAGMA journal_mode = WAL")
    except sqlite3.DatabaseError:
        conn.close()
        raise
    return db


def is_locked(exc: BaseException) -> bool:
    """Whether an error is another writer holding the corpus (worth waiting for)."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc))


def retry_while_locked(write: Callable[[], T], patience: float | None = None) -> T:
    """Run `write` (one whole transaction) again while the corpus stays locked by another
    writer, up to `patience` seconds (WRITE_PATIENCE_SECONDS); then the error propagates."""
    deadline = time.monotonic() + (WRITE_PATIENCE_SECONDS if patience is None else patience)
    pause = 0.05
    while True:
        try:
            return write()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 2.0)


def damaged(path: Path, exc: sqlite3.DatabaseError) -> CorpusError:
    """The one-line error for a database SQLite cannot read."""
    # SQLite's messages (integrity_check's above all) can run over several lines: keep one.
    detail = " ".join(str(exc).split())
    return CorpusError(f"{path}: not a readable corpus database ({detail}); restore it from a "
                       "backup (`sqlite3 corpus.db '.recover'` may salvage what is left)")


@dataclass(frozen=True)
class WarcRef:
    """Where a response's raw bytes are archived: a WARC file (relative to the data directory),
    the byte offset of its response record, and the record's WARC-Record-ID."""

    file: str
    offset: int
    record_id: str


@dataclass(frozen=True)
class PageObservation:
    """One timeline page fetch, as a spider hands it to the store."""

    platform: str
    account_id: str
    watchlist: str | None
    page: int
    url: str
    requested_at: datetime
    fetched_at: datetime
    http_status: int | None
    outcome: str                   # posts | end | failed
    failure: str | None
    posts: tuple[Any, ...]         # memoryhole.crawlers.platforms.PostRecord
    cursor: str | None = None
    next_cursor: str | None = None
    account_check: str | None = None   # exists | gone | failed, when page 1 was empty
    account_state: str | None = None
    account_message: str | None = None
    evidence: WarcRef | None = None


@dataclass(frozen=True)
class ProbeObservation:
    """One single-post probe, with the raw response kept as evidence."""

    platform: str
    post_id: str
    account_id: str | None
    url: str
    requested_at: datetime
    probed_at: datetime
    http_status: int | None
    outcome: str                   # visible | removed | failed
    reason: str | None
    message: str | None
    failure: str | None
    headers: dict[str, list[str]] | None
    body: bytes | None
    purpose: str = "classify"      # vocabulary.ProbePurpose: classify | confirm | recheck | watch
    evidence: WarcRef | None = None
    # A watched item's probe that showed it (memoryhole.crawlers.platforms.PostRecord): its sighting.
    post: Any = None


@dataclass(frozen=True)
class LongTextObservation:
    """One fetch of a long post's whole text."""

    platform: str
    post_id: str
    url: str
    fetched_at: datetime
    http_status: int | None
    outcome: str                   # ok | removed | failed
    failure: str | None
    text: str | None
    evidence: WarcRef | None = None


@dataclass(frozen=True)
class FetchFailure:
    platform: str
    url: str
    failure: str
    http_status: int | None
    detail: str | None
    at: datetime


# One encoder for every hash: json.dumps with arguments builds a new encoder per call.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
_CHANGED = json.JSONEncoder(ensure_ascii=False, sort_keys=True)   # = json.dumps(..., same args)


def canonical_json(fields: dict[str, Any]) -> str:
    """`_CANONICAL.encode(fields)`, built directly for the flat objects of strings, integers,
    booleans and nulls that posts carry (the encoder makes a C encoder per call, which cost more
    than the hashing); anything else goes through the encoder. The same text, byte for byte."""
    parts = []
    for key in sorted(fields):
        value = fields[key]
        kind = type(value)
        if kind is str:
            text = encode_basestring(value)
        elif value is None:
            text = "null"
        elif kind is int:
            text = int.__repr__(value)
        elif kind is bool:
            text = "true" if value else "false"
        else:
            return _CANONICAL.encode(fields)
        if type(key) is not str:
            return _CANONICAL.encode(fields)
        parts.append(f"{encode_basestring(key)}:{text}")
    return "{" + ",".join(parts) + "}"


_ENCODED_KEYS: dict[str, str] = {}   # extra key -> its JSON text and ':', made once


def _extra(post: Any) -> str | None:
    """A post's platform-only fields as stored (`posts.extra`): the canonical JSON of those
    that are not None, None when there are none. Written out here for the usual flat strings
    (every re-sighting compares it with the stored one); anything else via canonical_json."""
    extra = post.extra
    if not extra:
        return None
    parts = []
    for key in sorted(extra):
        value = extra[key]
        if value is None:
            continue
        if type(value) is not str or type(key) is not str:
            present = {k: v for k, v in extra.items() if v is not None}
            return canonical_json(present)
        encoded = _ENCODED_KEYS.get(key)
        if encoded is None:
            encoded = _ENCODED_KEYS[key] = encode_basestring(key) + ":"
        parts.append(encoded + encode_basestring(value))
    return "{" + ",".join(parts) + "}" if parts else None


def _created_interval(post: Any) -> tuple[str | None, str | None]:
    """(earliest, latest) possible creation time as stored; (None, None) when the adapter gives
    only `created_at`: analysis then bounds it by the resolution the platform declares (a point
    here would claim exact dates for every such platform)."""
    interval = getattr(post, "created_interval", None)
    if interval is not None:
        return iso(interval[0]), iso(interval[1])
    return None, None


def content_hash(fields: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a post's versioned fields (as git-history does)."""
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def shows_stored_content(previous: tuple[Any, ...], post: Any, names: tuple[str, ...]) -> bool:
    """Whether a re-sighted post of a platform whose versioned fields are the stored columns
    `text` and `edit_count` shows what its stored content hash was made of: the store writes
    the three together, so then the stored hash is the post's and need not be recomputed.
    `previous` is the stored row as Corpus._upsert_posts selects it (text and edit_count
    selected)."""
    return (previous[1] is not None and previous[4] == post.text
            and ("edit_count" not in names or previous[5] == post.edit_count))


def only_seen_again(previous: tuple[Any, ...], post: Any, digest: str, repost_id: str | None,
                    extra: str | None, hashed: bool) -> bool:
    """Whether the full update of a known post (Corpus._upsert_posts) would change nothing of
    its row but the last sighting: then only that is written (most re-sightings).

    `previous` is the stored row as _upsert_posts selects it; `hashed`: the content hash covers
    text and edit_count (then they were not selected)."""
    _, stored_hash, _, created_missing, text, edit_count, long_text, repost_missing, \
        stored_extra, complete_missing = previous
    return (stored_hash == digest
            and (hashed or (text == post.text and edit_count == post.edit_count))
            and long_text == int(post.text_truncated)
            and not (created_missing and (post.created_at is not None
                                          or _created_interval(post) != (None, None)))
            and not (repost_missing and repost_id is not None)
            and (extra is None or extra == stored_extra)
            and not (complete_missing and not post.text_truncated))


def _ensure_writable(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"{data_dir}: cannot create the data directory ({exc.strerror}); "
                          "choose another --data") from None
    if not data_dir.is_dir():
        raise CorpusError(f"{data_dir}: is not a directory; choose another --data")
    if not os.access(data_dir, os.W_OK):
        raise CorpusError(f"{data_dir}: data directory is not writable; choose another --data "
                          "or fix its permissions")


class Corpus:
    """A corpus in `data_dir` (created and migrated on open)."""

    def __init__(self, data_dir: str | Path, create: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_NAME
        if create:
            _ensure_writable(self.data_dir)
        elif not self.path.exists():
            raise CorpusError(f"{self.path}: no corpus here; run `memoryhole crawl PLAN --data "
                              f"{self.data_dir}` first")
        if create and not self.path.exists():
            try:
                create_schema(self.path)   # whole or not at all; migrate below finds it done
            except (OSError, sqlite3.Error) as exc:
                raise CorpusError(f"{self.path}: cannot make a new corpus here ({exc})") from None
        try:
            self.db = connect(self.path)
        except sqlite3.DatabaseError as exc:
            raise damaged(self.path, exc) from None
        self._locks: dict[int, Any] = {}
        self._versioned: dict[str, tuple[str, ...]] = {}
        try:
            self.db.execute("PRAGMA foreign_keys = ON")
            retry_while_locked(lambda: migrate(self.db))
        except RuntimeError as exc:   # made by a newer memoryhole
            self.db.close()
            raise CorpusError(f"{self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if is_locked(exc):
                raise CorpusError(f"{self.path}: locked by another writer for too long ({exc}); "
                                  "retry when it is done") from None
            raise damaged(self.path, exc) from None

    def close(self) -> None:
        for handle in self._locks.values():
            handle.close()
        self._locks.clear()
        self.db.close()

    def write(self, work: Callable[[], T]) -> T:
        """Run `work` as one write transaction, retried whole while another writer holds the
        corpus (see retry_while_locked)."""
        def attempt() -> T:
            with self.db.atomic():
                return work()
        return retry_while_locked(attempt)

    # --- crawls -----------------------------------------------------------------------------

    def start_crawl(self, kind: str, platform: str, plan: dict[str, Any],
                    plan_name: str | None = None, plan_path: str | None = None,
                    base_url: str | None = None, declaration: dict[str, Any] | None = None,
                    members: Iterable[tuple[str, str, str]] = ()) -> int:
        """Open a `running` crawl row, with the platform's declaration (its adapter's, recorded
        in `platforms`) and the watchlists' members ((watchlist, account | item, id)). This
        process holds the crawl's lock file until finish_crawl (or its death): that is how a
        later start tells a live crawl from a dead one.
        """
        members = list(members)
        def insert() -> int:
            crawl_id = int(self.db.execute(
                "INSERT INTO crawls (kind, platform, plan_name, plan_path, plan_json, "
                "software_version, base_url, started_at, status) VALUES (?,?,?,?,?,?,?,?,?)",
                [kind, platform, plan_name, plan_path,
                 json.dumps(plan, ensure_ascii=False, sort_keys=True), software_version(),
                 base_url, iso(now()), "running"],
            ).lastrowid)
            if declaration is not None:
                self.record_platform(platform, declaration, crawl_id)
            self.record_members(crawl_id, platform, members)
            # Locked before the row commits: no one ever sees this crawl running unlocked.
            self._hold(crawl_id)
            return crawl_id
        return self.write(insert)

    def record_platform(self, platform: str, declaration: dict[str, Any],
                        crawl_id: int | None = None) -> None:
        """Record a platform's declaration (its adapter's, as crawl `crawl_id` made it, at that
        crawl's start; the latest one wins)."""
        self.write(lambda: self.db.execute(
            """INSERT INTO platforms (platform, watch, order_key, declaration, recorded_at,
                   recorded_crawl_id)
               VALUES (?1, ?2, ?3, ?4,
                       COALESCE((SELECT started_at FROM crawls WHERE id = ?6), ?5), ?6)
               ON CONFLICT (platform) DO UPDATE SET watch = excluded.watch,
                   order_key = excluded.order_key, declaration = excluded.declaration,
                   recorded_at = excluded.recorded_at,
                   recorded_crawl_id = excluded.recorded_crawl_id""",
            [platform, declaration["watch"], declaration["order_key"],
             json.dumps(declaration, ensure_ascii=False, sort_keys=True), iso(now()), crawl_id]))
        self._versioned.pop(platform, None)

    def record_members(self, crawl_id: int, platform: str,
                       members: Iterable[tuple[str, str, str]]) -> None:
        """Watchlist membership as crawl `crawl_id`'s plan says: (watchlist, account | item, id)."""
        rows = [(platform, name, kind, member, crawl_id) for name, kind, member in members]
        self.write(lambda: self.db.conn.executemany(
            """INSERT INTO watchlist_members (platform, watchlist, kind, member_id,
                   first_crawl_id, last_crawl_id) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
               ON CONFLICT DO UPDATE SET
                   first_crawl_id = MIN(first_crawl_id, excluded.first_crawl_id),
                   last_crawl_id = MAX(last_crawl_id, excluded.last_crawl_id)""", rows))

    def versioned_fields(self, platform: str) -> tuple[str, ...]:
        """The fields whose change makes a new version of a platform's post, as its recorded
        declaration says (a platform never recorded: text and edit_count)."""
        if platform not in self._versioned:
            row = self.db.execute("SELECT declaration FROM platforms WHERE platform = ?",
                                  [platform]).fetchone()
            fields = json.loads(row[0]).get("versioned_fields") if row else None
            self._versioned[platform] = tuple(fields or DEFAULT_VERSIONED)
        return self._versioned[platform]

    def finish_crawl(self, crawl_id: int, status: str, stats: dict[str, Any]) -> None:
        self.write(lambda: self.db.execute(
            "UPDATE crawls SET ended_at = ?, status = ?, stats_json = ? WHERE id = ?",
            [iso(now()), status, json.dumps(stats, default=str, sort_keys=True), crawl_id]))
        self.release_crawl(crawl_id)

    def release_crawl(self, crawl_id: int) -> None:
        """Let go of a crawl's lock (after finish_crawl, or to leave it to recovery)."""
        handle = self._locks.pop(crawl_id, None)
        if handle is not None:
            if self.crawl_status(crawl_id) != "running":
                self._lock_path(crawl_id).unlink(missing_ok=True)
            handle.close()

    def mark_resolved(self, crawl_id: int) -> None:
        """Record that a probe crawl's answers were resolved (call inside that transaction)."""
        self.db.execute("UPDATE crawls SET stats_json = json_set(COALESCE(stats_json, '{}'), "
                        f"'$.\"{RESOLVE}\"', 'done') WHERE id = ?", [crawl_id])

    def crawl_status(self, crawl_id: int) -> str | None:
        row = self.db.execute("SELECT status FROM crawls WHERE id = ?", [crawl_id]).fetchone()
        return row[0] if row else None

    def claim_dead_crawls(self) -> list[dict[str, Any]]:
        """The `running` crawls whose process is gone (killed, crashed, or gave up storing its
        results), oldest first. Their locks are now held by this Corpus, so no other process
        claims them too; mark_crashed() closes them. A live crawl's lock is held by its process
        and is never claimed."""
        claimed = []
        def claim() -> None:
            for crawl in self.db.query("SELECT * FROM crawls WHERE status = 'running' ORDER BY id"):
                if crawl["id"] in self._locks or self._hold(crawl["id"], wait=False):
                    claimed.append(crawl)
        # Under the write lock: a crawl cannot start or finish between the read and the claim.
        self.write(claim)
        return claimed

    def mark_crashed(self, crawl_id: int, ended_at: str, stats: dict[str, Any]) -> None:
        """Close a dead crawl: `crashed`, ended at its last recorded activity."""
        self.write(lambda: self.db.execute(
            "UPDATE crawls SET ended_at = ?, status = 'crashed', stats_json = ? "
            "WHERE id = ? AND status = 'running'",
            [ended_at, json.dumps(stats, default=str, sort_keys=True), crawl_id]))
        self.release_crawl(crawl_id)

    def _lock_path(self, crawl_id: int) -> Path:
        return self.data_dir / LOCK_DIR / f"crawl-{crawl_id:06d}.lock"

    def _hold(self, crawl_id: int, wait: bool = True) -> bool:
        """Take crawl `crawl_id`'s lock file; False when another process holds it (wait=False).
        The kernel lets go of it when the holder dies, however it dies."""
        if crawl_id in self._locks:
            return True
        path = self._lock_path(crawl_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")   # held until release_crawl
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.close()
            return False
        self._locks[crawl_id] = handle
        return True

    # --- observations -----------------------------------------------------------------------

    def record_batch(self, crawl_id: int, failures: Iterable[FetchFailure] = (),
                     pages: Iterable[PageObservation] = (),
                     probes: Iterable[ProbeObservation] = (),
                     long_texts: Iterable[LongTextObservation] = ()) -> None:
        """Store one batch of a crawl's observations in one transaction: all of it or, when the
        process dies or the corpus stays locked, none of it (then it is retried whole)."""
        failures, pages, probes, long_texts = (list(failures), list(pages), list(probes),
                                               list(long_texts))

        def store() -> None:
            self.record_failures(crawl_id, failures)
            self.record_pages(crawl_id, pages)
            self.record_probes(crawl_id, probes)
            self.record_long_texts(crawl_id, long_texts)
        self.write(store)

    def record_pages(self, crawl_id: int, pages: Iterable[PageObservation]) -> None:
        """Store page fetches, their sightings (reposted originals included), tombstones, and
        the latest state of posts and accounts; a post whose content changed gets a version."""
        pages = list(pages)
        seen: dict[tuple[str, str], tuple[Any, str, int]] = {}   # post -> (record, seen_at, page)
        # The watchlist the plan watched each account under (the first one, if several).
        watched: dict[tuple[str, str], str] = {}
        sightings, tombstones, page_rows = [], [], []
        with self.db.atomic():
            conn = self.db.conn
            # Page ids as SQLite would pick them (max + 1; the transaction holds the write lock),
            # so that all pages go in one executemany.
            page_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM pages").fetchone()[0]
            for obs in pages:
                unpinned = [p.order_key for p in obs.posts if not p.pinned]
                ev = obs.evidence
                page_id += 1
                seen_at = iso(obs.requested_at)
                page_rows.append((
                    page_id, crawl_id, obs.platform, obs.account_id, obs.watchlist, obs.page,
                    obs.url, seen_at, iso(obs.fetched_at), obs.http_status, obs.outcome,
                    obs.failure, len(obs.posts), max(unpinned) if unpinned else None,
                    min(unpinned) if unpinned else None, obs.cursor, obs.next_cursor,
                    obs.account_check, obs.account_state, obs.account_message,
                    ev.file if ev else None, ev.offset if ev else None,
                    ev.record_id if ev else None))
                if obs.watchlist is not None:
                    watched.setdefault((obs.platform, obs.account_id), obs.watchlist)
                for position, post in enumerate(obs.posts):
                    sightings.append((crawl_id, post.platform, post.post_id, post.account_id,
                                      obs.page, position, int(post.pinned), seen_at, page_id,
                                      None))
                    seen[(post.platform, post.post_id)] = (post, seen_at, page_id)
                    original = post.repost_of
                    if original is not None:
                        sightings.append((crawl_id, original.platform, original.post_id,
                                          original.account_id, obs.page, position, 0, seen_at,
                                          page_id, post.post_id))
                        seen.setdefault((original.platform, original.post_id),
                                        (original, seen_at, page_id))
                    if post.original_tombstone is not None:
                        t = post.original_tombstone
                        tombstones.append((crawl_id, page_id, post.platform, t.post_id,
                                           post.post_id, t.reason, t.message, seen_at))
            conn.executemany(
                """INSERT INTO pages (id, crawl_id, platform, account_id, watchlist, page, url,
                       requested_at, fetched_at, http_status, outcome, failure, n_posts,
                       newest_key, oldest_key, cursor, next_cursor, account_check,
                       account_state, account_message, warc_file, warc_offset, warc_record_id)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", page_rows)
            conn.executemany(
                """INSERT INTO sightings (crawl_id, platform, post_id, account_id, page,
                       position, pinned, seen_at, page_id, via_post_id)
                   VALUES (?,?,?,?,?,?,?,?,?,?)""", sightings)
            conn.executemany(
                """INSERT INTO tombstones (crawl_id, page_id, platform, post_id, via_post_id,
                       reason, message, seen_at) VALUES (?,?,?,?,?,?,?,?)""", tombstones)
            self._upsert_posts(crawl_id, seen, watched)

    def _upsert_posts(self, crawl_id: int, seen: dict[tuple[str, str], tuple[Any, str, int]],
                      watched: dict[tuple[str, str], str]) -> None:
        """Latest state of each post and account; versions and first_seen events for changes.
        An account keeps the first watchlist it was watched under (`watched`); authors of
        reposted originals, never watched themselves, have none."""
        conn = self.db.conn
        # post -> (rowid, content_hash, version, created_at is null, text, edit_count (both
        #          None when the hash covers them), is_long_text, repost_of is null, extra,
        #          text_complete is null)
        known: dict[tuple[str, str], tuple[Any, ...]] = {}
        ids_of: dict[str, list[str]] = {}
        for platform, post_id in seen:
            ids_of.setdefault(platform, []).append(post_id)
        hashed: dict[str, bool] = {}   # platform -> its content hash covers text and edit_count
        # platform -> its versioned fields are stored columns (text, edit_count): a re-sighting
        # whose text and edit count equal the stored ones has the stored content hash, which is
        # then not recomputed (the canonical JSON and sha256 of every re-sighting cost more than
        # selecting the text).
        by_columns: dict[str, bool] = {}
        for platform, ids in ids_of.items():
            names = set(self.versioned_fields(platform))
            hashed[platform] = {"text", "edit_count"} <= names
            by_columns[platform] = names <= {"text", "edit_count"}
            stored = ("NULL, NULL" if hashed[platform] and not by_columns[platform]
                      else "text, edit_count")
            # One primary-key probe per id: `post_id IN (...)` (an OR of pairs plans slower).
            for i in range(0, len(ids), 900):
                chunk = ids[i:i + 900]
                for row in conn.execute(
                        f"SELECT post_id, rowid, content_hash, version, created_at IS NULL, "
                        f"{stored}, is_long_text, repost_of IS NULL, extra, "
                        f"text_complete IS NULL FROM posts "
                        f"WHERE platform = ? AND post_id IN ({','.join('?' * len(chunk))})",
                        [platform, *chunk]):
                    known[(platform, row[0])] = row[1:]
        post_rows, updates, versions, events, accounts = [], [], [], [], {}
        seen_again = []   # known posts this batch changes nothing of but when they were seen
        names_of = {platform: self.versioned_fields(platform) for platform in ids_of}
        for key, (post, seen_at, page_id) in seen.items():
            names = names_of[post.platform]
            previous = known.get(key)
            if (previous is not None and by_columns[post.platform]
                    and shows_stored_content(previous, post, names)):
                # Most re-sightings: the stored hash is the post's (its fields are not needed).
                digest, fields = previous[1], None
                shown = post.text is not None or (
                    "edit_count" in names and post.edit_count is not None)
            else:
                fields = post.versioned(names)
                digest = content_hash(fields)
                shown = any(v is not None for v in fields.values())
            if post.account_id:   # an item whose platform names no publisher has no account
                accounts[(post.platform, post.account_id)] = (
                    post.platform, post.account_id, post.screen_name, seen_at,
                    watched.get((post.platform, post.account_id)))
            if previous is not None and not shown:
                # A listing that shows only that the post is there, none of its versioned
                # content (a feed's headline of an article whose body a probe reads): it was
                # seen; its content and versions stay as the last full sighting left them.
                seen_again.append((previous[0], seen_at, crawl_id))
                continue
            version = previous[2] if previous else None
            if previous is None and not shown:
                version = 0   # seen, its content never shown yet: the first showing is v1
            elif previous is None or (previous[1] is not None and previous[1] != digest):
                before = {}
                if previous is not None:   # an edit (rare): what it changed
                    before = self._stored_fields(previous[0], names)
                changed = {k: v for k, v in fields.items() if before.get(k, object()) != v}
                version = (version or 0) + 1
                versions.append((post.platform, post.post_id, version, digest,
                                 _CHANGED.encode(changed), seen_at, crawl_id, page_id))
            if previous is not None:
                repost_id = post.repost_of.post_id if post.repost_of else (
                    post.original_tombstone.post_id if post.original_tombstone else None)
                extra = _extra(post)
                if only_seen_again(previous, post, digest, repost_id, extra,
                                   hashed[post.platform]):
                    seen_again.append((previous[0], seen_at, crawl_id))
                    continue
                # A known post: the upsert's DO UPDATE below, as an UPDATE by rowid (no insert
                # attempt, no second primary-key search). created_at is COALESCEd, so it is
                # formatted only when the stored one is missing.
                updates.append((
                    previous[0], post.text, int(post.text_truncated), post.edit_count, version,
                    digest, None if post.text_truncated else 1, repost_id,
                    iso(post.created_at) if previous[3] and post.created_at else None,
                    seen_at, crawl_id, *(_created_interval(post) if previous[3] else (None, None)),
                    extra))
                continue
            events.append((post.platform, post.post_id, "first_seen", None, seen_at, crawl_id))
            # Positional rows (?NNN below): binding by name costs a dict per row and a lookup
            # per column.
            post_rows.append((
                post.platform, post.post_id, post.account_id, post.order_key, _extra(post),
                post.url, iso(post.created_at) if post.created_at else None, post.text,
                int(post.text_truncated), seen_at, crawl_id,
                post.repost_of.post_id if post.repost_of else (
                    post.original_tombstone.post_id if post.original_tombstone else None),
                post.edit_count, version, digest, None if post.text_truncated else 1,
                *_created_interval(post),
            ))
        conn.executemany(
            """UPDATE posts SET last_seen_at = MAX(last_seen_at, ?2),
                   last_seen_crawl_id = MAX(last_seen_crawl_id, ?3)
               WHERE rowid = ?1""", seen_again)
        conn.executemany(
            """UPDATE posts SET text = ?2, is_long_text = ?3, edit_count = ?4, version = ?5,
                   text_complete = CASE WHEN content_hash = ?6
                                        THEN COALESCE(text_complete, ?7) ELSE ?7 END,
                   full_text = CASE WHEN content_hash = ?6 THEN full_text END,
                   content_hash = ?6,
                   repost_of = COALESCE(repost_of, ?8),
                   created_at = COALESCE(created_at, ?9),
                   created_earliest = COALESCE(created_earliest, ?12),
                   created_latest = COALESCE(created_latest, ?13),
                   last_seen_at = MAX(last_seen_at, ?10),
                   last_seen_crawl_id = MAX(last_seen_crawl_id, ?11),
                   extra = COALESCE(?14, extra)
               WHERE rowid = ?1""", updates)
        conn.executemany(
            """INSERT INTO posts (platform, post_id, account_id, order_key, extra, url,
                   created_at, text, is_long_text, first_seen_at, last_seen_at,
                   last_seen_crawl_id, repost_of, edit_count, version, content_hash,
                   text_complete, created_earliest, created_latest)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13, ?14, ?15,
                       ?16, ?17, ?18)
               ON CONFLICT (platform, post_id) DO UPDATE SET
                   text = excluded.text, is_long_text = excluded.is_long_text,
                   edit_count = excluded.edit_count, version = excluded.version,
                   text_complete = CASE WHEN posts.content_hash = excluded.content_hash
                                        THEN COALESCE(posts.text_complete, excluded.text_complete)
                                        ELSE excluded.text_complete END,
                   full_text = CASE WHEN posts.content_hash = excluded.content_hash
                                    THEN posts.full_text END,
                   content_hash = excluded.content_hash,
                   repost_of = COALESCE(posts.repost_of, excluded.repost_of),
                   created_at = COALESCE(posts.created_at, excluded.created_at),
                   extra = COALESCE(excluded.extra, posts.extra),
                   created_earliest = COALESCE(posts.created_earliest, excluded.created_earliest),
                   created_latest = COALESCE(posts.created_latest, excluded.created_latest),
                   last_seen_at = MAX(posts.last_seen_at, excluded.last_seen_at),
                   last_seen_crawl_id = MAX(posts.last_seen_crawl_id,
                                            excluded.last_seen_crawl_id)""",
            post_rows,
        )
        conn.executemany(
            """INSERT INTO post_versions (platform, post_id, version, content_hash, changed,
                   seen_at, crawl_id, page_id) VALUES (?,?,?,?,?,?,?,?)""", versions)
        conn.executemany(
            """INSERT INTO post_events (platform, post_id, event, reason, at, crawl_id)
               VALUES (?,?,?,?,?,?)""", events)
        conn.executemany(
            """INSERT INTO accounts (platform, account_id, screen_name, first_seen_at,
                   last_seen_at, watchlist)
               VALUES (?1, ?2, ?3, ?4, ?4, ?5)
               ON CONFLICT (platform, account_id) DO UPDATE SET
                   screen_name = COALESCE(excluded.screen_name, accounts.screen_name),
                   watchlist = COALESCE(accounts.watchlist, excluded.watchlist),
                   last_seen_at = MAX(accounts.last_seen_at, excluded.last_seen_at)""",
            list(accounts.values()),
        )

    def _stored_fields(self, rowid: int, names: tuple[str, ...]) -> dict[str, Any]:
        """A stored post's versioned fields (columns, or keys of its `extra`)."""
        stored = next(self.db.query("SELECT * FROM posts WHERE rowid = ?", [rowid]))
        extra = json.loads(stored["extra"]) if stored.get("extra") else {}
        return {n: stored[n] if n in stored and n != "extra" else extra.get(n) for n in names}

    def record_probes(self, crawl_id: int, probes: Iterable[ProbeObservation]) -> None:
        """Store probes (the raw answer is the evidence). A watched item's probe that showed it
        is also its sighting (page 0): the item's first one makes it a post, later ones keep
        its last_seen_at and versions, as a listing's pages do."""
        probes = list(probes)
        rows = [{
            "crawl_id": crawl_id, "platform": p.platform, "post_id": p.post_id,
            "account_id": p.account_id, "url": p.url, "requested_at": iso(p.requested_at),
            "probed_at": iso(p.probed_at), "http_status": p.http_status, "outcome": p.outcome,
            "reason": p.reason, "message": p.message, "failure": p.failure,
            "response_headers": json.dumps(p.headers, ensure_ascii=False) if p.headers else None,
            "response_body": p.body, "purpose": p.purpose,
            "warc_file": p.evidence.file if p.evidence else None,
            "warc_offset": p.evidence.offset if p.evidence else None,
            "warc_record_id": p.evidence.record_id if p.evidence else None,
        } for p in probes]
        seen: dict[tuple[str, str], tuple[Any, str, int | None]] = {}
        sightings = []
        for p in probes:
            if p.purpose == "watch" and p.outcome == "visible" and p.post is not None:
                at = iso(p.requested_at)
                sightings.append((crawl_id, p.platform, p.post_id, p.post.account_id, 0, 0, 0,
                                  at, None, None))
                # The item is the one the plan names, whatever id its page gives itself.
                seen[(p.platform, p.post_id)] = (replace(p.post, post_id=p.post_id), at, None)
        with self.db.atomic():
            self.db["probes"].insert_all(rows)
            if sightings:
                self.db.conn.executemany(
                    """INSERT INTO sightings (crawl_id, platform, post_id, account_id, page,
                           position, pinned, seen_at, page_id, via_post_id)
                       VALUES (?,?,?,?,?,?,?,?,?,?)""", sightings)
                self._upsert_posts(crawl_id, seen, {})

    def record_long_texts(self, crawl_id: int, fetches: Iterable[LongTextObservation]) -> None:
        """Store whole-text fetches; a successful one completes the post's current version."""
        rows = [{
            "crawl_id": crawl_id, "platform": f.platform, "post_id": f.post_id, "url": f.url,
            "fetched_at": iso(f.fetched_at), "http_status": f.http_status, "outcome": f.outcome,
            "failure": f.failure, "text": f.text,
            "warc_file": f.evidence.file if f.evidence else None,
            "warc_offset": f.evidence.offset if f.evidence else None,
            "warc_record_id": f.evidence.record_id if f.evidence else None,
        } for f in fetches]
        with self.db.atomic():
            self.db["long_texts"].insert_all(rows)
            for row in rows:
                if row["outcome"] == "ok":
                    self.db.execute(
                        "UPDATE posts SET full_text = ?, text_complete = 1 "
                        "WHERE platform = ? AND post_id = ?",
                        [row["text"], row["platform"], row["post_id"]])
                else:
                    # The truncation is recorded: the whole text of this version was not had.
                    self.db.execute(
                        "UPDATE posts SET text_complete = 0 WHERE platform = ? AND post_id = ? "
                        "AND text_complete IS NULL", [row["platform"], row["post_id"]])

    def record_failures(self, crawl_id: int, failed: Iterable[FetchFailure]) -> None:
        rows = [{
            "crawl_id": crawl_id, "platform": f.platform, "url": f.url, "failure": f.failure,
            "http_status": f.http_status, "detail": f.detail, "at": iso(f.at),
        } for f in failed]
        with self.db.atomic():
            self.db["fetch_failures"].insert_all(rows)

    def record_cooldown(self, crawl_id: int, platform: str, host: str, session: str,
                        cause: str, started_at: datetime, until: datetime) -> None:
        """One cool-down of a host (crawlers/cooldown.py); `session` is a label, never a
        cookie value. Call it inside `write`."""
        self.db["cooldowns"].insert({
            "crawl_id": crawl_id, "platform": platform, "host": host, "session": session,
            "cause": cause, "started_at": iso(started_at), "until": iso(until)})

    # --- reads ------------------------------------------------------------------------------

    def open_candidates(self, platform: str) -> list[dict[str, Any]]:
        """Posts waiting for a probe, oldest first."""
        return list(self.db.query(
            "SELECT id, post_id, account_id FROM candidates WHERE platform = ? AND status = 'open'"
            " ORDER BY id", [platform]))

    def due_reprobes(self, platform: str, at: datetime) -> list[dict[str, Any]]:
        """Removals the re-probe policy wants looked at again by `at`."""
        return list(self.db.query(
            """SELECT post_id, account_id, next_probe_purpose AS purpose FROM removals
               WHERE platform = ? AND restored_at IS NULL AND next_probe_at <= ?
               ORDER BY next_probe_at""", [platform, iso(at)]))

    def long_texts_needed(self, platform: str, max_attempts: int = 3) -> list[dict[str, Any]]:
        """Live long posts whose current version's whole text is not had yet."""
        return list(self.db.query(
            """SELECT p.post_id FROM posts p
               WHERE p.platform = ? AND p.is_long_text = 1 AND COALESCE(p.text_complete, 0) = 0
                 AND (SELECT COUNT(*) FROM long_texts l WHERE l.platform = p.platform
                      AND l.post_id = p.post_id) < ?
                 AND NOT EXISTS (SELECT 1 FROM candidates c WHERE c.platform = p.platform
                                 AND c.post_id = p.post_id AND c.status = 'open')
                 AND NOT EXISTS (SELECT 1 FROM removals r WHERE r.platform = p.platform
                                 AND r.post_id = p.post_id AND r.restored_at IS NULL)
               ORDER BY p.post_id""", [platform, max_attempts]))

    def item_facts(self, platform: str, post_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """What a probe schedule needs about watched items, by post_id: `born` (created_at, else
        first sighting; None for an item never seen), `last_probe` (the last probe that got an
        answer: a failed one is nothing), `account_id`, and `busy` (a candidate open or a removal
        active: the re-probe policy asks about it, not the schedule)."""
        facts: dict[str, dict[str, Any]] = {
            i: {"born": None, "last_probe": None, "account_id": None, "busy": False}
            for i in dict.fromkeys(post_ids)}
        ids = list(facts)
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                    f"SELECT post_id, COALESCE(created_at, first_seen_at), account_id FROM posts "
                    f"WHERE platform = ? AND post_id IN ({marks})", [platform, *chunk]):
                facts[row[0]].update(born=row[1], account_id=row[2])
            for row in self.db.execute(
                    f"SELECT post_id, MAX(requested_at) FROM probes WHERE platform = ? AND "
                    f"post_id IN ({marks}) AND outcome != 'failed' GROUP BY post_id",
                    [platform, *chunk]):
                facts[row[0]]["last_probe"] = row[1]
            for row in self.db.execute(
                    f"SELECT post_id FROM candidates WHERE platform = ? AND status = 'open' AND "
                    f"post_id IN ({marks}) UNION SELECT post_id FROM removals WHERE platform = ? "
                    f"AND restored_at IS NULL AND post_id IN ({marks})",
                    [platform, *chunk, platform, *chunk]):
                facts[row[0]]["busy"] = True
        return facts
