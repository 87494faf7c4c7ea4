"""How the measurement itself shapes the numbers: delays by watchlist and cadence, and how the
headline estimates move when the design changes.

- `measurement_delays`: per platform, watchlist and cadence (the plan's `every`), the
  distribution (median, 90th percentile, max) of the **detection delay** (first missing − last
  sighting: how long a removal could have gone unnoticed, the width of its interval) and of the
  **first-sighting delay** (first sighting − latest possible creation: how long a post was
  exposed to removal before any crawl could see it).
- `sensitivity`: the headline numbers (share removed within w among posts followed for w; F(w),
  all posts; median delay among removed posts) as analysed, with every other timeline crawl of
  each platform dropped (a crawl half as frequent), and with restored removals not counted as
  removals. A reader sees how much the design, not the platform, moves each number.
"""

from __future__ import annotations

import json

import numpy as np
import sqlite_utils

from .outcomes import TABLE as OUTCOMES
from .sql import replace_table, seconds_between_sql

DELAYS_SQL = """
    CREATE TABLE measurement_delays (
        platform TEXT NOT NULL,
        watchlist TEXT NOT NULL,
        cadence_seconds REAL,            -- the plan's `every` for the watchlist (NULL: unknown)
        measure TEXT NOT NULL,           -- detection | first_sighting
        posts INTEGER NOT NULL,
        median_seconds REAL,
        p90_seconds REAL,
        max_seconds REAL,
        PRIMARY KEY (platform, watchlist, measure)
    )"""

SENSITIVITY_SQL = """
    CREATE TABLE sensitivity (
        variant TEXT NOT NULL,           -- as_analysed | alternate_crawls_dropped | restorations_excluded
        platform TEXT NOT NULL,
        statistic TEXT NOT NULL,         -- rate_within_w | f_w_all_posts | median_removed_seconds
        estimate REAL,
        change REAL,                     -- estimate - the as_analysed one
        posts INTEGER NOT NULL,          -- the statistic's denominator in this variant
        PRIMARY KEY (variant, platform, statistic)
    )"""


def plan_cadences(db: sqlite_utils.Database) -> dict[tuple[str, str], float]:
    """(platform, watchlist) -> the `every` of the latest timeline crawl's plan."""
    out: dict[tuple[str, str], float] = {}
    for platform, plan_json in db.execute(
            "SELECT platform, plan_json FROM crawls WHERE kind = 'timeline' ORDER BY id"):
        try:
            plan = json.loads(plan_json or "{}")
        except ValueError:
            continue
        for watchlist in plan.get("watchlists") or []:
            if isinstance(watchlist, dict) and "name" in watchlist:
                try:
                    out[(platform, str(watchlist["name"]))] = float(watchlist.get("every"))
                except (TypeError, ValueError):
                    continue
    return out


def _quantiles(values: list[float]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    x = np.asarray(values, dtype=float)
    return float(np.median(x)), float(np.percentile(x, 90)), float(x.max())


def build_measurement_delays(db: sqlite_utils.Database) -> int:
    replace_table(db, "measurement_delays", DELAYS_SQL)
    cadences = plan_cadences(db)
    groups: dict[tuple[str, str, str], list[float]] = {}
    detection = seconds_between_sql("removal_last_seen_at", "first_missing_at")
    for platform, watchlist, delay in db.execute(f"""
            SELECT platform, COALESCE(watchlist, ''), {detection} FROM {OUTCOMES}
            WHERE removal_id IS NOT NULL AND removal_last_seen_at IS NOT NULL"""):
        if delay is not None:
            groups.setdefault((platform, watchlist, "detection"), []).append(delay)
    for platform, watchlist, entry in db.execute(f"""
            SELECT platform, COALESCE(watchlist, ''), entry_s FROM {OUTCOMES}
            WHERE at_risk AND entry_s IS NOT NULL"""):
        groups.setdefault((platform, watchlist, "first_sighting"), []).append(entry)
    rows = [(platform, watchlist, cadences.get((platform, watchlist)), measure, len(values),
             *_quantiles(values))
            for (platform, watchlist, measure), values in sorted(groups.items())]
    db.conn.executemany("INSERT INTO measurement_delays VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def _headline(db: sqlite_utils.Database, window_s: float) -> list[tuple[str, str, float | None, int]]:
    """(platform, statistic, estimate, posts) of the headline numbers on post_outcomes now."""
    from . import survival

    out = []
    for platform, eligible, removed in db.execute(f"""
            SELECT platform, SUM(eligible), SUM(eligible AND removed_within) FROM {OUTCOMES}
            GROUP BY platform ORDER BY platform"""):
        out.append((platform, "rate_within_w", removed / eligible if eligible else None,
                    eligible or 0))
    _, arrays = survival.collect_observations(db)
    options = survival.SurvivalOptions(bootstrap_samples=0)
    for platform in sorted({p for p, _ in arrays}):
        obs = survival.stratum_observations(arrays, platform, survival.ANY_REASON)
        if obs is None or not obs.events:
            continue
        fit = survival.fit_stratum(obs, platform, survival.ANY_REASON, options)
        f_w = fit.distribution.cdf(window_s)[0]
        out.append((platform, "f_w_all_posts", None if np.isnan(f_w) else float(f_w),
                    fit.posts))
        out.append((platform, "median_removed_seconds",
                    survival.median_seconds(fit.distribution, "removed_posts"), fit.events))
    return out


def _drop_alternate_crawls(db: sqlite_utils.Database) -> None:
    """Rewrite post_outcomes as if every other timeline crawl of each platform had not run:
    sightings of dropped crawls vanish (a post seen only by them was never seen; a removal
    before its first kept sighting was never seen either), and a removal first noticed by a
    dropped crawl is noticed by the next kept one."""
    conn = db.conn
    conn.execute("DROP TABLE IF EXISTS temp._kept")
    conn.execute("""
        CREATE TEMP TABLE _kept AS
        SELECT id, platform, started_at,
               ROW_NUMBER() OVER (PARTITION BY platform ORDER BY started_at, id) % 2 AS kept
        FROM crawls WHERE kind = 'timeline'""")
    conn.execute("CREATE INDEX temp._kept_time ON _kept (platform, started_at)")
    seen = """(SELECT {agg}(s.seen_at) FROM sightings AS s JOIN _kept AS k ON k.id = s.crawl_id
               WHERE k.kept AND s.platform = o.platform AND s.post_id = o.post_id {extra})"""
    before_removal = "AND (o.removal_id IS NULL OR s.seen_at <= o.removal_last_seen_at)"
    # The crawl that noticed the removal: the last timeline crawl at or before first missing;
    # when it was dropped, the next kept crawl notices it, that much later.
    noticed = ("(SELECT MAX(k.started_at) FROM _kept AS k WHERE k.platform = o.platform "
               "AND k.started_at <= o.first_missing_at)")
    next_kept = (f"(SELECT MIN(k.started_at) FROM _kept AS k WHERE k.platform = o.platform "
                 f"AND k.kept AND k.started_at >= {noticed})")
    conn.execute(f"""
        UPDATE {OUTCOMES} AS o SET
            first_seen_at = {seen.format(agg="MIN", extra="")},
            last_seen_at = {seen.format(agg="MAX", extra=before_removal)},
            upper_s = CASE WHEN o.removal_id IS NOT NULL THEN o.upper_s
                      + COALESCE({seconds_between_sql(noticed, next_kept)}, 0) END""")
    conn.execute(f"DELETE FROM {OUTCOMES} WHERE first_seen_at IS NULL OR last_seen_at IS NULL")
    latest = "COALESCE(created_latest, created_at)"
    conn.execute(f"""
        UPDATE {OUTCOMES} SET
            removal_last_seen_at = CASE WHEN removal_id IS NOT NULL THEN last_seen_at END,
            entry_s = max(0.0, {seconds_between_sql(latest, "first_seen_at")}),
            lower_s = max(0.0, {seconds_between_sql(latest, "last_seen_at")}),
            at_risk = at_risk AND (removal_id IS NOT NULL OR first_seen_at < last_seen_at)
        WHERE created_at IS NOT NULL""")
    conn.execute("DROP TABLE temp._kept")


def _exclude_restorations(db: sqlite_utils.Database) -> None:
    """Rewrite post_outcomes with removals later restored counted as no removal: the post is
    right-censored at its last sighting."""
    latest = "COALESCE(created_latest, created_at)"
    db.conn.execute(f"""
        UPDATE {OUTCOMES} SET removal_id = NULL, reason = NULL, upper_s = NULL,
            lower_s = max(0.0, {seconds_between_sql(latest, "last_seen_at")})
        WHERE restored_at IS NOT NULL""")


VARIANTS = {"alternate_crawls_dropped": _drop_alternate_crawls,
            "restorations_excluded": _exclude_restorations}


def build_sensitivity(db: sqlite_utils.Database, window_s: float) -> int:
    """The headline numbers as analysed and under each variant (post_outcomes is put back)."""
    from .outcomes import fill_fixed_follow_up

    replace_table(db, "sensitivity", SENSITIVITY_SQL)
    conn = db.conn
    base = {(p, s): (e, n) for p, s, e, n in _headline(db, window_s)}
    rows = [("as_analysed", p, s, e, 0.0 if e is not None else None, n)
            for (p, s), (e, n) in base.items()]
    conn.execute("DROP TABLE IF EXISTS temp._outcomes_as_analysed")
    conn.execute(f"CREATE TEMP TABLE _outcomes_as_analysed AS SELECT * FROM {OUTCOMES}")
    try:
        for variant, rewrite in VARIANTS.items():
            rewrite(db)
            fill_fixed_follow_up(conn, window_s)
            for p, s, e, n in _headline(db, window_s):
                before = base.get((p, s), (None, 0))[0]
                change = e - before if e is not None and before is not None else None
                rows.append((variant, p, s, e, change, n))
            conn.execute(f"DELETE FROM {OUTCOMES}")
            conn.execute(f"INSERT INTO {OUTCOMES} SELECT * FROM _outcomes_as_analysed")
    finally:
        conn.execute("DROP TABLE IF EXISTS temp._outcomes_as_analysed")
    conn.executemany("INSERT INTO sensitivity VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)
