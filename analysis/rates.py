"""Removal rates with their denominators and 95% Wilson intervals.

`removal_rates` has one row per grouping (all, day, week, platform, account, watchlist), group
and reason ('any', then each reason found in the corpus): the at-risk posts of the group (the
denominator, see the at-risk rule in memoryhole.analysis.outcomes), how many of them were removed (first
removal with that reason, or any reason for 'any', restricted included; restored removals
count), the rate and its Wilson interval, and how many posts of the group the at-risk rule left
out. Posts are grouped by when they were *created* (UTC; the first sighting when the creation
time is unknown), so a day's rate is the share of that day's posts that were removed.
"""

from __future__ import annotations

import sqlite_utils
from memoryhole.corpus.reasons import REASONS

from .outcomes import TABLE as OUTCOMES
from .sql import quote, replace_table, week_start_sql
from .stats import wilson_interval

ANY_REASON = "any"

GROUPINGS: dict[str, str] = {
    "all": "'all'",
    "day": "date(cohort_at)",
    "week": week_start_sql("cohort_at"),
    "platform": "platform",
    "account": "account_id",
    "watchlist": "COALESCE(watchlist, '')",
}

CREATE_SQL = """
    CREATE TABLE removal_rates (
        grouping TEXT NOT NULL,          -- all | day | week | platform | account | watchlist
        platform TEXT NOT NULL,
        key TEXT NOT NULL,               -- the group: a UTC date, a week's Monday, an account ...
        reason TEXT NOT NULL,            -- 'any' or a removal reason
        posts_at_risk INTEGER NOT NULL,  -- the denominator
        removed INTEGER NOT NULL,        -- at-risk posts removed (first removal, this reason)
        rate REAL,                       -- removed / posts_at_risk
        ci_low REAL,                     -- 95% Wilson interval
        ci_high REAL,
        posts_excluded INTEGER NOT NULL, -- posts of the group left out by the at-risk rule
        PRIMARY KEY (grouping, platform, key, reason)
    )"""


def reasons_present(db: sqlite_utils.Database) -> list[str]:
    found = {r for (r,) in db.execute(
        f"SELECT DISTINCT reason FROM {OUTCOMES} WHERE reason IS NOT NULL AND at_risk")}
    return [r for r in REASONS if r in found] + sorted(found - set(REASONS))


def build_removal_rates(db: sqlite_utils.Database) -> int:
    replace_table(db, "removal_rates", CREATE_SQL)
    reasons = reasons_present(db)
    sums = "".join(f", SUM(at_risk AND reason IS ?) AS {quote('r' + str(k))}"
                   for k in range(len(reasons)))
    rows = []
    for grouping, key in GROUPINGS.items():
        result = db.execute(f"""
            SELECT platform, {key} AS k, SUM(at_risk), SUM(NOT at_risk),
                   SUM(at_risk AND reason IS NOT NULL){sums}
            FROM {OUTCOMES} GROUP BY platform, k ORDER BY platform, k""", reasons).fetchall()
        for platform, group, at_risk, excluded, any_removed, *by_reason in result:
            for reason, removed in zip([ANY_REASON, *reasons], [any_removed, *by_reason],
                                       strict=True):
                rows.append((grouping, platform, group, reason, at_risk, removed, excluded))
    if not rows:
        return 0
    removed = [r[5] for r in rows]
    trials = [r[4] for r in rows]
    low, high = wilson_interval(removed, trials)
    db.conn.executemany(
        "INSERT INTO removal_rates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(g, p, k, reason, n, x, x / n if n else None,
          None if n == 0 else float(lo), None if n == 0 else float(hi), excluded)
         for (g, p, k, reason, n, x, excluded), lo, hi in zip(rows, low, high, strict=True)])
    return len(rows)
