"""One row per observed post with what happened to it: the input every analysis step shares.

`build_post_outcomes(db)` writes the TEMP table `post_outcomes` (dropped with the connection):

- the post's first removal (by `first_missing_at`, then id) and its reason; later removals of a
  post that was restored and vanished again are left to `time_to_removal`;
- `at_risk`, the **at-risk rule** behind every denominator: a post counts only if it was sighted
  and then looked for again, i.e. (a) it was sighted by at least two crawls, or (b) a later covered
  window missed it (a candidate or a removal). A post sighted once and never looked for again (seen
  only in the last crawl, or pushed off the crawled pages at once) could not have been found
  removed, so counting it would dilute every rate. Removals known only from a repost's tombstone
  (never sighted intact) are outside the denominator too: they were found because they were gone.
- times in seconds since the post's creation (`created_at`): `entry_s` (first sighting),
  `lower_s` (last sighting before the removal, or the last sighting of a post still up) and
  `upper_s` (the removal's `first_missing_at`, widened by the resolution of `created_at`; NULL for
  a post still up, i.e. right-censored). NULL when `created_at` is unknown.

The resolution of `created_at`: timelines give relative dates (Weibo: 刚刚, N分钟前, N小时前,
昨天 HH:MM, MM-DD) that the crawler resolves against the fetch time, so the stored time is the
*latest* possible creation time and the true one may be up to one unit earlier. The unit follows
from the post's age when first sighted, by rules each platform's adapter declares (recorded in
the corpus table `platforms`; a platform with posts and no rules is an error, never exact); a
lower bound of the time to removal stays valid, and the upper bound is widened by one unit.
"""

from __future__ import annotations

import json

import sqlite_utils

from .sql import seconds_between_sql

TABLE = "post_outcomes"

# Each platform's created_at resolution, as its adapter declared it (corpus table `platforms`),
# loaded per connection by load_created_at_resolution.
RESOLUTION_TABLE = "created_at_resolution"


class UndeclaredPlatform(ValueError):
    """The corpus holds posts of a platform whose adapter never declared how exact its dates
    are: its removal times cannot be bounded (assuming exact dates would understate them)."""


def created_at_resolution(db: sqlite_utils.Database) -> dict[str, tuple[tuple[float | None,
                                                                               float], ...]]:
    """Per platform: (age at first sighting below which, resolution in seconds), in order, the
    last age None, from the declarations crawls recorded. UndeclaredPlatform names a platform
    that has posts and no declaration."""
    rules: dict[str, tuple[tuple[float | None, float], ...]] = {}
    if db.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'platforms'").fetchone():
        for platform, declaration in db.conn.execute(
                "SELECT platform, declaration FROM platforms ORDER BY platform"):
            declared = json.loads(declaration).get("created_at_resolution")
            if declared:
                rules[platform] = tuple((below, float(unit)) for below, unit in declared)
    posted = [row[0] for row in db.conn.execute("SELECT DISTINCT platform FROM posts")]
    missing = sorted(set(posted) - set(rules))
    if missing:
        raise UndeclaredPlatform(
            f"no created_at resolution declared for {', '.join(map(repr, missing))}: a crawl by "
            "the platform's adapter records it (crawlers/platforms: created_at_resolution)")
    return rules


def load_created_at_resolution(db: sqlite_utils.Database) -> None:
    """(Re)build TEMP created_at_resolution (platform, rank, below, unit) for
    created_resolution_sql; UndeclaredPlatform when a platform with posts declared none."""
    rules = created_at_resolution(db)
    conn = db.conn
    conn.execute(f"DROP TABLE IF EXISTS temp.{RESOLUTION_TABLE}")
    conn.execute(f"CREATE TEMP TABLE {RESOLUTION_TABLE} (platform TEXT NOT NULL, "
                 "rank INTEGER NOT NULL, below REAL, unit REAL NOT NULL, "
                 "PRIMARY KEY (platform, rank))")
    conn.executemany(f"INSERT INTO temp.{RESOLUTION_TABLE} VALUES (?, ?, ?, ?)",
                     [(platform, rank, below, unit) for platform, steps in rules.items()
                      for rank, (below, unit) in enumerate(steps)])


def created_resolution_sql(platform: str, age: str) -> str:
    """SQL for the resolution (seconds) of created_at, given SQL for the platform and for the
    age at first sighting; reads TEMP created_at_resolution (load_created_at_resolution)."""
    return (f"(SELECT r.unit FROM temp.{RESOLUTION_TABLE} AS r WHERE r.platform = {platform} "
            f"AND (r.below IS NULL OR {age} < r.below) ORDER BY r.rank LIMIT 1)")


def build_post_outcomes(db: sqlite_utils.Database) -> int:
    """(Re)build TEMP post_outcomes from posts, sightings, candidates and removals; return rows."""
    conn = db.conn
    load_created_at_resolution(db)
    conn.execute(f"DROP TABLE IF EXISTS temp.{TABLE}")
    conn.execute("DROP TABLE IF EXISTS temp._first_removal")
    conn.execute("DROP TABLE IF EXISTS temp._looked_again")
    conn.execute("""
        CREATE TEMP TABLE _first_removal (
            platform TEXT, post_id TEXT, id INTEGER, reason TEXT, last_seen_at TEXT,
            first_missing_at TEXT, restored_at TEXT, PRIMARY KEY (platform, post_id))""")
    conn.execute("""
        INSERT INTO _first_removal
        SELECT platform, post_id, id, reason, last_seen_at, first_missing_at, restored_at
        FROM (SELECT r.*, ROW_NUMBER() OVER (PARTITION BY platform, post_id
                                             ORDER BY first_missing_at, id) AS n
              FROM removals AS r)
        WHERE n = 1""")
    conn.execute("""
        CREATE TEMP TABLE _looked_again (platform TEXT, post_id TEXT,
                                         PRIMARY KEY (platform, post_id)) WITHOUT ROWID""")
    conn.execute("INSERT OR IGNORE INTO _looked_again SELECT platform, post_id FROM candidates")

    entry = seconds_between_sql("p.created_at", "p.first_seen_at")
    removal_seen = "COALESCE(fr.last_seen_at, p.last_seen_at)"
    conn.execute(f"""
        CREATE TEMP TABLE {TABLE} (
            platform TEXT NOT NULL, post_id TEXT NOT NULL, account_id TEXT NOT NULL,
            watchlist TEXT, created_at TEXT, first_seen_at TEXT, last_seen_at TEXT,
            cohort_at TEXT,                  -- created_at, or first_seen_at when unknown
            removal_id INTEGER, reason TEXT, removal_last_seen_at TEXT, first_missing_at TEXT,
            restored_at TEXT, at_risk INTEGER NOT NULL,
            entry_s REAL, lower_s REAL, upper_s REAL, created_resolution_s REAL,
            PRIMARY KEY (platform, post_id))""")
    conn.execute(f"""
        INSERT INTO {TABLE}
        SELECT p.platform, p.post_id, p.account_id, a.watchlist, p.created_at, p.first_seen_at,
               p.last_seen_at, COALESCE(p.created_at, p.first_seen_at),
               fr.id, fr.reason, {removal_seen}, fr.first_missing_at, fr.restored_at,
               sighted AND (fr.id IS NOT NULL OR la.post_id IS NOT NULL OR two_crawls),
               max(0.0, {entry}),
               max(0.0, CASE WHEN fr.id IS NULL
                             THEN {seconds_between_sql("p.created_at", "p.last_seen_at")}
                             ELSE {seconds_between_sql("p.created_at", removal_seen)} END),
               CASE WHEN fr.id IS NOT NULL
                    THEN max(0.0, {seconds_between_sql("p.created_at", "fr.first_missing_at")})
                         + {created_resolution_sql("p.platform", entry)} END,
               CASE WHEN p.created_at IS NOT NULL
                    THEN {created_resolution_sql("p.platform", entry)} END
        FROM (SELECT q.*,
                     EXISTS (SELECT 1 FROM sightings AS s
                             WHERE s.platform = q.platform AND s.post_id = q.post_id) AS sighted,
                     EXISTS (SELECT 1 FROM sightings AS s
                             WHERE s.platform = q.platform AND s.post_id = q.post_id
                               AND s.crawl_id <> q.last_seen_crawl_id) AS two_crawls
              FROM posts AS q) AS p
        LEFT JOIN accounts AS a ON a.platform = p.platform AND a.account_id = p.account_id
        LEFT JOIN _first_removal AS fr ON fr.platform = p.platform AND fr.post_id = p.post_id
        LEFT JOIN _looked_again AS la ON la.platform = p.platform AND la.post_id = p.post_id""")
    conn.execute(f"CREATE INDEX temp.{TABLE}_cohort ON {TABLE} (cohort_at)")
    conn.execute("DROP TABLE temp._looked_again")
    return conn.execute(f"SELECT COUNT(*) FROM temp.{TABLE}").fetchone()[0]
