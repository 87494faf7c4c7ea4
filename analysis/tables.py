"""The base derived tables, and `analyze`, the one entry point of the analysis.

`analyze(db, data_dir)` runs every analysis step (memoryhole.analysis.pipeline.run): these base tables,
rates, survival, keywords, bursts, accounts and figures. The base tables here (removals per day,
per-account removal counts with their explicit denominator, time to removal as an interval
[min_seconds, max_seconds]) aggregate in SQL so the corpus never has to fit in memory. Each
step replaces its tables in one transaction (a reader sees the old version or the new one,
never half), and each run appends one row to `analysis_runs` saying when, with what software,
and how many rows.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import sqlite_utils
from memoryhole.corpus.clock import iso, now
from memoryhole.corpus.provenance import software_version
from memoryhole.corpus.reasons import REASONS

from .outcomes import created_resolution_sql, load_created_at_resolution
from .sql import epoch_microseconds_sql, seconds_between_sql
from .sql import quote as _quote

if TYPE_CHECKING:
    from .pipeline import AnalysisConfig

__all__ = ["BASE_TABLES", "DERIVED_TABLES", "RUNS_TABLE", "analyze", "build_base_tables",
           "epoch_microseconds_sql", "log_run", "seconds_between_sql"]

BASE_TABLES: tuple[str, ...] = ("removals_by_day", "account_removal_rates", "time_to_removal")
# Every table an analysis run writes (post_tokens is kept and updated incrementally).
DERIVED_TABLES: tuple[str, ...] = (
    *BASE_TABLES, "removal_rates", "survival_estimates", "survival_curves",
    "survival_by_group", "survival_differences", "measurement_delays", "sensitivity",
    "post_tokens",
    "term_stats", "term_stats_by_period", "removal_periods", "removal_bursts",
    "topic_volume_bursts", "account_sanctions", "account_rankings", "removal_model", "figures",
)
RUNS_TABLE = "analysis_runs"
#: Deadlines for "removed within" per removal (label, seconds).
WITHIN: tuple[tuple[str, int], ...] = (("5m", 300), ("30m", 1800), ("1h", 3600), ("24h", 86400))


def _removals_by_day(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE removals_by_day (
            day TEXT,                        -- UTC date of first_missing_at (interval upper bound)
            platform TEXT NOT NULL,
            reason TEXT NOT NULL,
            removals INTEGER NOT NULL,       -- removals not (yet) restored
            restored INTEGER NOT NULL,       -- removals later seen again
            PRIMARY KEY (day, platform, reason)
        )""")
    db.execute("""
        INSERT INTO removals_by_day (day, platform, reason, removals, restored)
        SELECT date(first_missing_at) AS day, platform, reason,
               SUM(restored_at IS NULL), SUM(restored_at IS NOT NULL)
        FROM removals
        GROUP BY day, platform, reason
        ORDER BY day, platform, reason""")


def _account_removal_rates(db: sqlite_utils.Database) -> None:
    reason_defs = "".join(f"            {_quote(r)} INTEGER NOT NULL,\n" for r in REASONS)
    db.execute(f"""
        CREATE TABLE account_removal_rates (
            platform TEXT NOT NULL,
            account_id TEXT NOT NULL,
            screen_name TEXT,
            posts_observed INTEGER NOT NULL, -- posts ever sighted (distinct): the denominator
            removals INTEGER NOT NULL,       -- distinct posts removed (active or restored)
{reason_defs}            removal_rate REAL,               -- removals / posts_observed; NULL if 0
            PRIMARY KEY (platform, account_id)
        )""")
    reason_counts = "".join(
        f",\n                   COUNT(DISTINCT CASE WHEN reason = '{r}' THEN post_id END) AS {_quote(r)}"
        for r in REASONS
    )
    reason_cols = "".join(f", COALESCE(r.{_quote(x)}, 0)" for x in REASONS)
    db.execute(f"""
        WITH observed AS (
            -- posts has one row per (platform, post_id); counting those with a sighting walks
            -- two indexes instead of sorting every sighting (20x faster on 3M sightings).
            SELECT p.platform, p.account_id, COUNT(*) AS posts_observed
            FROM posts AS p
            WHERE EXISTS (SELECT 1 FROM sightings AS s
                          WHERE s.platform = p.platform AND s.post_id = p.post_id)
            GROUP BY p.platform, p.account_id
        ), removed AS (
            SELECT platform, account_id, COUNT(DISTINCT post_id) AS removals{reason_counts}
            FROM removals GROUP BY platform, account_id
        ), keys AS (
            SELECT platform, account_id FROM accounts
            UNION SELECT platform, account_id FROM observed
            UNION SELECT platform, account_id FROM removed
        )
        INSERT INTO account_removal_rates
        SELECT k.platform, k.account_id, a.screen_name,
               COALESCE(o.posts_observed, 0), COALESCE(r.removals, 0){reason_cols},
               CASE WHEN o.posts_observed > 0
                    THEN CAST(COALESCE(r.removals, 0) AS REAL) / o.posts_observed END
        FROM keys AS k
        LEFT JOIN accounts AS a ON a.platform = k.platform AND a.account_id = k.account_id
        LEFT JOIN observed AS o ON o.platform = k.platform AND o.account_id = k.account_id
        LEFT JOIN removed AS r ON r.platform = k.platform AND r.account_id = k.account_id
        ORDER BY k.platform, k.account_id""")


def _time_to_removal(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE time_to_removal (
            removal_id INTEGER PRIMARY KEY,  -- removals.id
            platform TEXT NOT NULL,
            post_id TEXT NOT NULL,
            account_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT,                 -- posts.created_at; NULL when unknown
            last_seen_at TEXT,               -- NULL: never seen intact (known from a tombstone)
            first_missing_at TEXT NOT NULL,
            restored_at TEXT,
            min_seconds REAL,                -- latest creation -> last_seen_at: lower bound
            max_seconds REAL,                -- earliest creation -> first_missing_at: upper bound
            created_at_resolution_seconds REAL,  -- latest - earliest possible creation time
            -- removed_within_<D>: 1 surely within D of creation, 0 surely not, NULL undetermined
            {within_defs}
        )""".format(within_defs=", ".join(f"removed_within_{label} INTEGER" for label, _ in WITHIN)))
    load_created_at_resolution(db)
    # Creation lies in [created_earliest, created_latest] (posts without them: created_at as
    # the latest, the resolution by age before it; see memoryhole.analysis.outcomes).
    resolution = created_resolution_sql(
        "r.platform", seconds_between_sql("p.created_at", "p.first_seen_at"))
    latest = "COALESCE(p.created_latest, p.created_at)"
    earliest_us = (f"(CASE WHEN p.created_earliest IS NOT NULL "
                   f"THEN {epoch_microseconds_sql('p.created_earliest')} "
                   f"ELSE {epoch_microseconds_sql('p.created_at')} "
                   f"- CAST({resolution} * 1000000 AS INTEGER) END)")
    # Removed within D: surely (upper bound <= D), surely not (lower bound > D), or
    # undetermined (NULL) when D falls inside the interval.
    within = "".join(
        f",\n               CASE WHEN max_s <= {seconds} THEN 1 "
        f"WHEN min_s > {seconds} THEN 0 END" for _, seconds in WITHIN)
    db.execute(f"""
        INSERT INTO time_to_removal
        SELECT id, platform, post_id, account_id, reason, created_at, last_seen_at,
               first_missing_at, restored_at, min_s, max_s, res{within}
        FROM (SELECT r.id, r.platform, r.post_id, r.account_id, r.reason, p.created_at,
                     r.last_seen_at, r.first_missing_at, r.restored_at,
                     {seconds_between_sql(latest, "r.last_seen_at")} AS min_s,
                     ({epoch_microseconds_sql("r.first_missing_at")} - {earliest_us}) / 1000000.0
                         AS max_s,
                     CASE WHEN p.created_at IS NOT NULL
                          THEN ({epoch_microseconds_sql(latest)} - {earliest_us}) / 1000000.0
                     END AS res
              FROM removals AS r
              LEFT JOIN posts AS p ON p.platform = r.platform AND p.post_id = r.post_id)
        ORDER BY id""")


_BUILDERS = {
    "removals_by_day": _removals_by_day,
    "account_removal_rates": _account_removal_rates,
    "time_to_removal": _time_to_removal,
}


def build_base_tables(db: sqlite_utils.Database) -> dict[str, int]:
    """Replace the base tables in one transaction; return their row counts."""
    counts: dict[str, int] = {}
    with db.atomic():
        for name in BASE_TABLES:
            db.execute(f"DROP TABLE IF EXISTS {_quote(name)}")
            _BUILDERS[name](db)
            counts[name] = db.execute(f"SELECT COUNT(*) FROM {_quote(name)}").fetchone()[0]
    return counts


#: Libraries whose version can change an analysis table.
LIBRARIES = ("numpy", "scipy", "pandas", "matplotlib", "jieba", "mplfonts")
#: Crawl tables whose content the corpus fingerprint summarises.
FINGERPRINT_TABLES = ("crawls", "posts", "sightings", "candidates", "probes", "removals")


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"sqlite": sqlite3.sqlite_version}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def corpus_fingerprint(db: sqlite_utils.Database) -> str:
    """A hash of each crawl table's row count and largest rowid, and of every removal's id,
    reason and interval: a table in a paper names the corpus state it came from."""
    digest = hashlib.sha256()
    for table in FINGERPRINT_TABLES:
        digest.update(repr(db.execute(
            f"SELECT COUNT(*), MAX(rowid) FROM {_quote(table)}").fetchone()).encode())
    for row in db.execute("SELECT id, post_id, reason, last_seen_at, first_missing_at, "
                          "restored_at FROM removals ORDER BY id"):
        digest.update(repr(row).encode("utf-8"))
    return digest.hexdigest()


def log_run(db: sqlite_utils.Database, counts: dict[str, int],
            provenance: dict | None = None) -> None:
    """Append one row to analysis_runs: when, which software and libraries, the settings
    (seeds and the term dictionary's hash included), the corpus fingerprint, rows per table."""
    with db.atomic():
        db.execute(f"""
            CREATE TABLE IF NOT EXISTS {RUNS_TABLE} (
                id INTEGER PRIMARY KEY,
                ran_at TEXT NOT NULL,
                software_version TEXT NOT NULL,
                row_counts TEXT NOT NULL     -- JSON: {{table: rows}}
            )""")
        columns = db[RUNS_TABLE].columns_dict
        for column in ("settings", "libraries", "corpus_fingerprint"):
            if column not in columns:   # analysis_runs of an earlier release
                db.execute(f"ALTER TABLE {RUNS_TABLE} ADD COLUMN {column} TEXT")
        db.execute(
            f"INSERT INTO {RUNS_TABLE} (ran_at, software_version, row_counts, settings, "
            f"libraries, corpus_fingerprint) VALUES (?, ?, ?, ?, ?, ?)",
            [iso(now()), software_version(), json.dumps(counts, sort_keys=True),
             json.dumps(provenance or {}, sort_keys=True, ensure_ascii=False, default=str),
             json.dumps(library_versions(), sort_keys=True), corpus_fingerprint(db)],
        )


def analyze(db: sqlite_utils.Database, data_dir: str | Path | None = None,
            config: AnalysisConfig | None = None) -> dict[str, int]:
    """Run the whole analysis on `db` (a migrated corpus); return the row counts per table.

    Figures are written to DATA/figures/ when `data_dir` is given (see memoryhole.analysis.pipeline.run).
    """
    from .pipeline import run

    return run(db, data_dir, config)
