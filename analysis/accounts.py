"""Accounts: sanctions over time, and accounts ranked by their platform-removed share.

- `account_sanctions`: one row per account and sanction the probes reported (reason
  account_suspended, account_closed or account_locked on the account's posts): when it was first
  detected (the earliest first_missing_at), the latest sighting of an affected post before it (so
  the sanction happened in [last_seen_before, detected_at]), how many posts it took down, and
  when they came back (restored_at, if all did).
- `account_rankings`: per account, on the shared outcome (memoryhole.analysis.outcomes): the posts followed
  for at least w (the denominator), those the platform removed within w of posting, the share
  and its 95% Wilson interval. Accounts are ranked by the
  interval's lower bound, so a 1-of-1 account does not outrank a 40-of-100 one.
"""

from __future__ import annotations

import sqlite_utils

from .outcomes import TABLE as OUTCOMES
from .sql import replace_table
from .stats import wilson_interval

SANCTIONS = ("account_suspended", "account_closed", "account_locked")

SANCTIONS_SQL = """
    CREATE TABLE account_sanctions (
        platform TEXT NOT NULL,
        account_id TEXT NOT NULL,
        screen_name TEXT,
        sanction TEXT NOT NULL,          -- account_suspended | account_closed | account_locked
        last_seen_before TEXT,           -- latest sighting of an affected post before detection
        detected_at TEXT NOT NULL,       -- earliest first_missing_at of the affected posts
        detected_day TEXT NOT NULL,      -- UTC date of detected_at
        posts_affected INTEGER NOT NULL,
        restored_at TEXT,                -- latest restoration, when every affected post came back
        PRIMARY KEY (platform, account_id, sanction)
    )"""

RANKINGS_SQL = """
    CREATE TABLE account_rankings (
        platform TEXT NOT NULL,
        account_id TEXT NOT NULL,
        screen_name TEXT,
        watchlist TEXT,
        posts_at_risk INTEGER NOT NULL,  -- posts the at-risk rule keeps
        window_seconds REAL NOT NULL,    -- w: removed within w of posting
        posts_eligible INTEGER NOT NULL, -- the denominator: at-risk posts followed for >= w
        platform_removed INTEGER NOT NULL,  -- of which first removed within w by the platform
        author_deleted INTEGER NOT NULL,    -- ... by the author
        removed_any INTEGER NOT NULL,    -- ... for any reason, restricted included
        share REAL,                      -- platform_removed / posts_eligible
        ci_low REAL,                     -- 95% Wilson interval
        ci_high REAL,
        sanctions TEXT,                  -- account sanctions detected, comma-separated
        rank INTEGER NOT NULL,           -- by ci_low, then share, then posts_eligible
        PRIMARY KEY (platform, account_id)
    )"""


def build_account_sanctions(db: sqlite_utils.Database) -> int:
    replace_table(db, "account_sanctions", SANCTIONS_SQL)
    placeholders = ", ".join("?" for _ in SANCTIONS)
    # The sanction happened in [last_seen_before, detected_at]: only sightings at or before the
    # first detection bound it (an affected post sighted after another was already found gone
    # would otherwise put the window's start after its end).
    db.execute(f"""
        WITH r AS (
            SELECT *, MIN(first_missing_at) OVER (PARTITION BY platform, account_id, reason)
                          AS detected
            FROM removals WHERE reason IN ({placeholders}))
        INSERT INTO account_sanctions
        SELECT r.platform, r.account_id, a.screen_name, r.reason,
               MAX(CASE WHEN r.last_seen_at <= r.detected THEN r.last_seen_at END),
               r.detected, date(r.detected), COUNT(DISTINCT r.post_id),
               CASE WHEN SUM(r.restored_at IS NULL) = 0 THEN MAX(r.restored_at) END
        FROM r
        LEFT JOIN accounts AS a ON a.platform = r.platform AND a.account_id = r.account_id
        GROUP BY r.platform, r.account_id, r.reason""", list(SANCTIONS))
    return db.execute("SELECT COUNT(*) FROM account_sanctions").fetchone()[0]


def build_account_rankings(db: sqlite_utils.Database) -> int:
    replace_table(db, "account_rankings", RANKINGS_SQL)
    rows = db.execute(f"""
        SELECT o.platform, o.account_id, a.screen_name, a.watchlist, SUM(o.at_risk),
               MAX(o.window_s), SUM(o.eligible),
               SUM(o.eligible AND o.removed_within AND o.reason IS 'platform_removed'),
               SUM(o.eligible AND o.removed_within AND o.reason IS 'author_deleted'),
               SUM(o.eligible AND o.removed_within),
               (SELECT group_concat(sanction, ',') FROM account_sanctions AS s
                WHERE s.platform = o.platform AND s.account_id = o.account_id)
        FROM {OUTCOMES} AS o
        LEFT JOIN accounts AS a ON a.platform = o.platform AND a.account_id = o.account_id
        GROUP BY o.platform, o.account_id HAVING SUM(o.eligible) > 0""").fetchall()
    if not rows:
        return 0
    low, high = wilson_interval([r[7] for r in rows], [r[6] for r in rows])
    scored = [(*r, r[7] / r[6], float(lo), float(hi)) for r, lo, hi in zip(rows, low, high,
                                                                            strict=True)]
    scored.sort(key=lambda r: (-r[12], -r[11], -r[6], r[0], r[1]))  # ci_low, share, posts
    db.conn.executemany(
        "INSERT INTO account_rankings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(p, acc, name, wl, at_risk, w, n, x, ad, anyr, share, lo, hi, sanctions, rank)
         for rank, (p, acc, name, wl, at_risk, w, n, x, ad, anyr, sanctions, share, lo, hi)
         in enumerate(scored, start=1)])
    return len(scored)
