"""Which posts changed since the search indexes were last brought up to date.

`memoryhole serve` updates the full-text indexes (memoryhole.analysis.fts, .substring) before
it starts. Checking every post's text against the index costs a read and a hash of every post
(~20 s at a million posts); this module makes the check proportional to what changed:

- `posts_changed`: one row per post rowid whose indexed text may be stale, written by triggers
  on `posts` (an UPDATE that changes the text, the full text, the key or the rowid; a DELETE),
  with the text as it was before its first change since the last update (what the indexes
  hold for that rowid; the substring index needs it to remove its entry).
- `posts_changed_mark`: the highest posts rowid the indexes had seen and that post's key. A new
  post gets a rowid above it (SQLite gives max(rowid) + 1; a rowid freed at the top by a DELETE
  is logged), so new posts need no trigger and the store's inserts pay nothing.

The store (memoryhole.corpus.store) never learns of these: the triggers are installed here, with
the indexes, and an UPDATE that leaves the text alone (a re-sighting) does not fire them.
`pending()` answers None, and the indexes are checked post by post as before, when the changes
cannot be known: no mark yet, the triggers missing (a corpus copied without them), or the post
at the mark is no longer the one recorded (VACUUM renumbered rowids).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from .sql import has_full_text, post_text_sql

LOG_TABLE = "posts_changed"
MARK_TABLE = "posts_changed_mark"
TRIGGERS = ("posts_changed_update", "posts_changed_delete")


@dataclass(frozen=True)
class Changes:
    """Posts changed since the last update: rowids above `since` are new; `logged` maps each
    logged rowid to the text the indexes held for it (None: none held)."""

    since: int
    logged: dict[int, str | None]

    @property
    def rowids(self) -> list[int]:
        return sorted(self.logged)


def install(conn: sqlite3.Connection) -> None:
    """Create the log, the mark and the triggers (idempotent)."""
    old, new = post_text_sql(conn, "OLD"), post_text_sql(conn, "NEW")
    texts = "text, full_text" if has_full_text(conn) else "text"
    conn.execute(f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} ("
                 "posts_rowid INTEGER PRIMARY KEY, indexed_text TEXT)")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {MARK_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), "
                 "max_rowid INTEGER NOT NULL, platform TEXT, post_id TEXT)")
    # OR IGNORE keeps the first text logged since the last update: the one indexed. A moved
    # post's new rowid is logged too (NULL: nothing of it is indexed there yet).
    conn.execute(f"""CREATE TRIGGER IF NOT EXISTS {TRIGGERS[0]}
        AFTER UPDATE OF {texts}, platform, post_id, rowid ON posts
        WHEN {old} IS NOT {new} OR OLD.rowid != NEW.rowid OR OLD.platform != NEW.platform
             OR OLD.post_id != NEW.post_id
        BEGIN
            INSERT OR IGNORE INTO {LOG_TABLE} (posts_rowid, indexed_text) VALUES (OLD.rowid, {old});
            INSERT OR IGNORE INTO {LOG_TABLE} (posts_rowid, indexed_text) VALUES (NEW.rowid, NULL);
        END""")
    conn.execute(f"""CREATE TRIGGER IF NOT EXISTS {TRIGGERS[1]} AFTER DELETE ON posts
        BEGIN
            INSERT OR IGNORE INTO {LOG_TABLE} (posts_rowid, indexed_text) VALUES (OLD.rowid, {old});
        END""")


def pending(conn: sqlite3.Connection) -> Changes | None:
    """The posts changed since `mark_current()`, or None when that cannot be known."""
    names = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE name IN (?, ?, ?, ?)",
        [LOG_TABLE, MARK_TABLE, *TRIGGERS])}
    if names != {LOG_TABLE, MARK_TABLE, *TRIGGERS}:
        return None
    mark = conn.execute(f"SELECT max_rowid, platform, post_id FROM {MARK_TABLE}").fetchone()
    if mark is None:
        return None
    since, platform, post_id = mark
    logged = dict(conn.execute(f"SELECT posts_rowid, indexed_text FROM {LOG_TABLE}").fetchall())
    if since > 0 and since not in logged:
        at_mark = conn.execute("SELECT platform, post_id FROM posts WHERE rowid = ?",
                               [since]).fetchone()
        if at_mark != (platform, post_id):
            return None   # rowids renumbered under the triggers (VACUUM)
    return Changes(since, logged)


def mark_current(conn: sqlite3.Connection) -> None:
    """Record that the indexes now hold every post: empty the log, move the mark."""
    install(conn)
    top = conn.execute("SELECT rowid, platform, post_id FROM posts ORDER BY rowid DESC "
                       "LIMIT 1").fetchone() or (0, None, None)
    conn.execute(f"DELETE FROM {LOG_TABLE}")
    conn.execute(f"INSERT OR REPLACE INTO {MARK_TABLE} (id, max_rowid, platform, post_id) "
                 "VALUES (1, ?, ?, ?)", top)
