"""Chinese full-text search over posts: jieba segments, SQLite FTS5 indexes.

SQLite's tokenizers cannot split Chinese into words, so the words are made before indexing:
`segment()` runs jieba over a post's text and joins the words with spaces, and FTS5's unicode61
tokenizer indexes those. A query is segmented the same way (`fts_query()`, which Datasette gets
as the SQL function `jieba_query()` and in place of its `escape_fts()`), so `高校食堂` finds posts
containing both 高校 and 食堂, wherever they stand.

Tables (`update_index()` creates them):
- `posts_fts`: FTS5 over the column `text` with `content="posts"` (so Datasette offers search on
  the posts table). The index holds jieba's words; reading a row gives the post's own text.
  Never run FTS5's 'rebuild' on it: that would index unsegmented text. `update_index()` keeps it.
- `posts_fts_state`: per post, the rowid indexed, the sha256 of the text indexed and its words.
  A post whose text has not changed is never segmented again; a post whose rowid moved (VACUUM
  renumbers rowids) is re-indexed from its stored words.
- `posts_fts_terms`: an fts5vocab table ('instance') over the index, for per-term counts.

`memoryhole serve` brings the index up to date before it starts Datasette; `memoryhole release`
builds it in the release from the release's own (de-identified) text.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from functools import cache

FTS_TABLE = "posts_fts"
STATE_TABLE = "posts_fts_state"
TERMS_TABLE = "posts_fts_terms"
INDEX_TABLES = (FTS_TABLE, STATE_TABLE, TERMS_TABLE)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ESCAPE_FTS = re.compile(r'\s+|(".*?")')


@cache
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words(text: str | None) -> list[str]:
    """jieba's words of `text` that carry a letter, digit or ideograph (no spaces, punctuation)."""
    if not text:
        return []
    return [w for w in (w.strip() for w in _jieba().cut(text)) if any(c.isalnum() for c in w)]


def segment(text: str | None) -> str:
    """The text as FTS5 should index it: jieba's words separated by spaces."""
    return " ".join(words(text))


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text or ""))


def escape_fts(query: str) -> str:
    """Datasette's escape_fts(): each whitespace-separated term quoted (kept for non-CJK input)."""
    if query.count('"') % 2:
        query += '"'
    bits = [b for b in _ESCAPE_FTS.split(query) if b and b != '""']
    return " ".join(f'"{b}"' if not b.startswith('"') else b for b in bits)


def fts_query(query: str | None) -> str:
    """An FTS5 MATCH expression for what a person typed: every word must occur.

    Chinese is segmented with jieba (`高校食堂` -> `"高校" "食堂"`); input without Chinese is
    escaped exactly as Datasette escapes it.
    """
    query = query or ""
    if not has_cjk(query):
        return escape_fts(query)
    terms = words(query.replace('"', " "))
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _text_expression(conn: sqlite3.Connection) -> str:
    columns = {r[1] for r in conn.execute("PRAGMA table_info(posts)")}
    if "full_text" in columns:
        return "COALESCE(p.full_text, p.text)"
    return "p.text"


def _sha(text: str | None) -> str:
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


def create_index_tables(conn: sqlite3.Connection) -> None:
    conn.execute(f"""CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
        posts_rowid INTEGER PRIMARY KEY,  -- posts.rowid indexed in posts_fts
        platform TEXT NOT NULL,
        post_id TEXT NOT NULL,
        text_sha256 TEXT NOT NULL,        -- of the text indexed
        tokens TEXT NOT NULL,             -- jieba's words, space-separated, as indexed
        UNIQUE (platform, post_id))""")
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
                 "text, content=[posts], content_rowid=[rowid], tokenize='unicode61')")
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {TERMS_TABLE} "
                 f"USING fts5vocab({FTS_TABLE}, 'instance')")


def update_index(conn: sqlite3.Connection) -> dict[str, int]:
    """Bring posts_fts up to date with posts, in one transaction; return what changed.

    Only new posts and posts whose text changed are segmented.
    """
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'posts'").fetchone():
        return {"segmented": 0, "moved": 0, "removed": 0, "unchanged": 0}
    counts = {"segmented": 0, "moved": 0, "removed": 0, "unchanged": 0}
    in_transaction = conn.in_transaction
    if not in_transaction:
        conn.execute("BEGIN IMMEDIATE")
    try:
        create_index_tables(conn)
        state = {(r[1], r[2]): (r[0], r[3], r[4]) for r in conn.execute(
            f"SELECT posts_rowid, platform, post_id, text_sha256, tokens FROM {STATE_TABLE}")}
        delete, insert = [], []
        seen: set[tuple[str, str]] = set()
        rows = conn.execute(f"SELECT p.rowid, p.platform, p.post_id, {_text_expression(conn)} "
                            "FROM posts AS p ORDER BY p.rowid")
        for rowid, platform, post_id, text in rows:
            key = (platform, post_id)
            seen.add(key)
            old = state.get(key)
            sha = _sha(text)
            if old is not None and old[1] == sha:
                if old[0] == rowid:
                    counts["unchanged"] += 1
                    continue
                counts["moved"] += 1
                delete.append((old[0], old[2]))
                insert.append((rowid, platform, post_id, sha, old[2]))
                continue
            if old is not None:
                delete.append((old[0], old[2]))
            counts["segmented"] += 1
            insert.append((rowid, platform, post_id, sha, segment(text)))
        for key, (old_rowid, _, tokens) in state.items():
            if key not in seen:
                counts["removed"] += 1
                delete.append((old_rowid, tokens))
        conn.executemany(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, text) "
                         "VALUES ('delete', ?, ?)", delete)
        conn.executemany(f"DELETE FROM {STATE_TABLE} WHERE posts_rowid = ?",
                         [(rowid,) for rowid, _ in delete])
        conn.executemany(f"DELETE FROM {STATE_TABLE} WHERE platform = ? AND post_id = ?",
                         [(p, i) for _, p, i, _, _ in insert])
        conn.executemany(f"INSERT INTO {STATE_TABLE} (posts_rowid, platform, post_id, "
                         "text_sha256, tokens) VALUES (?, ?, ?, ?, ?)", insert)
        conn.executemany(f"INSERT INTO {FTS_TABLE} (rowid, text) VALUES (?, ?)",
                         [(rowid, tokens) for rowid, _, _, _, tokens in insert])
        if not in_transaction:
            conn.execute("COMMIT")
    except BaseException:
        if not in_transaction and conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return counts


def search_rowids(conn: sqlite3.Connection, query: str) -> list[int]:
    """posts.rowid of the posts matching `query` (segmented as fts_query() does), best first."""
    return [r[0] for r in conn.execute(
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? ORDER BY rank",
        [fts_query(query)])]
