"""Weibo search as a keyword-blocking test: URLs and the pure parser of a search answer.

What is confirmed (shared/platform-facts.md, "Search (keyword blocking)"): the desktop page
`s.weibo.com/weibo?q=<term>` says `根据相关法律法规和政策，搜索结果未予显示` for a blocked term and
`抱歉，未找到相关结果` when nothing matches; `你的行为有些异常` is the captcha. What is assumed:
a results page lists posts as `action-type="feed_list_item"` cards and, where it states a total,
says `找到 N 条结果` (the count is kept only when that form is seen). The mobile search container
(`m.weibo.cn/api/container/getIndex?containerid=100103type=1&q=…`) is read too, but whether its
JSON carries the blocked message is unconfirmed: there those words give `unknown` (the message
kept), never `blocked`, until a recorded answer confirms them.

Outcomes (SearchOutcome): `blocked`, `results`, `no_results`, `unknown` (an answer that says
neither), and `failed` (not an observation: captcha, login wall, 5xx, 418/432/403, redirects,
timeouts, bodies we cannot read). Only blocked, results and no_results move a term's history.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode

from w3lib.html import remove_tags, replace_entities

from .. import failures
from .weibo import WeiboAdapter, signatures

Endpoint = Literal["desktop", "mobile"]
ENDPOINTS: tuple[str, ...] = ("desktop", "mobile")
DEFAULT_BASE_URLS = {"desktop": "https://s.weibo.com", "mobile": "https://m.weibo.cn"}

_FEED_ITEM = re.compile(r"""action-type=["']feed_list_item["']""")
_STATED_COUNT = re.compile(r"找到\s*([0-9][0-9,]*)\s*条结果")
_LOGIN_HOSTS = ("passport.weibo.com", "login.sina.com.cn", "weibo.com/login", "/signin", "login")


@dataclass(frozen=True)
class SearchResult:
    """What one search answer said about a term."""

    outcome: Literal["blocked", "results", "no_results", "unknown", "failed"]
    result_count: int | None = None   # the platform's stated total, where the page shows one
    results_shown: int | None = None  # result cards on this page
    message: str | None = None        # the platform's words (blocked, no results, unknown)
    failure: str | None = None
    detail: str | None = None


def search_url(base_url: str, term: str, endpoint: Endpoint = "desktop") -> str:
    """The search page for `term`: desktop `/weibo?q=`, or the mobile container (all posts)."""
    base = base_url.rstrip("/")
    if endpoint == "mobile":
        query = {"containerid": f"100103type=1&q={term}", "page_type": "searchall"}
        return f"{base}/api/container/getIndex?{urlencode(query)}"
    return f"{base}/weibo?q={quote(term, safe='')}"


def parse_search(status: int, body: bytes, endpoint: Endpoint = "desktop",
                 location: str | None = None) -> SearchResult:
    """Read a search answer. Pure: no I/O, no clock. `location` is a redirect's target."""
    if 300 <= status < 400:
        if location and any(host in location for host in _LOGIN_HOSTS):
            return SearchResult("failed", failure=failures.LOGIN_WALL, detail=location[:300])
        return SearchResult("failed", failure=failures.UNEXPECTED_STATUS,
                            detail=f"HTTP {status} to {location or '?'}"[:300])
    if failure := WeiboAdapter().failure_for_status(status):
        return SearchResult("failed", failure=failure, detail=f"HTTP {status}")
    text = body.decode("utf-8", errors="replace")
    if endpoint == "mobile":
        return _parse_mobile(text)
    return _parse_desktop(text)


def _words(html: str) -> str:
    return " ".join(replace_entities(remove_tags(html)).split())


def _not_observation(words: str) -> SearchResult | None:
    sigs = signatures()
    if sig := sigs.match(sigs.not_observations, words):
        return SearchResult("failed", failure=sig.failure or failures.UNKNOWN_FAILURE,
                            detail=sig.words)
    return None


def _sentence(words: str, start: str) -> str:
    """The platform's sentence that begins with `start` (up to its full stop), verbatim."""
    at = words.find(start)
    end = words.find("。", at)
    return words[at:end + 1 if end != -1 else at + 60].strip()


def _parse_desktop(html: str) -> SearchResult:
    words = _words(html)
    if not words:
        return SearchResult("failed", failure=failures.UNPARSEABLE_BODY, detail="empty page")
    if found := _not_observation(words):   # a captcha is never an observation
        return found
    if "</html>" not in html[-4096:].lower():   # cut short: whatever it shows, not an answer
        return SearchResult("failed", failure=failures.TRUNCATED_BODY,
                            detail=f"{len(html)} chars, no closing </html>")
    sigs = signatures()
    if sig := sigs.match("search_blocked", words):
        return SearchResult("blocked", message=_sentence(words, sig.words))
    if sig := sigs.match("search_no_results", words):
        return SearchResult("no_results", message=_sentence(words, sig.words), result_count=0,
                            results_shown=0)
    shown = len(_FEED_ITEM.findall(html))
    if shown:
        stated = _STATED_COUNT.search(words)
        count = int(stated[1].replace(",", "")) if stated else None
        return SearchResult("results", result_count=count, results_shown=shown)
    return SearchResult("failed", failure=failures.UNEXPECTED_ANSWER,
                        detail="a page with no results, no blocked or no-results words")


def _parse_mobile(text: str) -> SearchResult:
    try:
        payload = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return SearchResult("failed", failure=failures.UNPARSEABLE_BODY, detail="not JSON")
    if not isinstance(payload, dict):
        return SearchResult("failed", failure=failures.UNPARSEABLE_BODY,
                            detail="JSON is not an object")
    if str(payload.get("ok")) == "-100":
        url = str(payload.get("url", ""))
        return SearchResult("failed", failure=failures.LOGIN_WALL if "login" in url
                            else failures.CAPTCHA, detail=url or "ok=-100")
    flat = json.dumps(payload, ensure_ascii=False)
    if found := _not_observation(flat):
        return found
    sigs = signatures()
    if sig := sigs.match("search_blocked", flat):
        # Unconfirmed in this container: the words are kept, the term's history does not move.
        return SearchResult("unknown", message=_sentence(flat, sig.words),
                            detail="blocked words in the mobile container (unconfirmed)")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    cards = data.get("cards") if isinstance(data.get("cards"), list) else []
    shown = sum(1 for card in _cards(cards) if card.get("card_type") == 9 and card.get("mblog"))
    if shown:
        info = data.get("cardlistInfo") if isinstance(data.get("cardlistInfo"), dict) else {}
        total = info.get("total")
        count = total if isinstance(total, int) and not isinstance(total, bool) else None
        return SearchResult("results", result_count=count, results_shown=shown)
    if sig := sigs.match("search_no_results", flat):
        return SearchResult("no_results", message=_sentence(flat, sig.words), result_count=0,
                            results_shown=0)
    return SearchResult("unknown", detail=f"ok={payload.get('ok')!r} without posts or words")


def _cards(cards: list) -> list[dict]:
    out = []
    for card in cards:
        if not isinstance(card, dict):
            continue
        out.append(card)
        group = card.get("card_group")
        if isinstance(group, list):
            out.extend(c for c in group if isinstance(c, dict))
    return out
