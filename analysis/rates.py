"""Removal rates on the shared fixed-follow-up outcome, with denominators and 95% Wilson
intervals.

`removal_rates` has one row per grouping (all, day, week, platform, account, watchlist), group
and reason ('any', then each reason found in the corpus). The estimand is the one every analysis
shares (memoryhole.analysis.outcomes): **the share of posts removed within w of posting, among the posts
followed for at least w** (`posts_eligible`, the denominator; `removed`, those whose first
removal, with that reason or any reason for 'any', came within w; restricted and later restored
removals count). Posts are grouped by when they were *created* (UTC; the first sighting when the
creation time is unknown), so a day's rate is the share of that day's posts removed within w of
being posted. The rows also say how many posts of the group were at risk at all
(`posts_at_risk`), how many of those the fixed follow-up left out (`posts_short_follow_up`:
posted less than w before the crawls of their account ended, lost to follow-up, or of unknown
creation time) and how many the at-risk rule left out (`posts_excluded`).

A post enters the corpus only when first sighted, so the rate is conditional on surviving until
then; `survival_estimates` (the same population, grouping 'all', 'watchlist' ...) estimates F(w)
with that delayed entry accounted for. The two agree when posts are sighted soon after posting;
their difference measures the removals no crawl could see.
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
        window_seconds REAL NOT NULL,    -- w: the fixed follow-up
        posts_eligible INTEGER NOT NULL, -- the denominator: at-risk posts followed for >= w
        removed INTEGER NOT NULL,        -- of which first removed (this reason) within w
        rate REAL,                       -- removed / posts_eligible
        ci_low REAL,                     -- 95% Wilson interval
        ci_high REAL,
        posts_at_risk INTEGER NOT NULL,  -- posts the at-risk rule keeps
        posts_short_follow_up INTEGER NOT NULL,  -- at risk, but not followed for w
        posts_excluded INTEGER NOT NULL, -- posts of the group left out by the at-risk rule
        PRIMARY KEY (grouping, platform, key, reason)
    )"""


# post_outcomes with `watchlist` replaced by each watchlist the post is on (watchlist_members:
# its account's, or the item's own membership); a post with no membership row keeps its account's
# watchlist ('' when none). UNION keeps a post once a list.
_COLUMNS = "o.platform, o.post_id, o.eligible, o.at_risk, o.removed_within, o.reason"
_MEMBER = ("EXISTS (SELECT 1 FROM watchlist_members AS m WHERE m.platform = o.platform AND "
           "((m.kind = 'account' AND m.member_id = o.account_id) OR "
           "(m.kind = 'item' AND m.member_id = o.post_id)))")
_POSTS_BY_WATCHLIST = f"""(
    SELECT {_COLUMNS}, m.watchlist FROM {OUTCOMES} AS o JOIN watchlist_members AS m
        ON m.platform = o.platform AND m.kind = 'account' AND m.member_id = o.account_id
    UNION
    SELECT {_COLUMNS}, m.watchlist FROM {OUTCOMES} AS o JOIN watchlist_members AS m
        ON m.platform = o.platform AND m.kind = 'item' AND m.member_id = o.post_id
    UNION
    SELECT {_COLUMNS}, COALESCE(o.watchlist, '') FROM {OUTCOMES} AS o WHERE NOT {_MEMBER})"""


def reasons_present(db: sqlite_utils.Database) -> list[str]:
    found = {r for (r,) in db.execute(
        f"SELECT DISTINCT reason FROM {OUTCOMES} WHERE reason IS NOT NULL AND at_risk")}
    return [r for r in REASONS if r in found] + sorted(found - set(REASONS))


def build_removal_rates(db: sqlite_utils.Database) -> int:
    replace_table(db, "removal_rates", CREATE_SQL)
    (window,) = db.execute(f"SELECT MAX(window_s) FROM {OUTCOMES}").fetchone()
    reasons = reasons_present(db)
    sums = "".join(f", SUM(eligible AND removed_within AND reason IS ?) AS {quote('r' + str(k))}"
                   for k in range(len(reasons)))
    rows = []
    for grouping, key in GROUPINGS.items():
        # Membership is many-to-many: a post counts in every watchlist its account (or the item
        # itself) is on, and under '' when on none.
        source = _POSTS_BY_WATCHLIST if grouping == "watchlist" else OUTCOMES
        result = db.execute(f"""
            SELECT platform, {key} AS k, SUM(eligible), SUM(at_risk), SUM(NOT at_risk),
                   SUM(eligible AND removed_within){sums}
            FROM {source} GROUP BY platform, k ORDER BY platform, k""", reasons).fetchall()
        for platform, group, eligible, at_risk, excluded, any_removed, *by_reason in result:
            for reason, removed in zip([ANY_REASON, *reasons], [any_removed, *by_reason],
                                       strict=True):
                rows.append((grouping, platform, group, reason, eligible, removed, at_risk,
                             excluded))
    if not rows:
        return 0
    low, high = wilson_interval([r[5] for r in rows], [r[4] for r in rows])
    db.conn.executemany(
        "INSERT INTO removal_rates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(g, p, k, reason, window, n, x, x / n if n else None,
          None if n == 0 else float(lo), None if n == 0 else float(hi), at_risk,
          at_risk - n, excluded)
         for (g, p, k, reason, n, x, at_risk, excluded), lo, hi
         in zip(rows, low, high, strict=True)])
    return len(rows)
