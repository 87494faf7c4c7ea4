"""An index for exact substring search over posts (the canned query `posts_mentioning_term`).

`instr(text, term)` over every post reads the whole corpus per request (841 ms p95 at a million
posts). This index answers "which posts may contain the term" without segmentation, for terms of
any length and script, and the query keeps `instr()` on the candidates, so its results are
exactly the scan's:

- Every pair of adjacent characters of a post's text, and its last character followed by an end
  mark, is one token: the code points in hex, `<a>x<b>` (`白纸` -> `767dx7eb8`; the end mark makes
  `7eb8x`). Spelled in hex the tokens are plain ASCII words, so FTS5's `ascii` tokenizer indexes
  them as given, whatever the characters are (punctuation, emoji, quotes, `*`).
- A term of two characters is one token; a longer one is every pair it contains (AND); one
  character is the prefix `<a>x*` (every pair it starts, the end mark included). Chinese terms
  are mostly two characters (白纸), so these are the common case, not the exception.
- The table `posts_substring` is contentless (`content=''`), stores no positions
  (`detail=none`): it holds only which posts carry which pairs (and their sizes, which let a
  page list its rowids).
  Removing a post's entry needs the text it was indexed from: memoryhole.analysis.post_changes
  logs it when a post's text changes.

The canned query (analysis/metadata.yaml) builds the MATCH expression in SQL, as
`match_expression()` does (`printf('%x', unicode(...))` over the term's characters), so it needs
no plugin function. Candidates cost a row fetch each: a term the vocabulary
(`posts_substring_vocab`) says is in more than an eighth of the posts is matched against every
post instead, so no term is slower than the plain scan. `update_index()` keeps the table
current with posts.
"""

from __future__ import annotations

import sqlite3

from .post_changes import Changes
from .sql import post_text_sql, progress, table_exists

TABLE = "posts_substring"
VOCAB_TABLE = "posts_substring_vocab"   # fts5vocab 'row': posts per pair (the query's estimate)
BATCH = 5_000


def pairs(text: str | None) -> str:
    """The tokens of `text`, each distinct pair once, space-separated."""
    if not text:
        return ""
    codes = [format(ord(c), "x") for c in text]
    tokens = {a + "x" + b for a, b in zip(codes, codes[1:], strict=False)}
    tokens.add(codes[-1] + "x")
    return " ".join(tokens)


def match_expression(term: str) -> str | None:
    """The MATCH expression for posts that may contain `term` (None for an empty term)."""
    if not term:
        return None
    codes = [format(ord(c), "x") for c in term]
    if len(codes) == 1:
        return f'"{codes[0]}x"*'
    return " AND ".join(sorted({a + "x" + b for a, b in zip(codes, codes[1:], strict=False)}))


def update_index(conn: sqlite3.Connection, changes: Changes | None) -> dict[str, int]:
    """Bring posts_substring up to date with posts (in the caller's transaction).

    With `changes` only those posts are touched; without, the table is built anew from every
    post (the changes since it was built cannot be known). Returns counts of posts indexed and
    entries removed.
    """
    counts = {"substring_indexed": 0, "substring_removed": 0}
    if changes is None or not table_exists(conn, TABLE):
        conn.execute(f"DROP TABLE IF EXISTS {VOCAB_TABLE}")
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(f"CREATE VIRTUAL TABLE {TABLE} USING fts5(pairs, content='', "
                     "detail=none, tokenize='ascii')")
        changes = Changes(0, {})
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {VOCAB_TABLE} "
                 f"USING fts5vocab({TABLE}, 'row')")
    text = post_text_sql(conn)
    # Entries of logged rowids that the index holds (rowids up to the mark), from the text they
    # were indexed from; then the current text of every logged rowid that holds a post.
    old = [(rowid, pairs(indexed)) for rowid, indexed in changes.logged.items()
           if rowid <= changes.since and indexed]
    conn.executemany(f"INSERT INTO {TABLE} ({TABLE}, rowid, pairs) VALUES ('delete', ?, ?)", old)
    counts["substring_removed"] = len(old)
    logged = [rowid for rowid in changes.rowids if rowid <= changes.since]   # those above: read below
    for i in range(0, len(logged), BATCH):
        chunk = logged[i:i + BATCH]
        rows = conn.execute(f"SELECT rowid, {text} FROM posts WHERE rowid IN "
                            f"({','.join('?' * len(chunk))})", chunk).fetchall()
        _insert(conn, rows, counts)
    last = changes.since
    top = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM posts").fetchone()[0]
    with progress(top - last, "substring index") as bar:
        while True:
            rows = conn.execute(f"SELECT rowid, {text} FROM posts WHERE rowid > ? ORDER BY "
                                "rowid LIMIT ?", [last, BATCH]).fetchall()
            if not rows:
                break
            bar.update(rows[-1][0] - last)
            last = rows[-1][0]
            _insert(conn, rows, counts)
    return counts


def _insert(conn: sqlite3.Connection, rows: list[tuple[int, str | None]],
            counts: dict[str, int]) -> None:
    entries = [(rowid, pairs(text)) for rowid, text in rows if text]
    conn.executemany(f"INSERT INTO {TABLE} (rowid, pairs) VALUES (?, ?)", entries)
    counts["substring_indexed"] += len(entries)
