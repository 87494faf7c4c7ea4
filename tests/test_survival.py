"""memoryhole.analysis.npmle and memoryhole.analysis.survival: the interval-censored,
left-truncated estimator.

lifelines is the reference: its Turnbull NPMLE where no truncation is involved, its
product-limit estimator with delayed entry where every time is exact.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from memoryhole.analysis import npmle, survival


def checked_intervals(rng, n, every=(20.0, 120.0), censor_at=1500.0):
    """Event times from a Weibull, seen through periodic checks with a random phase."""
    times = rng.weibull(1.3, n) * 600
    gap = rng.uniform(*every, n)
    phase = rng.uniform(0, 1, n) * gap
    k = np.floor((times - phase) / gap)
    lower = np.where(times < phase, 0.0, phase + k * gap)
    upper = np.where(times < phase, phase, lower + gap)
    censored = rng.uniform(0, censor_at, n)
    right = censored < lower
    return times, np.where(right, censored, lower), np.where(right, np.inf, upper)


def test_grid_rounds_outwards_so_intervals_still_hold_the_truth():
    rng = np.random.default_rng(3)
    times, lower, upper = checked_intervals(rng, 2000)
    obs_lower = npmle.edge_seconds(npmle.floor_edge(lower))
    obs_upper = npmle.edge_seconds(npmle.ceil_edge(upper))
    assert np.all(obs_lower <= lower) and np.all(upper <= obs_upper)
    assert np.all((obs_lower <= times) | (upper == np.inf))
    # 2% grid: an edge is never more than 2% below the time it stands for
    finite = lower > 1
    assert np.all(obs_lower[finite] >= lower[finite] / npmle.GRID_RATIO - 1e-9)


def test_matches_lifelines_turnbull_without_truncation():
    rng = np.random.default_rng(1)
    _, lower, upper = checked_intervals(rng, 150)
    lower = npmle.edge_seconds(npmle.floor_edge(lower))
    upper = npmle.edge_seconds(npmle.ceil_edge(upper))
    support, ours = npmle.estimate(npmle.Observations.from_seconds(lower, upper), tol=1e-9)
    kmf = KaplanMeierFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Our cells are half-open; lifelines' intervals are closed: shrink them by a hair.
        kmf.fit_interval_censoring(lower + 1e-6, upper - 1e-6, tol=1e-12)
    theirs = kmf.survival_function_.iloc[:, 1]
    ends = ours.t1[np.isfinite(ours.t1)]
    cumulative = np.cumsum(ours.mass)[np.isfinite(ours.t1)]
    expected = np.array([1 - theirs[theirs.index <= e].iloc[-1] for e in ends])
    assert support.size > 10
    np.testing.assert_allclose(cumulative, expected, atol=1e-4)


def test_exact_times_with_delayed_entry_match_product_limit():
    rng = np.random.default_rng(7)
    n = 3000
    entry = rng.choice([0.0, 0.0, 200.0, 2000.0], n)
    times = entry + rng.exponential(900, n)         # observed only if still up at entry
    censor = entry + rng.uniform(0, 4000, n)
    observed = np.minimum(times, censor)
    event = times <= censor
    obs = npmle.Observations.from_seconds(observed, np.where(event, observed, np.inf), entry)
    _, ours = npmle.estimate(obs)
    kmf = KaplanMeierFitter().fit(observed, event, entry=entry)
    for t in (100.0, 500.0, 1000.0, 2500.0):
        assert ours.cdf(t)[0] == pytest.approx(1 - kmf.predict(t), abs=0.015), t


def test_left_truncation_is_corrected():
    """Old posts first seen late must not count as having survived their early hours."""
    rng = np.random.default_rng(11)
    n = 8000
    never = rng.uniform(size=n) < 0.5                 # half the posts are never removed
    times = np.where(never, np.inf, rng.exponential(3600, n))
    entry = np.where(rng.uniform(size=n) < 0.5, 0.0, 5 * 3600.0)
    seen = times > entry                              # removed before first sighting: unseen
    gap = 600.0
    end = entry + 10 * 3600.0
    removed = times <= end
    lower = np.where(removed, np.floor(np.minimum(times, end) / gap) * gap, end)
    upper = np.where(removed, lower + gap, np.inf)
    lower, upper, entry = np.maximum(lower[seen], entry[seen]), upper[seen], entry[seen]
    with_entry = npmle.estimate(npmle.Observations.from_seconds(lower, upper, entry))[1]
    without = npmle.estimate(npmle.Observations.from_seconds(lower, upper))[1]
    truth = 0.5 * (1 - np.exp(-1.0))                  # F(1 h)
    assert with_entry.cdf(3600.0)[0] == pytest.approx(truth, abs=0.02)
    assert without.cdf(3600.0)[0] < truth - 0.05      # the bias the entry removes


def test_median_and_quantiles_of_a_known_distribution():
    rng = np.random.default_rng(5)
    times, lower, upper = checked_intervals(rng, 4000, every=(30.0, 60.0), censor_at=1e9)
    _, dist = npmle.estimate(npmle.Observations.from_seconds(lower, upper))
    assert dist.quantile(0.5) == pytest.approx(np.median(times), rel=0.03)
    assert dist.quantile(0.9) == pytest.approx(np.quantile(times, 0.9), rel=0.03)


def test_nothing_is_said_beyond_the_horizon():
    lower = np.array([10.0, 20.0, 100.0, 100.0])
    upper = np.array([30.0, 40.0, np.inf, np.inf])
    _, dist = npmle.estimate(npmle.Observations.from_seconds(lower, upper))
    assert dist.horizon == pytest.approx(100.0, rel=0.02)
    assert np.isnan(dist.cdf(1000.0)[0])
    assert dist.by_horizon == pytest.approx(0.5)
    assert dist.quantile(0.9) is None


def test_bootstrap_intervals_cover_the_estimate_and_are_reproducible():
    rng = np.random.default_rng(2)
    _, lower, upper = checked_intervals(rng, 500, censor_at=5000.0)
    obs = npmle.Observations.from_seconds(lower, upper)
    options = survival.SurvivalOptions(bootstrap_samples=40, seed=1)
    fit = survival.fit_stratum(obs, "weibo", "platform_removed", options)
    rows = survival.estimate_rows(fit, options)
    again = survival.estimate_rows(survival.fit_stratum(obs, "weibo", "platform_removed",
                                                        options), options)
    assert rows == again
    median = next(r for r in rows if r["scope"] == "removed_posts"
                  and r["statistic"] == "median_seconds")
    assert median["ci_low"] < median["estimate"] < median["ci_high"]
    within = {r["within"]: r for r in rows if r["scope"] == "all_posts"
              and r["statistic"] == "share_within"}
    assert within["5m"]["estimate"] < within["30m"]["estimate"]
    assert within["24h"]["estimate"] is None          # follow-up ends before 5000 s
    for r in within.values():
        if r["estimate"] is not None:
            assert r["ci_low"] <= r["estimate"] <= r["ci_high"]
