"""The shared outcome, removed within w among posts followed for w, on a campaign with a known
truth: the last days do not read low, and rates and survival F(w) agree on their population."""

from __future__ import annotations

import numpy as np
import pytest
from memoryhole.analysis import rates, survival
from memoryhole.analysis.outcomes import build_post_outcomes
from memoryhole.corpus.store import Corpus
from simulated_campaign import Campaign, write

HOUR = 3600.0
W = 24 * HOUR


def campaign(rng: np.random.Generator, n: int) -> Campaign:
    """3 days of posts (crawled every 15 min); 10% removed with exponential delays (mean 3 h),
    5% more 30-48 h after posting (after w). True share removed within 24 h: 0.09997."""
    created = rng.uniform(0, 72 * HOUR, n)
    u = rng.uniform(size=n)
    delay = np.where(u < 0.10, rng.exponential(3 * HOUR, n),
                     np.where(u < 0.15, rng.uniform(30 * HOUR, 48 * HOUR, n), np.inf))
    account = np.array([f"a{k}" for k in rng.integers(0, 50, n)], dtype=object)
    return Campaign(created, account, created + delay,
                    np.array(["platform_removed"] * n, dtype=object))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = np.random.default_rng(7)
    c = Corpus(tmp_path_factory.mktemp("fixed"))
    truth = write(c, campaign(rng, 4000), every=HOUR / 4, end=72 * HOUR)
    build_post_outcomes(c.db, W)
    yield c, truth
    c.close()


def test_rates_count_removals_within_w_among_posts_followed_for_w(corpus):
    c, truth = corpus
    db = c.db
    rates.build_removal_rates(db)
    rows = {(r["grouping"], r["key"]): r for r in db.query(
        "SELECT * FROM removal_rates WHERE reason = 'any'")}
    # The truth for the same population: sighted posts posted >= 24 h before the last crawl.
    delay = truth.removed - truth.created
    population = truth.sighted & (truth.created <= 48 * HOUR)
    expected = float(np.mean(delay[population] <= W))
    everything = rows[("all", "all")]
    assert everything["posts_eligible"] == pytest.approx(population.sum(), abs=3)
    assert everything["rate"] == pytest.approx(expected, abs=0.004)
    # The last day's posts have not been followed for 24 h: no rate, rather than a low one.
    last_day = rows[("day", "2025-03-05")]
    assert last_day["posts_eligible"] == 0 and last_day["rate"] is None
    assert last_day["posts_short_follow_up"] == last_day["posts_at_risk"] > 0
    for day in ("2025-03-03", "2025-03-04"):
        assert rows[("day", day)]["ci_low"] <= expected + 0.01
        assert rows[("day", day)]["ci_high"] >= expected - 0.01


def test_survival_f_of_w_estimates_the_share_of_all_posts_rates_the_share_of_sighted_ones(corpus):
    c, truth = corpus
    fits = survival.fit_all(c.db, survival.SurvivalOptions(bootstrap_samples=100))
    [fit] = [f for f in fits if f.reason == "any"]
    [row] = [r for r in survival.estimate_rows(fit, survival.SurvivalOptions(), W)
             if r["scope"] == "all_posts" and r["within"] == "w"]
    true_f = float(np.mean(truth.removed - truth.created <= W))   # every post, sighted or not
    assert row["ci_low"] <= true_f <= row["ci_high"]
    assert abs(row["estimate"] - true_f) < 0.01
    # Sighted posts survived until their first sighting: their share is lower; the difference
    # is the removals before the first crawl (a 15 min cadence, 3 h mean delay: ~4% of them).
    sighted_share = float(np.mean((truth.removed - truth.created)[truth.sighted] <= W))
    assert sighted_share < true_f
