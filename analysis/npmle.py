"""Nonparametric maximum likelihood (Turnbull) estimate of a time-to-event distribution from
interval-censored, right-censored and left-truncated observations.

Why not lifelines' `KaplanMeierFitter.fit_interval_censoring`: it cannot take delayed entry
(`entry` raises NotImplementedError), gives no confidence intervals, and its Turnbull-interval
search is quadratic Python. A post enters observation when it is first sighted, often long after
it was created, and ignoring that (left truncation) overstates survival at short times. The
estimator here is the same self-consistency (EM) algorithm (Turnbull 1976) with the truncation
term; tests check it against lifelines where lifelines applies (no truncation), and against the
product-limit estimate with delayed entry where every time is exact.

Times live on a log grid (`EDGES`, ratio 1.02: a 2% resolution from 1 s to 20 years); each
observation's interval is rounded *outwards* to grid edges, so it still contains the truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GRID_RATIO = 1.02
_GRID_TOP_SECONDS = 20 * 365.25 * 86400.0
EDGES: np.ndarray = np.concatenate(
    ([0.0], GRID_RATIO ** np.arange(math.ceil(math.log(_GRID_TOP_SECONDS) / math.log(GRID_RATIO)) + 1))
)
N_CELLS = len(EDGES)          # cell k is [EDGES[k], EDGES[k+1]); the last one reaches +inf
INF_EDGE = N_CELLS            # the edge index standing for +inf


def floor_edge(seconds: np.ndarray) -> np.ndarray:
    """Index of the last grid edge at or below each time (times below 0 count as 0)."""
    x = np.maximum(np.asarray(seconds, dtype=float), 0.0)
    return np.searchsorted(EDGES, x, side="right") - 1


def ceil_edge(seconds: np.ndarray) -> np.ndarray:
    """Index of the first grid edge at or above each time; INF_EDGE for +inf or NaN."""
    x = np.asarray(seconds, dtype=float)
    finite = np.isfinite(x)
    out = np.full(x.shape, INF_EDGE, dtype=np.int64)
    out[finite] = np.searchsorted(EDGES, np.maximum(x[finite], 0.0), side="left")
    return out


def edge_seconds(index: np.ndarray | int) -> np.ndarray:
    """The time of grid edge indexes (INF_EDGE is +inf)."""
    extended = np.append(EDGES, np.inf)
    return extended[np.asarray(index)]


@dataclass(frozen=True)
class Observations:
    """Aggregated observations on the grid: cells [first, last] hold the event time, the
    subject was under observation from cell `entry` on, and `weight` subjects share them."""

    entry: np.ndarray
    first: np.ndarray
    last: np.ndarray   # N_CELLS - 1 when right-censored (the interval reaches +inf)
    weight: np.ndarray

    @classmethod
    def from_seconds(cls, lower: np.ndarray, upper: np.ndarray, entry: np.ndarray | None = None,
                     weight: np.ndarray | None = None) -> Observations:
        """From times: event in [lower, upper] (upper = inf: right-censored at lower), entry
        (left truncation; None = 0). Rounds outwards to the grid and merges equal rows."""
        lower = np.asarray(lower, dtype=float)
        first = floor_edge(lower)
        last = np.maximum(ceil_edge(upper), first + 1) - 1
        start = np.zeros_like(first) if entry is None else np.minimum(floor_edge(entry), first)
        w = np.ones(len(first)) if weight is None else np.asarray(weight, dtype=float)
        return cls.merged(start, first, last, w)

    @classmethod
    def merged(cls, entry: np.ndarray, first: np.ndarray, last: np.ndarray,
               weight: np.ndarray) -> Observations:
        key = (np.asarray(entry, np.int64) * N_CELLS + first) * N_CELLS + last
        unique, inverse = np.unique(key, return_inverse=True)
        w = np.bincount(inverse, weights=weight, minlength=len(unique))
        last_u = unique % N_CELLS
        first_u = (unique // N_CELLS) % N_CELLS
        entry_u = unique // (N_CELLS * N_CELLS)
        keep = w > 0
        return cls(entry_u[keep], first_u[keep], last_u[keep], w[keep])

    @property
    def total(self) -> float:
        return float(self.weight.sum())

    @property
    def events(self) -> float:
        return float(self.weight[self.last < N_CELLS - 1].sum())


@dataclass(frozen=True, eq=False)
class Support:
    """Turnbull's innermost intervals, as runs of grid cells [start, end], and the observations
    in their terms: intervals lo..hi-1 lie inside an observation, tlo.. are after its entry.
    Observations with equal (lo, hi, tlo) have equal likelihoods, so they are merged (`weight`)."""

    start: np.ndarray
    end: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    tlo: np.ndarray
    weight: np.ndarray
    first: np.ndarray   # per merged row: the earliest first cell of its observations
    last: np.ndarray    # ... and the latest last cell

    @classmethod
    def of(cls, obs: Observations) -> Support:
        lefts, rights = np.unique(obs.first), np.unique(obs.last)
        at = np.searchsorted(rights, lefts, side="left")
        has_right = at < len(rights)
        start = lefts[has_right]
        end = rights[at[has_right]]
        next_left = np.append(lefts[1:], np.iinfo(np.int64).max)[has_right]
        innermost = next_left > end
        start, end = start[innermost], end[innermost]
        lo = np.searchsorted(start, obs.first, side="left")
        hi = np.searchsorted(end, obs.last, side="right")
        tlo = np.searchsorted(end, obs.entry, side="left")
        width = len(start) + 1
        key = (tlo * width + lo) * width + hi
        unique, inverse = np.unique(key, return_inverse=True)
        weight = np.bincount(inverse, weights=obs.weight, minlength=len(unique))
        first = np.full(len(unique), np.iinfo(np.int64).max)
        np.minimum.at(first, inverse, obs.first)
        last = np.full(len(unique), -1)
        np.maximum.at(last, inverse, obs.last)
        return cls(start, end, (unique // width) % width, unique % width, unique // (width * width),
                   weight, first, last)

    @property
    def size(self) -> int:
        return len(self.start)

    def flat(self, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """lo, hi and tlo offset per row, for np.bincount over `rows` data sets at once."""
        offsets = (np.arange(rows) * (self.size + 1))[:, None]
        return (offsets + self.lo, offsets + self.hi, offsets + self.tlo)


def _row_sums(index: np.ndarray, values: np.ndarray, width: int) -> np.ndarray:
    """out[b, k] = sum of values[b, i] over i with index[b, i] == b * width + k."""
    return np.bincount(index.ravel(), values.ravel(), len(values) * width).reshape(-1, width)


def _em_step(support: Support, w: np.ndarray, p: np.ndarray, flat: tuple[np.ndarray, ...]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One self-consistency step for each row of `w` (weights) and `p` (masses): the new
    masses, the log-likelihood of `p`, and the largest gradient ratio (1 at the NPMLE)."""
    m = support.size
    lo_flat, hi_flat, tlo_flat = flat
    active = w > 0
    cumulative = np.concatenate((np.zeros((len(p), 1)), np.cumsum(p, axis=1)), axis=1)
    inside = cumulative[:, support.hi] - cumulative[:, support.lo]
    after_entry = cumulative[:, m:] - cumulative[:, support.tlo]
    coef = np.divide(w, inside, out=np.zeros_like(w), where=active & (inside > 0))
    ghost = np.divide(w, after_entry, out=np.zeros_like(w), where=active & (after_entry > 0))
    # sum of coef over the observations covering each interval, by a difference array
    covered = np.cumsum(_row_sums(lo_flat, coef, m + 1) - _row_sums(hi_flat, coef, m + 1),
                        axis=1)[:, :m]
    ghost_sum = np.cumsum(_row_sums(tlo_flat, ghost, m + 1), axis=1)
    gradient = (covered + ghost_sum[:, m:] - ghost_sum[:, :m]) / ghost_sum[:, m:]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(active, w * (np.log(inside) - np.log(after_entry)), 0.0)
    new = p * gradient
    return new / new.sum(axis=1, keepdims=True), terms.sum(axis=1), gradient.max(axis=1)


def fit(support: Support, weight: np.ndarray, start: np.ndarray | None = None,
        tol: float = 1e-6, max_iter: int = 2_000) -> np.ndarray:
    """Probability mass on each innermost interval: the self-consistency (EM) iteration of
    Turnbull (1976), with the expected 'ghost' subjects that truncation hid, accelerated by
    SQUAREM (Varadhan & Roland 2008). Stops when every gradient ratio is within `tol` of 1
    (the NPMLE's optimality condition), so the result is close to the optimum, not merely
    slow to change. `weight` may be a matrix, one row per data set (bootstrap replicates are
    fitted together); the result then has one row per data set."""
    w = np.asarray(weight, dtype=float)
    single = w.ndim == 1
    w = np.atleast_2d(w)
    m = support.size
    p = np.full((len(w), m), 1.0 / m) if start is None else np.broadcast_to(
        np.asarray(start, dtype=float), (len(w), m)).copy()
    flat = support.flat(len(w))
    for _ in range(max_iter):
        p1, _, worst = _em_step(support, w, p, flat)
        if np.all(worst - 1.0 < tol):
            break
        p2, _, _ = _em_step(support, w, p1, flat)
        r, v = p1 - p, p2 - 2 * p1 + p
        norm_r = np.sqrt(np.sum(r * r, axis=1, keepdims=True))
        norm_v = np.sqrt(np.sum(v * v, axis=1, keepdims=True))
        alpha = np.minimum(-1.0, -np.divide(norm_r, norm_v, out=np.ones_like(norm_r),
                                            where=norm_v > 0))
        jump = p - 2 * alpha * r + alpha * alpha * v
        # A jump outside the simplex is refused (clipping would leave absorbing zeros).
        feasible = np.all(jump > 0, axis=1)
        jump = np.where(feasible[:, None], jump, p2)
        jump /= jump.sum(axis=1, keepdims=True)
        stepped, jump_loglik, _ = _em_step(support, w, jump, flat)
        _, p2_loglik, _ = _em_step(support, w, p2, flat)
        better = (feasible & np.isfinite(jump_loglik) & (jump_loglik >= p2_loglik))[:, None]
        done = (worst - 1.0 < tol)[:, None]
        p = np.where(done, p, np.where(better, stepped, p2))
    return p[0] if single else p


@dataclass(frozen=True)
class Distribution:
    """The fitted distribution of the event time: piecewise-linear cumulative F(t) (mass spread
    evenly over each innermost interval in time); mass on an interval reaching +inf is never
    placed at a finite time. `horizon` is the last time the data say anything about."""

    t0: np.ndarray     # start time of each interval
    t1: np.ndarray     # end time (inf for the last one when it reaches +inf)
    mass: np.ndarray
    horizon: float
    # Where the mass may really lie (see cdf_bounds); None: inside the innermost intervals.
    placement: Placement | None = None

    @classmethod
    def of(cls, support: Support, mass: np.ndarray,
           placement: Placement | None = None) -> Distribution:
        t0 = edge_seconds(support.start)
        t1 = edge_seconds(support.end + 1)
        finite_ends = t1[np.isfinite(t1)]
        open_starts = t0[~np.isfinite(t1)]
        horizon = float(open_starts.min()) if len(open_starts) else float(finite_ends.max())
        return cls(t0, t1, np.asarray(mass, dtype=float), horizon, placement)

    def with_mass(self, mass: np.ndarray, placement: Placement | None = None) -> Distribution:
        return Distribution(self.t0, self.t1, np.asarray(mass, dtype=float), self.horizon,
                            placement)

    def cdf_bounds(self, seconds: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """(lowest, highest) F(t) when each removal's share of the mass is placed at the end,
        or the start, of its own observed interval (`placement`), instead of where the NPMLE
        spreads it: the NPMLE fixes how much mass each Turnbull interval holds, the data do not
        say where inside an observation's interval its removal happened. At times shorter than
        the crawl cadence the NPMLE's own F(t) is often 0 (every interval is a cadence long and
        mass sits at their common ends); these bounds say how little the data know there."""
        t = np.atleast_1d(np.asarray(seconds, dtype=float))
        if self.placement is None:
            finite = np.isfinite(self.t1)
            at_low, at_high, mass = self.t1[finite], self.t0[finite], self.mass[finite]
        else:
            at_low, at_high, mass = (self.placement.latest, self.placement.earliest,
                                     self.placement.mass)
        low = (at_low[None, :] <= t[:, None]) @ mass
        high = (at_high[None, :] < t[:, None]) @ mass
        beyond = t > self.horizon * (1 + 1e-12)
        return np.where(beyond, np.nan, low), np.where(beyond, np.nan, high)

    def cdf(self, seconds: np.ndarray | float) -> np.ndarray:
        """F(t): the share of subjects whose event happened by t (NaN beyond the horizon)."""
        t = np.atleast_1d(np.asarray(seconds, dtype=float))
        finite = np.isfinite(self.t1)
        t0, t1, mass = self.t0[finite], self.t1[finite], self.mass[finite]
        width = np.where(t1 > t0, t1 - t0, 1.0)
        share = np.clip((t[:, None] - t0[None, :]) / width[None, :], 0.0, 1.0)
        share = np.where(t1[None, :] > t0[None, :], share, (t[:, None] >= t1[None, :]) * 1.0)
        out = share @ mass
        return np.where(t <= self.horizon * (1 + 1e-12), out, np.nan)

    @property
    def by_horizon(self) -> float:
        """F(horizon): the share of subjects with an event within the observed horizon."""
        return float(self.cdf(self.horizon)[0])

    def quantile(self, q: float) -> float | None:
        """The first t with F(t) >= q, or None when F never reaches q within the horizon."""
        points = np.unique(np.concatenate(([0.0], self.t0, self.t1[np.isfinite(self.t1)])))
        points = points[points <= self.horizon]
        values = self.cdf(points)
        reached = np.nonzero(values >= q - 1e-12)[0]
        if not len(reached):
            return None
        k = reached[0]
        if k == 0:
            return float(points[0])
        x0, x1, y0, y1 = points[k - 1], points[k], values[k - 1], values[k]
        return float(x0 + (x1 - x0) * (q - y0) / (y1 - y0)) if y1 > y0 else float(x1)


def estimate(obs: Observations, tol: float = 1e-6) -> tuple[Support, Distribution]:
    """Fit the NPMLE to aggregated observations."""
    support = Support.of(obs)
    return support, Distribution.of(support, fit(support, support.weight, tol=tol))


@dataclass(frozen=True)
class Placement:
    """A fitted distribution's mass as pieces that may lie anywhere in [earliest, latest]:
    each event observation's share (placed, by the EM, inside its own interval) and, per
    innermost interval, the rest (from right-censored and truncated subjects)."""

    earliest: np.ndarray
    latest: np.ndarray
    mass: np.ndarray


def placement(support: Support, mass: np.ndarray, total: np.ndarray, lo: np.ndarray,
              hi: np.ndarray, tlo: np.ndarray, first: np.ndarray, last: np.ndarray,
              weight: np.ndarray, event: np.ndarray) -> Placement:
    """Split `mass` (one cause's, or all) into its event observations' shares and the rest.

    Rows are observations in the support's terms (lo..hi-1 inside, tlo.. after entry; cells
    first..last); `event` marks those whose event (of this cause) lies in [first, last];
    `total` is the all-cause mass (for the truncation term). At the EM's fixed point an event
    observation holds w / N of the mass, N = sum of w / P(after entry), spread over its own
    interval in proportion to `mass`."""
    m = support.size
    cum = np.concatenate(([0.0], np.cumsum(mass)))
    cum_total = np.concatenate(([0.0], np.cumsum(total)))
    after_entry = cum_total[m] - cum_total[tlo]
    n = float(np.sum(np.divide(weight, after_entry, out=np.zeros_like(weight),
                               where=after_entry > 0)))
    inside = cum[hi] - cum[lo]
    use = event & (weight > 0) & (inside > 0)
    coef = np.where(use, np.divide(weight, inside, out=np.zeros_like(weight), where=use), 0.0)
    covered = np.cumsum(np.bincount(lo[use], coef[use], m + 1)
                        - np.bincount(hi[use], coef[use], m + 1))[:m]
    rest = np.maximum(mass - mass * covered / n, 0.0) if n > 0 else mass
    t0, t1 = edge_seconds(support.start), edge_seconds(support.end + 1)
    finite = np.isfinite(t1)
    share = weight[use] / n if n > 0 else weight[use] * 0.0
    return Placement(np.concatenate((edge_seconds(first[use]), t0[finite])),
                     np.concatenate((edge_seconds(last[use] + 1), t1[finite])),
                     np.concatenate((share, rest[finite])))


def support_placement(support: Support, mass: np.ndarray, weight: np.ndarray | None = None
                      ) -> Placement:
    """placement() for a single-cause fit on `support`'s merged rows (weights: the fit's)."""
    w = support.weight if weight is None else np.asarray(weight, dtype=float)
    return placement(support, mass, mass, support.lo, support.hi, support.tlo, support.first,
                     support.last, w, support.last < N_CELLS - 1)


@dataclass(frozen=True)
class CompetingObservations:
    """Observations with a cause: `cause` is the index of the event's cause, -1 when
    right-censored (no event yet); cells as in Observations."""

    entry: np.ndarray
    first: np.ndarray
    last: np.ndarray
    cause: np.ndarray
    weight: np.ndarray


def cumulative_incidence(obs: CompetingObservations, causes: int, tol: float = 1e-7,
                         max_iter: int = 5_000, start: np.ndarray | None = None
                         ) -> tuple[Support, np.ndarray]:
    """Per-cause cumulative incidence from interval-censored, left-truncated competing-risks
    data: the NPMLE of the mass p[k, j] of cause k on innermost interval j by the EM of Hudgens,
    Satten & Longini (2001), with Turnbull's 'ghost' subjects for truncation. An event of cause
    k in [L, R] has likelihood sum_{j in [L, R]} p[k, j]; a right-censored subject sum over all
    causes after L; each is divided by the probability, over all causes, of no event before its
    entry. The support is the all-cause one (innermost intervals of every interval). The
    per-cause masses sum to the all-cause NPMLE's; CIF_k(t) is their cumulative sum.
    Returns the support and p (causes × intervals)."""
    censored = obs.cause < 0
    support = Support.of(Observations.merged(obs.entry, obs.first,
                                             np.where(censored, N_CELLS - 1, obs.last),
                                             obs.weight))
    m = support.size
    lo = np.searchsorted(support.start, obs.first, side="left")
    hi = np.where(censored, m, np.searchsorted(support.end, obs.last, side="right"))
    tlo = np.searchsorted(support.end, obs.entry, side="left")
    w = obs.weight
    p = (np.full((causes, m), 1.0 / (causes * m)) if start is None
         else np.asarray(start, dtype=float).copy())
    for _ in range(max_iter):
        cum = np.concatenate((np.zeros((causes, 1)), np.cumsum(p, axis=1)), axis=1)
        total = cum.sum(axis=0)
        inside = np.where(censored, total[hi] - total[lo],
                          cum[np.maximum(obs.cause, 0), hi] - cum[np.maximum(obs.cause, 0), lo])
        coef = np.divide(w, inside, out=np.zeros_like(w), where=inside > 0)
        after_entry = total[m] - total[tlo]
        ghost = np.divide(w, after_entry, out=np.zeros_like(w), where=after_entry > 0)
        hidden_before = np.cumsum(np.bincount(tlo, ghost, m + 1))
        hidden = hidden_before[m] - hidden_before[:m]     # subjects entering after interval j
        shared = np.cumsum(np.bincount(lo[censored], coef[censored], m + 1)
                           - np.bincount(hi[censored], coef[censored], m + 1))[:m]
        covered = np.empty((causes, m))
        for k in range(causes):
            mine = obs.cause == k
            covered[k] = np.cumsum(np.bincount(lo[mine], coef[mine], m + 1)
                                   - np.bincount(hi[mine], coef[mine], m + 1))[:m] + shared
        new = p * (covered + hidden[None, :]) / hidden_before[m]
        new /= new.sum()
        change = np.max(np.abs(new - p))
        p = new
        if change < tol:
            break
    return support, p
