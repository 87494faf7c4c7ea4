"""Time to removal per watchlist, and the difference between watchlists with its interval, on
simulated campaigns with a known truth."""

from __future__ import annotations

import numpy as np
import pytest
from memoryhole.analysis import survival
from memoryhole.analysis.outcomes import build_post_outcomes
from memoryhole.corpus.store import Corpus
from simulated_campaign import Campaign, write

HOUR = 3600.0


def two_watchlists(rng: np.random.Generator, shares: tuple[float, float], n: int = 2400
                   ) -> Campaign:
    """Accounts a0-a29 on watchlist 'news', a30-a59 on 'activists'; a post is removed with its
    watchlist's share, exponential delay (mean 3 h), over 3 days."""
    created = rng.uniform(0, 72 * HOUR, n)
    account_no = rng.integers(0, 60, n)
    activists = account_no >= 30
    removed = rng.uniform(size=n) < np.where(activists, shares[1], shares[0])
    delay = np.where(removed, rng.exponential(3 * HOUR, n), np.inf)
    return Campaign(created, np.array([f"a{k}" for k in account_no], dtype=object),
                    created + delay, np.array(["platform_removed"] * n, dtype=object),
                    watchlist=np.where(activists, "activists", "news").astype(object))


def differences(tmp_path, shares, seed):
    corpus = Corpus(tmp_path)
    campaign = write(corpus, two_watchlists(np.random.default_rng(seed), shares),
                     every=HOUR / 4, end=72 * HOUR)
    build_post_outcomes(corpus.db)
    options = survival.SurvivalOptions(bootstrap_samples=50)
    fits = survival.fit_groups(corpus.db, options)
    by_group, diffs = survival.group_rows(fits, options, 86400.0)
    corpus.close()
    within = campaign.removed - campaign.created <= 24 * HOUR
    truth = {w: float(np.mean(within[campaign.watchlist == w])) for w in ("news", "activists")}
    return truth, by_group, {(d["reason"], d["within"]): d for d in diffs
                             if d["grouping"] == "watchlist"}


@pytest.mark.parametrize("shares, seed", [((0.10, 0.20), 1), ((0.15, 0.15), 2)])
def test_difference_between_watchlists_covers_the_truth(tmp_path, shares, seed):
    true_share, by_group, diffs = differences(tmp_path, shares, seed)
    truth = true_share["activists"] - true_share["news"]        # F(24 h) of all their posts
    row = diffs[("any", "w")]
    assert (row["key_a"], row["key_b"]) == ("activists", "news")
    assert row["ci_low"] <= truth <= row["ci_high"]
    assert abs(row["difference"] - truth) < 0.03
    if shares[0] != shares[1]:
        assert row["ci_low"] > 0                                # a real difference is found
    else:
        assert row["ci_low"] < 0 < row["ci_high"]
    shares_24h = {r["key"]: r for r in by_group if r["reason"] == "any" and r["within"] == "24h"}
    for key, share in true_share.items():
        assert shares_24h[key]["ci_low"] <= share <= shares_24h[key]["ci_high"]
