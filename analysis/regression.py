"""A model of removal: logistic regression of platform removal within w on terms, watchlist and
the kind of post, with account-clustered standard errors (`removal_model`).

Population and outcome as in memoryhole.analysis.keywords and memoryhole.analysis.bursts: posts
followed for at least w (`eligible`), y = 1 when the platform removed the post within w, 0 when
no one removed it within w (posts removed within w for another reason are left out). Covariates:

- one indicator per term of the user dictionary found in the post (for a repost, in its comment
  or in its original), for terms in at least `min_posts` posts of at least `min_accounts`
  accounts, with removed and unremoved posts among them (a term only ever removed has no finite
  coefficient);
- the watchlist (indicators against the largest one; accounts on no watchlist, whose posts are
  seen only inside reposts, are covered by the kind of post);
- the kind of post: original on a watched timeline (reference), `repost`, or `seen_in_reposts`
  (an original that entered the corpus only inside a repost; analysed apart, as Zhu et al. 2013).

A covariate that is a linear combination of those before it is left out (not estimable).

Posts of one account are not independent (an account's own topics and own standing with the
platform), so standard errors are cluster-robust by account (statsmodels GLM, cov_type
"cluster", with the small-sample correction); intervals are Wald intervals on the log-odds
scale. When the logit separates — a group of posts the platform never (or always) removed, as
when it removes only posts with listed terms, sends coefficients off to infinity — the linear
probability model is fitted instead (coefficients are differences in the probability of
removal within w, with the same clustered errors; `model` says which). The model is fitted on
rows aggregated by (account, covariate pattern) as binomial counts, which gives the same
estimates and clustered errors as one row per post in a fraction of the memory. Coefficients
are population-averaged (marginal) effects: with account-level heterogeneity they are smaller
than effects conditional on the account.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
import sqlite_utils
from scipy.stats import norm

from .bursts import population_posts_sql, removed_sql
from .segmentation import TABLE as TOKENS
from .sql import iter_chunks, replace_table

TABLE = "removal_model"
KINDS = ("original", "repost", "seen_in_reposts")
SEPARATED = 15.0     # |log-odds| beyond which a logit coefficient is running off to infinity


@dataclass(frozen=True)
class RegressionOptions:
    min_posts: int = 20
    min_accounts: int = 5
    max_terms: int = 50          # the most frequent terms that qualify


MODEL_SQL = f"""
    CREATE TABLE {TABLE} (
        covariate TEXT PRIMARY KEY,      -- (intercept), term:<t>, watchlist:<w>, kind:<k>
        kind TEXT NOT NULL,              -- intercept, term, watchlist or post_kind
        model TEXT NOT NULL,             -- logit, or linear probability when the logit separates
        coefficient REAL,                -- log-odds (logit) or probability (linear) of removal
        se REAL,                         -- account-clustered standard error
        ci_low REAL,                     -- 95% Wald interval of the coefficient
        ci_high REAL,
        odds_ratio REAL,                 -- exp(coefficient); NULL for the linear model
        p_value REAL,
        posts INTEGER NOT NULL,          -- posts with the covariate (all posts for the intercept)
        removed INTEGER NOT NULL,        -- of which removed by the platform within w
        accounts INTEGER NOT NULL,       -- accounts with such posts
        model_posts INTEGER NOT NULL,    -- posts in the model
        model_accounts INTEGER NOT NULL  -- accounts (clusters) in the model
    )"""


@dataclass
class Design:
    """Aggregated rows: one per (account, covariate pattern)."""

    names: list[str]
    kinds: list[str]
    x: np.ndarray           # rows x covariates, intercept first
    removed: np.ndarray     # per row
    posts: np.ndarray       # per row
    account: np.ndarray     # per row, integer codes


@dataclass
class Fit:
    names: list[str]
    kinds: list[str]
    coefficient: np.ndarray
    se: np.ndarray
    p_value: np.ndarray
    design: Design
    model: str = "logit"


def build_design(cells: list[tuple[str, str, str, int, int, frozenset[str]]],
                 terms: list[str], options: RegressionOptions = RegressionOptions()) -> Design:
    """`cells`: (account, watchlist, kind, removed, posts, terms found), one per post or already
    aggregated. Keeps the qualifying terms (see the module doc)."""
    per_term: dict[str, list[int]] = {t: [0, 0] for t in terms}
    term_accounts: dict[str, set[str]] = {t: set() for t in terms}
    watchlists: Counter = Counter()
    for account, watchlist, _, y, m, found in cells:
        if watchlist is not None:
            watchlists[watchlist] += m
        for t in found:
            if t in per_term:
                per_term[t][0] += m
                per_term[t][1] += y
                term_accounts[t].add(account)
    usable = [t for t in terms if per_term[t][0] >= options.min_posts
              and len(term_accounts[t]) >= options.min_accounts
              and 0 < per_term[t][1] < per_term[t][0]]
    usable = sorted(usable, key=lambda t: -per_term[t][0])[:options.max_terms]
    reference = watchlists.most_common(1)[0][0] if watchlists else None
    other_lists = sorted(w for w in watchlists if w != reference)
    kinds_seen = [k for k in KINDS[1:] if any(c[2] == k for c in cells)]
    names = ["(intercept)", *(f"term:{t}" for t in usable),
             *(f"watchlist:{w}" for w in other_lists), *(f"kind:{k}" for k in kinds_seen)]
    kinds = ["intercept", *("term" for _ in usable), *("watchlist" for _ in other_lists),
             *("post_kind" for _ in kinds_seen)]
    term_index = {t: 1 + k for k, t in enumerate(usable)}
    list_index = {w: 1 + len(usable) + k for k, w in enumerate(other_lists)}
    kind_index = {k: 1 + len(usable) + len(other_lists) + j for j, k in enumerate(kinds_seen)}
    aggregated: dict[tuple, list[int]] = {}
    for account, watchlist, kind, y, m, found in cells:
        pattern = tuple(sorted([term_index[t] for t in found if t in term_index]
                               + ([list_index[watchlist]] if watchlist in list_index else [])
                               + ([kind_index[kind]] if kind in kind_index else [])))
        cell = aggregated.setdefault((account, pattern), [0, 0])
        cell[0] += y
        cell[1] += m
    codes: dict[str, int] = {}
    x = np.zeros((len(aggregated), len(names)))
    x[:, 0] = 1.0
    removed, n, account = (np.zeros(len(aggregated)) for _ in range(3))
    for row, ((acc, pattern), (y, m)) in enumerate(aggregated.items()):
        x[row, list(pattern)] = 1.0
        removed[row], n[row] = y, m
        account[row] = codes.setdefault(acc, len(codes))
    keep = independent_columns(x)
    return Design([names[k] for k in keep], [kinds[k] for k in keep], x[:, keep], removed, n,
                  account.astype(int))


def independent_columns(x: np.ndarray) -> list[int]:
    """Columns of x in order, leaving out each that is a linear combination of those before it
    (e.g. a watchlist whose posts are exactly the reposts): such a coefficient is not estimable."""
    keep: list[int] = []
    for k in range(x.shape[1]):
        if np.linalg.matrix_rank(x[:, keep + [k]]) == len(keep) + 1:
            keep.append(k)
    return keep


def fit(design: Design, model: str = "logit") -> Fit:
    """Logistic regression on binomial counts with account-clustered standard errors; when the
    logit separates (a group never or always removed: coefficients run off to infinity), the
    linear probability model instead (`model` says which was fitted)."""
    import statsmodels.api as sm

    if model == "logit":
        endog = np.column_stack([design.removed, design.posts - design.removed])
        estimator = sm.GLM(endog, design.x, family=sm.families.Binomial())
    else:
        # Per-post OLS of 0/1 on x, from the aggregated rows: WLS of each row's share removed,
        # weighted by its posts, has the same estimates and the same per-cluster scores.
        estimator = sm.WLS(design.removed / design.posts, design.x, weights=design.posts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = estimator.fit(cov_type="cluster", cov_kwds={"groups": design.account,
                                                             "use_correction": False})
    # statsmodels' small-sample correction, G/(G-1)·(N-1)/(N-K), with N the posts (not the
    # aggregated rows), so the errors equal those of the one-row-per-post fit.
    g, n, k = len(np.unique(design.account)), design.posts.sum(), design.x.shape[1]
    se = np.asarray(result.bse) * np.sqrt(g / (g - 1) * (n - 1) / (n - k))
    coefficient = np.asarray(result.params)
    if model == "logit" and (not np.all(np.isfinite(se)) or np.abs(coefficient).max() > SEPARATED):
        return fit(design, "linear probability")
    p_value = 2 * norm.sf(np.abs(coefficient / se))
    return Fit(design.names, design.kinds, coefficient, se, p_value, design, model)


def _posts_sql() -> str:
    return f"""
        SELECT o.account_id, o.watchlist,
               CASE WHEN p.repost_of IS NOT NULL THEN 'repost'
                    WHEN NOT EXISTS (SELECT 1 FROM sightings AS s WHERE s.platform = o.platform
                                     AND s.post_id = o.post_id AND s.via_post_id IS NULL)
                    THEN 'seen_in_reposts' ELSE 'original' END,
               {removed_sql("o")}, t.tokens, ot.tokens
        {population_posts_sql()}"""


def build_removal_model(db: sqlite_utils.Database, terms: frozenset[str],
                        options: RegressionOptions = RegressionOptions()) -> int:
    """Fit the model on the corpus and write `removal_model`; return its rows (0: no model)."""
    replace_table(db, TABLE, MODEL_SQL)
    if TOKENS not in db.table_names():
        return 0
    cells: dict[tuple, list[int]] = {}      # posts aggregated as they stream in
    for rows in iter_chunks(db, _posts_sql()):
        for account, watchlist, kind, y, tokens, original in rows:
            words = set((tokens or "").split()) | set((original or "").split())
            cell = cells.setdefault((account, watchlist, kind, frozenset(terms & words)), [0, 0])
            cell[0] += y
            cell[1] += 1
    design = build_design([(a, w, k, y, m, f) for (a, w, k, f), (y, m) in cells.items()],
                          sorted(terms), options)
    if (len(set(design.account)) < 2 or design.removed.sum() == 0
            or design.removed.sum() == design.posts.sum()):
        return 0
    result = fit(design)
    rows = table_rows(result)
    db["removal_model"].insert_all(rows)
    return len(rows)


def table_rows(result: Fit) -> list[dict]:
    d = result.design
    z = 1.959963984540054
    rows = []
    for k, name in enumerate(result.names):
        has = d.x[:, k] > 0
        b, se = float(result.coefficient[k]), float(result.se[k])
        rows.append({
            "covariate": name, "kind": result.kinds[k], "model": result.model, "coefficient": b,
            "se": se, "ci_low": b - z * se, "ci_high": b + z * se,
            "odds_ratio": float(np.exp(b)) if result.model == "logit" else None,
            "p_value": float(result.p_value[k]), "posts": int(d.posts[has].sum()),
            "removed": int(d.removed[has].sum()), "accounts": len(set(d.account[has])),
            "model_posts": int(d.posts.sum()), "model_accounts": len(set(d.account)),
        })
    return rows
