"""Coverage of the survival intervals on simulations with a known truth (issue 9, sections 2
and 5): posts of one account share a removal propensity (dependence), crawls every 10 min, so
removals within minutes of posting are seen only as 10-minute intervals. A 95% interval should
hold the truth in about 95% of campaigns. `pytest -m long` runs the long variant."""

from __future__ import annotations

from math import erf, log, sqrt

import numpy as np
import pytest
from memoryhole.analysis import npmle
from memoryhole.analysis.survival import Clustered, SurvivalOptions, _share, _share_bounds, fit_stratum

MEDIAN, SIGMA = 2400.0, 1.0                     # removal delays: lognormal, median 40 min
MEAN_PROPENSITY = 0.15                          # accounts' removal shares: Beta(1.5, 8.5)
DEADLINES = (300.0, 1800.0, 3600.0, 86400.0)    # F(5m), F(30m), F(1h), F(24h)


def delay_cdf(t: float) -> float:
    return 0.5 * (1 + erf((log(t) - log(MEDIAN)) / (SIGMA * sqrt(2))))


TRUE_F = {t: MEAN_PROPENSITY * delay_cdf(t) for t in DEADLINES}


def campaign(rng: np.random.Generator, accounts: int = 40, posts: int = 25,
             every: float = 600.0, end: float = 2 * 86400.0) -> Clustered:
    propensity = rng.beta(1.5, 8.5, accounts)
    account = np.repeat(np.arange(accounts), posts)
    n = len(account)
    removed = rng.uniform(size=n) < propensity[account]
    t = np.where(removed, rng.lognormal(log(MEDIAN), SIGMA, n), np.inf)
    entry = rng.uniform(0, every, n)
    seen = t >= entry                            # removed before the first crawl: never seen
    t, entry, account = t[seen], entry[seen], account[seen]
    lower = entry + np.floor((np.minimum(t, end) - entry) / every) * every
    upper = np.where(t <= end, lower + every, np.inf)
    first = npmle.floor_edge(lower)
    last = np.where(np.isfinite(upper), np.maximum(npmle.ceil_edge(upper), first + 1) - 1,
                    npmle.N_CELLS - 1)
    return Clustered(np.minimum(npmle.floor_edge(entry), first), first, last,
                     np.ones(len(t)), account)


def coverage(runs: int, samples: int, seed: int = 0, iterations: int = 60) -> dict[str, dict[float, float]]:
    """Share of campaigns whose 95% interval of F(t) holds the truth: the intervals as made
    now (accounts resampled; the data's ambiguity inside intervals included) and as made
    before (posts resampled, percentiles of the point estimate)."""
    hits = {"accounts_bounds": dict.fromkeys(DEADLINES, 0),
            "posts_percentile": dict.fromkeys(DEADLINES, 0)}
    seconds = np.array(DEADLINES)
    options = SurvivalOptions(bootstrap_samples=samples, bootstrap_iterations=iterations)
    for run in range(runs):
        data = campaign(np.random.default_rng([seed, run]))
        new = fit_stratum(data, "weibo", "any", options)
        lows = np.array([_share_bounds(r, seconds, "all_posts")[0] for r in new.replicates])
        highs = np.array([_share_bounds(r, seconds, "all_posts")[1] for r in new.replicates])
        low, high = np.percentile(lows, 2.5, axis=0), np.percentile(highs, 97.5, axis=0)
        old = fit_stratum(data.observations(), "weibo", "any", options)
        values = np.array([_share(r, seconds, "all_posts") for r in old.replicates])
        old_low, old_high = np.percentile(values, [2.5, 97.5], axis=0)
        for k, t in enumerate(DEADLINES):
            hits["accounts_bounds"][t] += low[k] <= TRUE_F[t] <= high[k]
            hits["posts_percentile"][t] += old_low[k] <= TRUE_F[t] <= old_high[k]
    return {method: {t: h / runs for t, h in by_t.items()} for method, by_t in hits.items()}


def test_intervals_of_f_cover_the_truth_small():
    result = coverage(runs=24, samples=60)
    # 95% nominal; 24 campaigns are few, so each deadline must reach 0.75 and all together 0.85
    # (the intervals made before: 0.00, 0.88, 0.75, 0.67 here).
    assert all(share >= 0.75 for share in result["accounts_bounds"].values()), result
    assert np.mean(list(result["accounts_bounds"].values())) >= 0.85, result
    # Before, F(5 min) was 0 in every replicate: the interval [0, 0] missed the truth.
    assert result["posts_percentile"][300.0] < 0.5


@pytest.mark.long
def test_intervals_of_f_cover_the_truth_long():
    # Measured (100 campaigns, 100 resamples): 1.00, 0.94, 0.92, 0.90 for F(5m), F(30m),
    # F(1h), F(24h); before: 0.00, 0.81, 0.77, 0.64. A little under nominal: with 40
    # accounts the account bootstrap's spread is ~10% short of the true one.
    result = coverage(runs=300, samples=200, seed=1)
    print(result)
    for t, share in result["accounts_bounds"].items():
        assert share >= 0.88, (t, result)
