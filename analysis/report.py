"""Read-only views of the analysis tables for notebooks and reports (small pandas DataFrames).

Every number here was computed by the analysis steps and stored in the corpus; these functions
only select and label, so a notebook holds no logic of its own.

    from memoryhole.analysis import report
    db = report.open_corpus("data/demo")        # analyses it first if it never was
    report.velocity(db)                         # median and shares removed within 5m ... 24h
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import sqlite_utils
from memoryhole.corpus.store import Corpus

DATA_ENV = "MEMORYHOLE_DATA"


def data_dir(default: str | Path = "../data/demo") -> Path:
    """The corpus to report on: $MEMORYHOLE_DATA, else `default` (the demo's data directory)."""
    path = Path(os.environ.get(DATA_ENV) or default)
    if not (path / "corpus.db").is_file():
        raise FileNotFoundError(
            f"no corpus in {path}: run `make demo ARGS=--no-serve` or set {DATA_ENV}")
    return path


def open_corpus(path: str | Path | None = None) -> sqlite_utils.Database:
    """The corpus database, analysed (`memoryhole analyze`) if it never was."""
    path = Path(path) if path is not None else data_dir()
    corpus = Corpus(path, create=False)
    db = corpus.db
    tables = db.table_names()
    if "survival_estimates" not in tables or "figures" not in tables or not db["figures"].count:
        from .tables import analyze

        analyze(db, path)
    return db


def _frame(db: sqlite_utils.Database, sql: str, params: list | None = None) -> pd.DataFrame:
    return pd.DataFrame(list(db.query(sql, params or [])))


def velocity(db: sqlite_utils.Database, reason: str = "platform_removed",
             scope: str = "removed_posts") -> pd.DataFrame:
    """Median time to removal and shares removed within 5m/30m/1h/24h, with 95% intervals."""
    return _frame(db, """
        SELECT platform, reason, statistic, within, estimate, ci_low, ci_high, posts, events,
               horizon_seconds FROM survival_estimates WHERE reason = ? AND scope = ?
        ORDER BY platform, statistic, within_seconds""", [reason, scope])


def rates(db: sqlite_utils.Database, grouping: str = "day", reason: str = "any") -> pd.DataFrame:
    """Shares removed within w among posts followed for w, with denominators and Wilson
    intervals, for one grouping."""
    return _frame(db, """
        SELECT platform, key, window_seconds, posts_eligible, removed, rate, ci_low, ci_high,
               posts_at_risk, posts_short_follow_up, posts_excluded
        FROM removal_rates WHERE grouping = ? AND reason = ? ORDER BY platform, key""",
                  [grouping, reason])


def removed_within(db: sqlite_utils.Database, limit: int = 20) -> pd.DataFrame:
    """Per removal: its interval since creation and whether it was surely removed within D."""
    return _frame(db, """
        SELECT removal_id, post_id, reason, min_seconds, max_seconds,
               created_at_resolution_seconds, removed_within_5m, removed_within_30m,
               removed_within_1h, removed_within_24h
        FROM time_to_removal ORDER BY removal_id LIMIT ?""", [limit])


def top_terms(db: sqlite_utils.Database, limit: int = 20) -> pd.DataFrame:
    """Terms ranked by weighted log-odds z, with per-term removal rates and intervals, and the
    account-clustered test that flags them (posts = distinct texts)."""
    return _frame(db, """
        SELECT rank, term, in_dictionary, posts, copies, accounts, platform_removed, surviving,
               removal_rate, ci_low, ci_high, rate_difference, rate_difference_se, log_odds, z,
               q_value, flagged
        FROM term_stats ORDER BY rank LIMIT ?""", [limit])


def top_terms_by_period(db: sqlite_utils.Database, per_period: int = 5) -> pd.DataFrame:
    return _frame(db, """
        SELECT period, rank, term, platform_removed, surviving, z FROM term_stats_by_period
        WHERE rank <= ? ORDER BY period, rank""", [per_period])


def accounts(db: sqlite_utils.Database, limit: int = 20) -> pd.DataFrame:
    """Accounts ranked by platform-removed share (lower Wilson bound first)."""
    return _frame(db, """
        SELECT rank, account_id, screen_name, posts_eligible, platform_removed, share, ci_low,
               ci_high, sanctions FROM account_rankings ORDER BY rank LIMIT ?""", [limit])


def sanctions(db: sqlite_utils.Database) -> pd.DataFrame:
    return _frame(db, "SELECT * FROM account_sanctions ORDER BY detected_at")


def periods(db: sqlite_utils.Database) -> pd.DataFrame:
    """Platform-removal rate per period against the baseline, and the burst each belongs to."""
    return _frame(db, "SELECT * FROM removal_periods ORDER BY period")


def bursts(db: sqlite_utils.Database) -> pd.DataFrame:
    return _frame(db, "SELECT * FROM removal_bursts ORDER BY id")


def volume_bursts(db: sqlite_utils.Database) -> pd.DataFrame:
    """Per topic: censorship inside vs outside its volume bursts (King, Pan & Roberts 2013)."""
    return _frame(db, "SELECT * FROM topic_volume_bursts ORDER BY topic")


def removal_model(db: sqlite_utils.Database) -> pd.DataFrame:
    """The regression of removal within w on terms, watchlist and kind of post."""
    return _frame(db, "SELECT * FROM removal_model ORDER BY kind <> 'intercept', covariate")


def figure_png(db: sqlite_utils.Database, name: str) -> bytes | None:
    """A stored figure's PNG bytes (display with IPython.display.Image)."""
    row = db.execute("SELECT png FROM figures WHERE name = ?", [name]).fetchone()
    return row[0] if row else None
