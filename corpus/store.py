"""The corpus store: one SQLite database in the researcher's data directory.

Observations are appended (sightings, pages, probes, failures); `posts` and `accounts` hold the
latest known state. Writes go in one transaction per batch: sqlite-utils inserts are ~4x faster
that way, and a crash loses at most the batch in flight, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from .clock import iso, now
from .provenance import software_version
from .schema import migrate

DB_NAME = "corpus.db"


class CorpusError(Exception):
    """The corpus cannot be opened or written; the message names the path and the fix."""


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
    posts: tuple[Any, ...]         # crawlers.platforms.PostRecord
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
    purpose: str = "classify"      # classify | confirm | recheck
    evidence: WarcRef | None = None


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


def _created_interval(post: Any) -> tuple[str | None, str | None]:
    """(earliest, latest) possible creation time as stored; a platform adapter that gives only
    `created_at` gives a point."""
    interval = getattr(post, "created_interval", None)
    if interval is not None:
        return iso(interval[0]), iso(interval[1])
    created = iso(post.created_at) if post.created_at else None
    return created, created


def content_hash(fields: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a post's versioned fields (as git-history does)."""
    return hashlib.sha256(_CANONICAL.encode(fields).encode("utf-8")).hexdigest()


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
        self.db = sqlite_utils.Database(self.path)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA foreign_keys = ON")
        try:
            migrate(self.db)
        except RuntimeError as exc:   # made by a newer memoryhole
            self.db.close()
            raise CorpusError(f"{self.path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    # --- crawls -----------------------------------------------------------------------------

    def start_crawl(self, kind: str, platform: str, plan: dict[str, Any],
                    plan_name: str | None = None, plan_path: str | None = None,
                    base_url: str | None = None) -> int:
        with self.db.atomic():
            cursor = self.db.execute(
                "INSERT INTO crawls (kind, platform, plan_name, plan_path, plan_json, "
                "software_version, base_url, started_at, status) VALUES (?,?,?,?,?,?,?,?,?)",
                [kind, platform, plan_name, plan_path,
                 json.dumps(plan, ensure_ascii=False, sort_keys=True), software_version(),
                 base_url, iso(now()), "running"],
            )
        return int(cursor.lastrowid)

    def finish_crawl(self, crawl_id: int, status: str, stats: dict[str, Any]) -> None:
        with self.db.atomic():
            self.db.execute(
                "UPDATE crawls SET ended_at = ?, status = ?, stats_json = ? WHERE id = ?",
                [iso(now()), status, json.dumps(stats, default=str, sort_keys=True), crawl_id],
            )

    # --- observations -----------------------------------------------------------------------

    def record_pages(self, crawl_id: int, pages: Iterable[PageObservation]) -> None:
        """Store page fetches, their sightings (reposted originals included), tombstones, and
        the latest state of posts and accounts; a post whose content changed gets a version."""
        pages = list(pages)
        seen: dict[tuple[str, str], tuple[Any, str, int]] = {}   # post -> (record, seen_at, page)
        # The watchlist the plan watched each account under (the first one, if several).
        watched: dict[tuple[str, str], str] = {}
        sightings, tombstones = [], []
        with self.db.atomic():
            conn = self.db.conn
            for obs in pages:
                unpinned = [p.order_key for p in obs.posts if not p.pinned]
                ev = obs.evidence
                page_id = conn.execute(
                    """INSERT INTO pages (crawl_id, platform, account_id, watchlist, page, url,
                           requested_at, fetched_at, http_status, outcome, failure, n_posts,
                           newest_key, oldest_key, cursor, next_cursor, account_check,
                           account_state, account_message, warc_file, warc_offset,
                           warc_record_id)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                    [crawl_id, obs.platform, obs.account_id, obs.watchlist, obs.page, obs.url,
                     iso(obs.requested_at), iso(obs.fetched_at), obs.http_status, obs.outcome,
                     obs.failure, len(obs.posts), max(unpinned) if unpinned else None,
                     min(unpinned) if unpinned else None, obs.cursor, obs.next_cursor,
                     obs.account_check, obs.account_state, obs.account_message,
                     ev.file if ev else None, ev.offset if ev else None,
                     ev.record_id if ev else None],
                ).lastrowid
                if obs.watchlist is not None:
                    watched.setdefault((obs.platform, obs.account_id), obs.watchlist)
                seen_at = iso(obs.requested_at)
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
        # post -> (rowid, content_hash, version, created_at is null)
        known: dict[tuple[str, str], tuple[int, str | None, int | None, int]] = {}
        ids_of: dict[str, list[str]] = {}
        for platform, post_id in seen:
            ids_of.setdefault(platform, []).append(post_id)
        for platform, ids in ids_of.items():
            # One primary-key probe per id: `post_id IN (...)` (an OR of pairs plans slower).
            for i in range(0, len(ids), 900):
                chunk = ids[i:i + 900]
                for row in conn.execute(
                        f"SELECT post_id, rowid, content_hash, version, created_at IS NULL "
                        f"FROM posts "
                        f"WHERE platform = ? AND post_id IN ({','.join('?' * len(chunk))})",
                        [platform, *chunk]):
                    known[(platform, row[0])] = row[1:]
        post_rows, updates, versions, events, accounts = [], [], [], [], {}
        for key, (post, seen_at, page_id) in seen.items():
            fields = post.versioned()
            digest = content_hash(fields)
            previous = known.get(key)
            version = previous[2] if previous else None
            if previous is None or (previous[1] is not None and previous[1] != digest):
                before = {}
                if previous is not None:   # an edit (rare): what it changed
                    before = dict(zip(("text", "edit_count"), conn.execute(
                        "SELECT text, edit_count FROM posts WHERE rowid = ?",
                        [previous[0]]).fetchone(), strict=True))
                changed = {k: v for k, v in fields.items() if before.get(k, object()) != v}
                version = (version or 0) + 1
                versions.append((post.platform, post.post_id, version, digest,
                                 _CHANGED.encode(changed), seen_at, crawl_id, page_id))
            accounts[(post.platform, post.account_id)] = (
                post.platform, post.account_id, post.screen_name, seen_at,
                watched.get((post.platform, post.account_id)))
            if previous is not None:
                # A known post: the upsert's DO UPDATE below, as an UPDATE by rowid (no insert
                # attempt, no second primary-key search). created_at is COALESCEd, so it is
                # formatted only when the stored one is missing.
                updates.append((
                    previous[0], post.text, int(post.is_long_text), post.edit_count, version,
                    digest, None if post.is_long_text else 1,
                    post.repost_of.post_id if post.repost_of else (
                        post.original_tombstone.post_id if post.original_tombstone else None),
                    iso(post.created_at) if previous[3] and post.created_at else None,
                    seen_at, crawl_id, *(_created_interval(post) if previous[3] else (None, None))))
                continue
            events.append((post.platform, post.post_id, "first_seen", None, seen_at, crawl_id))
            # Positional rows (?NNN below): binding by name costs a dict per row and a lookup
            # per column.
            post_rows.append((
                post.platform, post.post_id, post.account_id, post.order_key, post.bid,
                post.url, iso(post.created_at) if post.created_at else None, post.text,
                int(post.is_long_text), post.source, seen_at, crawl_id,
                post.repost_of.post_id if post.repost_of else (
                    post.original_tombstone.post_id if post.original_tombstone else None),
                post.edit_count, version, digest, None if post.is_long_text else 1,
                *_created_interval(post),
            ))
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
                   last_seen_crawl_id = MAX(last_seen_crawl_id, ?11)
               WHERE rowid = ?1""", updates)
        conn.executemany(
            """INSERT INTO posts (platform, post_id, account_id, order_key, bid, url,
                   created_at, text, is_long_text, source, first_seen_at, last_seen_at,
                   last_seen_crawl_id, repost_of, edit_count, version, content_hash,
                   text_complete, created_earliest, created_latest)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14, ?15,
                       ?16, ?17, ?18, ?19)
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

    def record_probes(self, crawl_id: int, probes: Iterable[ProbeObservation]) -> None:
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
        with self.db.atomic():
            self.db["probes"].insert_all(rows)

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
