"""The corpus store: one SQLite database in the researcher's data directory.

Observations are appended (sightings, pages, probes, failures); `posts` and `accounts` hold the
latest known state. Writes go in one transaction per batch: sqlite-utils inserts are ~4x faster
that way, and a crash loses at most the batch in flight, never half of one.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class FetchFailure:
    platform: str
    url: str
    failure: str
    http_status: int | None
    detail: str | None
    at: datetime


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
        migrate(self.db)

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
        """Store page fetches, their sightings, and the latest state of posts and accounts."""
        page_rows, sighting_rows, post_rows, account_rows = [], [], {}, {}
        for obs in pages:
            unpinned = [p.order_key for p in obs.posts if not p.pinned]
            page_rows.append({
                "crawl_id": crawl_id, "platform": obs.platform, "account_id": obs.account_id,
                "watchlist": obs.watchlist, "page": obs.page, "url": obs.url,
                "requested_at": iso(obs.requested_at), "fetched_at": iso(obs.fetched_at),
                "http_status": obs.http_status, "outcome": obs.outcome, "failure": obs.failure,
                "n_posts": len(obs.posts),
                "newest_key": max(unpinned) if unpinned else None,
                "oldest_key": min(unpinned) if unpinned else None,
            })
            seen_at = iso(obs.requested_at)
            for position, post in enumerate(obs.posts):
                sighting_rows.append({
                    "crawl_id": crawl_id, "platform": post.platform, "post_id": post.post_id,
                    "account_id": post.account_id, "page": obs.page, "position": position,
                    "pinned": int(post.pinned), "seen_at": seen_at,
                })
                post_rows[(post.platform, post.post_id)] = {
                    "platform": post.platform, "post_id": post.post_id,
                    "account_id": post.account_id, "order_key": post.order_key, "bid": post.bid,
                    "url": post.url,
                    "created_at": iso(post.created_at) if post.created_at else None,
                    "text": post.text, "is_long_text": int(post.is_long_text),
                    "source": post.source, "seen_at": seen_at, "crawl_id": crawl_id,
                }
                account_rows[(post.platform, post.account_id)] = {
                    "platform": post.platform, "account_id": post.account_id,
                    "screen_name": post.screen_name, "watchlist": obs.watchlist,
                    "seen_at": seen_at,
                }
        with self.db.atomic():
            self.db["pages"].insert_all(page_rows)
            self.db["sightings"].insert_all(sighting_rows)
            self.db.conn.executemany(
                """INSERT INTO posts (platform, post_id, account_id, order_key, bid, url,
                       created_at, text, is_long_text, source, first_seen_at, last_seen_at,
                       last_seen_crawl_id)
                   VALUES (:platform, :post_id, :account_id, :order_key, :bid, :url, :created_at,
                       :text, :is_long_text, :source, :seen_at, :seen_at, :crawl_id)
                   ON CONFLICT (platform, post_id) DO UPDATE SET
                       text = excluded.text, is_long_text = excluded.is_long_text,
                       created_at = COALESCE(posts.created_at, excluded.created_at),
                       last_seen_at = MAX(posts.last_seen_at, excluded.last_seen_at),
                       last_seen_crawl_id = MAX(posts.last_seen_crawl_id,
                                                excluded.last_seen_crawl_id)""",
                list(post_rows.values()),
            )
            self.db.conn.executemany(
                """INSERT INTO accounts (platform, account_id, screen_name, watchlist,
                       first_seen_at, last_seen_at)
                   VALUES (:platform, :account_id, :screen_name, :watchlist, :seen_at, :seen_at)
                   ON CONFLICT (platform, account_id) DO UPDATE SET
                       screen_name = COALESCE(excluded.screen_name, accounts.screen_name),
                       last_seen_at = MAX(accounts.last_seen_at, excluded.last_seen_at)""",
                list(account_rows.values()),
            )

    def record_probes(self, crawl_id: int, probes: Iterable[ProbeObservation]) -> None:
        rows = [{
            "crawl_id": crawl_id, "platform": p.platform, "post_id": p.post_id,
            "account_id": p.account_id, "url": p.url, "requested_at": iso(p.requested_at),
            "probed_at": iso(p.probed_at), "http_status": p.http_status, "outcome": p.outcome,
            "reason": p.reason, "message": p.message, "failure": p.failure,
            "response_headers": json.dumps(p.headers, ensure_ascii=False) if p.headers else None,
            "response_body": p.body,
        } for p in probes]
        with self.db.atomic():
            self.db["probes"].insert_all(rows)

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
