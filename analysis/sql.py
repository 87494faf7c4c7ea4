"""SQL helpers shared by the analysis steps: exact durations from the corpus's time text.

Times in the corpus are UTC ISO 8601 text with microseconds and `Z` (memoryhole.corpus.clock). SQLite's
julianday() parses that form but keeps only milliseconds, so durations are computed exactly from
the text (whole seconds via strftime('%s'), microseconds from the fraction) and fall back to
julianday() for any time not in the corpus form.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

import sqlite_utils

# The corpus form, e.g. 2024-05-01T12:00:00.000000Z (memoryhole.corpus.clock.iso).
_CORPUS_TIME_GLOB = (
    "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]."
    "[0-9][0-9][0-9][0-9][0-9][0-9]Z"
)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: the caller's when one is open (it commits), else BEGIN IMMEDIATE
    here, committed at the end and rolled back on any error."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [name]).fetchone() is not None


def has_full_text(conn: sqlite3.Connection) -> bool:
    """Whether posts has `full_text` (a corpus from before long texts has `text` only)."""
    return "full_text" in {r[1] for r in conn.execute("PRAGMA table_info(posts)")}


def post_text_sql(conn: sqlite3.Connection, row: str = "") -> str:
    """SQL for a post's whole text (the full text when fetched, else the listing's), of the
    posts row named `row` (an alias, OLD or NEW; none: the table's own columns)."""
    prefix = f"{row}." if row else ""
    if has_full_text(conn):
        return f"COALESCE({prefix}full_text, {prefix}text)"
    return f"{prefix}text"


def progress(total: int, desc: str, unit: str = "post"):
    """A progress bar of `total` on a terminal for long work (from 50,000); otherwise a
    stand-in with the same update(), and tqdm is not even imported."""
    if not sys.stderr.isatty() or total < 50_000:
        return contextlib.nullcontext(_NoBar())
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, leave=False)


class _NoBar:
    def update(self, n: int) -> None:
        pass


def quote(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def epoch_microseconds_sql(column: str) -> str:
    """SQL for the integer microseconds since 1970 of an ISO time column (NULL stays NULL).

    Exact for the corpus form; other ISO forms go through julianday() (millisecond precision).
    """
    return (
        f"(CASE WHEN {column} GLOB '{_CORPUS_TIME_GLOB}' "
        f"THEN CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) * 1000000 "
        f"+ CAST(substr({column}, 21, 6) AS INTEGER) "
        f"ELSE CAST(round((julianday({column}) - 2440587.5) * 86400000.0) AS INTEGER) * 1000 END)"
    )


def seconds_between_sql(start: str, end: str) -> str:
    """SQL for the seconds (REAL) from `start` to `end`; NULL if either is NULL or unparseable."""
    return f"(({epoch_microseconds_sql(end)} - {epoch_microseconds_sql(start)}) / 1000000.0)"


def week_start_sql(column: str) -> str:
    """SQL for the Monday (UTC date) of the week holding an ISO time."""
    return f"date({column}, '-6 days', 'weekday 1')"


def iter_chunks(db: sqlite_utils.Database, sql: str, params: Any = (),
                size: int = 50_000) -> Iterator[list[tuple]]:
    """Rows of a query in lists of `size`: the corpus never has to fit in memory."""
    cursor = db.conn.execute(sql, params)
    while rows := cursor.fetchmany(size):
        yield rows


def replace_table(db: sqlite_utils.Database, name: str, create_sql: str) -> None:
    """Drop `name` if it exists and create it again (inside the caller's transaction)."""
    db.execute(f"DROP TABLE IF EXISTS {quote(name)}")
    db.execute(create_sql)


def count_rows(db: sqlite_utils.Database, name: str) -> int:
    return db.execute(f"SELECT COUNT(*) FROM {quote(name)}").fetchone()[0]
