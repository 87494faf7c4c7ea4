"""Which terms get posts removed: per-term removal rates, weighted log-odds, clustered tests.

**Population and outcome** (the one outcome every analysis shares, memoryhole.analysis.outcomes): posts
followed for at least w after posting (`eligible`), removed by the platform within w
(`removed_within` with reason platform_removed) against not removed within w. Posts removed
within w for another reason (author deletions, unattributed removals, account sanctions,
restrictions) are in neither group.

**Units: one per distinct text.** Copies of one text, reposts of one original and posts of one
account are not independent draws: the platform removes by text, a viral original is reposted
hundreds of times, an account has its own vocabulary and its own removal rate. So:

- reposts are left out (their own text is a comment; the original is counted once, as itself);
- originals seen only inside reposts (never on a watched timeline) are left out: they entered the
  corpus through someone else's repost and are analysed apart (memoryhole.analysis.regression, as Zhu et al.
  2013 kept them apart);
- posts with the same text (text_hash of post_tokens) are one unit: its outcome y is the share
  of its copies removed (0 or 1 when the platform treats copies alike), its account and
  period those of its earliest copy.

Terms are the tokens from memoryhole.analysis.segmentation, counted once per unit, keeping a token if it is
in the user dictionary, or it has at least two characters, is not only digits, and is not in
`stopwords_zh.txt`.

- Per-term removal rate (as Bamman et al. 2012): of the units containing the term, the mean y,
  with a 95% Wilson interval on the unit count.
- Weighted log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008,
  "Fightin' Words", eq. 16–22), on unit counts (removed = Σy, surviving = Σ(1−y)): for term w
  (n^r, n^s: the totals over all terms), prior a_w = a_0 · π_w, where π_w is w's share among all
  units' terms and a_0 = `prior_strength`,
      δ_w = log((y_w^r + a_w) / (n^r + a_0 − y_w^r − a_w)) − log((y_w^s + a_w) / (n^s + a_0 − y_w^s − a_w)),
      σ²_w ≈ 1/(y_w^r + a_w) + 1/(y_w^s + a_w),   z_w = δ_w / σ_w.
  Terms are ranked by z (a descriptive ranking: σ_w assumes independent units).
- **The test** (`p_value`, `q_value`, `flagged`): the difference in removal rate between units
  with and without the term, d_w = p_w − p_¬w, with an account-clustered (sandwich) standard
  error, i.e. a linear probability model y = b0 + b1·[w in unit] with CR1 variance clustered by
  account (Liang & Zeger 1986; Cameron & Miller 2015), computed for every term in one pass over
  the units sorted by account. One-sided p-value from Student's t with G*_w − 1 degrees of
  freedom, G*_w = (Σ_a n_aw)² / Σ_a n_aw² the effective number of accounts using the term (n_aw:
  units of account a containing it). A sandwich from few or unbalanced clusters is too small;
  t with G − 1 is the usual correction (Cameron & Miller 2015), and G* instead of G keeps a term
  that one account uses in most of its units from passing as many independent uses (in the
  account-vocabulary simulation, G − 1 still flagged 1–20 null terms, G* − 1 none). A term is
  tested with
  `min_support` units and `min_accounts` accounts or more; `flagged` marks d_w > 0 with a
  Benjamini–Hochberg q-value below `alpha` over all tested terms.
- Top terms per period: the Monroe statistic within each period (day, or hour when the corpus
  covers less than three days, in Beijing time), with the whole corpus as the prior.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlite_utils
from scipy.stats import t as student_t

from .outcomes import TABLE as OUTCOMES
from .segmentation import TABLE as TOKENS
from .sql import iter_chunks, replace_table
from .stats import benjamini_hochberg, wilson_interval

STOPWORDS_PATH = Path(__file__).with_name("stopwords_zh.txt")
REMOVED_REASON = "platform_removed"
#: Periods are days (or hours) in Beijing time, when a post's readers and censors live.
BEIJING_OFFSET = "+8 hours"


@dataclass(frozen=True)
class KeywordOptions:
    min_support: int = 10           # units (distinct texts) containing a term to test it
    min_accounts: int = 5           # accounts whose units contain a term to test it
    prior_strength: float = 1000.0  # a_0 of the informative Dirichlet prior
    alpha: float = 0.05             # false discovery rate for `flagged`
    top_per_period: int = 20
    min_period_support: int = 3     # removed units containing a term, within one period


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
    """SQL for the period key of a UTC time: a Beijing date, or a Beijing hour (+08:00)."""
    if unit == "hour":
        return f"strftime('%Y-%m-%dT%H:00+08:00', {column}, '{BEIJING_OFFSET}')"
    return f"date({column}, '{BEIJING_OFFSET}')"


def period_unit(db: sqlite_utils.Database) -> str:
    """'day', or 'hour' when the eligible posts were created within less than three days."""
    span = db.execute(f"""SELECT julianday(max(cohort_at)) - julianday(min(cohort_at))
                          FROM {OUTCOMES} WHERE eligible = 1""").fetchone()[0]
    return "hour" if span is None or span < 3 else "day"


def units_sql(unit: str) -> str:
    """One row per distinct text of eligible timeline originals: (account, period, y, copies,
    tokens), sorted by account; y = share of copies the platform removed within w, account and
    period those of the earliest copy."""
    return f"""
        SELECT account, {period_sql(unit, "first")}, y, copies, tokens FROM (
            SELECT o.account_id AS account, MIN(o.cohort_at) AS first,
                   AVG(o.removed_within = 1 AND o.reason IS '{REMOVED_REASON}') AS y,
                   COUNT(*) AS copies, t.tokens AS tokens
            FROM {OUTCOMES} AS o
            JOIN {TOKENS} AS t ON t.platform = o.platform AND t.post_id = o.post_id
            JOIN posts AS p ON p.platform = o.platform AND p.post_id = o.post_id
            WHERE o.eligible = 1 AND p.repost_of IS NULL
              AND (o.removed_within = 0 OR o.reason IS '{REMOVED_REASON}')
              AND EXISTS (SELECT 1 FROM sightings AS s WHERE s.platform = o.platform
                          AND s.post_id = o.post_id AND s.via_post_id IS NULL)
            GROUP BY o.platform, t.text_hash)
        ORDER BY account"""


def iter_units(db: sqlite_utils.Database, unit: str) -> Iterator[tuple[str, str, float, int, str]]:
    for rows in iter_chunks(db, units_sql(unit)):
        yield from rows


@dataclass
class TermCounts:
    """Per term, over units (distinct texts): counts and the sums its clustered test needs.

    `removed[k]` = Σy and `units[k]` over units containing term k; `s2`, `sn`, `n2` are
    Σ_a s_ak², Σ_a s_ak·n_ak, Σ_a n_ak² over accounts a (s_ak = Σy, n_ak = units of account a
    containing k), and `ss`, `sn_a`, `ns_a`, `nn` the cross sums with the account totals
    (Σ_a s_ak·s_a, Σ_a s_ak·n_a, Σ_a n_ak·s_a, Σ_a n_ak·n_a).
    """

    terms: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    sums: np.ndarray = field(default_factory=lambda: np.zeros((11, 1024)))
    n_units: int = 0
    n_removed: float = 0.0
    n_accounts: int = 0
    account_ss: float = 0.0     # Σ_a s_a²
    account_sn: float = 0.0     # Σ_a s_a·n_a
    account_nn: float = 0.0     # Σ_a n_a²

    FIELDS = ("removed", "units", "posts", "accounts", "s2", "sn", "n2", "ss", "sn_a", "ns_a",
              "nn")

    def column(self, name: str) -> np.ndarray:
        return self.sums[self.FIELDS.index(name), :len(self.terms)]

    @property
    def removed(self) -> np.ndarray:
        return self.column("removed")

    @property
    def surviving(self) -> np.ndarray:
        return self.column("units") - self.column("removed")

    @property
    def background(self) -> np.ndarray:
        return self.column("units")

    def ids(self, terms: Iterable[str]) -> list[int]:
        """Indices of terms, new terms appended."""
        ids = []
        for term in terms:
            k = self.index.get(term)
            if k is None:
                k = self.index[term] = len(self.terms)
                self.terms.append(term)
                if k >= self.sums.shape[1]:
                    self.sums = np.concatenate([self.sums, np.zeros_like(self.sums)], axis=1)
            ids.append(k)
        return ids

    def add_account(self, units: list[tuple[float, int, list[int]]]) -> None:
        """Add one account's units: (y, copies, term ids)."""
        s: dict[int, float] = {}
        n: dict[int, int] = {}
        c: dict[int, int] = {}
        for y, copies, ids in units:
            for k in ids:
                s[k] = s.get(k, 0.0) + y
                n[k] = n.get(k, 0) + 1
                c[k] = c.get(k, 0) + copies
        s_a = float(sum(y for y, _, _ in units))
        n_a = float(len(units))
        self.n_units += len(units)
        self.n_removed += s_a
        self.n_accounts += 1
        self.account_ss += s_a * s_a
        self.account_sn += s_a * n_a
        self.account_nn += n_a * n_a
        if not s:
            return
        ks = np.fromiter(s, dtype=np.int64, count=len(s))
        sv = np.fromiter(s.values(), dtype=float, count=len(s))
        nv = np.fromiter(n.values(), dtype=float, count=len(s))
        cv = np.fromiter(c.values(), dtype=float, count=len(s))
        for row, values in enumerate((sv, nv, cv, 1.0, sv * sv, sv * nv, nv * nv, sv * s_a,
                                      sv * n_a, nv * s_a, nv * n_a)):
            self.sums[row, ks] += values


def count_terms(units: Iterable[tuple[str, str, float, int, str]],
                term_filter: TermFilter) -> TermCounts:
    """One pass over units sorted by account (iter_units)."""
    counts = TermCounts()
    account: str | None = None
    batch: list[tuple[float, int, list[int]]] = []
    for unit_account, _, y, copies, tokens in units:
        if unit_account != account:
            if batch:
                counts.add_account(batch)
            account, batch = unit_account, []
        batch.append((float(y), int(copies), counts.ids(term_filter.terms(tokens))))
    if batch:
        counts.add_account(batch)
    return counts


def clustered_rate_difference(counts: TermCounts) -> tuple[np.ndarray, np.ndarray]:
    """Per term: d = p_w − p_¬w and its account-clustered (CR1) standard error.

    The influence of account a on d is U_a = s_aw(1/N1 + 1/N0) − n_aw(p1/N1 + p0/N0)
    − (s_a − p0·n_a)/N0 (N1, N0: units with / without the term); Var(d) = G/(G−1)·Σ_a U_a².
    """
    s1, n1 = counts.removed, counts.column("units")
    n, s = float(counts.n_units), counts.n_removed
    n0, s0 = n - n1, s - s1
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p0 = s1 / n1, s0 / n0
        c1 = 1.0 / n1 + 1.0 / n0
        c2 = p1 / n1 + p0 / n0
        aa = (c1 * c1 * counts.column("s2") - 2 * c1 * c2 * counts.column("sn")
              + c2 * c2 * counts.column("n2"))
        ab = -(c1 * counts.column("ss") - c1 * p0 * counts.column("sn_a")
               - c2 * counts.column("ns_a") + c2 * p0 * counts.column("nn")) / n0
        bb = (counts.account_ss - 2 * p0 * counts.account_sn
              + p0 * p0 * counts.account_nn) / (n0 * n0)
        g = counts.n_accounts
        var = (aa + 2 * ab + bb) * (g / (g - 1) if g > 1 else np.nan)
        return p1 - p0, np.sqrt(np.maximum(var, 0.0))


def effective_accounts(counts: TermCounts) -> np.ndarray:
    """Per term, the effective number of accounts (Σ_a n_aw)² / Σ_a n_aw²: G_w when the term's
    units are spread evenly over G_w accounts, near 1 when one account holds most of them."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts.column("units") ** 2 / counts.column("n2")


@dataclass
class PeriodCounts:
    """Per period: units containing each tested term, platform-removed (Σy) and surviving."""

    terms: list[str]
    removed: dict[str, np.ndarray]
    surviving: dict[str, np.ndarray]
    removed_totals: dict[str, float]
    surviving_totals: dict[str, float]


def count_terms_by_period(units: Iterable[tuple[str, str, float, int, str]],
                          term_filter: TermFilter, terms: list[str]) -> PeriodCounts:
    index = {term: k for k, term in enumerate(terms)}
    removed: dict[str, np.ndarray] = {}
    surviving: dict[str, np.ndarray] = {}
    removed_totals: dict[str, float] = {}
    surviving_totals: dict[str, float] = {}
    for _, period, y, _, tokens in units:
        found = term_filter.terms(tokens)
        removed_totals[period] = removed_totals.get(period, 0.0) + y * len(found)
        surviving_totals[period] = surviving_totals.get(period, 0.0) + (1 - y) * len(found)
        ks = [index[t] for t in found if t in index]
        if ks:
            if period not in removed:
                removed[period] = np.zeros(len(terms))
                surviving[period] = np.zeros(len(terms))
            removed[period][ks] += y
            surviving[period][ks] += 1 - y
    return PeriodCounts(terms, removed, surviving, removed_totals, surviving_totals)


TERM_STATS_SQL = """
    CREATE TABLE term_stats (
        term TEXT PRIMARY KEY,
        in_dictionary INTEGER NOT NULL,  -- 1 when the term is in the user dictionary
        posts INTEGER NOT NULL,          -- units (distinct texts) containing it
        copies INTEGER NOT NULL,         -- eligible original posts containing it, copies included
        accounts INTEGER NOT NULL,       -- accounts whose units contain it
        platform_removed REAL NOT NULL,  -- units removed within w (a unit counts its share)
        surviving REAL NOT NULL,
        removal_rate REAL,               -- platform_removed / posts
        ci_low REAL,                     -- 95% Wilson interval
        ci_high REAL,
        rate_without REAL,               -- removal rate of units without the term
        rate_difference REAL,            -- removal_rate - rate_without
        rate_difference_se REAL,         -- account-clustered (CR1) standard error
        log_odds REAL,                   -- weighted log-odds ratio, removed vs surviving
        log_odds_se REAL,
        z REAL,                          -- log_odds / log_odds_se: the ranking statistic
        p_value REAL,                    -- one-sided clustered t test of rate_difference > 0
        q_value REAL,                    -- Benjamini-Hochberg over all tested terms
        flagged INTEGER NOT NULL,        -- rate_difference > 0 and q_value < alpha
        rank INTEGER NOT NULL            -- 1 = highest z
    )"""

BY_PERIOD_SQL = """
    CREATE TABLE term_stats_by_period (
        period TEXT NOT NULL,            -- Beijing day (or hour) the posts were created
        rank INTEGER NOT NULL,
        term TEXT NOT NULL,
        platform_removed REAL NOT NULL,
        surviving REAL NOT NULL,
        log_odds REAL,
        z REAL,
        PRIMARY KEY (period, rank)
    )"""


def term_table_rows(counts: TermCounts, dictionary: frozenset[str],
                    options: KeywordOptions) -> list[dict]:
    units = counts.column("units")
    accounts = counts.column("accounts")
    keep = np.nonzero((units >= options.min_support) & (accounts >= options.min_accounts)
                      & (units < counts.n_units))[0]
    if not keep.size:
        return []
    terms = [counts.terms[k] for k in keep]
    yr, ys = counts.removed[keep], counts.surviving[keep]
    n_units = units[keep]
    background_total = float(counts.background.sum())
    prior = options.prior_strength * counts.background[keep] / background_total
    removed_total = float((counts.removed).sum())
    surviving_total = float(counts.surviving.sum())
    delta, se = weighted_log_odds(yr, ys, prior, removed_total, surviving_total,
                                  options.prior_strength)
    z = delta / se
    diff, diff_se = clustered_rate_difference(counts)
    diff, diff_se = diff[keep], diff_se[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(diff_se > 0, diff / diff_se, np.where(diff > 0, np.inf, -np.inf))
    p = student_t.sf(t, np.maximum(effective_accounts(counts)[keep] - 1, 1))
    q = benjamini_hochberg(p)
    low, high = wilson_interval(yr, n_units)
    order = np.argsort(-z, kind="stable")
    rank = np.empty(len(terms), dtype=int)
    rank[order] = np.arange(1, len(terms) + 1)
    without = (counts.n_removed - yr) / (counts.n_units - n_units)
    copies = counts.column("posts")[keep]
    return [{
        "term": term, "in_dictionary": int(term in dictionary), "posts": int(n_units[k]),
        "copies": int(copies[k]), "accounts": int(accounts[keep][k]),
        "platform_removed": float(yr[k]), "surviving": float(ys[k]),
        "removal_rate": float(yr[k] / n_units[k]), "ci_low": float(low[k]),
        "ci_high": float(high[k]), "rate_without": float(without[k]),
        "rate_difference": float(diff[k]), "rate_difference_se": float(diff_se[k]),
        "log_odds": float(delta[k]), "log_odds_se": float(se[k]),
        "z": float(z[k]), "p_value": float(p[k]), "q_value": float(q[k]),
        "flagged": int(diff[k] > 0 and q[k] < options.alpha), "rank": int(rank[k]),
    } for k, term in enumerate(terms)]


def top_terms(removed: np.ndarray, surviving: np.ndarray, removed_total: float,
              surviving_total: float, prior: np.ndarray, prior_total: float, terms: list[str],
              limit: int, min_removed: int) -> list[dict]:
    """The `limit` terms with the highest z (> 0) among those in >= min_removed removed units."""
    delta, se = weighted_log_odds(removed, surviving, prior, removed_total, surviving_total,
                                  prior_total)
    z = delta / se
    eligible = np.nonzero((removed >= min_removed) & (z > 0))[0]
    best = eligible[np.argsort(-z[eligible], kind="stable")][:limit]
    return [{"term": terms[k], "platform_removed": float(removed[k]),
             "surviving": float(surviving[k]), "log_odds": float(delta[k]), "z": float(z[k])}
            for k in best]


def period_prior(periods: PeriodCounts, counts: TermCounts, options: KeywordOptions
                 ) -> np.ndarray:
    background_total = float(counts.background.sum()) or 1.0
    background = counts.background
    return options.prior_strength * np.array(
        [background[counts.index[t]] for t in periods.terms], dtype=float) / background_total


def period_rows(periods: PeriodCounts, counts: TermCounts, options: KeywordOptions) -> list[dict]:
    prior = period_prior(periods, counts, options)
    zeros = np.zeros(len(periods.terms))
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
