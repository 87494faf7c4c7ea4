"""A model of removal: logistic regression of platform removal within w on terms, watchlist and
the kind of post, with account-clustered standard errors (`removal_model`).

Population and outcome as in analysis.keywords and analysis.bursts: posts followed for at least
w (`eligible`), y = 1 when the platform removed the post within w, 0 when no one removed it
within w (posts removed within w for another reason are left out). Covariates:

- one indicator per term of the user dictionary found in the post (for a repost, in its comment
  or in its original), for terms in at least `min_posts` posts of at least `min_accounts`
  accounts, with removed and unremoved posts among them (a term only ever removed has no finite
  coefficient);
- the watchlist (indicators against the largest one);
- the kind of post: original on a watched timeline (reference), `repost`, or `seen_in_reposts`
  (an original that entered the corpus only inside a repost; analysed apart, as Zhu et al. 2013).

Posts of one account are not independent (an account's own topics and own standing with the
platform), so standard errors are cluster-robust by account (statsmodels GLM, cov_type
"cluster", with the small-sample correction); intervals are Wald intervals on the log-odds
scale. The model is fitted on rows aggregated by (account, covariate pattern) as binomial
counts, which gives the same estimates and clustered errors as one row per post in a fraction
of the memory. Coefficients are population-averaged (marginal) effects: with account-level
heterogeneity they are smaller than effects conditional on the account.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np
import sqlite_utils
from scipy.stats import norm

from .bursts import population_sql, removed_sql
from .outcomes import TABLE as OUTCOMES
from .segmentation import TABLE as TOKENS
from .sql import iter_chunks, replace_table

TABLE = "removal_model"
KINDS = ("original", "repost", "seen_in_reposts")


@dataclass(frozen=True)
class RegressionOptions:
    min_posts: int = 20
    min_accounts: int = 5
    max_terms: int = 50          # the most frequent terms that qualify


MODEL_SQL = f"""
    CREATE TABLE {TABLE} (
        covariate TEXT PRIMARY KEY,      -- (intercept), term:<t>, watchlist:<w>, kind:<k>
        kind TEXT NOT NULL,              -- intercept, term, watchlist or post_kind
        coefficient REAL,                -- log-odds of removal within w
        se REAL,                         -- account-clustered standard error
        ci_low REAL,                     -- 95% Wald interval of the coefficient
        ci_high REAL,
        odds_ratio REAL,                 -- exp(coefficient)
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


def build_design(posts: list[tuple[str, str, str, int, frozenset[str]]],
                 terms: list[str], options: RegressionOptions = RegressionOptions()) -> Design:
    """`posts`: (account, watchlist, kind, removed 0/1, terms found). Keeps qualifying terms."""
    per_term: dict[str, list[int]] = {t: [0, 0] for t in terms}
    term_accounts: dict[str, set[str]] = {t: set() for t in terms}
    watchlists: Counter = Counter()
    for account, watchlist, _, y, found in posts:
        watchlists[watchlist or ""] += 1
        for t in found:
            if t in per_term:
                per_term[t][0] += 1
                per_term[t][1] += y
                term_accounts[t].add(account)
    usable = [t for t in terms if per_term[t][0] >= options.min_posts
              and len(term_accounts[t]) >= options.min_accounts
              and 0 < per_term[t][1] < per_term[t][0]]
    usable = sorted(usable, key=lambda t: -per_term[t][0])[:options.max_terms]
    reference = watchlists.most_common(1)[0][0] if watchlists else ""
    other_lists = sorted(w for w in watchlists if w != reference)
    kinds_seen = [k for k in KINDS[1:] if any(p[2] == k for p in posts)]
    names = ["(intercept)", *(f"term:{t}" for t in usable),
             *(f"watchlist:{w}" for w in other_lists), *(f"kind:{k}" for k in kinds_seen)]
    kinds = ["intercept", *("term" for _ in usable), *("watchlist" for _ in other_lists),
             *("post_kind" for _ in kinds_seen)]
    term_index = {t: 1 + k for k, t in enumerate(usable)}
    list_index = {w: 1 + len(usable) + k for k, w in enumerate(other_lists)}
    kind_index = {k: 1 + len(usable) + len(other_lists) + j for j, k in enumerate(kinds_seen)}
    cells: dict[tuple, list[int]] = {}
    for account, watchlist, kind, y, found in posts:
        pattern = tuple(sorted([term_index[t] for t in found if t in term_index]
                               + ([list_index[watchlist or ""]] if (watchlist or "") in list_index
                                  else []) + ([kind_index[kind]] if kind in kind_index else [])))
        cell = cells.setdefault((account, pattern), [0, 0])
        cell[0] += y
        cell[1] += 1
    codes: dict[str, int] = {}
    x = np.zeros((len(cells), len(names)))
    x[:, 0] = 1.0
    removed, n, account = (np.zeros(len(cells)) for _ in range(3))
    for row, ((acc, pattern), (s, m)) in enumerate(cells.items()):
        x[row, list(pattern)] = 1.0
        removed[row], n[row] = s, m
        account[row] = codes.setdefault(acc, len(codes))
    return Design(names, kinds, x, removed, n, account.astype(int))


def fit(design: Design) -> Fit:
    """Logistic regression on binomial counts with account-clustered standard errors."""
    import statsmodels.api as sm

    endog = np.column_stack([design.removed, design.posts - design.removed])
    model = sm.GLM(endog, design.x, family=sm.families.Binomial())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit(cov_type="cluster", cov_kwds={"groups": design.account,
                                                         "use_correction": False})
    # statsmodels' small-sample correction, G/(G-1)·(N-1)/(N-K), with N the posts (not the
    # aggregated rows), so the errors equal those of the one-row-per-post fit.
    g, n, k = len(np.unique(design.account)), design.posts.sum(), design.x.shape[1]
    se = np.asarray(result.bse) * np.sqrt(g / (g - 1) * (n - 1) / (n - k))
    coefficient = np.asarray(result.params)
    p_value = 2 * norm.sf(np.abs(coefficient / se))
    return Fit(design.names, design.kinds, coefficient, se, p_value, design)


def _posts_sql() -> str:
    return f"""
        SELECT o.account_id, o.watchlist,
               CASE WHEN p.repost_of IS NOT NULL THEN 'repost'
                    WHEN NOT EXISTS (SELECT 1 FROM sightings AS s WHERE s.platform = o.platform
                                     AND s.post_id = o.post_id AND s.via_post_id IS NULL)
                    THEN 'seen_in_reposts' ELSE 'original' END,
               {removed_sql("o")}, t.tokens, ot.tokens
        FROM {OUTCOMES} AS o
        JOIN posts AS p ON p.platform = o.platform AND p.post_id = o.post_id
        LEFT JOIN {TOKENS} AS t ON t.platform = o.platform AND t.post_id = o.post_id
        LEFT JOIN {TOKENS} AS ot ON ot.platform = p.platform AND ot.post_id = p.repost_of
        WHERE {population_sql("o")}"""


def build_removal_model(db: sqlite_utils.Database, terms: frozenset[str],
                        options: RegressionOptions = RegressionOptions()) -> int:
    """Fit the model on the corpus and write `removal_model`; return its rows (0: no model)."""
    replace_table(db, TABLE, MODEL_SQL)
    if TOKENS not in db.table_names():
        return 0
    posts = []
    for rows in iter_chunks(db, _posts_sql()):
        for account, watchlist, kind, y, tokens, original in rows:
            words = set((tokens or "").split()) | set((original or "").split())
            posts.append((account, watchlist, kind, int(y), frozenset(terms & words)))
    design = build_design(posts, sorted(terms), options)
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
            "covariate": name, "kind": result.kinds[k], "coefficient": b, "se": se,
            "ci_low": b - z * se, "ci_high": b + z * se, "odds_ratio": float(np.exp(b)),
            "p_value": float(result.p_value[k]), "posts": int(d.posts[has].sum()),
            "removed": int(d.removed[has].sum()), "accounts": len(set(d.account[has])),
            "model_posts": int(d.posts.sum()), "model_accounts": len(set(d.account)),
        })
    return rows
