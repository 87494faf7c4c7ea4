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
- times in seconds since the post's creation, which lies in [`created_earliest`,
  `created_latest`] (posts; see below): `entry_s` (first sighting) and `lower_s` (last sighting
  before the removal, or the last sighting of a post still up) from the *latest* possible
  creation time, so they are never too high; `upper_s` (the removal's `first_missing_at`) from
  the *earliest*, so it is never too low (NULL for a post still up: right-censored);
  `created_resolution_s` is latest - earliest. NULL when the creation time is unknown.

**The shared outcome: removed within w, among posts followed for at least w** (`window_s` = w,
default 24 h, `memoryhole analyze --window`). Rates, keywords, bursts and accounts all use it,
so a post counts the same way everywhere whatever follow-up it happened to get:

- `eligible` = 1 when the post is in the fixed-follow-up population: at risk, creation time
  known, its place in its account's timeline was still covered by a crawl at least w after its
  (latest possible) creation (`followed_until`: the last covered window reaching down to the
  post's order key, known whether or not the post was still there, so eligibility does not
  depend on the outcome: posts of the campaign's last w, and posts pushed off the crawled pages
  before w, are out whatever happened to them; the last days read neither low nor high), and
  its outcome at w is known: removed (first removal, any reason), or sighted intact at least w
  after creation. (A followed post absent without a removal, e.g. probed visible, is out.)
- `removed_within` = 1 when an eligible post's first removal happened within w of creation, 0
  when not, NULL for a post that is not eligible. A removal interval [lower_s, upper_s] that
  straddles w is decided by its midpoint (removed within w when (lower_s + upper_s) / 2 <= w):
  unbiased when the removal time is uniform within the interval, and rare when the crawl
  cadence is short against w. Dropping straddlers instead would bias the share down, counting
  them all as within w would bias it up.

The creation interval comes from the form of the platform's date (crawlers/platforms/weibo.py:
刚刚 and N分钟前 name a minute, N小时前 an hour, 昨天 HH:MM a minute, MM-DD and YYYY-MM-DD a whole
Beijing day starting at midnight, so for `03-01` seen on 03-03 the post may have been created up
to 24 h after the stored midnight). Posts stored without an interval (another adapter, or a
test corpus) fall back to created_at as the latest time, with a resolution that follows from the
post's age when first sighted (CREATED_AT_RESOLUTION).
"""

from __future__ import annotations

import sqlite_utils

from .sql import epoch_microseconds_sql, seconds_between_sql

TABLE = "post_outcomes"
#: The default fixed follow-up w: removed within 24 h of posting.
DEFAULT_WINDOW_S = 86400.0

#: Per platform: (age at first sighting below which, resolution in seconds) in order; None = any.
CREATED_AT_RESOLUTION: dict[str, tuple[tuple[float | None, float], ...]] = {
    # 刚刚 / N分钟前 (< 1 h), N小时前 (< 24 h), then 昨天 HH:MM or MM-DD: up to a day.
    "weibo": ((3600.0, 60.0), (86400.0, 3600.0), (None, 86400.0)),
}


def created_resolution_sql(platform: str, age: str) -> str:
    """SQL for the resolution (seconds) of created_at, given SQL for the age at first sighting."""
    branches = []
    for name, rules in CREATED_AT_RESOLUTION.items():
        cases = " ".join(
            f"WHEN {age} < {below!r} THEN {unit!r}" if below is not None else f"ELSE {unit!r}"
            for below, unit in rules
        )
        if not any(below is None for below, _ in rules):
            cases += " ELSE 0.0"
        branches.append(f"WHEN {platform} = '{name}' THEN (CASE {cases} END)")
    return f"(CASE {' '.join(branches)} ELSE 0.0 END)"


def build_post_outcomes(db: sqlite_utils.Database, window_s: float = DEFAULT_WINDOW_S) -> int:
    """(Re)build TEMP post_outcomes from posts, sightings, candidates, removals and windows,
    with the fixed follow-up `window_s` (w); return rows."""
    if not window_s > 0:
        raise ValueError(f"the follow-up window must be a positive number of seconds, got {window_s}")
    conn = db.conn
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

    # Creation lies in [earliest, latest] (posts.created_earliest/created_latest, from the form
    # of the platform's date). A post stored without them (an adapter giving only a point) falls
    # back to created_at as the latest time, with CREATED_AT_RESOLUTION before it.
    entry = seconds_between_sql("p.created_at", "p.first_seen_at")
    latest_us = epoch_microseconds_sql("COALESCE(p.created_latest, p.created_at)")
    earliest_us = (f"(CASE WHEN p.created_earliest IS NOT NULL "
                   f"THEN {epoch_microseconds_sql('p.created_earliest')} "
                   f"ELSE {epoch_microseconds_sql('p.created_at')} "
                   f"- CAST({created_resolution_sql('p.platform', entry)} * 1000000 AS INTEGER) END)")

    def since(column: str, origin_us: str) -> str:
        return f"(({epoch_microseconds_sql(column)} - {origin_us}) / 1000000.0)"

    removal_seen = "COALESCE(fr.last_seen_at, p.last_seen_at)"
    conn.execute(f"""
        CREATE TEMP TABLE {TABLE} (
            platform TEXT NOT NULL, post_id TEXT NOT NULL, account_id TEXT NOT NULL,
            watchlist TEXT, created_at TEXT, first_seen_at TEXT, last_seen_at TEXT,
            cohort_at TEXT,                  -- created_at, or first_seen_at when unknown
            removal_id INTEGER, reason TEXT, removal_last_seen_at TEXT, first_missing_at TEXT,
            restored_at TEXT, at_risk INTEGER NOT NULL,
            entry_s REAL, lower_s REAL, upper_s REAL, created_resolution_s REAL,
            created_latest TEXT,             -- latest possible creation time
            followed_until TEXT,             -- the last crawl that covered the post's place
            window_s REAL,                   -- w, the fixed follow-up
            eligible INTEGER,                -- 1: in the fixed-follow-up population (see above)
            removed_within INTEGER,          -- 1: removed within w; NULL when not eligible
            PRIMARY KEY (platform, post_id))""")
    conn.execute(f"""
        INSERT INTO {TABLE}
        SELECT p.platform, p.post_id, p.account_id, a.watchlist, p.created_at, p.first_seen_at,
               p.last_seen_at, COALESCE(p.created_at, p.first_seen_at),
               fr.id, fr.reason, {removal_seen}, fr.first_missing_at, fr.restored_at,
               sighted AND (fr.id IS NOT NULL OR la.post_id IS NOT NULL OR two_crawls),
               max(0.0, {since("p.first_seen_at", latest_us)}),
               max(0.0, {since(f"CASE WHEN fr.id IS NULL THEN p.last_seen_at ELSE {removal_seen} END",
                               latest_us)}),
               CASE WHEN fr.id IS NOT NULL
                    THEN max(0.0, {since("fr.first_missing_at", earliest_us)}) END,
               CASE WHEN p.created_at IS NOT NULL
                    THEN ({latest_us} - {earliest_us}) / 1000000.0 END,
               COALESCE(p.created_latest, p.created_at),
               NULL, NULL, NULL, NULL
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
    fill_fixed_follow_up(conn, window_s)
    return conn.execute(f"SELECT COUNT(*) FROM temp.{TABLE}").fetchone()[0]


def fill_fixed_follow_up(conn, window_s: float) -> None:
    """Fill followed_until, window_s, eligible and removed_within (see the module docstring)."""
    # followed_until: the last crawl whose window covered the post's place in its account's
    # timeline (a covered window from its oldest key up, an empty one entirely), whatever
    # happened to the post itself: a window's oldest key is known whether or not this post
    # was still there. Windows by oldest key, with the latest time of any window reaching at
    # least that far down (a running maximum); a post takes the row of the largest oldest key
    # at or below its own key.
    conn.execute("DROP TABLE IF EXISTS temp._reach")
    conn.execute("""
        CREATE TEMP TABLE _reach AS
        SELECT platform, account_id, reach,
               MAX(until) OVER (PARTITION BY platform, account_id ORDER BY reach
                                ROWS UNBOUNDED PRECEDING) AS until
        FROM (SELECT platform, account_id,
                     CASE status WHEN 'covered' THEN oldest_key ELSE -9223372036854775808 END
                         AS reach, MAX(requested_at) AS until
              FROM windows WHERE status IN ('covered', 'empty') AND requested_at IS NOT NULL
                AND (status = 'empty' OR oldest_key IS NOT NULL)
              GROUP BY platform, account_id, reach)""")
    conn.execute("CREATE INDEX temp._reach_key ON _reach (platform, account_id, reach)")
    # A post no window covers (an original known only from reposts, or a corpus without
    # windows) is followed as long as its platform was crawled.
    # (Once per platform: as a correlated subquery the maximum was recomputed for every post,
    # 88 s for 10k posts without windows.)
    conn.execute("DROP TABLE IF EXISTS temp._platform_until")
    conn.execute("""CREATE TEMP TABLE _platform_until AS
                    SELECT platform, MAX(last_seen_at) AS until FROM posts GROUP BY platform""")
    conn.execute(f"""
        UPDATE {TABLE} SET followed_until = COALESCE(
            (SELECT r.until FROM _reach AS r JOIN posts AS p
                 ON p.platform = {TABLE}.platform AND p.post_id = {TABLE}.post_id
             WHERE r.platform = p.platform AND r.account_id = p.account_id
               AND r.reach <= p.order_key ORDER BY r.reach DESC LIMIT 1),
            (SELECT u.until FROM _platform_until AS u WHERE u.platform = {TABLE}.platform))""")
    conn.execute("DROP TABLE temp._reach")
    conn.execute("DROP TABLE temp._platform_until")
    follow_s = seconds_between_sql("created_latest", "followed_until")
    eligible = (f"(at_risk AND created_at IS NOT NULL AND lower_s IS NOT NULL "
                f"AND {follow_s} >= :w AND (removal_id IS NOT NULL OR lower_s >= :w))")
    conn.execute(f"""
        UPDATE {TABLE} SET window_s = :w, eligible = {eligible},
            removed_within = CASE WHEN {eligible} THEN
                CASE WHEN removal_id IS NULL OR lower_s >= :w THEN 0
                     WHEN upper_s <= :w THEN 1
                     ELSE (lower_s + upper_s) / 2.0 <= :w END END""", {"w": float(window_s)})
