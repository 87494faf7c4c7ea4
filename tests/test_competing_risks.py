"""Per-reason cumulative incidence under competing risks (Hudgens, Satten & Longini 2001), on
simulations with a known truth: 30% of posts would be removed by the platform, 30% deleted by
their authors sooner; the platform's share is what the platform removed *first*."""

from __future__ import annotations

import numpy as np
import pytest
from memoryhole.analysis import npmle
from memoryhole.analysis.survival import SurvivalOptions, fit_competing

DAY = 86400.0


def latent(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Time of the first removal and its cause (0 platform, 1 author, -1 never)."""
    platform = np.where(rng.uniform(size=n) < 0.3, rng.exponential(6 * 3600, n), np.inf)
    author = np.where(rng.uniform(size=n) < 0.3, rng.exponential(2 * 3600, n), np.inf)
    t = np.minimum(platform, author)
    return t, np.where(np.isinf(t), -1, np.where(platform < author, 0, 1))


TRUTH = latent(np.random.default_rng(0), 1_000_000)
TRUE_CIF = [float(np.mean((TRUTH[0] <= DAY) & (TRUTH[1] == k))) for k in (0, 1)]
TRUE_ALL = float(np.mean(TRUTH[0] <= DAY))


def crawled(rng: np.random.Generator, n: int, every: float = 600.0, end: float = 2 * DAY
            ) -> tuple[npmle.CompetingObservations, np.ndarray, np.ndarray]:
    """Posts first crawled 0-`every` s after posting (removed before: never seen), then every
    `every` s until `end`: removals seen as intervals between crawls."""
    t, cause = latent(rng, n)
    entry = rng.uniform(0, every, n)
    seen = t >= entry
    t, cause, entry = t[seen], cause[seen], entry[seen]
    lower = entry + np.floor((np.minimum(t, end) - entry) / every) * every
    upper = np.where(t <= end, lower + every, np.inf)
    cause = np.where(t <= end, cause, -1)
    first = npmle.floor_edge(lower)
    last = np.where(np.isfinite(upper), np.maximum(npmle.ceil_edge(upper), first + 1) - 1,
                    npmle.N_CELLS - 1)
    obs = npmle.CompetingObservations(np.minimum(npmle.floor_edge(entry), first), first, last,
                                      cause, np.ones(len(t)))
    return obs, lower, upper


def test_the_truth_of_the_simulation():
    # The net curve (other causes as censoring) is 1 - exp(-24/6) of 30%: far from the CIF.
    assert TRUE_CIF[0] == pytest.approx(0.229, abs=0.003)
    assert 0.3 * (1 - np.exp(-4)) == pytest.approx(0.2945, abs=1e-3)


def test_cumulative_incidence_recovers_the_truth_and_sums_to_the_all_cause_curve():
    obs, lower, upper = crawled(np.random.default_rng(1), 6000)
    support, mass = npmle.cumulative_incidence(obs, 2)
    cif = [float(npmle.Distribution.of(support, mass[k]).cdf(DAY)[0]) for k in (0, 1)]
    assert cif[0] == pytest.approx(TRUE_CIF[0], abs=0.015)
    assert cif[1] == pytest.approx(TRUE_CIF[1], abs=0.02)
    events = np.where(obs.cause >= 0, upper, np.inf)
    entry = npmle.edge_seconds(obs.entry)
    _, all_cause = npmle.estimate(npmle.Observations.from_seconds(lower, events, entry))
    assert sum(cif) == pytest.approx(float(all_cause.cdf(DAY)[0]), abs=2e-3)
    # The net 1 - KM of the platform reason, the competing reason censoring: biased up.
    platform_only = np.where(obs.cause == 0, upper, np.inf)
    _, net = npmle.estimate(npmle.Observations.from_seconds(lower, platform_only, entry))
    assert float(net.cdf(DAY)[0]) > TRUE_CIF[0] + 0.04


def test_bootstrap_intervals_of_the_cumulative_incidence_cover_the_truth():
    covered, runs = 0, 8
    for seed in range(runs):
        obs, _, _ = crawled(np.random.default_rng(100 + seed), 1000, every=1800.0)
        [platform, _] = fit_competing(obs, "weibo", ["platform_removed", "author_deleted"],
                                      SurvivalOptions(bootstrap_samples=40, seed=seed))
        values = [float(r.cdf(DAY)[0]) for r in platform.replicates]
        low, high = np.percentile(values, [2.5, 97.5])
        covered += low <= TRUE_CIF[0] <= high
    assert covered >= runs - 1        # about 95% of 8 (the long variant counts many more)
