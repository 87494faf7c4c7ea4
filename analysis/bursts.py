"""Bursts: periods whose platform-removal rate departs from the baseline, and volume bursts.

**Removal bursts.** Population and outcome as in memoryhole.analysis.keywords: posts followed for at least
w (`eligible`), removed by the platform within w against not removed within w (posts removed
within w for another reason are left out). Posts are grouped by the period they were created in:
a day in Beijing time (UTC+8; an hour when the corpus covers less than three days). For each
period with at least `min_posts` posts, x of n were removed.

Daily rates vary more than binomially (news cycles, moderators' shifts, copies of one text): an
exact binomial test against a pooled baseline takes the baseline as exact and flagged 15.7 of 90
no-burst days at 5,000 posts/day when the daily rate varied by 10%. So the test is
**beta-binomial**: x ~ BetaBinomial(n, p0, ρ), p0 the pooled rate and ρ the intra-period
correlation, both estimated from the *reference periods* — every other tested period not itself
in a burst — by moments (ρ = Σ[(x_j − n_j p0)²·K/(K−1) − n_j p0 q0] / (p0 q0 Σ n_j(n_j − 1)),
clipped at 0; Var x = n p q (1 + (n − 1) ρ)). One-sided p-value P(X ≥ x), Benjamini–Hochberg
q-values over the tested periods; a period is in a burst when q < `alpha` and x/n > p0. Bursts
leave the reference set and the test is repeated until the set of bursts is stable (at most
`max_rounds` rounds), so one burst does not raise the baseline of another. Consecutive burst
periods merge. Each burst lists its top terms (weighted log-odds of its removed vs surviving
texts, prior from the whole corpus; see memoryhole.analysis.keywords) and example posts.
Assumes periods are exchangeable apart from bursts: a steady trend shows as many bursts.

**Volume bursts by topic** (as King, Pan & Roberts 2013 compare censorship inside and outside
volume bursts): for each term of the user dictionary (a topic), its eligible posts per Beijing
day, a repost counting for the topic when its comment or its original has the term. A day is in
a volume burst of the topic when the topic has at least `volume_min_posts` posts that day and
more than `volume_factor` times its typical (median) daily share of all posts (the median over
days with at least `min_posts` posts). Per topic, the
platform-removal rate (within w) inside and outside its volume-burst days, with Wilson intervals,
and their difference with an account-clustered (CR1) standard error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import sqlite_utils
from scipy.stats import betabinom, binom
from scipy.stats import t as student_t

from .keywords import (
    REMOVED_REASON,
    KeywordOptions,
    PeriodCounts,
    TermCounts,
    period_prior,
    period_sql,
    top_terms,
)
from .outcomes import TABLE as OUTCOMES
from .segmentation import TABLE as TOKENS
from .segmentation import post_text_sql
from .sql import iter_chunks, replace_table
from .stats import benjamini_hochberg, wilson_interval


@dataclass(frozen=True)
class BurstOptions:
    min_posts: int = 20
    alpha: float = 0.05
    examples: int = 3
    top_terms: int = 10
    min_reference: int = 3        # reference periods needed to estimate p0 and ρ
    max_rounds: int = 5
    volume_min_posts: int = 10
    volume_factor: float = 3.0


def population_sql(alias: str = "") -> str:
    """Posts in the comparison: eligible, not removed within w for another reason than the
    platform's."""
    a = f"{alias}." if alias else ""
    return f"{a}eligible = 1 AND ({a}removed_within = 0 OR {a}reason IS '{REMOVED_REASON}')"


def removed_sql(alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    return f"({a}removed_within = 1 AND {a}reason IS '{REMOVED_REASON}')"


def population_posts_sql() -> str:
    """FROM ... WHERE for the population's posts as `o` (outcomes), `p` (posts), `t` (their
    tokens) and `ot` (their original's tokens): what the topic and model steps read."""
    return f"""FROM {OUTCOMES} AS o
        JOIN posts AS p ON p.platform = o.platform AND p.post_id = o.post_id
        LEFT JOIN {TOKENS} AS t ON t.platform = o.platform AND t.post_id = o.post_id
        LEFT JOIN {TOKENS} AS ot ON ot.platform = p.platform AND ot.post_id = p.repost_of
        WHERE {population_sql("o")}"""

PERIODS_SQL = """
    CREATE TABLE removal_periods (
        period TEXT PRIMARY KEY,         -- Beijing day (or hour, +08:00) the posts were created
        posts_at_risk INTEGER NOT NULL,  -- eligible posts (followed for at least w)
        platform_removed INTEGER NOT NULL,  -- of which removed by the platform within w
        rate REAL,
        ci_low REAL,                     -- 95% Wilson interval
        ci_high REAL,
        baseline_rate REAL,              -- pooled rate of the reference periods
        dispersion REAL,                 -- intra-period correlation ρ of the reference periods
        p_value REAL,                    -- one-sided beta-binomial test against the baseline
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
        baseline_rate REAL,              -- pooled rate of the periods in no burst
        min_q_value REAL,
        top_terms TEXT,                  -- terms of its removed posts, highest z first
        example_posts TEXT               -- JSON: [{platform, post_id, text}]
    )"""

VOLUME_SQL = """
    CREATE TABLE topic_volume_bursts (
        topic TEXT PRIMARY KEY,          -- a term of the user dictionary
        days INTEGER NOT NULL,           -- Beijing days with posts on the topic
        burst_days TEXT,                 -- the topic's volume-burst days, space-separated
        posts_in_bursts INTEGER NOT NULL,
        removed_in_bursts INTEGER NOT NULL,  -- by the platform within w
        rate_in_bursts REAL,
        ci_low_in REAL,                  -- 95% Wilson interval
        ci_high_in REAL,
        posts_outside INTEGER NOT NULL,
        removed_outside INTEGER NOT NULL,
        rate_outside REAL,
        ci_low_out REAL,
        ci_high_out REAL,
        rate_difference REAL,            -- rate_in_bursts - rate_outside
        rate_difference_se REAL,         -- account-clustered (CR1)
        p_value REAL                     -- two-sided t test of the difference (accounts - 1 df)
    )"""


def _next_period(period: str, unit: str) -> str:
    if unit == "hour":
        moment = datetime.strptime(period, "%Y-%m-%dT%H:00+08:00") + timedelta(hours=1)
        return moment.strftime("%Y-%m-%dT%H:00+08:00")
    return (datetime.strptime(period, "%Y-%m-%d") + timedelta(days=1)).strftime("%Y-%m-%d")


@dataclass
class BurstTest:
    baseline: np.ndarray
    dispersion: np.ndarray
    p: np.ndarray
    q: np.ndarray
    in_burst: np.ndarray
    rounds: int


def dispersion_moments(n: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Pooled rate p0 and beta-binomial intra-period correlation ρ (moments, clipped at 0)."""
    total = n.sum()
    if total <= 0 or len(n) < 2:
        return float("nan"), 0.0
    p0 = x.sum() / total
    pq = p0 * (1 - p0)
    pairs = float((n * (n - 1)).sum())
    if pq <= 0 or pairs <= 0:
        return float(p0), 0.0
    k = len(n)
    excess = ((x - n * p0) ** 2).sum() * k / (k - 1) - (n * pq).sum()
    return float(p0), float(max(0.0, excess / (pq * pairs)))


def burst_test(n: np.ndarray, x: np.ndarray, options: BurstOptions = BurstOptions(),
               overdispersed: bool = True) -> BurstTest:
    """Which periods are removal bursts (see the module doc); `overdispersed=False` is the
    former exact binomial test against the pooled rate of all other periods, for comparison."""
    n, x = np.asarray(n, dtype=float), np.asarray(x, dtype=float)
    k = len(n)
    tested = n >= options.min_posts
    in_burst = np.zeros(k, dtype=bool)
    baseline, rho = np.full(k, np.nan), np.full(k, np.nan)
    p, q = np.full(k, np.nan), np.full(k, np.nan)
    rounds = 0
    while rounds < options.max_rounds:
        rounds += 1
        for j in np.nonzero(tested)[0]:
            ref = tested & ~in_burst
            ref[j] = False
            if not overdispersed:
                ref = np.ones(k, dtype=bool)
                ref[j] = False
            if ref.sum() < options.min_reference:
                baseline[j], rho[j], p[j] = np.nan, np.nan, np.nan
                continue
            p0, r = dispersion_moments(n[ref], x[ref])
            baseline[j], rho[j] = p0, (r if overdispersed else 0.0)
            if not 0 < p0 < 1:
                p[j] = 1.0 if x[j] == 0 or p0 >= 1 else 0.0
            elif r > 0 and overdispersed:
                a, b = p0 * (1 - r) / r, (1 - p0) * (1 - r) / r
                p[j] = betabinom.sf(x[j] - 1, n[j], a, b)
            else:
                p[j] = binom.sf(x[j] - 1, n[j], p0)
        ok = np.isfinite(p)
        q = np.full(k, np.nan)
        if ok.any():
            q[ok] = benjamini_hochberg(p[ok])
        with np.errstate(invalid="ignore", divide="ignore"):
            found = ok & (q < options.alpha) & (x / np.maximum(n, 1) > baseline)
        if not overdispersed or np.array_equal(found, in_burst):
            in_burst = found
            break
        in_burst = found
    return BurstTest(baseline, rho, p, q, in_burst, rounds)


def build_bursts(db: sqlite_utils.Database, unit: str, periods: PeriodCounts | None,
                 counts: TermCounts | None, keyword_options: KeywordOptions,
                 options: BurstOptions = BurstOptions()) -> dict[str, int]:
    replace_table(db, "removal_periods", PERIODS_SQL)
    replace_table(db, "removal_bursts", BURSTS_SQL)
    rows = db.execute(f"""
        SELECT {period_sql(unit)} AS period, COUNT(*), SUM({removed_sql()})
        FROM {OUTCOMES} WHERE {population_sql()} GROUP BY period ORDER BY period""").fetchall()
    if not rows:
        return {"removal_periods": 0, "removal_bursts": 0}
    names = [r[0] for r in rows]
    n = np.array([r[1] for r in rows], dtype=float)
    x = np.array([r[2] for r in rows], dtype=float)
    test = burst_test(n, x, options)
    low, high = wilson_interval(x, n)

    bursts: list[list[int]] = []
    for k in np.nonzero(test.in_burst)[0]:
        if bursts and _next_period(names[bursts[-1][-1]], unit) == names[k]:
            bursts[-1].append(int(k))
        else:
            bursts.append([int(k)])
    burst_of = {k: b + 1 for b, ks in enumerate(bursts) for k in ks}
    db.conn.executemany("INSERT INTO removal_periods VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (names[k], int(n[k]), int(x[k]), x[k] / n[k], float(low[k]), float(high[k]),
         _num(test.baseline[k]), _num(test.dispersion[k]), _num(test.p[k]), _num(test.q[k]),
         burst_of.get(k))
        for k in range(len(rows))])

    quiet = ~test.in_burst
    for b, ks in enumerate(bursts, start=1):
        bn, bx = n[ks].sum(), x[ks].sum()
        lo, hi = wilson_interval([bx], [bn])
        rest_n, rest_x = n[quiet].sum(), x[quiet].sum()
        terms = _burst_terms([names[k] for k in ks], periods, counts, keyword_options,
                             options.top_terms)
        db.execute("INSERT INTO removal_bursts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            b, names[ks[0]], names[ks[-1]], len(ks), int(bn), int(bx), bx / bn, float(lo[0]),
            float(hi[0]), rest_x / rest_n if rest_n else None, float(np.nanmin(test.q[ks])),
            " ".join(terms), json.dumps(_examples(db, unit, [names[k] for k in ks],
                                                  options.examples), ensure_ascii=False)])
    return {"removal_periods": len(rows), "removal_bursts": len(bursts)}


def _num(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _burst_terms(names: list[str], periods: PeriodCounts | None, counts: TermCounts | None,
                 options: KeywordOptions, limit: int) -> list[str]:
    if periods is None or counts is None or not periods.terms:
        return []
    zeros = np.zeros(len(periods.terms))
    removed = sum((periods.removed.get(p, zeros) for p in names), zeros.copy())
    surviving = sum((periods.surviving.get(p, zeros) for p in names), zeros.copy())
    found = top_terms(removed, surviving, sum(periods.removed_totals.get(p, 0.0) for p in names),
                      sum(periods.surviving_totals.get(p, 0.0) for p in names),
                      period_prior(periods, counts, options), options.prior_strength,
                      periods.terms, limit, options.min_period_support)
    return [row["term"] for row in found]


def _examples(db: sqlite_utils.Database, unit: str, names: list[str], limit: int) -> list[dict]:
    placeholders = ", ".join("?" for _ in names)
    rows = db.execute(f"""
        SELECT o.platform, o.post_id, {post_text_sql(db, "p")}
        FROM {OUTCOMES} AS o JOIN posts AS p ON p.platform = o.platform AND p.post_id = o.post_id
        WHERE o.eligible = 1 AND o.removed_within = 1 AND o.reason = ?
          AND {period_sql(unit, "o.cohort_at")} IN ({placeholders})
        ORDER BY o.cohort_at LIMIT ?""", [REMOVED_REASON, *names, limit]).fetchall()
    return [{"platform": platform, "post_id": post_id, "text": (text or "")[:140]}
            for platform, post_id, text in rows]


# ----------------------------------------------------------------------------- volume bursts

def volume_burst_days(topic_posts: dict[str, int], all_posts: dict[str, int],
                      options: BurstOptions = BurstOptions()) -> set[str]:
    """The days a topic's volume bursts: >= volume_min_posts posts and more than volume_factor
    times its median daily share of all posts. The median is over the days with at least
    `min_posts` posts in all (a day with no post on the topic counts 0), so the scattered old
    posts a first crawl finds do not make every busy day a burst."""
    days = sorted(d for d, n in all_posts.items() if n >= options.min_posts)
    shares = np.array([topic_posts.get(d, 0) / all_posts[d] for d in days])
    typical = float(np.median(shares)) if len(shares) else 0.0
    return {d for d, share in zip(days, shares, strict=True)
            if topic_posts.get(d, 0) >= options.volume_min_posts
            and share > options.volume_factor * typical}


def clustered_difference(y: np.ndarray, group: np.ndarray, cluster: np.ndarray
                         ) -> tuple[float, float, int]:
    """mean(y | group) − mean(y | not group), its CR1 standard error clustered by `cluster`,
    and the number of clusters."""
    y, g = np.asarray(y, dtype=float), np.asarray(group, dtype=bool)
    ids, c = np.unique(cluster, return_inverse=True)
    n1, n0 = g.sum(), (~g).sum()
    if n1 == 0 or n0 == 0:
        return float("nan"), float("nan"), len(ids)
    p1, p0 = y[g].mean(), y[~g].mean()
    influence = np.where(g, (y - p1) / n1, -(y - p0) / n0)
    u = np.bincount(c, weights=influence, minlength=len(ids))
    G = len(ids)
    var = (u ** 2).sum() * (G / (G - 1) if G > 1 else np.nan)
    return float(p1 - p0), float(np.sqrt(var)), G


def _topic_posts_sql() -> str:
    return f"""
        SELECT o.account_id, {period_sql("day", "o.cohort_at")}, {removed_sql("o")}, t.tokens,
               ot.tokens
        {population_posts_sql()}"""


def build_volume_bursts(db: sqlite_utils.Database, topics: frozenset[str],
                        options: BurstOptions = BurstOptions()) -> int:
    """topic_volume_bursts: censorship inside vs outside each topic's volume bursts."""
    replace_table(db, "topic_volume_bursts", VOLUME_SQL)
    if not topics or TOKENS not in db.table_names():
        return 0
    all_posts: dict[str, int] = {}
    found: dict[str, list[tuple[str, str, int]]] = {t: [] for t in topics}
    for rows in iter_chunks(db, _topic_posts_sql()):
        for account, day, removed, tokens, original in rows:
            all_posts[day] = all_posts.get(day, 0) + 1
            words = set((tokens or "").split()) | set((original or "").split())
            for topic in topics & words:
                found[topic].append((account, day, int(removed)))
    out = []
    for topic in sorted(topics):
        posts = found[topic]
        if not posts:
            continue
        per_day: dict[str, int] = {}
        for _, day, _ in posts:
            per_day[day] = per_day.get(day, 0) + 1
        burst = volume_burst_days(per_day, all_posts, options)
        inside = np.array([day in burst for _, day, _ in posts])
        y = np.array([r for _, _, r in posts], dtype=float)
        accounts = np.array([a for a, _, _ in posts])
        xi, ni = float(y[inside].sum()), int(inside.sum())
        xo, no = float(y[~inside].sum()), int((~inside).sum())
        (li, lo), (hi, ho) = wilson_interval([xi, xo], [ni, no])
        diff, se, groups = clustered_difference(y, inside, accounts)
        p = (2 * student_t.sf(abs(diff / se), max(groups - 1, 1))
             if np.isfinite(se) and se > 0 else None)
        out.append((topic, len(per_day), " ".join(sorted(burst)) or None, ni, int(xi),
                    xi / ni if ni else None, _num(li), _num(hi), no, int(xo),
                    xo / no if no else None, _num(lo), _num(ho), _num(diff), _num(se), p))
    db.conn.executemany(f"INSERT INTO topic_volume_bursts VALUES ({', '.join('?' * 16)})", out)
    return len(out)
