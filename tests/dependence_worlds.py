"""Simulated worlds with a known truth for the dependence checks (issue 9 §3).

Each world yields posts (account, text id, removed, tokens); `units` collapses copies of one
text the way memoryhole.analysis.keywords.units_sql does (earliest copy's account, share removed), so the
estimators can be checked on thousands of posts in milliseconds without a corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from memoryhole.analysis import keywords

VOCABULARY = [f"词{k:03d}" for k in range(400)]


@dataclass
class Post:
    account: str
    text: int
    removed: float
    tokens: str


def _text_tokens(rng: np.random.Generator, words: int, planted: str | None = None) -> str:
    # Zipf-like word use, so some words are in many texts and most in a few.
    weights = 1.0 / np.arange(1, len(VOCABULARY) + 1)
    chosen = rng.choice(len(VOCABULARY), size=words, replace=False, p=weights / weights.sum())
    tokens = [VOCABULARY[k] for k in chosen]
    if planted:
        tokens.append(planted)
    return " ".join(tokens)


def duplicated_texts(seed: int, texts: int = 200, copies: int = 50, accounts: int = 300,
                     rate: float = 0.2, planted: str | None = None, planted_share: float = 0.1,
                     planted_rate: float = 0.8) -> list[Post]:
    """`texts` texts posted `copies` times each by random accounts; the platform removes a text
    (every copy) with probability `rate`, whatever its words, except texts carrying `planted`
    (a share `planted_share` of texts), removed with `planted_rate`."""
    rng = np.random.default_rng(seed)
    posts = []
    for text in range(texts):
        carries = planted is not None and rng.random() < planted_share
        tokens = _text_tokens(rng, 8, planted if carries else None)
        removed = float(rng.random() < (planted_rate if carries else rate))
        for _ in range(copies):
            posts.append(Post(f"u{rng.integers(accounts):04d}", text, removed, tokens))
    return posts


def account_vocabularies(seed: int, accounts: int = 60, posts_per_account: int = 80,
                         own_words: int = 6) -> list[Post]:
    """Each account has its own removal rate (Beta(1, 4)) and its own favourite words, used in
    most of its posts; no word has an effect of its own. Every text is distinct."""
    rng = np.random.default_rng(seed)
    posts, text = [], 0
    for a in range(accounts):
        rate = rng.beta(1, 4)
        favourites = rng.choice(len(VOCABULARY), size=own_words, replace=False)
        for _ in range(posts_per_account):
            own = [VOCABULARY[k] for k in favourites if rng.random() < 0.6]
            tokens = " ".join(sorted(set(own) | set(_text_tokens(rng, 5).split())))
            posts.append(Post(f"a{a:03d}", text, float(rng.random() < rate), tokens))
            text += 1
    return posts


def units(posts: list[Post]) -> list[tuple[str, str, float, int, str]]:
    """Copies of one text collapsed: (account of the first copy, period, share removed, copies,
    tokens), sorted by account, as keywords.iter_units yields them."""
    first: dict[int, Post] = {}
    removed: dict[int, list[float]] = {}
    for post in posts:
        first.setdefault(post.text, post)
        removed.setdefault(post.text, []).append(post.removed)
    rows = [(p.account, "2026-01-01", float(np.mean(removed[t])), len(removed[t]), p.tokens)
            for t, p in first.items()]
    return sorted(rows, key=lambda r: r[0])


def posts_as_units(posts: list[Post]) -> list[tuple[str, str, float, int, str]]:
    """Every post its own unit: what the analysis did before deduplication."""
    return sorted(((p.account, "2026-01-01", p.removed, 1, p.tokens) for p in posts),
                  key=lambda r: r[0])


def flagged_terms(rows: list[tuple[str, str, float, int, str]],
                  options: keywords.KeywordOptions | None = None) -> set[str]:
    options = options or keywords.KeywordOptions()
    term_filter = keywords.TermFilter(frozenset(), frozenset())
    counts = keywords.count_terms(rows, term_filter)
    return {r["term"] for r in keywords.term_table_rows(counts, frozenset(), options)
            if r["flagged"]}


def flagged_by_independent_log_odds(rows: list[tuple[str, str, float, int, str]],
                                    options: keywords.KeywordOptions | None = None
                                    ) -> set[str]:
    """The former test: Monroe z with a normal p-value, units taken as independent."""
    options = options or keywords.KeywordOptions()
    from memoryhole.analysis.stats import benjamini_hochberg, normal_upper_tail

    term_filter = keywords.TermFilter(frozenset(), frozenset())
    counts = keywords.count_terms(rows, term_filter)
    keep = np.nonzero(counts.column("units") >= options.min_support)[0]
    prior = options.prior_strength * counts.background[keep] / counts.background.sum()
    delta, se = keywords.weighted_log_odds(
        counts.removed[keep], counts.surviving[keep], prior, counts.removed.sum(),
        counts.surviving.sum(), options.prior_strength)
    q = benjamini_hochberg(normal_upper_tail(delta / se))
    return {counts.terms[k] for k, qk, d in zip(keep, q, delta, strict=True)
            if qk < options.alpha and d > 0}
