"""Bursts: periods whose platform-removal rate departs from the baseline.

Method (documented, deliberately simple): posts are grouped by the period they were created in
(a UTC day; an hour when the corpus covers less than three days). For each period with at least
`min_posts` at-risk posts, x of its n at-risk posts were removed by the platform; the baseline is
the pooled rate p0 of all *other* periods. The one-sided exact binomial test P(X >= x | n, p0)
gives a p-value; Benjamini–Hochberg q-values over the tested periods control the false discovery
rate. A period is in a burst when q < `alpha` and x/n > p0; consecutive burst periods merge into
one burst. Each burst lists its top terms (weighted log-odds of its platform-removed vs its
surviving posts, prior from the whole corpus; see memoryhole.analysis.keywords) and example posts.
Assumes posts within a period are exchangeable and periods independent given the baseline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import sqlite_utils
from scipy.stats import binom

from .keywords import REMOVED_REASON, KeywordOptions, PeriodCounts, TermCounts, period_sql, top_terms
from .outcomes import TABLE as OUTCOMES
from .segmentation import post_text_sql
from .sql import replace_table
from .stats import benjamini_hochberg, wilson_interval


@dataclass(frozen=True)
class BurstOptions:
    min_posts: int = 20
    alpha: float = 0.05
    examples: int = 3
    top_terms: int = 10


PERIODS_SQL = """
    CREATE TABLE removal_periods (
        period TEXT PRIMARY KEY,         -- UTC day (or hour) the posts were created
        posts_at_risk INTEGER NOT NULL,
        platform_removed INTEGER NOT NULL,
        rate REAL,
        ci_low REAL,                     -- 95% Wilson interval
        ci_high REAL,
        baseline_rate REAL,              -- pooled rate of all other periods
        p_value REAL,                    -- one-sided exact binomial test against the baseline
        q_value REAL,                    -- Benjamini-Hochberg over tested periods
        burst_id INTEGER                 -- removal_bursts.id when part of a burst
    )"""

BURSTS_SQL = """
    CREATE TABLE removal_bursts (
        id INTEGER PRIMARY KEY,
        start_period TEXT NOT NULL,
        end_period TEXT NOT NULL,
        periods INTEGER NOT NULL,
        posts_at_risk INTEGER NOT NULL,
        platform_removed INTEGER NOT NULL,
        rate REAL,
        ci_low REAL,
        ci_high REAL,
        baseline_rate REAL,              -- pooled rate outside the burst
        min_q_value REAL,
        top_terms TEXT,                  -- terms of its removed posts, highest z first
        example_posts TEXT               -- JSON: [{platform, post_id, text}]
    )"""


def _next_period(period: str, unit: str) -> str:
    if unit == "hour":
        moment = datetime.strptime(period, "%Y-%m-%dT%H:00Z") + timedelta(hours=1)
        return moment.strftime("%Y-%m-%dT%H:00Z")
    return (datetime.strptime(period, "%Y-%m-%d") + timedelta(days=1)).strftime("%Y-%m-%d")


def build_bursts(db: sqlite_utils.Database, unit: str, periods: PeriodCounts | None,
                 counts: TermCounts | None, keyword_options: KeywordOptions,
                 options: BurstOptions = BurstOptions()) -> dict[str, int]:
    replace_table(db, "removal_periods", PERIODS_SQL)
    replace_table(db, "removal_bursts", BURSTS_SQL)
    rows = db.execute(f"""
        SELECT {period_sql(unit)} AS period, SUM(at_risk), SUM(at_risk AND reason IS ?)
        FROM {OUTCOMES} GROUP BY period HAVING SUM(at_risk) > 0 ORDER BY period""",
                      [REMOVED_REASON]).fetchall()
    if not rows:
        return {"removal_periods": 0, "removal_bursts": 0}
    names = [r[0] for r in rows]
    n = np.array([r[1] for r in rows], dtype=float)
    x = np.array([r[2] for r in rows], dtype=float)
    others_n, others_x = n.sum() - n, x.sum() - x
    with np.errstate(invalid="ignore", divide="ignore"):
        baseline = np.where(others_n > 0, others_x / others_n, np.nan)
    tested = (n >= options.min_posts) & np.isfinite(baseline)
    p = np.full(len(rows), np.nan)
    p[tested] = binom.sf(x[tested] - 1, n[tested], baseline[tested])
    q = np.full(len(rows), np.nan)
    if tested.any():
        q[tested] = benjamini_hochberg(p[tested])
    low, high = wilson_interval(x, n)
    in_burst = tested & (q < options.alpha) & (x / np.maximum(n, 1) > baseline)

    bursts: list[list[int]] = []
    for k in np.nonzero(in_burst)[0]:
        if bursts and _next_period(names[bursts[-1][-1]], unit) == names[k]:
            bursts[-1].append(int(k))
        else:
            bursts.append([int(k)])
    burst_of = {k: b + 1 for b, ks in enumerate(bursts) for k in ks}
    db.conn.executemany("INSERT INTO removal_periods VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (names[k], int(n[k]), int(x[k]), x[k] / n[k], float(low[k]), float(high[k]),
         _num(baseline[k]), _num(p[k]), _num(q[k]), burst_of.get(k))
        for k in range(len(rows))])

    for b, ks in enumerate(bursts, start=1):
        bn, bx = n[ks].sum(), x[ks].sum()
        lo, hi = wilson_interval([bx], [bn])
        rest_n, rest_x = n.sum() - bn, x.sum() - bx
        terms = _burst_terms([names[k] for k in ks], periods, counts, keyword_options,
                             options.top_terms)
        db.execute("INSERT INTO removal_bursts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            b, names[ks[0]], names[ks[-1]], len(ks), int(bn), int(bx), bx / bn, float(lo[0]),
            float(hi[0]), rest_x / rest_n if rest_n else None, float(np.nanmin(q[ks])),
            " ".join(terms), json.dumps(_examples(db, unit, [names[k] for k in ks],
                                                  options.examples), ensure_ascii=False)])
    return {"removal_periods": len(rows), "removal_bursts": len(bursts)}


def _num(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _burst_terms(names: list[str], periods: PeriodCounts | None, counts: TermCounts | None,
                 options: KeywordOptions, limit: int) -> list[str]:
    if periods is None or counts is None or not periods.terms:
        return []
    zeros = np.zeros(len(periods.terms), dtype=np.int64)
    removed = sum((periods.removed.get(p, zeros) for p in names), zeros.copy())
    surviving = sum((periods.surviving.get(p, zeros) for p in names), zeros.copy())
    background_total = float(sum(counts.background.values())) or 1.0
    prior = options.prior_strength * np.array(
        [counts.background[t] for t in periods.terms], dtype=float) / background_total
    found = top_terms(removed, surviving, sum(periods.removed_totals.get(p, 0.0) for p in names),
                      sum(periods.surviving_totals.get(p, 0.0) for p in names), prior,
                      options.prior_strength, periods.terms, limit, options.min_period_support)
    return [row["term"] for row in found]


def _examples(db: sqlite_utils.Database, unit: str, names: list[str], limit: int) -> list[dict]:
    placeholders = ", ".join("?" for _ in names)
    rows = db.execute(f"""
        SELECT o.platform, o.post_id, {post_text_sql(db, "p")}
        FROM {OUTCOMES} AS o JOIN posts AS p ON p.platform = o.platform AND p.post_id = o.post_id
        WHERE o.at_risk AND o.reason = ? AND {period_sql(unit, "o.cohort_at")} IN ({placeholders})
        ORDER BY o.cohort_at LIMIT ?""", [REMOVED_REASON, *names, limit]).fetchall()
    return [{"platform": platform, "post_id": post_id, "text": (text or "")[:140]}
            for platform, post_id, text in rows]
