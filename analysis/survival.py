"""Time to removal as interval-censored, left-truncated survival, per platform and reason.

The time origin is the post's creation (`created_at`). A removed post's removal time lies in
[last sighting, first missing] (from the latest and earliest possible creation time, see
memoryhole.analysis.outcomes); a post still up is right-censored at its last sighting. Reasons compete: a
post the author deleted can no longer be removed by the platform. Per reason the estimate is
the **cumulative incidence** CIF_k(t), the share of posts removed *first by reason k* within t
(npmle.cumulative_incidence, Hudgens, Satten & Longini 2001), not a "net" 1 - KM that treats the
other reasons as censoring (which answers "if no other reason existed" and overstates the
share: the per-reason curves then sum to more than the all-reason one). The per-reason CIFs sum
to the all-reason curve `any`. Every post is left-truncated at its first
sighting: a post removed before anyone saw it is never in the corpus, so a post only counts
from the moment it was first seen. The distribution is the Turnbull NPMLE (memoryhole.analysis.npmle).

Two scopes, both in `survival_estimates` and `survival_curves`:

- `all_posts`: F(t) (the CIF for a reason), the share of all observed posts removed (first,
  for this reason) within t of creation; its median is NULL unless half of all posts were.
- `removed_posts`: F(t) / F(horizon), the share of the posts removed within the observed horizon
  that were removed within t; the figure Zhu et al. (2013) report. It assumes the removals that
  happen after the horizon (the longest follow-up in the corpus) are negligible; `horizon_seconds`
  and `removed_by_horizon` are stored so a reader can judge.

Confidence intervals come from a bootstrap that resamples *accounts* (posts of one account are
not independent), `bootstrap_samples` times, seeded (reruns give the same numbers). A share's
interval runs from the lower percentile of the replicates' lowest F(t) to the upper percentile
of their highest, lowest/highest placing each removal's share of the mass at the end / start of
its own observed interval (npmle.Distribution.cdf_bounds): below the crawl cadence the
NPMLE's own F(t) is often 0 in every replicate, and a percentile interval of it was [0, 0].
Medians keep the percentile interval. Shares for Δ beyond the horizon are NULL.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
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


_ACCOUNT_BITS = 22    # accounts per platform the aggregation key has room for


def collect_observations(db: sqlite_utils.Database, where: str = "", params: tuple = ()
             ) -> tuple[list[str], dict[tuple[str, str], np.ndarray]]:
    """Grid-aggregated observations of at-risk posts with a known creation time.

    Returns the platforms and, per (platform, first-removal reason or ''), an array of rows
    (entry cell, first cell, last cell if removed else -1, posts, account index): posts of one
    account stay together so the bootstrap can resample accounts."""
    groups: dict[tuple[str, str], dict[int, float]] = {}
    account_index: dict[str, int] = {}
    for rows in iter_chunks(db, f"""
            SELECT platform, COALESCE(reason, ''), entry_s, lower_s, upper_s, account_id
            FROM {OUTCOMES} AS o
            WHERE at_risk AND created_at IS NOT NULL AND lower_s IS NOT NULL {where}""", params):
        platform = np.array([r[0] for r in rows], dtype=object)
        reason = np.array([r[1] for r in rows], dtype=object)
        entry = np.array([r[2] for r in rows], dtype=float)
        lower = np.array([r[3] for r in rows], dtype=float)
        upper = np.array([np.inf if r[4] is None else r[4] for r in rows], dtype=float)
        account = np.array([account_index.setdefault(f"{r[0]}\x1f{r[5]}", len(account_index))
                            for r in rows], dtype=np.int64)
        if len(account_index) >= 1 << _ACCOUNT_BITS:   # pragma: no cover - 4M accounts
            raise ValueError("too many accounts for the survival aggregation key")
        first = npmle.floor_edge(lower)
        last = np.where(np.isfinite(upper), np.maximum(npmle.ceil_edge(upper), first + 1) - 1, -1)
        start = np.minimum(npmle.floor_edge(entry), first)
        labels = np.char.add(np.char.add(platform.astype(str), "\x1f"), reason.astype(str))
        for label in np.unique(labels):
            mask = labels == label
            key = (((start[mask] * npmle.N_CELLS + first[mask]) * (npmle.N_CELLS + 1)
                    + last[mask] + 1) << _ACCOUNT_BITS) + account[mask]
            keys, counts = np.unique(key, return_counts=True)
            bucket = groups.setdefault(tuple(str(label).split("\x1f")), {})
            for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
                bucket[k] = bucket.get(k, 0) + c
    arrays = {}
    for group, bucket in groups.items():
        keys = np.fromiter(bucket.keys(), dtype=np.int64, count=len(bucket))
        counts = np.fromiter(bucket.values(), dtype=float, count=len(bucket))
        account = keys & ((1 << _ACCOUNT_BITS) - 1)
        keys = keys >> _ACCOUNT_BITS
        last = keys % (npmle.N_CELLS + 1) - 1
        first = (keys // (npmle.N_CELLS + 1)) % npmle.N_CELLS
        start = keys // ((npmle.N_CELLS + 1) * npmle.N_CELLS)
        arrays[group] = np.column_stack([start, first, last, counts, account])
    platforms = sorted({platform for platform, _ in arrays})
    return platforms, arrays


@dataclass(frozen=True)
class Clustered:
    """Observation rows with the account each belongs to (cells as in npmle.Observations)."""

    entry: np.ndarray
    first: np.ndarray
    last: np.ndarray
    weight: np.ndarray
    account: np.ndarray

    def observations(self) -> npmle.Observations:
        return npmle.Observations.merged(self.entry, self.first, self.last, self.weight)

    @property
    def events(self) -> float:
        return float(self.weight[self.last < npmle.N_CELLS - 1].sum())


def stratum_observations(arrays: dict[tuple[str, str], np.ndarray], platform: str,
                         reason: str) -> Clustered | None:
    """Observations for one stratum: its reason's removals are events, everything else is
    right-censored at its lower bound."""
    parts = []
    for (p, r), rows in arrays.items():
        if p != platform:
            continue
        last = rows[:, 2].astype(np.int64)
        is_event = (r == reason or (reason == ANY_REASON and r != "")) & (last >= 0)
        last = np.where(is_event, last, npmle.N_CELLS - 1)
        parts.append(np.column_stack([rows[:, 0], rows[:, 1], last, rows[:, 3], rows[:, 4]]))
    if not parts:
        return None
    rows = np.concatenate(parts)
    return Clustered(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64),
                     rows[:, 2].astype(np.int64), rows[:, 3], rows[:, 4].astype(np.int64))


@dataclass
class StratumFit:
    platform: str
    reason: str
    posts: int
    events: int
    distribution: npmle.Distribution
    replicates: list[npmle.Distribution]


def support_rows(support: npmle.Support, entry: np.ndarray, first: np.ndarray,
                 last: np.ndarray) -> np.ndarray:
    """The row of `support`'s merged observations each observation belongs to."""
    width = support.size + 1
    lo = np.searchsorted(support.start, first, side="left")
    hi = np.searchsorted(support.end, last, side="right")
    tlo = np.searchsorted(support.end, entry, side="left")
    keys = (support.tlo * width + support.lo) * width + support.hi
    return np.searchsorted(keys, (tlo * width + lo) * width + hi)


def account_weights(rng: np.random.Generator, account: np.ndarray, weight: np.ndarray,
                    samples: int) -> Iterator[np.ndarray]:
    """Bootstrap weights of observation rows, one replicate at a time, when whole accounts are
    resampled with replacement (posts of one account are not independent)."""
    accounts, index = np.unique(account, return_inverse=True)
    uniform = np.full(len(accounts), 1.0 / len(accounts))
    for _ in range(samples):
        yield rng.multinomial(len(accounts), uniform)[index] * weight


def fit_stratum(obs: npmle.Observations | Clustered, platform: str, reason: str,
                options: SurvivalOptions) -> StratumFit:
    """The NPMLE and its bootstrap replicates: accounts resampled when the observations say
    which account each belongs to (Clustered), posts otherwise."""
    merged = obs.observations() if isinstance(obs, Clustered) else obs
    support = npmle.Support.of(merged)
    mass = npmle.fit(support, support.weight)
    distribution = npmle.Distribution.of(support, mass, npmle.support_placement(support, mass))
    rng = np.random.default_rng([options.seed, *map(ord, f"{platform}/{reason}")])
    total = int(round(merged.total))
    # Replicates start from the estimate (a floor lets mass return where it was 0) and get a
    # fixed budget of accelerated EM iterations: their quantiles and shares then sit within
    # 0.5% of fully converged ones, at a fraction of the cost.
    start = distribution.mass + 0.01 / support.size
    start /= start.sum()
    replicates = []
    if options.bootstrap_samples:
        if isinstance(obs, Clustered):
            rows = support_rows(support, obs.entry, obs.first, obs.last)
            weights = np.array([np.bincount(rows, w, minlength=len(support.weight))
                                for w in account_weights(rng, obs.account, obs.weight,
                                                         options.bootstrap_samples)])
        else:
            share = support.weight / support.weight.sum()
            weights = rng.multinomial(total, share, size=options.bootstrap_samples).astype(float)
        masses = npmle.fit(support, weights, start=start, tol=1e-5,
                           max_iter=options.bootstrap_iterations)
        replicates = [distribution.with_mass(m, npmle.support_placement(support, m, w))
                      for m, w in zip(masses, weights, strict=True)]
    return StratumFit(platform, reason, total, int(round(merged.events)), distribution,
                      replicates)


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


def _share_bounds(distribution: npmle.Distribution, seconds: np.ndarray, scope: str
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest share the data allow (npmle.Distribution.cdf_bounds)."""
    low, high = distribution.cdf_bounds(seconds)
    if scope == "removed_posts":
        by_horizon = distribution.by_horizon
        if by_horizon <= 0:
            return np.full_like(low, np.nan), np.full_like(high, np.nan)
        return low / by_horizon, np.minimum(high / by_horizon, 1.0)
    return low, high


def _bounds_interval(replicates: list[npmle.Distribution], seconds: np.ndarray, scope: str,
                     confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Per time: the lower percentile of the replicates' lowest shares and the upper
    percentile of their highest: sampling error and the data's ambiguity within intervals."""
    if not replicates:
        nan = np.full(len(seconds), np.nan)
        return nan, nan
    bounds = [_share_bounds(r, seconds, scope) for r in replicates]
    lows = np.array([b[0] for b in bounds])
    highs = np.array([b[1] for b in bounds])
    tail = (1 - confidence) / 2 * 100
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN columns beyond the horizon
        return np.nanpercentile(lows, tail, axis=0), np.nanpercentile(highs, 100 - tail, axis=0)


def median_seconds(distribution: npmle.Distribution, scope: str) -> float | None:
    if scope == "removed_posts":
        by_horizon = distribution.by_horizon
        return distribution.quantile(0.5 * by_horizon) if by_horizon > 0 else None
    return distribution.quantile(0.5)


def deadlines(window_s: float | None) -> tuple[tuple[str, float], ...]:
    """The fixed deadlines, and w (label 'w') when the analysis has one: F(w) is the estimate
    the fixed-follow-up rates of memoryhole.analysis.rates are compared with."""
    return WITHIN + ((("w", float(window_s)),) if window_s else ())


def estimate_rows(fit: StratumFit, options: SurvivalOptions,
                  window_s: float | None = None) -> list[dict]:
    """Rows of survival_estimates for one stratum."""
    within_all = deadlines(window_s)
    d = fit.distribution
    base = {"platform": fit.platform, "reason": fit.reason, "posts": fit.posts,
            "events": fit.events, "horizon_seconds": d.horizon,
            "removed_by_horizon": d.by_horizon, "bootstrap_samples": len(fit.replicates)}
    rows = []
    seconds = np.array([s for _, s in within_all])
    for scope in SCOPES:
        median = median_seconds(d, scope) if fit.events else None
        low, high = _interval([median_seconds(r, scope) for r in fit.replicates], options.confidence)
        if median is None:
            low = high = None
        rows.append({**base, "scope": scope, "statistic": "median_seconds", "within": None,
                     "within_seconds": None, "estimate": median, "ci_low": low, "ci_high": high})
        shares = _share(d, seconds, scope)
        lows, highs = _bounds_interval(fit.replicates, seconds, scope, options.confidence)
        for k, (label, within) in enumerate(within_all):
            value = shares[k]
            if np.isnan(value):
                est = low = high = None
            else:
                est = float(value)
                low, high = _num(lows[k]), _num(highs[k])
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
        low, high = _bounds_interval(fit.replicates, points, scope, options.confidence)
        for t, v, lo, hi in zip(points, values, low, high, strict=True):
            rows.append({"platform": fit.platform, "reason": fit.reason, "scope": scope,
                         "seconds": float(t), "share_removed": _num(v), "ci_low": _num(lo),
                         "ci_high": _num(hi)})
    return rows


def _num(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def competing_observations(arrays: dict[tuple[str, str], np.ndarray], platform: str,
                           reasons: list[str]) -> tuple[npmle.CompetingObservations, np.ndarray]:
    """One platform's observations with the index of their first removal's reason (-1: still
    up, right-censored at the last sighting), and the account of each row."""
    parts = []
    for (p, r), rows in arrays.items():
        if p != platform:
            continue
        last = rows[:, 2].astype(np.int64)
        cause = np.where(last >= 0, reasons.index(r) if r in reasons else -1, -1)
        parts.append(np.column_stack([rows[:, 0], rows[:, 1], last, cause, rows[:, 3],
                                      rows[:, 4]]))
    rows = np.concatenate(parts)
    obs = npmle.CompetingObservations(rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64),
                                      rows[:, 2].astype(np.int64), rows[:, 3].astype(np.int64),
                                      rows[:, 4].astype(float))
    return obs, rows[:, 5].astype(np.int64)


def fit_competing(obs: npmle.CompetingObservations, platform: str, reasons: list[str],
                  options: SurvivalOptions, account: np.ndarray | None = None
                  ) -> list[StratumFit]:
    """Per-reason cumulative incidence (npmle.cumulative_incidence) and bootstrap replicates:
    accounts resampled when `account` says which account each row belongs to, rows otherwise;
    each replicate is refitted from the estimate for a fixed budget of EM iterations."""
    support, mass = npmle.cumulative_incidence(obs, len(reasons))
    rng = np.random.default_rng([options.seed, *map(ord, f"{platform}/competing")])
    total = int(round(obs.weight.sum()))
    if account is not None:
        weights = account_weights(rng, account, obs.weight, options.bootstrap_samples)
    else:
        weights = iter(rng.multinomial(total, obs.weight / obs.weight.sum(),
                                       size=options.bootstrap_samples).astype(float))
    start = mass + 0.01 / mass.size
    start /= start.sum()
    replicates: list[tuple[npmle.Support, np.ndarray, np.ndarray]] = []
    for weight in weights:
        keep = weight > 0
        resampled = npmle.CompetingObservations(*(a[keep] for a in (
            obs.entry, obs.first, obs.last, obs.cause, weight)))
        rep_support = rep_support_of(resampled)
        _, rep_mass = npmle.cumulative_incidence(
            resampled, len(reasons), tol=1e-6, max_iter=options.bootstrap_iterations * 5,
            start=_restart(support, start, rep_support))
        replicates.append((rep_support, rep_mass, resampled))
    fits = []
    for k, reason in enumerate(reasons):
        events = int(round(obs.weight[obs.cause == k].sum()))
        if not events:
            continue
        fits.append(StratumFit(platform, reason, total, events,
                               npmle.Distribution.of(support, mass[k],
                                                     _cause_placement(support, mass, obs, k)),
                               [npmle.Distribution.of(s, m[k], _cause_placement(s, m, o, k))
                                for s, m, o in replicates]))
    return fits


def _cause_placement(support: npmle.Support, mass: np.ndarray,
                     obs: npmle.CompetingObservations, cause: int) -> npmle.Placement:
    censored = obs.cause < 0
    lo = np.searchsorted(support.start, obs.first, side="left")
    hi = np.where(censored, support.size, np.searchsorted(support.end, obs.last, side="right"))
    tlo = np.searchsorted(support.end, obs.entry, side="left")
    return npmle.placement(support, mass[cause], mass.sum(axis=0), lo, hi, tlo, obs.first,
                           obs.last, obs.weight, obs.cause == cause)


def rep_support_of(obs: npmle.CompetingObservations) -> npmle.Support:
    censored = obs.cause < 0
    return npmle.Support.of(npmle.Observations.merged(
        obs.entry, obs.first, np.where(censored, npmle.N_CELLS - 1, obs.last), obs.weight))


def _restart(support: npmle.Support, mass: np.ndarray, target: npmle.Support) -> np.ndarray:
    """A start for a replicate's EM: the estimate's mass moved to the replicate's support
    (each interval takes the mass of the estimate's intervals it overlaps), floored."""
    overlap = ((support.start[:, None] <= target.end[None, :])
               & (support.end[:, None] >= target.start[None, :])).astype(float)
    moved = mass @ overlap + 1e-3 / (mass.shape[0] * target.size)
    return moved / moved.sum()


def fit_all(db: sqlite_utils.Database, options: SurvivalOptions, where: str = "",
            params: tuple = ()) -> list[StratumFit]:
    """Per platform: `any` (any first removal; the all-cause NPMLE) and, per reason with
    removals, its cumulative incidence (competing risks: the other reasons compete, they do
    not censor). `where` (SQL on post_outcomes AS o) restricts the posts."""
    platforms, arrays = collect_observations(db, where, params)
    fits = []
    for platform in platforms:
        present = {r for (p, r), rows in arrays.items() if p == platform and r
                   and (rows[:, 2] >= 0).any()}
        ordered = [r for r in REASONS if r in present] + sorted(present - set(REASONS))
        if not ordered:
            continue
        obs = stratum_observations(arrays, platform, ANY_REASON)
        if obs is not None and obs.events > 0:
            fits.append(fit_stratum(obs, platform, ANY_REASON, options))
        competing, account = competing_observations(arrays, platform, ordered)
        fits.extend(fit_competing(competing, platform, ordered, options, account))
    return fits


#: Strata compared by survival_by_group: (grouping, SQL for the group of a post_outcomes row o).
GROUPINGS: dict[str, str] = {
    "watchlist": "COALESCE(o.watchlist, '')",
    "post_kind": ("(SELECT CASE WHEN p.repost_of IS NULL THEN 'original' ELSE 'repost' END "
                  "FROM posts AS p WHERE p.platform = o.platform AND p.post_id = o.post_id)"),
}


def fit_groups(db: sqlite_utils.Database, options: SurvivalOptions
               ) -> dict[tuple[str, str], list[StratumFit]]:
    """The fits of fit_all within each watchlist and for originals vs reposts."""
    out = {}
    for grouping, key in GROUPINGS.items():
        groups = [g for (g,) in db.execute(
            f"SELECT DISTINCT {key} FROM {OUTCOMES} AS o WHERE at_risk ORDER BY 1")]
        if len(groups) < 2:
            continue
        for group in groups:
            out[(grouping, group)] = fit_all(db, options, f"AND {key} = ?", (group,))
    return out


def group_rows(fits: dict[tuple[str, str], list[StratumFit]], options: SurvivalOptions,
               window_s: float | None) -> tuple[list[dict], list[dict]]:
    """Rows of survival_by_group (share removed within each deadline, per group and reason,
    all posts; the median delay among removed posts) and survival_differences (each pair of
    groups of a grouping: the difference of shares, with a bootstrap interval from the groups'
    independent account resamples, widened like the shares' intervals)."""
    deadline = deadlines(window_s)
    seconds = np.array([t for _, t in deadline])
    by_group, differences = [], []
    tail = (1 - options.confidence) / 2 * 100
    for (grouping, group), group_fits in fits.items():
        for fit in group_fits:
            for row in estimate_rows(fit, options, window_s):
                if row["scope"] == "all_posts" and row["statistic"] == "share_within" or (
                        row["scope"] == "removed_posts" and row["statistic"] == "median_seconds"):
                    by_group.append({"grouping": grouping, "key": group, **row})
    for grouping in GROUPINGS:
        keys = sorted({g for (gr, g) in fits if gr == grouping})
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                fa = {(f.platform, f.reason): f for f in fits[(grouping, a)]}
                fb = {(f.platform, f.reason): f for f in fits[(grouping, b)]}
                for platform, reason in sorted(set(fa) & set(fb)):
                    one, two = fa[(platform, reason)], fb[(platform, reason)]
                    est = (_share(one.distribution, seconds, "all_posts")
                           - _share(two.distribution, seconds, "all_posts"))
                    pairs = min(len(one.replicates), len(two.replicates))
                    low = high = np.full(len(seconds), np.nan)
                    if pairs:
                        lo_a, hi_a = zip(*[_share_bounds(r, seconds, "all_posts")
                                           for r in one.replicates[:pairs]], strict=True)
                        lo_b, hi_b = zip(*[_share_bounds(r, seconds, "all_posts")
                                           for r in two.replicates[:pairs]], strict=True)
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", RuntimeWarning)
                            low = np.nanpercentile(np.array(lo_a) - np.array(hi_b), tail, axis=0)
                            high = np.nanpercentile(np.array(hi_a) - np.array(lo_b), 100 - tail,
                                                    axis=0)
                    for k, (label, within) in enumerate(deadline):
                        differences.append({
                            "grouping": grouping, "platform": platform, "reason": reason,
                            "key_a": a, "key_b": b, "within": label, "within_seconds": within,
                            "difference": _num(est[k]), "ci_low": _num(low[k]),
                            "ci_high": _num(high[k])})
    return by_group, differences


BY_GROUP_SQL = """
    CREATE TABLE survival_by_group (
        grouping TEXT NOT NULL,            -- watchlist | post_kind (original or repost)
        key TEXT NOT NULL,                 -- the watchlist's name, or original | repost
        platform TEXT NOT NULL,
        reason TEXT NOT NULL,              -- 'any' or a reason (its cumulative incidence)
        scope TEXT NOT NULL,               -- all_posts (shares) | removed_posts (median)
        statistic TEXT NOT NULL,           -- share_within | median_seconds
        within TEXT,
        within_seconds REAL,
        estimate REAL,
        ci_low REAL,                       -- 95% account bootstrap interval
        ci_high REAL,
        posts INTEGER NOT NULL,
        events INTEGER NOT NULL,
        horizon_seconds REAL,
        removed_by_horizon REAL,
        bootstrap_samples INTEGER NOT NULL
    )"""

DIFFERENCES_SQL = """
    CREATE TABLE survival_differences (
        grouping TEXT NOT NULL,            -- watchlist | post_kind
        platform TEXT NOT NULL,
        reason TEXT NOT NULL,
        key_a TEXT NOT NULL,
        key_b TEXT NOT NULL,
        within TEXT NOT NULL,
        within_seconds REAL NOT NULL,
        difference REAL,                   -- F_a(t) - F_b(t), shares of all posts
        ci_low REAL,                       -- 95% bootstrap interval (groups resampled apart)
        ci_high REAL
    )"""


ESTIMATES_SQL = """
    CREATE TABLE survival_estimates (
        platform TEXT NOT NULL,
        reason TEXT NOT NULL,              -- a removal reason, or 'any'
        scope TEXT NOT NULL,               -- all_posts | removed_posts
        statistic TEXT NOT NULL,           -- median_seconds | share_within
        within TEXT,                       -- 5m | 30m | 1h | 24h | w (share_within; w: the
                                           -- analysis's fixed follow-up, see removal_rates)
        within_seconds REAL,
        estimate REAL,                     -- seconds (median) or share; NULL: not estimable
        ci_low REAL,                       -- 95% account bootstrap interval (see above)
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


def write_group_tables(db: sqlite_utils.Database,
                       fits: dict[tuple[str, str], list[StratumFit]],
                       options: SurvivalOptions) -> dict[str, int]:
    replace_table(db, "survival_by_group", BY_GROUP_SQL)
    replace_table(db, "survival_differences", DIFFERENCES_SQL)
    (window_s,) = db.execute(f"SELECT MAX(window_s) FROM {OUTCOMES}").fetchone()
    by_group, differences = group_rows(fits, options, window_s)
    if by_group:
        db["survival_by_group"].insert_all(by_group)
    if differences:
        db["survival_differences"].insert_all(differences)
    return {"survival_by_group": len(by_group), "survival_differences": len(differences)}


def write_tables(db: sqlite_utils.Database, fits: list[StratumFit],
                 options: SurvivalOptions) -> dict[str, int]:
    replace_table(db, "survival_estimates", ESTIMATES_SQL)
    replace_table(db, "survival_curves", CURVES_SQL)
    (window_s,) = db.execute(f"SELECT MAX(window_s) FROM {OUTCOMES}").fetchone()
    estimates = [row for fit in fits for row in estimate_rows(fit, options, window_s)]
    curves = [row for fit in fits for row in curve_rows(fit, options)]
    if estimates:
        db["survival_estimates"].insert_all(estimates)
    if curves:
        db["survival_curves"].insert_all(curves)
    return {"survival_estimates": len(estimates), "survival_curves": len(curves)}
