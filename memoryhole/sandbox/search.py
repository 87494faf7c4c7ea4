"""Simulated Weibo search (s.weibo.com/weibo?q=…), served under `/search`, with planted
blocked keywords.

A search is blocked while one of the planted keywords that is blocked at that moment occurs in
it (substring match, as the blocked-on-Weibo project found the filter behaves): the page says
`根据相关法律法规和政策，搜索结果未予显示。`. Otherwise a term on the `no_results` list finds
nothing (`抱歉，未找到“TERM”相关结果。`), and any other term finds a count of posts fixed by
(seed, term) (`找到 N 条结果` and a page of `feed_list_item` cards: the sandbox's assumption of
the page's shape). A share of searches (`captcha`, decided from (seed, term, how many times it
was asked)) answer the captcha page (`你的行为有些异常`); the scenario's `login_wall` fault
redirects to the visitor page on passport.weibo.com. HTTP faults as everywhere.

Scenario section `weibo_search:` (absent = no search):

    keywords:                         # planted keywords, each blocked over its periods
      - {words: 天安门}                # blocked from the start, for good
      - {words: 白纸, blocked: [{from: 1d, until: 3d}, {from: 5d}]}   # times after start
    no_results: [无人知晓的词]
    captcha: 0.1                      # share of searches answered with the captcha page

The truth (`GET /_sandbox/truth`, under `weibo_search`) lists each keyword's blocked periods.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote

from .render import iso
from .scenario import _Reader

PREFIX = "/search"
BLOCKED_WORDS = "根据相关法律法规和政策，搜索结果未予显示。"
CAPTCHA_WORDS = "你的行为有些异常，请输入验证码"
LOGIN_URL = "https://passport.weibo.com/visitor/visitor?entry=miniblog&a=enter&url="


@dataclass(frozen=True)
class KeywordSpec:
    words: str
    periods: tuple[tuple[float, float | None], ...]   # (from, until) seconds after start


@dataclass(frozen=True)
class SearchSpec:
    keywords: tuple[KeywordSpec, ...] = ()
    no_results: tuple[str, ...] = ()
    captcha: float = 0.0


def search_spec(data: Any, label: str) -> SearchSpec | None:
    """The `weibo_search:` section of a scenario, checked (ScenarioError names the field)."""
    if data is None:
        return None
    r = _Reader(label)
    top = r.section(data, "weibo_search", ("keywords", "no_results", "captcha"))
    keywords = []
    for i, raw in enumerate(top.get("keywords") or []):
        name = f"weibo_search.keywords[{i}]"
        k = r.section(raw, name, ("words", "blocked"))
        words = k.get("words")
        if not isinstance(words, str) or not words.strip():
            raise r.fail(f"{name}.words", f"must be non-empty text, got {words!r}")
        periods = []
        for j, p in enumerate(k.get("blocked", [{}]) or []):
            where = f"{name}.blocked[{j}]"
            p = r.section(p, where, ("from", "until"))
            start = r.duration(p, "from", f"{where}.from", 0.0)
            until = r.duration(p, "until", f"{where}.until", 0.0) if "until" in p else None
            if until is not None and until <= start:
                raise r.fail(where, "needs until later than from")
            periods.append((start, until))
        keywords.append(KeywordSpec(words.strip(), tuple(periods)))
    no_results = top.get("no_results") or []
    if not isinstance(no_results, list) or not all(isinstance(t, str) for t in no_results):
        raise r.fail("weibo_search.no_results", f"must be a list of terms, got {no_results!r}")
    return SearchSpec(tuple(keywords), tuple(t.strip() for t in no_results),
                      r.share(top, "captcha", "weibo_search.captcha", 0.0))


class SearchWorld:
    """Answers search pages from the planted keywords, as a function of time."""

    def __init__(self, spec: SearchSpec, start: datetime, seed: int) -> None:
        self.spec = spec
        self.start = start
        self.seed = seed
        self.asked: dict[str, int] = {}

    def _periods(self, keyword: KeywordSpec) -> list[tuple[datetime, datetime | None]]:
        return [(self.start + timedelta(seconds=a),
                 None if b is None else self.start + timedelta(seconds=b))
                for a, b in keyword.periods]

    def blocked_by(self, term: str, at: datetime) -> list[str]:
        """The planted keywords blocked at `at` that occur in `term`."""
        return [k.words for k in self.spec.keywords if k.words in term and any(
            a <= at and (b is None or at < b) for a, b in self._periods(k))]

    def _draw(self, *parts: object) -> float:
        digest = hashlib.sha256("\0".join(map(str, (self.seed, *parts))).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def count(self, term: str) -> int:
        return 1 + int(self._draw("count", term) * 50000)

    def page(self, path: str, query: str, at: datetime, fault: str | None
             ) -> tuple[int, bytes, str]:
        """(status, body, redirect location) of `/weibo?q=…`."""
        if path.rstrip("/") != "/weibo":
            return 404, b"<html><body>404</body></html>", ""
        term = (parse_qs(query).get("q") or [""])[0].strip()
        if fault == "login_wall":
            return 302, b"", LOGIN_URL + quote(f"https://s.weibo.com/weibo?q={term}")
        n = self.asked.get(term, 0)
        self.asked[term] = n + 1
        if fault == "captcha" or self._draw("captcha", term, n) < self.spec.captcha:
            return 200, _page("验证", f"<p>{CAPTCHA_WORDS}</p><img src='/captcha.png'>"), ""
        shown = html.escape(term)
        if not term:
            return 200, _page("微博搜索", "<div class='search-input'></div>"), ""
        if self.blocked_by(term, at):
            return 200, _page(f"{shown}_微博搜索", "<div class='card card-no-result s-pt20b40'>"
                              f"<p>{BLOCKED_WORDS}</p></div>"), ""
        if term in self.spec.no_results:
            return 200, _page(f"{shown}_微博搜索", "<div class='card card-no-result s-pt20b40'>"
                              f"<p>抱歉，未找到“<span>{shown}</span>”相关结果。</p>"
                              "<p>建议您：检查输入是否正确</p></div>"), ""
        total = self.count(term)
        cards = "".join(
            f"<div class='card-wrap' action-type='feed_list_item' mid='49{i:014d}'>"
            f"<p class='txt'>关于<em class='s-color-red'>{shown}</em>的第{i + 1}条微博</p></div>"
            for i in range(min(total, 10)))
        return 200, _page(f"{shown}_微博搜索", f"<div class='card-top'>找到{total:,}条结果</div>"
                          f"{cards}"), ""

    def truth(self, at: datetime) -> dict[str, Any]:
        return {"keywords": [
            {"words": k.words,
             "blocked": [{"from": iso(a), "until": None if b is None else iso(b)}
                         for a, b in self._periods(k) if a <= at],
             "blocked_now": bool(self.blocked_by(k.words, at))}
            for k in self.spec.keywords], "no_results": list(self.spec.no_results)}


def _page(title: str, main: str) -> bytes:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><div class='m-main' id='pl_feedlist_index'>{main}</div></body></html>"
            ).encode()
