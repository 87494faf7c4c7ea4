"""Reduce a blocked phrase to its minimal blocked substrings (the blocked-on-Weibo method).

Split recursively: test both halves of a blocked phrase and recurse into each half that is
blocked on its own; when neither half is (the blocked words straddle the cut), drop characters
one at a time, keeping each drop after which the remainder is still blocked. What is left is
minimal: removing any one of its characters unblocks it.

The algorithm is a generator that yields the strings it needs tested and is sent back whether
each is blocked, so one implementation runs against the platform (crawlers/search_campaign.py),
a simulated platform, or a plain function in tests. Each distinct string is asked once.

    steps = minimal_blocked_substrings("某某敏感词组合")
    ask = next(steps)
    try:
        while True:
            ask = steps.send(is_blocked(ask))
    except StopIteration as done:
        substrings = done.value
"""

from __future__ import annotations

from collections.abc import Callable, Generator

Steps = Generator[str, bool, list[str]]


def minimal_blocked_substrings(phrase: str) -> Steps:
    """Yield strings to test (send back True when blocked); return the minimal blocked
    substrings of `phrase`, in the order they occur, or [] when `phrase` is not blocked."""
    known: dict[str, bool] = {}

    def blocked(text: str) -> Generator[str, bool, bool]:
        if text not in known:
            known[text] = bool((yield text))
        return known[text]

    def reduce(text: str) -> Generator[str, bool, list[str]]:
        """The minimal blocked substrings of a blocked `text`."""
        if len(text) > 1:
            middle = len(text) // 2
            found: list[str] = []
            for half in (text[:middle], text[middle:]):
                if (yield from blocked(half)):
                    found += (yield from reduce(half))
            if found:
                return found
        return [(yield from drop_characters(text))]

    def drop_characters(text: str) -> Generator[str, bool, str]:
        at = 0
        while at < len(text) and len(text) > 1:
            shorter = text[:at] + text[at + 1:]
            if (yield from blocked(shorter)):
                text = shorter
            else:
                at += 1
        return text

    if not phrase or not (yield from blocked(phrase)):
        return []
    return list(dict.fromkeys((yield from reduce(phrase))))


def minimize_with(phrase: str, is_blocked: Callable[[str], bool]) -> tuple[list[str], int]:
    """Run the minimization against a plain predicate: (substrings, strings tested)."""
    steps = minimal_blocked_substrings(phrase)
    asked = 0
    try:
        text = next(steps)
        while True:
            asked += 1
            text = steps.send(is_blocked(text))
    except StopIteration as done:
        return done.value, asked
