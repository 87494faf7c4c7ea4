"""Dependence (issue 9 §3): copies, reposts and accounts are not independent draws.

Each check runs on a simulated world with a known truth (tests/dependence_worlds.py): a null
world must flag about nothing at 5% FDR, a planted effect must still be found.
"""

from __future__ import annotations

import numpy as np
import pytest
from dependence_worlds import (
    account_vocabularies,
    duplicated_texts,
    flagged_by_independent_log_odds,
    flagged_terms,
    posts_as_units,
    units,
)
from memoryhole.analysis import bursts, keywords, regression


@pytest.mark.parametrize("seed", [0, 1])
def test_duplicated_texts_without_effect_flag_nothing(seed):
    posts = duplicated_texts(seed)             # 200 texts x 50 copies, fate by text, no effect
    # What the analysis did before: every copy an independent post.
    assert len(flagged_by_independent_log_odds(posts_as_units(posts))) > 50
    assert flagged_terms(units(posts)) == set()


@pytest.mark.parametrize("seed", [0, 1])
def test_account_vocabularies_without_effect_flag_nothing(seed):
    posts = account_vocabularies(seed)         # accounts differ in rate and in favourite words
    assert len(flagged_by_independent_log_odds(units(posts))) > 10
    assert flagged_terms(units(posts)) == set()


@pytest.mark.parametrize("seed", [0, 1])
def test_a_planted_term_is_still_found(seed):
    posts = duplicated_texts(seed, planted="白纸")
    assert "白纸" in flagged_terms(units(posts))


def test_clustered_rate_difference_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    posts = account_vocabularies(3, accounts=25, posts_per_account=30)
    rows = units(posts)
    counts = keywords.count_terms(rows, keywords.TermFilter(frozenset(), frozenset()))
    diff, se = keywords.clustered_rate_difference(counts)
    term = max(counts.terms, key=lambda t: counts.column("units")[counts.index[t]])
    k = counts.index[term]
    y = np.array([r[2] for r in rows])
    x = np.array([term in r[4].split() for r in rows], dtype=float)
    groups = np.unique([r[0] for r in rows], return_inverse=True)[1]
    fit = sm.OLS(y, sm.add_constant(x)).fit(cov_type="cluster", cov_kwds={"groups": groups,
                                                                          "use_correction": False})
    assert diff[k] == pytest.approx(fit.params[1])
    g = counts.n_accounts
    assert se[k] == pytest.approx(fit.bse[1] * np.sqrt(g / (g - 1)), rel=1e-9)


@pytest.mark.long
def test_null_p_values_are_calibrated_over_many_worlds():
    # Share of null terms with p < 0.05 over 20 account-vocabulary worlds: at most nominal.
    hits = tested = 0
    for seed in range(20):
        rows = units(account_vocabularies(100 + seed))
        counts = keywords.count_terms(rows, keywords.TermFilter(frozenset(), frozenset()))
        table = keywords.term_table_rows(counts, frozenset(), keywords.KeywordOptions())
        hits += sum(r["p_value"] < 0.05 for r in table)
        tested += len(table)
    assert tested > 500 and hits / tested <= 0.06


# ------------------------------------------------------------------------------------- bursts

def overdispersed_days(seed: int, days: int = 90, per_day: int = 5000, rate: float = 0.1,
                       cv: float = 0.1, planted: tuple[int, ...] = (), factor: float = 2.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Posts per day ~ Poisson(per_day); each day's removal rate varies by `cv` (relative sd)
    around `rate`; planted days have `factor` times the rate."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(per_day, days)
    p = np.clip(rate * (1 + cv * rng.standard_normal(days)), 0, 1)
    p[list(planted)] *= factor
    return n.astype(float), rng.binomial(n, p).astype(float)


def test_no_burst_world_with_varying_daily_rates_flags_few_days():
    flagged_before = flagged_after = 0.0
    worlds = 10
    for seed in range(worlds):
        n, x = overdispersed_days(seed)
        flagged_before += bursts.burst_test(n, x, overdispersed=False).in_burst.sum() / worlds
        flagged_after += bursts.burst_test(n, x).in_burst.sum() / worlds
    assert flagged_before > 9                   # the exact binomial test: ~16 of 90 days
    assert flagged_after <= 0.05 * 90


def test_planted_burst_days_are_found_and_leave_the_baseline():
    n, x = overdispersed_days(4, planted=(20, 21, 60))
    test = bursts.burst_test(n, x)
    assert set(np.nonzero(test.in_burst)[0]) == {20, 21, 60}
    quiet = np.setdiff1d(np.arange(len(n)), [20, 21, 60, 5])
    # Day 5's baseline comes from the quiet days only: the bursts do not raise it.
    assert test.baseline[5] == pytest.approx(x[quiet].sum() / n[quiet].sum())
    assert 0 < test.dispersion[5] < 0.01


def test_dispersion_moments_recover_a_known_correlation():
    rng = np.random.default_rng(0)
    rho, p0 = 0.002, 0.1
    a, b = p0 * (1 - rho) / rho, (1 - p0) * (1 - rho) / rho
    n = np.full(2000, 3000.0)
    x = rng.binomial(3000, rng.beta(a, b, size=2000)).astype(float)
    est_p, est_rho = bursts.dispersion_moments(n, x)
    assert est_p == pytest.approx(p0, rel=0.02) and est_rho == pytest.approx(rho, rel=0.15)
    assert bursts.dispersion_moments(n, rng.binomial(3000, p0, size=2000).astype(float))[1] < 2e-4


def test_censorship_inside_and_outside_a_topics_volume_burst():
    # A topic posted ~6 times a day for 30 days, 80 a day on days 10-12; the platform removes
    # 10% of its posts outside, 50% inside the volume burst. 40 accounts.
    rng = np.random.default_rng(2)
    days = [f"2026-03-{d + 1:02d}" for d in range(30)]
    all_posts = {d: 2000 for d in days}
    rows = []
    for k, day in enumerate(days):
        inside = 10 <= k <= 12
        for _ in range(80 if inside else rng.poisson(6)):
            rows.append((f"a{rng.integers(40)}", day, rng.random() < (0.5 if inside else 0.1)))
    per_day: dict[str, int] = {}
    for _, day, _ in rows:
        per_day[day] = per_day.get(day, 0) + 1
    burst = bursts.volume_burst_days(per_day, all_posts)
    assert burst == set(days[10:13])
    y = np.array([r for _, _, r in rows], dtype=float)
    inside = np.array([d in burst for _, d, _ in rows])
    diff, se, groups = bursts.clustered_difference(y, inside, np.array([a for a, _, _ in rows]))
    assert groups == 40 and diff - 1.96 * se < 0.4 < diff + 1.96 * se and diff - 1.96 * se > 0


# --------------------------------------------------------------------------------- regression

def removal_world(seed: int, accounts: int = 150, posts_per_account: int = 40,
                  beta: float = 1.0, account_sd: float = 0.0) -> list[tuple]:
    """Posts with a planted term effect (log-odds `beta` for 白纸), no effect of 天气, a second
    watchlist (+0.5) and reposts (−0.5); accounts differ in how often they use each term
    (and, with account_sd, in their own log-odds)."""
    rng = np.random.default_rng(seed)
    posts = []
    for a in range(accounts):
        watchlist = "journalists" if a % 3 == 0 else "activists"
        use_term, use_null = rng.beta(2, 5), rng.beta(2, 5)
        own = account_sd * rng.standard_normal()
        for _ in range(posts_per_account):
            found = set()
            if rng.random() < use_term:
                found.add("白纸")
            if rng.random() < use_null:
                found.add("天气")
            repost = rng.random() < 0.2
            eta = (-2.0 + beta * ("白纸" in found) + 0.5 * (watchlist == "journalists")
                   - 0.5 * repost + own)
            y = int(rng.random() < 1 / (1 + np.exp(-eta)))
            posts.append((f"a{a}", watchlist, "repost" if repost else "original", y, 1,
                          frozenset(found)))
    return posts


def _coefficients(posts):
    result = regression.fit(regression.build_design(posts, ["天气", "白纸"]))
    return {name: (b, se) for name, b, se in zip(result.names, result.coefficient, result.se,
                                                 strict=True)}


def test_regression_recovers_a_planted_coefficient():
    coef = _coefficients(removal_world(0))
    assert set(coef) == {"(intercept)", "term:白纸", "term:天气", "watchlist:journalists",
                         "kind:repost"}
    for name, truth in (("term:白纸", 1.0), ("term:天气", 0.0), ("watchlist:journalists", 0.5),
                        ("kind:repost", -0.5), ("(intercept)", -2.0)):
        b, se = coef[name]
        assert b - 1.96 * se < truth < b + 1.96 * se, name
    b, se = coef["term:白纸"]
    assert b - 1.96 * se > 0.5                    # and the effect is resolved


def test_aggregated_fit_equals_one_row_per_post():
    sm = pytest.importorskip("statsmodels.api")
    posts = removal_world(1, accounts=30, posts_per_account=20)
    design = regression.build_design(posts, ["天气", "白纸"])
    result = regression.fit(design)
    cols = {n: k for k, n in enumerate(design.names)}
    x = np.array([[1.0, "天气" in f, "白纸" in f, w == "journalists", k == "repost"]
                  for _, w, k, _, _, f in posts], dtype=float)
    order = [cols[n] for n in ("(intercept)", "term:天气", "term:白纸", "watchlist:journalists",
                               "kind:repost")]
    y = np.array([p[3] for p in posts], dtype=float)
    groups = np.unique([p[0] for p in posts], return_inverse=True)[1]
    per_post = sm.GLM(y, x, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": groups})
    assert result.coefficient[order] == pytest.approx(per_post.params, rel=1e-6)
    assert result.se[order] == pytest.approx(per_post.bse, rel=1e-6)


@pytest.mark.long
def test_regression_intervals_cover_at_about_nominal_rate():
    hits = [abs(b - 1.0) < 1.96 * se
            for b, se in (_coefficients(removal_world(200 + s))["term:白纸"] for s in range(100))]
    assert 0.90 <= np.mean(hits) <= 0.99


def test_a_separated_logit_falls_back_to_the_linear_probability_model():
    # The platform removes only posts with a listed term: the logit's intercept runs off to
    # minus infinity; the linear model recovers the difference in probability (0.3).
    rng = np.random.default_rng(5)
    posts = []
    for a in range(60):
        for _ in range(30):
            term = rng.random() < 0.3
            y = int(term and rng.random() < 0.3)
            posts.append((f"a{a}", "w", "original", y, 1, frozenset({"白纸"} if term else ())))
    result = regression.fit(regression.build_design(posts, ["白纸"]))
    assert result.model == "linear probability"
    b, se = result.coefficient[1], result.se[1]
    assert b - 1.96 * se < 0.3 < b + 1.96 * se and result.coefficient[0] == pytest.approx(0, abs=1e-9)
