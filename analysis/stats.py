"""Small, exact statistics used across the analysis: Wilson intervals, normal tails, FDR."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes: ArrayLike, trials: ArrayLike, z: float = Z95
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for binomial proportions (NaN where trials is 0).

    Wilson (1927); preferred to the Wald interval for small counts and proportions near 0 or 1
    (Brown, Cai & DasGupta 2001).
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        z2 = z * z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    # Exact at the edges (floating point can leave 1e-17 instead of 0).
    low = np.where(x == 0, 0.0, low)
    high = np.where((x == n) & (n > 0), 1.0, high)
    return low, high


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson interval of one proportion; (None, None) when there are no trials."""
    if trials <= 0:
        return None, None
    low, high = wilson_interval([successes], [trials], z)
    return float(low[0]), float(high[0])


def normal_upper_tail(z: ArrayLike) -> np.ndarray:
    """P(Z >= z) for a standard normal Z."""
    values = np.asarray(z, dtype=float)
    return 0.5 * np.vectorize(math.erfc)(values / math.sqrt(2.0)) if values.size else values


def benjamini_hochberg(p_values: ArrayLike) -> np.ndarray:
    """Benjamini–Hochberg (1995) adjusted p-values (q-values), same order as the input."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out


def rate(successes: int, trials: int) -> float | None:
    return successes / trials if trials > 0 else None
