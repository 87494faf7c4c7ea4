"""Chinese full-text search over posts: jieba segments, SQLite FTS5 indexes.

SQLite's tokenizers cannot split Chinese into words, so the words are made before indexing:
each post's text is segmented with the analysis's segmenter (memoryhole.analysis.segmentation:
jieba with the user dictionary of sensitive terms) and its words, joined with spaces, are what
FTS5's unicode61 tokenizer indexes. A query is segmented the same way (`fts_query()`, which
Datasette gets as the SQL function `jieba_query()` and in place of its `escape_fts()`), so
`高校食堂` finds posts containing both 高校 and 食堂, wherever they stand.

One segmentation per post version, shared with the analysis: a post whose `post_tokens` row (the
analysis's) was made from the same text by the same segmenter is indexed from those tokens, and
a post the index segments first gets its `post_tokens` row written when that table exists, so
`memoryhole analyze` does not segment it again. The dictionaries agree when both use the default
(DATA/sensitive_terms.txt, else the shipped list); an analysis run with other `--terms` keeps its
own tokens.

Tables (`update_index()` creates them):
- `posts_fts`: FTS5 over the column `text` with `content="posts"` (so Datasette offers search on
  the posts table). The index holds the words; reading a row gives the post's own text. Never
  run FTS5's 'rebuild' on it: that would index unsegmented text. `update_index()` keeps it.
- `posts_fts_state`: per post, the rowid indexed, the hash of the text indexed (the hash
  `post_tokens` uses) and its words. A post whose text has not changed is never segmented
  again; a post whose rowid moved (VACUUM renumbers rowids) is re-indexed from its stored words.
- `posts_fts_segmenter`: the segmenter the index was built with (identity, user dictionary), which
  query segmentation must use too; a different segmenter rebuilds the index once.
- `posts_fts_terms`: an fts5vocab table ('instance') over the index, for per-term counts.

`memoryhole serve` brings the index up to date before it starts Datasette; `memoryhole release`
builds it in the release from the release's own (de-identified) text. Both go through
memoryhole.analysis.search_indexes, which hands `update_index()` the posts changed since the last
update (memoryhole.analysis.post_changes) so an unchanged corpus is not read at all.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from functools import lru_cache

from .post_changes import Changes
from .segmentation import TABLE as TOKENS_TABLE
from .segmentation import Segmenter, default_term_files, text_hash
from .sql import post_text_sql, progress, table_exists, transaction

FTS_TABLE = "posts_fts"
STATE_TABLE = "posts_fts_state"
CONFIG_TABLE = "posts_fts_segmenter"   # (posts_fts_config is FTS5's own)
TERMS_TABLE = "posts_fts_terms"
INDEX_TABLES = (TERMS_TABLE, FTS_TABLE, STATE_TABLE, CONFIG_TABLE)   # in the order to drop
BATCH = 5_000

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ESCAPE_FTS = re.compile(r'\s+|(".*?")')
#: An index built before posts_fts_segmenter existed was segmented by jieba without a dictionary.
PLAIN_JIEBA = Segmenter(terms=())


def default_segmenter(data_dir=None) -> Segmenter:
    """The segmenter `memoryhole analyze` uses by default on DATA (so their tokens agree)."""
    return Segmenter.from_files(default_term_files(data_dir))


def stored_segmenter(conn: sqlite3.Connection) -> Segmenter | None:
    """The segmenter the index in `conn` was built with; None when there is no index."""
    try:
        rows = dict(conn.execute(f"SELECT key, value FROM {CONFIG_TABLE}").fetchall())
    except sqlite3.Error:
        has_index = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                                 [FTS_TABLE]).fetchone()
        return PLAIN_JIEBA if has_index else None
    terms = tuple((term, freq) for term, freq in json.loads(rows.get("terms", "[]")))
    return Segmenter(terms=terms, hmm=rows.get("hmm", "1") == "1")


def words(text: str | None, segmenter: Segmenter = PLAIN_JIEBA) -> list[str]:
    """The segmenter's words of `text` that carry a letter, digit or ideograph."""
    return segmenter.tokens(text)


def segment(text: str | None, segmenter: Segmenter = PLAIN_JIEBA) -> str:
    """The text as FTS5 should index it: the words separated by spaces."""
    return " ".join(segmenter.tokens(text))


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text or ""))


def escape_fts(query: str) -> str:
    """Datasette's escape_fts(): each whitespace-separated term quoted (kept for non-CJK input)."""
    if query.count('"') % 2:
        query += '"'
    bits = [b for b in _ESCAPE_FTS.split(query) if b and b != '""']
    return " ".join(f'"{b}"' if not b.startswith('"') else b for b in bits)


def fts_query(query: str | None, segmenter: Segmenter = PLAIN_JIEBA) -> str:
    """An FTS5 MATCH expression for what a person typed: every word must occur.

    Chinese is segmented like the index (`高校食堂` -> `"高校" "食堂"`); input without Chinese is
    escaped exactly as Datasette escapes it.
    """
    query = query or ""
    if not has_cjk(query):
        return escape_fts(query)
    terms = segmenter.tokens(query.replace('"', " "))
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


def query_function(segmenter: Segmenter) -> Callable[[str | None], str]:
    """fts_query() with `segmenter`, memoised: Datasette calls it once per statement (the rows,
    the count, each facet) with the same query."""
    @lru_cache(maxsize=256)
    def jieba_query(query: str | None) -> str:
        return fts_query(query, segmenter)

    return jieba_query


def create_index_tables(conn: sqlite3.Connection, segmenter: Segmenter) -> None:
    conn.execute(f"""CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
        posts_rowid INTEGER PRIMARY KEY,  -- posts.rowid indexed in posts_fts
        platform TEXT NOT NULL,
        post_id TEXT NOT NULL,
        text_hash TEXT NOT NULL,          -- of the text indexed (post_tokens.text_hash)
        tokens TEXT NOT NULL,             -- the words, space-separated, as indexed
        UNIQUE (platform, post_id))""")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {CONFIG_TABLE} (key TEXT PRIMARY KEY, value TEXT)")
    conn.executemany(f"INSERT OR REPLACE INTO {CONFIG_TABLE} (key, value) VALUES (?, ?)", [
        ("segmenter", segmenter.identity), ("hmm", "1" if segmenter.hmm else "0"),
        ("terms", json.dumps(segmenter.terms, ensure_ascii=False))])
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
                 "text, content=[posts], content_rowid=[rowid], tokenize='unicode61')")
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {TERMS_TABLE} "
                 f"USING fts5vocab({FTS_TABLE}, 'instance')")


def _index_is_current(conn: sqlite3.Connection, segmenter: Segmenter) -> bool:
    """Whether an existing index was built with `segmenter` in this layout (else rebuild)."""
    if not table_exists(conn, FTS_TABLE):
        return True
    columns = {r[1] for r in conn.execute(f"PRAGMA table_info({STATE_TABLE})")}
    if "text_hash" not in columns or not table_exists(conn, CONFIG_TABLE):
        return False
    stored = conn.execute(f"SELECT value FROM {CONFIG_TABLE} WHERE key = 'segmenter'").fetchone()
    return stored is not None and stored[0] == segmenter.identity


def update_index(conn: sqlite3.Connection, segmenter: Segmenter | None = None,
                 changes: Changes | None = None) -> dict[str, int]:
    """Bring posts_fts up to date with posts, in one transaction; return what changed.

    Only new posts and posts whose text changed are segmented, and not even those when
    `post_tokens` holds this segmenter's tokens of their text. `segmenter`: the one the index
    was built with, else default_segmenter(); a different one rebuilds the index. `changes`
    (memoryhole.analysis.post_changes.pending()): only those posts are read; without it every
    post's text is hashed and compared with the index's.
    """
    counts = {"segmented": 0, "shared": 0, "moved": 0, "removed": 0, "unchanged": 0,
              "rebuilt": 0}
    if not table_exists(conn, "posts"):
        return counts
    segmenter = segmenter or stored_segmenter(conn) or default_segmenter()
    with transaction(conn):
        if not _index_is_current(conn, segmenter):
            for table in INDEX_TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            counts["rebuilt"] = 1
        create_index_tables(conn, segmenter)
        if changes is not None and not counts["rebuilt"]:
            _update_changed(conn, segmenter, counts, changes)
        else:
            _update(conn, segmenter, counts)
    return counts


def _posts_select(conn: sqlite3.Connection, where: str, cold: bool = False) -> str:
    """The posts (`where` over p) with what _apply() needs to index them; for a cold build
    (`cold`: no post indexed yet, nothing to look up or drop) what _add() needs."""
    share = table_exists(conn, TOKENS_TABLE)
    shared_cols = ", t.text_hash, t.segmenter, t.tokens" if share else ", NULL, NULL, NULL"
    shared_join = (f"LEFT JOIN {TOKENS_TABLE} AS t ON t.platform = p.platform "
                   "AND t.post_id = p.post_id") if share else ""
    # Per post: its state (s, by key) and the state row already at its rowid (o), which is
    # another post's only when VACUUM renumbered rowids.
    state_cols = "" if cold else ", s.posts_rowid, s.text_hash, o.platform, o.post_id"
    state_join = "" if cold else f"""
        LEFT JOIN {STATE_TABLE} AS s ON s.platform = p.platform AND s.post_id = p.post_id
        LEFT JOIN {STATE_TABLE} AS o ON o.posts_rowid = p.rowid"""
    return f"""
        SELECT p.rowid, p.platform, p.post_id, {post_text_sql(conn, "p")}{state_cols}{shared_cols}
        FROM posts AS p {state_join} {shared_join}
        WHERE {where}"""


def _update_changed(conn: sqlite3.Connection, segmenter: Segmenter, counts: dict[str, int],
                    changes: Changes) -> None:
    """Index the posts `changes` names (logged rowids, rowids above its mark); drop the entries
    of logged rowids that no longer hold a post. Untouched posts are not read."""
    identity = segmenter.identity
    logged = [rowid for rowid in changes.rowids if rowid <= changes.since]   # those above: read below
    select = _posts_select(conn, "p.rowid IN (SELECT value FROM json_each(?)) ORDER BY p.rowid")
    for i in range(0, len(logged), BATCH):
        chunk = logged[i:i + BATCH]
        _apply(conn, conn.execute(select, [json.dumps(chunk)]).fetchall(), segmenter, identity,
               counts)
        # A logged rowid without a post now: a deleted post (or one moved away).
        gone = conn.execute(f"""SELECT s.posts_rowid, s.tokens FROM {STATE_TABLE} AS s
            WHERE s.posts_rowid IN (SELECT value FROM json_each(?))
            AND NOT EXISTS (SELECT 1 FROM posts AS p WHERE p.rowid = s.posts_rowid)""",
                            [json.dumps(chunk)]).fetchall()
        counts["removed"] += len(gone)
        _delete(conn, gone)
    select = _posts_select(conn, "p.rowid > ? ORDER BY p.rowid LIMIT ?")
    last = changes.since
    while True:
        rows = conn.execute(select, [last, BATCH]).fetchall()
        if not rows:
            break
        last = rows[-1][0]
        _apply(conn, rows, segmenter, identity, counts)


def _update(conn: sqlite3.Connection, segmenter: Segmenter, counts: dict[str, int]) -> None:
    identity = segmenter.identity
    # A cold build (no post indexed yet) only adds: no state to look up, nothing to drop.
    cold = conn.execute(f"SELECT 1 FROM {STATE_TABLE} LIMIT 1").fetchone() is None
    select = _posts_select(conn, "p.rowid > ? ORDER BY p.rowid LIMIT ?", cold)
    apply = _add if cold else _apply
    total = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM posts").fetchone()[0]
    posts, last = 0, -1
    with progress(total, "full-text index") as bar:
        while True:
            rows = conn.execute(select, [last, BATCH]).fetchall()
            if not rows:
                break
            bar.update(rows[-1][0] - max(last, 0))
            last = rows[-1][0]
            posts += len(rows)
            apply(conn, rows, segmenter, identity, counts)
    (indexed,) = conn.execute(f"SELECT COUNT(*) FROM {STATE_TABLE}").fetchone()
    if indexed > posts:   # posts deleted since the last update
        gone = conn.execute(f"""SELECT posts_rowid, tokens FROM {STATE_TABLE} AS s WHERE NOT EXISTS
            (SELECT 1 FROM posts AS p WHERE p.platform = s.platform
             AND p.post_id = s.post_id)""").fetchall()
        counts["removed"] += len(gone)
        _delete(conn, gone)


def _apply(conn: sqlite3.Connection, rows: list, segmenter: Segmenter, identity: str,
           counts: dict[str, int]) -> None:
    """Index one batch of posts: drop what is stale, insert what is new or changed."""
    stale: set[int] = set()        # rowids whose index entry must go
    work = []                      # (rowid, platform, post_id, hash, text, old rowid, shared)
    for (rowid, platform, post_id, text, old_rowid, old_hash, o_platform, o_post_id,
         t_hash, t_segmenter, t_tokens) in rows:
        h = text_hash(text)
        if old_rowid == rowid and old_hash == h:
            counts["unchanged"] += 1
            continue
        if old_rowid is not None:
            stale.add(old_rowid)
        if o_platform is not None and (o_platform, o_post_id) != (platform, post_id):
            stale.add(rowid)       # another post's entry from before a VACUUM
        reuse = old_rowid if old_rowid is not None and old_hash == h else None
        shared = t_tokens if t_hash == h and t_segmenter == identity else None
        work.append((rowid, platform, post_id, h, text, reuse, shared))
    if not work:
        return
    old = dict(_rows_by_rowid(conn, sorted(stale)))
    _delete(conn, list(old.items()))
    inserts, fresh = [], []
    for rowid, platform, post_id, h, text, reuse, shared in work:
        if reuse is not None:
            counts["moved"] += 1
            tokens = old[reuse]
        elif shared is not None:
            counts["shared"] += 1
            tokens = shared
        else:
            counts["segmented"] += 1
            tokens = " ".join(segmenter.tokens(text))
            fresh.append((platform, post_id, h, identity, tokens))
        inserts.append((rowid, platform, post_id, h, tokens))
    _insert(conn, inserts, fresh)


def _add(conn: sqlite3.Connection, rows: list, segmenter: Segmenter, identity: str,
         counts: dict[str, int]) -> None:
    """Index one batch of posts of a cold build: each is new and its rowid free."""
    inserts, fresh = [], []
    for rowid, platform, post_id, text, t_hash, t_segmenter, t_tokens in rows:
        h = text_hash(text)
        if t_hash == h and t_segmenter == identity:
            tokens = t_tokens
        else:
            tokens = " ".join(segmenter.tokens(text))
            fresh.append((platform, post_id, h, identity, tokens))
        inserts.append((rowid, platform, post_id, h, tokens))
    counts["segmented"] += len(fresh)
    counts["shared"] += len(inserts) - len(fresh)
    _insert(conn, inserts, fresh)


def _insert(conn: sqlite3.Connection, inserts: list[tuple], fresh: list[tuple]) -> None:
    """Index entries and state rows (rowid, platform, post_id, hash, tokens); post_tokens rows
    for the texts segmented here (`fresh`)."""
    conn.executemany(f"INSERT INTO {STATE_TABLE} (posts_rowid, platform, post_id, text_hash, "
                     "tokens) VALUES (?, ?, ?, ?, ?)", inserts)
    conn.executemany(f"INSERT INTO {FTS_TABLE} (rowid, text) VALUES (?, ?)",
                     [(r[0], r[4]) for r in inserts])
    if fresh and table_exists(conn, TOKENS_TABLE):
        # The analysis's tokens of this text: `memoryhole analyze` will not segment it again.
        conn.executemany(f"INSERT OR REPLACE INTO {TOKENS_TABLE} (platform, post_id, text_hash, "
                         "segmenter, tokens) VALUES (?, ?, ?, ?, ?)", fresh)


def _rows_by_rowid(conn: sqlite3.Connection, rowids: list[int]) -> list[tuple[int, str]]:
    out = []
    for i in range(0, len(rowids), 500):
        chunk = rowids[i:i + 500]
        out += conn.execute(f"SELECT posts_rowid, tokens FROM {STATE_TABLE} WHERE posts_rowid "
                            f"IN ({','.join('?' * len(chunk))})", chunk).fetchall()
    return out


def _delete(conn: sqlite3.Connection, entries: list[tuple[int, str]]) -> None:
    """Remove index entries (rowid, tokens as indexed) and their state rows."""
    conn.executemany(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, text) "
                     "VALUES ('delete', ?, ?)", entries)
    conn.executemany(f"DELETE FROM {STATE_TABLE} WHERE posts_rowid = ?",
                     [(rowid,) for rowid, _ in entries])


def search_rowids(conn: sqlite3.Connection, query: str,
                  segmenter: Segmenter | None = None) -> list[int]:
    """posts.rowid of the posts matching `query` (segmented as the index was), best first."""
    segmenter = segmenter or stored_segmenter(conn) or PLAIN_JIEBA
    return [r[0] for r in conn.execute(
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? ORDER BY rank",
        [fts_query(query, segmenter)])]
