"""Which terms get posts removed: per-term removal rates and weighted log-odds.

The comparison is between **platform-removed** posts (first removal with reason
platform_removed) and **surviving** posts (never removed while observed), both at risk (see
memoryhole.analysis.outcomes). Posts removed for other reasons (author deletions, unattributed removals,
account sanctions, restrictions) are left out of both groups.

Terms are the tokens from memoryhole.analysis.segmentation, counted once per post, keeping a token if it is
in the user dictionary, or it has at least two characters, is not only digits, and is not in
`stopwords_zh.txt`.

- Per-term removal rate (as Bamman et al. 2012): of the posts containing the term, the share that
  the platform removed, with a 95% Wilson interval.
- Weighted log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008,
  "Fightin' Words", eq. 16–22), on post counts: for term w with y_w^r removed and y_w^s surviving
  posts containing it (n^r, n^s: the totals over all terms), prior a_w = a_0 · π_w, where π_w is w's
  share among all at-risk posts' terms and a_0 = `prior_strength`,
      δ_w = log((y_w^r + a_w) / (n^r + a_0 − y_w^r − a_w)) − log((y_w^s + a_w) / (n^s + a_0 − y_w^s − a_w)),
      σ²_w ≈ 1/(y_w^r + a_w) + 1/(y_w^s + a_w),   z_w = δ_w / σ_w.
  Terms are ranked by z. A term is tested only with `min_support` posts or more (removed plus
  surviving); `flagged` marks z > 0 with a Benjamini–Hochberg q-value below `alpha` over all
  tested terms (one-sided normal p-values).
- Top terms per period: the same statistic within each period (day, or hour when the corpus
  covers less than three days of posts), with the whole corpus as the prior.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlite_utils

from .outcomes import TABLE as OUTCOMES
from .segmentation import TABLE as TOKENS
from .sql import iter_chunks, replace_table
from .stats import benjamini_hochberg, normal_upper_tail, wilson_interval

STOPWORDS_PATH = Path(__file__).with_name("stopwords_zh.txt")
REMOVED_REASON = "platform_removed"


@dataclass(frozen=True)
class KeywordOptions:
    min_support: int = 10           # posts (removed + surviving) containing a term to test it
    prior_strength: float = 1000.0  # a_0 of the informative Dirichlet prior
    alpha: float = 0.05             # false discovery rate for `flagged`
    top_per_period: int = 20
    min_period_support: int = 3     # removed posts containing a term, within one period


def read_stopwords(path: Path = STOPWORDS_PATH) -> frozenset[str]:
    words = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.add(line)
    return frozenset(words)


class TermFilter:
    """Which tokens are terms (cached per token)."""

    def __init__(self, dictionary: frozenset[str], stopwords: frozenset[str]) -> None:
        self.dictionary = dictionary
        self.stopwords = stopwords
        self._cache: dict[str, bool] = {}

    def __call__(self, token: str) -> bool:
        keep = self._cache.get(token)
        if keep is None:
            keep = token in self.dictionary or (
                len(token) >= 2 and not token.isdigit() and token not in self.stopwords)
            self._cache[token] = keep
        return keep

    def terms(self, tokens: str) -> set[str]:
        return {t for t in tokens.split() if self(t)}


def weighted_log_odds(removed: np.ndarray, surviving: np.ndarray, prior: np.ndarray,
                      removed_total: float, surviving_total: float, prior_total: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Monroe et al. (2008) δ and its standard error, for arrays of term counts."""
    yr, ys, a = (np.asarray(x, dtype=float) for x in (removed, surviving, prior))
    delta = (np.log((yr + a) / (removed_total + prior_total - yr - a))
             - np.log((ys + a) / (surviving_total + prior_total - ys - a)))
    se = np.sqrt(1.0 / (yr + a) + 1.0 / (ys + a))
    return delta, se


def period_sql(unit: str, column: str = "cohort_at") -> str:
    """SQL for the period key of a time: a UTC date, or a UTC hour."""
    if unit == "hour":
        return f"strftime('%Y-%m-%dT%H:00Z', {column})"
    return f"date({column})"


def period_unit(db: sqlite_utils.Database) -> str:
    """'day', or 'hour' when the at-risk posts were created within less than three days."""
    span = db.execute(f"""SELECT julianday(max(cohort_at)) - julianday(min(cohort_at))
                          FROM {OUTCOMES} WHERE at_risk""").fetchone()[0]
    return "hour" if span is None or span < 3 else "day"


@dataclass
class TermCounts:
    """Posts containing each term: platform-removed, surviving, and all at-risk posts."""

    removed: Counter
    surviving: Counter
    background: Counter
    removed_posts: int
    surviving_posts: int


def _token_rows(db: sqlite_utils.Database, unit: str) -> str:
    return f"""
        SELECT o.reason, {period_sql(unit, "o.cohort_at")}, t.tokens
        FROM {OUTCOMES} AS o JOIN {TOKENS} AS t
          ON t.platform = o.platform AND t.post_id = o.post_id
        WHERE o.at_risk"""


def count_terms(db: sqlite_utils.Database, term_filter: TermFilter, unit: str) -> TermCounts:
    removed, surviving, background = Counter(), Counter(), Counter()
    n_removed = n_surviving = 0
    for rows in iter_chunks(db, _token_rows(db, unit)):
        for reason, _, tokens in rows:
            terms = term_filter.terms(tokens)
            background.update(terms)
            if reason is None:
                surviving.update(terms)
                n_surviving += 1
            elif reason == REMOVED_REASON:
                removed.update(terms)
                n_removed += 1
    return TermCounts(removed, surviving, background, n_removed, n_surviving)


@dataclass
class PeriodCounts:
    """Per period: posts containing each tested term, platform-removed and surviving."""

    terms: list[str]
    removed: dict[str, np.ndarray]
    surviving: dict[str, np.ndarray]
    removed_totals: dict[str, float]
    surviving_totals: dict[str, float]


def count_terms_by_period(db: sqlite_utils.Database, term_filter: TermFilter, unit: str,
                          terms: list[str]) -> PeriodCounts:
    index = {term: k for k, term in enumerate(terms)}
    removed: dict[str, np.ndarray] = {}
    surviving: dict[str, np.ndarray] = {}
    removed_totals: Counter = Counter()
    surviving_totals: Counter = Counter()
    for rows in iter_chunks(db, _token_rows(db, unit)):
        for reason, period, tokens in rows:
            if reason is not None and reason != REMOVED_REASON:
                continue
            found = term_filter.terms(tokens)
            target, totals = ((surviving, surviving_totals) if reason is None
                              else (removed, removed_totals))
            totals[period] += len(found)
            ks = [index[t] for t in found if t in index]
            if ks:
                counts = target.get(period)
                if counts is None:
                    counts = target[period] = np.zeros(len(terms), dtype=np.int32)
                counts[ks] += 1
    return PeriodCounts(terms, removed, surviving, dict(removed_totals), dict(surviving_totals))


TERM_STATS_SQL = """
    CREATE TABLE term_stats (
        term TEXT PRIMARY KEY,
        in_dictionary INTEGER NOT NULL,  -- 1 when the term is in the user dictionary
        posts INTEGER NOT NULL,          -- platform-removed + surviving posts containing it
        platform_removed INTEGER NOT NULL,
        surviving INTEGER NOT NULL,
        removal_rate REAL,               -- platform_removed / posts
        ci_low REAL,                     -- 95% Wilson interval
        ci_high REAL,
        log_odds REAL,                   -- weighted log-odds ratio, removed vs surviving
        log_odds_se REAL,
        z REAL,                          -- log_odds / log_odds_se: the ranking statistic
        p_value REAL,                    -- one-sided (removal-associated) normal p-value
        q_value REAL,                    -- Benjamini-Hochberg over all tested terms
        flagged INTEGER NOT NULL,        -- z > 0 and q_value < alpha
        rank INTEGER NOT NULL            -- 1 = highest z
    )"""

BY_PERIOD_SQL = """
    CREATE TABLE term_stats_by_period (
        period TEXT NOT NULL,            -- UTC day (or hour) the posts were created
        rank INTEGER NOT NULL,
        term TEXT NOT NULL,
        platform_removed INTEGER NOT NULL,
        surviving INTEGER NOT NULL,
        log_odds REAL,
        z REAL,
        PRIMARY KEY (period, rank)
    )"""


def term_table_rows(counts: TermCounts, dictionary: frozenset[str],
                    options: KeywordOptions) -> list[dict]:
    terms = [t for t in counts.background
             if counts.removed[t] + counts.surviving[t] >= options.min_support]
    if not terms:
        return []
    yr = np.array([counts.removed[t] for t in terms], dtype=float)
    ys = np.array([counts.surviving[t] for t in terms], dtype=float)
    background_total = float(sum(counts.background.values()))
    prior = options.prior_strength * np.array([counts.background[t] for t in terms]) / background_total
    delta, se = weighted_log_odds(yr, ys, prior, float(sum(counts.removed.values())),
                                  float(sum(counts.surviving.values())), options.prior_strength)
    z = delta / se
    p = normal_upper_tail(z)
    q = benjamini_hochberg(p)
    low, high = wilson_interval(yr, yr + ys)
    order = np.argsort(-z, kind="stable")
    rank = np.empty(len(terms), dtype=int)
    rank[order] = np.arange(1, len(terms) + 1)
    return [{
        "term": term, "in_dictionary": int(term in dictionary), "posts": int(yr[k] + ys[k]),
        "platform_removed": int(yr[k]), "surviving": int(ys[k]),
        "removal_rate": float(yr[k] / (yr[k] + ys[k])), "ci_low": float(low[k]),
        "ci_high": float(high[k]), "log_odds": float(delta[k]), "log_odds_se": float(se[k]),
        "z": float(z[k]), "p_value": float(p[k]), "q_value": float(q[k]),
        "flagged": int(z[k] > 0 and q[k] < options.alpha), "rank": int(rank[k]),
    } for k, term in enumerate(terms)]


def top_terms(removed: np.ndarray, surviving: np.ndarray, removed_total: float,
              surviving_total: float, prior: np.ndarray, prior_total: float, terms: list[str],
              limit: int, min_removed: int) -> list[dict]:
    """The `limit` terms with the highest z (> 0) among those in >= min_removed removed posts."""
    delta, se = weighted_log_odds(removed, surviving, prior, removed_total, surviving_total,
                                  prior_total)
    z = delta / se
    eligible = np.nonzero((removed >= min_removed) & (z > 0))[0]
    best = eligible[np.argsort(-z[eligible], kind="stable")][:limit]
    return [{"term": terms[k], "platform_removed": int(removed[k]),
             "surviving": int(surviving[k]), "log_odds": float(delta[k]), "z": float(z[k])}
            for k in best]


def period_rows(periods: PeriodCounts, counts: TermCounts, options: KeywordOptions) -> list[dict]:
    background_total = float(sum(counts.background.values())) or 1.0
    prior = options.prior_strength * np.array(
        [counts.background[t] for t in periods.terms], dtype=float) / background_total
    zeros = np.zeros(len(periods.terms), dtype=np.int32)
    rows = []
    for period in sorted(periods.removed):
        found = top_terms(periods.removed[period], periods.surviving.get(period, zeros),
                          periods.removed_totals.get(period, 0.0),
                          periods.surviving_totals.get(period, 0.0), prior,
                          options.prior_strength, periods.terms, options.top_per_period,
                          options.min_period_support)
        rows.extend({"period": period, "rank": k + 1, **row} for k, row in enumerate(found))
    return rows


def write_tables(db: sqlite_utils.Database, term_rows: list[dict],
                 by_period: list[dict]) -> dict[str, int]:
    replace_table(db, "term_stats", TERM_STATS_SQL)
    replace_table(db, "term_stats_by_period", BY_PERIOD_SQL)
    if term_rows:
        db["term_stats"].insert_all(term_rows)
    if by_period:
        db["term_stats_by_period"].insert_all(by_period)
    return {"term_stats": len(term_rows), "term_stats_by_period": len(by_period)}
