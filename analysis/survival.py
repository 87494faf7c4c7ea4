"""Time to removal as interval-censored, left-truncated survival, per platform and reason.

The time origin is the post's creation (`created_at`). A removed post's removal time lies in
[last sighting, first missing] (widened by the resolution of created_at, see memoryhole.analysis.outcomes);
a post still up is right-censored at its last sighting; a post removed for *another* reason is
right-censored at its last sighting before that removal (cause-specific analysis: competing
removals are assumed independent of this one). Every post is left-truncated at its first
sighting: a post removed before anyone saw it is never in the corpus, so a post only counts
from the moment it was first seen. The distribution is the Turnbull NPMLE (memoryhole.analysis.npmle).

Two scopes, both in `survival_estimates` and `survival_curves`:

- `all_posts`: F(t), the share of all observed posts removed (for this reason) within t of
  creation; its median is NULL unless half of all posts were removed within the horizon.
- `removed_posts`: F(t) / F(horizon), the share of the posts removed within the observed horizon
  that were removed within t; the figure Zhu et al. (2013) report. It assumes the removals that
  happen after the horizon (the longest follow-up in the corpus) are negligible; `horizon_seconds`
  and `removed_by_horizon` are stored so a reader can judge.

Confidence intervals are percentile bootstrap intervals (posts resampled with replacement,
`bootstrap_samples` times, seeded: reruns give the same numbers). Shares for Δ beyond the
horizon are NULL: the corpus says nothing about them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlite_utils
from memoryhole.corpus.reasons import REASONS

from . import npmle
from .outcomes import TABLE as OUTCOMES
from .sql import iter_chunks, replace_table

ANY_REASON = "any"
WITHIN: tuple[tuple[str, float], ...] = (("5m", 300.0), ("30m", 1800.0), ("1h", 3600.0),
                                         ("24h", 86400.0))
SCOPES = ("all_posts", "removed_posts")
CURVE_POINTS = 80


@dataclass(frozen=True)
class SurvivalOptions:
    bootstrap_samples: int = 200
    bootstrap_iterations: int = 60     # accelerated EM iterations per replicate
    seed: int = 20130501
    confidence: float = 0.95


def _collect(db: sqlite_utils.Database) -> tuple[list[str], dict[tuple[str, str], np.ndarray]]:
    """Grid-aggregated observations of at-risk posts with a known creation time.

    Returns the platforms and, per (platform, first-removal reason or ''), an array of rows
    (entry cell, first cell, last cell if removed else -1, posts)."""
    groups: dict[tuple[str, str], dict[tuple[int, int, int], float]] = {}
    for rows in iter_chunks(db, f"""
            SELECT platform, COALESCE(reason, ''), entry_s, lower_s, upper_s FROM {OUTCOMES}
            WHERE at_risk AND created_at IS NOT NULL AND lower_s IS NOT NULL"""):
        platform = np.array([r[0] for r in rows], dtype=object)
        reason = np.array([r[1] for r in rows], dtype=object)
        entry = np.array([r[2] for r in rows], dtype=float)
        lower = np.array([r[3] for r in rows], dtype=float)
        upper = np.array([np.inf if r[4] is None else r[4] for r in rows], dtype=float)
        first = npmle.floor_edge(lower)
        last = np.where(np.isfinite(upper), np.maximum(npmle.ceil_edge(upper), first + 1) - 1, -1)
        start = np.minimum(npmle.floor_edge(entry), first)
        labels = np.char.add(np.char.add(platform.astype(str), "\x1f"), reason.astype(str))
        for label in np.unique(labels):
            mask = labels == label
            key = (start[mask] * npmle.N_CELLS + first[mask]) * (npmle.N_CELLS + 1) + last[mask] + 1
            keys, counts = np.unique(key, return_counts=True)
            bucket = groups.setdefault(tuple(str(label).split("\x1f")), {})
            for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
                bucket[k] = bucket.get(k, 0) + c
    arrays = {}
    for group, bucket in groups.items():
        keys = np.fromiter(bucket.keys(), dtype=np.int64, count=len(bucket))
        counts = np.fromiter(bucket.values(), dtype=float, count=len(bucket))
        last = keys % (npmle.N_CELLS + 1) - 1
        first = (keys // (npmle.N_CELLS + 1)) % npmle.N_CELLS
        start = keys // ((npmle.N_CELLS + 1) * npmle.N_CELLS)
        arrays[group] = np.column_stack([start, first, last, counts])
    platforms = sorted({platform for platform, _ in arrays})
    return platforms, arrays


def stratum_observations(arrays: dict[tuple[str, str], np.ndarray], platform: str,
                         reason: str) -> npmle.Observations | None:
    """Observations for one stratum: its reason's removals are events, everything else is
    right-censored at its lower bound."""
    parts = []
    for (p, r), rows in arrays.items():
        if p != platform:
            continue
        last = rows[:, 2].astype(np.int64)
        is_event = (r == reason or (reason == ANY_REASON and r != "")) & (last >= 0)
        last = np.where(is_event, last, npmle.N_CELLS - 1)
        parts.append(np.column_stack([rows[:, 0], rows[:, 1], last, rows[:, 3]]))
    if not parts:
        return None
    rows = np.concatenate(parts)
    return npmle.Observations.merged(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64),
                                     rows[:, 2].astype(np.int64), rows[:, 3])


@dataclass
class StratumFit:
    platform: str
    reason: str
    posts: int
    events: int
    distribution: npmle.Distribution
    replicates: list[npmle.Distribution]


def fit_stratum(obs: npmle.Observations, platform: str, reason: str,
                options: SurvivalOptions) -> StratumFit:
    """The NPMLE and its bootstrap replicates (multinomial resampling of posts)."""
    support, distribution = npmle.estimate(obs)
    rng = np.random.default_rng([options.seed, *map(ord, f"{platform}/{reason}")])
    total = int(round(obs.total))
    share = support.weight / support.weight.sum()
    # Replicates start from the estimate (a floor lets mass return where it was 0) and get a
    # fixed budget of accelerated EM iterations: their quantiles and shares then sit within
    # 0.5% of fully converged ones, at a fraction of the cost.
    start = distribution.mass + 0.01 / support.size
    start /= start.sum()
    replicates = []
    if options.bootstrap_samples:
        weights = rng.multinomial(total, share, size=options.bootstrap_samples).astype(float)
        masses = npmle.fit(support, weights, start=start, tol=1e-5,
                           max_iter=options.bootstrap_iterations)
        replicates = [distribution.with_mass(mass) for mass in masses]
    return StratumFit(platform, reason, total, int(round(obs.events)), distribution, replicates)


def _interval(values: list[float | None], confidence: float) -> tuple[float | None, float | None]:
    """Percentile interval; None (unreached) counts as +inf, NaN (undefined) is dropped."""
    x = np.array([np.inf if v is None else v for v in values], dtype=float)
    x = x[~np.isnan(x)]
    if not len(x):
        return None, None
    tail = (1 - confidence) / 2 * 100
    with np.errstate(invalid="ignore"):   # inf - inf inside percentile: an unbounded end
        low, high = np.percentile(x, [tail, 100 - tail])
    return (None if not np.isfinite(low) else float(low),
            None if not np.isfinite(high) else float(high))


def _share(distribution: npmle.Distribution, seconds: np.ndarray, scope: str) -> np.ndarray:
    values = distribution.cdf(seconds)
    if scope == "removed_posts":
        by_horizon = distribution.by_horizon
        return values / by_horizon if by_horizon > 0 else np.full_like(values, np.nan)
    return values


def _median(distribution: npmle.Distribution, scope: str) -> float | None:
    if scope == "removed_posts":
        by_horizon = distribution.by_horizon
        return distribution.quantile(0.5 * by_horizon) if by_horizon > 0 else None
    return distribution.quantile(0.5)


def estimate_rows(fit: StratumFit, options: SurvivalOptions) -> list[dict]:
    """Rows of survival_estimates for one stratum."""
    d = fit.distribution
    base = {"platform": fit.platform, "reason": fit.reason, "posts": fit.posts,
            "events": fit.events, "horizon_seconds": d.horizon,
            "removed_by_horizon": d.by_horizon, "bootstrap_samples": len(fit.replicates)}
    rows = []
    seconds = np.array([s for _, s in WITHIN])
    for scope in SCOPES:
        median = _median(d, scope) if fit.events else None
        low, high = _interval([_median(r, scope) for r in fit.replicates], options.confidence)
        if median is None:
            low = high = None
        rows.append({**base, "scope": scope, "statistic": "median_seconds", "within": None,
                     "within_seconds": None, "estimate": median, "ci_low": low, "ci_high": high})
        shares = _share(d, seconds, scope)
        replicated = np.array([_share(r, seconds, scope) for r in fit.replicates]).reshape(
            len(fit.replicates), len(seconds))
        for k, (label, within) in enumerate(WITHIN):
            value = shares[k]
            if np.isnan(value):
                est = low = high = None
            else:
                est = float(value)
                low, high = _interval(replicated[:, k].tolist(), options.confidence)
            rows.append({**base, "scope": scope, "statistic": "share_within", "within": label,
                         "within_seconds": within, "estimate": est, "ci_low": low,
                         "ci_high": high})
    return rows


def curve_rows(fit: StratumFit, options: SurvivalOptions) -> list[dict]:
    """Rows of survival_curves: the share removed by t on a log grid up to the horizon."""
    d = fit.distribution
    if not fit.events or not np.isfinite(d.horizon) or d.horizon <= 0:
        return []
    points = np.unique(np.concatenate(
        ([0.0], np.geomspace(1.0, max(d.horizon, 1.0), CURVE_POINTS))))
    points = points[points <= d.horizon]
    rows = []
    for scope in SCOPES:
        values = _share(d, points, scope)
        if fit.replicates:
            replicated = np.array([_share(r, points, scope) for r in fit.replicates])
            tail = (1 - options.confidence) / 2 * 100
            with np.errstate(all="ignore"):
                low, high = np.nanpercentile(replicated, [tail, 100 - tail], axis=0)
        else:
            low = high = np.full_like(values, np.nan)
        for t, v, lo, hi in zip(points, values, low, high, strict=True):
            rows.append({"platform": fit.platform, "reason": fit.reason, "scope": scope,
                         "seconds": float(t), "share_removed": _num(v), "ci_low": _num(lo),
                         "ci_high": _num(hi)})
    return rows


def _num(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def fit_all(db: sqlite_utils.Database, options: SurvivalOptions) -> list[StratumFit]:
    """One fit per platform and reason with removals, plus `any` (any first removal)."""
    platforms, arrays = _collect(db)
    fits = []
    for platform in platforms:
        present = {r for (p, r), rows in arrays.items() if p == platform and r
                   and (rows[:, 2] >= 0).any()}
        ordered = [r for r in REASONS if r in present] + sorted(present - set(REASONS))
        for reason in ([ANY_REASON] if present else []) + ordered:
            obs = stratum_observations(arrays, platform, reason)
            if obs is not None and obs.events > 0:
                fits.append(fit_stratum(obs, platform, reason, options))
    return fits


ESTIMATES_SQL = """
    CREATE TABLE survival_estimates (
        platform TEXT NOT NULL,
        reason TEXT NOT NULL,              -- a removal reason, or 'any'
        scope TEXT NOT NULL,               -- all_posts | removed_posts
        statistic TEXT NOT NULL,           -- median_seconds | share_within
        within TEXT,                       -- 5m | 30m | 1h | 24h (share_within)
        within_seconds REAL,
        estimate REAL,                     -- seconds (median) or share; NULL: not estimable
        ci_low REAL,                       -- 95% percentile bootstrap interval
        ci_high REAL,
        posts INTEGER NOT NULL,            -- at-risk posts with a known creation time
        events INTEGER NOT NULL,           -- of which removed for this reason
        horizon_seconds REAL,              -- longest follow-up the data speak for
        removed_by_horizon REAL,           -- F(horizon), share of all posts
        bootstrap_samples INTEGER NOT NULL
    )"""

CURVES_SQL = """
    CREATE TABLE survival_curves (
        platform TEXT NOT NULL,
        reason TEXT NOT NULL,
        scope TEXT NOT NULL,
        seconds REAL NOT NULL,             -- time since creation
        share_removed REAL,                -- F(t), or F(t)/F(horizon) for removed_posts
        ci_low REAL,
        ci_high REAL,
        PRIMARY KEY (platform, reason, scope, seconds)
    )"""


def write_tables(db: sqlite_utils.Database, fits: list[StratumFit],
                 options: SurvivalOptions) -> dict[str, int]:
    replace_table(db, "survival_estimates", ESTIMATES_SQL)
    replace_table(db, "survival_curves", CURVES_SQL)
    estimates = [row for fit in fits for row in estimate_rows(fit, options)]
    curves = [row for fit in fits for row in curve_rows(fit, options)]
    if estimates:
        db["survival_estimates"].insert_all(estimates)
    if curves:
        db["survival_curves"].insert_all(curves)
    return {"survival_estimates": len(estimates), "survival_curves": len(curves)}
