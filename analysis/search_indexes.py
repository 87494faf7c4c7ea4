"""Bring every search index over posts up to date in one pass: the Chinese full-text index
(memoryhole.analysis.fts) and the substring index (memoryhole.analysis.substring).

Both read only the posts changed since the last update (memoryhole.analysis.post_changes);
when those cannot be known, fts compares every post's text with its index and the substring
index is built anew. `memoryhole serve` (publish.prepare) and `memoryhole release` call this.
"""

from __future__ import annotations

import sqlite3

from . import fts, post_changes, substring
from .segmentation import Segmenter
from .sql import transaction


def update_indexes(conn: sqlite3.Connection, segmenter: Segmenter | None = None
                   ) -> dict[str, int]:
    """Update both indexes and the change mark in one transaction (the caller's, if open);
    return fts.update_index()'s counts plus the substring index's and `checked_all` (1 when the
    changes were not known and every post was read)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'posts'"
                    ).fetchone() is None:
        return {}
    with transaction(conn):
        changes = post_changes.pending(conn)
        counts = fts.update_index(conn, segmenter, changes)
        counts.update(substring.update_index(conn, changes))
        counts["checked_all"] = int(changes is None)
        post_changes.mark_current(conn)
    return counts
