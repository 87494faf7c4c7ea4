"""Sina Weibo through the mobile web API (m.weibo.cn): URLs, dates and the platform's words."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any
from urllib.parse import urlencode

from memoryhole.corpus.vocabulary import ACCOUNT_STATE_OF_REASON
from w3lib.html import remove_tags, replace_entities

from .. import failures
from .base import (
    ExtraColumn,
    ListingAdapter,
    LongTextResult,
    PostRecord,
    ProbeResult,
    ProfileResult,
    Signatures,
    TimelinePage,
    Tombstone,
)

PLATFORM = "weibo"
ANTI_CRAWLER = "anti_crawler"              # HTTP 418
USER_AGENT_REFUSED = "user_agent_refused"  # HTTP 432
# Weibo writes dates in Beijing time.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


@cache
def signatures() -> Signatures:
    """Weibo's messages as shipped in weibo_messages.yaml."""
    return WeiboAdapter().signatures()


# --- dates -----------------------------------------------------------------------------------

_MINUTES_AGO = re.compile(r"^(\d+)\s*分钟前$")
_HOURS_AGO = re.compile(r"^(\d+)\s*小时前$")
_YESTERDAY = re.compile(r"^昨天\s*(\d{1,2}):(\d{2})$")
_TODAY = re.compile(r"^今天\s*(\d{1,2}):(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})$")
_FULL_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_created_at(text: str, fetched_at: datetime) -> datetime | None:
    """Resolve Weibo's `created_at` (relative in lists, absolute in details) against the fetch time.

    Relative forms are read in Beijing time, as the platform writes them. Returns None for a form
    nobody has seen, or a date that does not exist (`02-30`, `25:61`, minutes beyond the calendar),
    so an odd date never stops a crawl. The time the form names: see `parse_created_interval`
    for the interval the true creation time lies in.
    """
    parsed = _parse_created(text, fetched_at)
    return parsed[0] if parsed else None


def parse_created_interval(text: str, fetched_at: datetime) -> tuple[datetime, datetime] | None:
    """(earliest, latest) possible creation time for the form the platform used: 刚刚 is the
    last minute, N分钟前 [N+1, N] minutes ago, N小时前 [N+1, N] hours ago, 昨天/今天 HH:MM that
    minute, MM-DD and YYYY-MM-DD that whole Beijing day (midnight is the *earliest* time), an
    absolute time itself. Never later than the fetch."""
    parsed = _parse_created(text, fetched_at)
    if parsed is None:
        return None
    _, earliest, latest = parsed
    return earliest, min(latest, fetched_at)


def _parse_created(text: str, fetched_at: datetime) -> tuple[datetime, datetime, datetime] | None:
    """(the time the form names, earliest, latest); None for an unknown or impossible date."""
    try:
        return _created(text, fetched_at)
    except (ValueError, OverflowError):
        return None


def _created(text: str, fetched_at: datetime) -> tuple[datetime, datetime, datetime] | None:
    text = (text or "").strip()
    local = fetched_at.astimezone(BEIJING)
    minute, hour, day = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
    if text == "刚刚":
        return fetched_at, fetched_at - minute, fetched_at
    if m := _MINUTES_AGO.match(text):
        at = fetched_at - int(m[1]) * minute
        return at, at - minute, at
    if m := _HOURS_AGO.match(text):
        at = fetched_at - int(m[1]) * hour
        return at, at - hour, at
    if m := _YESTERDAY.match(text):
        at = (local - day).replace(hour=int(m[1]), minute=int(m[2]), second=0, microsecond=0)
        return at, at, at + minute
    if m := _TODAY.match(text):
        at = local.replace(hour=int(m[1]), minute=int(m[2]), second=0, microsecond=0)
        return at, at, at + minute
    if m := _MONTH_DAY.match(text):
        at = local.replace(month=int(m[1]), day=int(m[2]), hour=0, minute=0, second=0,
                           microsecond=0)
        return at, at, at + day
    if m := _FULL_DATE.match(text):
        at = datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=BEIJING)
        return at, at, at + day
    try:  # detail responses: "Sat Nov 21 10:00:00 +0800 2020"
        at = datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        return None
    return at, at, at + timedelta(seconds=1)


# --- posts -----------------------------------------------------------------------------------

_EMOTICON = re.compile(r"<img[^>]*\balt=\"?([^\"\s>]+)\"?[^>]*>", re.IGNORECASE)


def html_to_text(html: str) -> str:
    """Weibo's post HTML as plain text; emoticons become their [alt] words."""
    return replace_entities(remove_tags(_EMOTICON.sub(r"\1", html or ""))).strip()


# An answer of the wrong shape (a list where a post should be, a number too big to be an id...):
# the page or probe is then an unparseable body, never an exception.
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError)
_POST_ID = re.compile(r"^[0-9]{1,19}$")


def _dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (for optional parts of an answer)."""
    return value if isinstance(value, dict) else {}


def _post_id(mblog: dict[str, Any]) -> str:
    """The post's mid (decimal digits, fits SQLite's INTEGER); ValueError for anything else."""
    value = mblog.get("mid") or mblog.get("idstr") or mblog["id"]
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not _POST_ID.match(text) or int(text) >= 2**63:
        raise ValueError(f"not a post id: {value!r}"[:80])
    return text


def _count(value: Any) -> int:
    """A non-negative whole number the platform counts (edit_count); ValueError otherwise."""
    number = int(value or 0)
    if not 0 <= number < 2**63:
        raise ValueError(f"not a count: {value!r}"[:80])
    return number


def _is_tombstone(mblog: dict[str, Any]) -> bool:
    """A post replaced by the platform's words: flagged deleted, state 7/8, or an author-less
    post whose text is a known not-visible message (privacy tombstones carry no flag)."""
    if str(mblog.get("deleted", "0")) == "1" or mblog.get("state") in (7, 8):
        return True
    if mblog.get("user") is None and "text" in mblog:
        sigs = signatures()
        text = html_to_text(str(mblog["text"]))
        return bool(sigs.match(sigs.post_messages, text) or sigs.match(sigs.account_messages, text))
    return False


def _post(mblog: dict[str, Any], fetched_at: datetime, pinned: bool = False) -> PostRecord:
    """One mblog as a PostRecord; one of MALFORMED when it is not a post."""
    if not isinstance(mblog, dict):
        raise TypeError(f"mblog is {type(mblog).__name__}, not an object")
    user = _dict(mblog.get("user"))
    repost_of, tombstone = None, None
    original = mblog.get("retweeted_status")
    if isinstance(original, dict):
        if _is_tombstone(original):
            reason, message = _classify(html_to_text(str(original.get("text", ""))))
            try:
                tombstone = Tombstone(post_id=_post_id(original), reason=reason, message=message)
            except (KeyError, ValueError):
                pass   # a tombstone that names no post cannot be attributed: not recorded
        else:
            repost_of = _post(original, fetched_at)
    mid = _post_id(mblog)
    bid = mblog.get("bid")
    return PostRecord(
        platform=PLATFORM,
        post_id=mid,
        account_id=str(user.get("id", "")),
        order_key=int(mid),
        created_at=parse_created_at(str(mblog.get("created_at", "")), fetched_at),
        created_interval=parse_created_interval(str(mblog.get("created_at", "")), fetched_at),
        text=html_to_text(mblog.get("text", "")),
        screen_name=user.get("screen_name"),
        url=f"https://m.weibo.cn/status/{bid or mid}",
        text_truncated=bool(mblog.get("isLongText")),
        pinned=pinned or bool(mblog.get("isTop")),
        edit_count=_count(mblog.get("edit_count")),
        repost_of=repost_of,
        original_tombstone=tombstone,
        extra={"bid": bid, "source": mblog.get("source")},
    )


def _is_pinned(card: dict[str, Any]) -> bool:
    mblog = _dict(card.get("mblog"))
    title = _dict(card.get("title") or mblog.get("title"))
    return bool(mblog.get("isTop")) or title.get("text") == "置顶"


def _mblog_cards(cards: list[Any]):
    """The cards holding a post, card groups opened; TypeError for a card that is no object."""
    for card in cards:
        if card.get("card_type") == 9 and card.get("mblog"):
            yield card
        group = card.get("card_group")
        for inner in group if isinstance(group, list) else ():
            if inner.get("card_type") == 9 and inner.get("mblog"):
                yield inner


def _read_json(status: int, body: bytes) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """(payload, failure, detail): a failure for anything that is not a 200 JSON object."""
    failure = WeiboAdapter().failure_for_status(status)
    if failure:
        return None, failure, f"HTTP {status}"
    text = body.decode("utf-8", errors="replace").strip()
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        kind = failures.TRUNCATED_BODY if _unclosed(text) else failures.UNPARSEABLE_BODY
        return None, kind, f"{exc.msg} at {exc.pos} of {len(text)} chars"
    except RecursionError:
        return None, failures.UNPARSEABLE_BODY, "JSON nested too deeply"
    if not isinstance(payload, dict):
        return None, failures.UNPARSEABLE_BODY, "JSON is not an object"
    return payload, None, None


def _unclosed(text: str) -> bool:
    """True when JSON text opens more brackets (or a string) than it closes: it was cut short."""
    if text[:1] not in "{[":
        return False
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return in_string or depth > 0


def _not_observation(payload: dict[str, Any], message: str) -> tuple[str, str] | None:
    """Captcha, rate limit and login walls, whatever else the answer says."""
    if str(payload.get("ok")) == "-100":
        url = str(payload.get("url", ""))
        kind = failures.LOGIN_WALL if "login" in url else failures.CAPTCHA
        return kind, url or "ok=-100"
    sig = signatures().match(signatures().not_observations, message)
    if sig:
        return sig.failure or failures.UNKNOWN_FAILURE, message
    return None


def _classify(message: str) -> tuple[str, str]:
    """(reason, exact words) for a not-visible message; words nobody catalogued are `unknown`."""
    sigs = signatures()
    sig = sigs.match(sigs.post_messages, message) or sigs.match(sigs.account_messages, message)
    return (sig.reason if sig else "unknown"), message


def _listing_words(message: str) -> bool:
    """`这里还没有内容` is what a listing says (and what Weibo gives clients it distrusts,
    platform-facts "Access in practice"), never the words of one post: no removal."""
    return signatures().match(signatures().timeline_end, message) is not None


ACCOUNT_STATES = ACCOUNT_STATE_OF_REASON   # the state a gone account's reason implies


@dataclass(frozen=True)
class Answer:
    """A response read as far as every endpoint reads it: a JSON object and its message, or the
    failure that makes it no observation at all (HTTP status, body, captcha, login wall)."""

    payload: dict[str, Any]
    message: str
    failure: str | None = None
    detail: str | None = None


def _answer(status: int, body: bytes) -> Answer:
    payload, failure, detail = _read_json(status, body)
    if failure or payload is None:
        return Answer({}, "", failure or failures.UNPARSEABLE_BODY, detail)
    message = _message(payload)
    if found := _not_observation(payload, message):
        return Answer(payload, message, found[0], found[1])
    return Answer(payload, message)


def _message(payload: dict[str, Any]) -> str:
    return str(payload.get("msg") or payload.get("message") or "").strip()


class WeiboAdapter(ListingAdapter):
    name = PLATFORM
    default_base_url = "https://m.weibo.cn"
    watch = "listing"
    order_key = "id"                      # the mid grows with time
    versioned_fields = ("text", "edit_count")
    # 刚刚 / N分钟前 (< 1 h), N小时前 (< 24 h), then 昨天 HH:MM or MM-DD: up to a day.
    created_at_resolution = ((3600.0, 60.0), (86400.0, 3600.0), (None, 86400.0))
    extra_columns = (
        ExtraColumn("bid", "Weibo's short post id (base 62 of the mid), as in the post's URL.",
                    release="drop", post_alias=True),
        ExtraColumn("source", "The client the post was sent from, as Weibo names it.",
                    release="free"),
    )
    status_failures = {418: ANTI_CRAWLER, 432: USER_AGENT_REFUSED}
    failure_descriptions = {
        ANTI_CRAWLER: "HTTP 418: Weibo's anti-crawler answer (bans last hours to days)",
        USER_AGENT_REFUSED: "HTTP 432: Weibo refused the user agent or a missing cookie",
    }
    messages_file = "weibo_messages.yaml"
    gate_failures = frozenset({ANTI_CRAWLER, USER_AGENT_REFUSED})
    visitor_flow = "weibo"    # passport.weibo.com's visitor cookies (crawlers/sessions.py)

    def timeline_url(self, base_url: str, account_id: str, page: int,
                     cursor: str | None = None, by_cursor: bool = False) -> str:
        # 107603 pages by number; the newer clients' 230413 container pages by since_id.
        container = "230413" if by_cursor else "107603"
        query = {"type": "uid", "value": account_id, "containerid": f"{container}{account_id}"}
        if cursor:
            query["since_id"] = cursor
        elif page > 1:
            query["page"] = str(page)
        return f"{base_url.rstrip('/')}/api/container/getIndex?{urlencode(query)}"

    def profile_url(self, base_url: str, account_id: str) -> str:
        return (f"{base_url.rstrip('/')}/api/container/getIndex?"
                f"{urlencode({'type': 'uid', 'value': account_id})}")

    def long_text_url(self, base_url: str, post_id: str) -> str:
        return f"{base_url.rstrip('/')}/statuses/extend?id={post_id}"

    def probe_url(self, base_url: str, post_id: str) -> str:
        return f"{base_url.rstrip('/')}/statuses/show?id={post_id}"

    def parse_timeline(self, status: int, body: bytes, fetched_at: datetime) -> TimelinePage:
        answer = _answer(status, body)
        if answer.failure:
            return TimelinePage("failed", failure=answer.failure, detail=answer.detail)
        payload, message = answer.payload, answer.message
        if str(payload.get("ok")) != "1":
            if signatures().match(signatures().timeline_end, message):
                return TimelinePage("end", detail=message)
            return TimelinePage("failed", failure=failures.UNEXPECTED_ANSWER,
                                detail=message or f"ok={payload.get('ok')!r}")
        data = _dict(payload.get("data"))
        cards = data.get("cards")
        if not isinstance(cards, list):
            return TimelinePage("failed", failure=failures.UNPARSEABLE_BODY,
                                detail="ok=1 without data.cards")
        try:
            posts = tuple(_post(c["mblog"], fetched_at, _is_pinned(c)) for c in _mblog_cards(cards))
        except MALFORMED as exc:
            return TimelinePage("failed", failure=failures.UNPARSEABLE_BODY,
                                detail=f"mblog: {exc!r}")
        if not posts:
            # ok=1 with no posts: Weibo's way of saying nothing more, in some clients.
            return TimelinePage("end", detail="ok=1 with no posts")
        since_id = _dict(data.get("cardlistInfo")).get("since_id")
        cursor = str(since_id) if isinstance(since_id, str | int) and not isinstance(
            since_id, bool) and since_id not in ("", 0) else None
        return TimelinePage("posts", posts=posts, next_cursor=cursor)

    def parse_probe(self, status: int, body: bytes, fetched_at: datetime) -> ProbeResult:
        answer = _answer(status, body)
        if answer.failure:
            return ProbeResult("failed", failure=answer.failure, detail=answer.detail)
        payload, message = answer.payload, answer.message
        data, ok = payload.get("data"), str(payload.get("ok"))
        if ok == "1" and isinstance(data, dict):
            if _is_tombstone(data):
                words = html_to_text(str(data.get("text", "")))
                if not words:
                    return ProbeResult("failed", failure=failures.UNEXPECTED_ANSWER,
                                       detail="a tombstone without words")
                return self._removed(words)
            try:
                return ProbeResult("visible", post=_post(data, fetched_at))
            except MALFORMED as exc:
                return ProbeResult("failed", failure=failures.UNPARSEABLE_BODY,
                                   detail=f"mblog: {exc!r}"[:500])
        if ok != "0" or not message:
            # Only `ok: 0` with words is the platform saying "not visible"; anything else (no
            # words, ok=1 without a post, no ok at all) we cannot read: not an observation.
            return ProbeResult("failed", failure=failures.UNEXPECTED_ANSWER,
                               detail=f"ok={payload.get('ok')!r}"[:80] + (
                                   f": {message}" if message else " without a message"))
        if _listing_words(message):
            return ProbeResult("failed", failure=failures.UNEXPECTED_ANSWER,
                               detail=f"a listing's words, not the post's: {message}"[:200])
        return self._removed(message)

    def _removed(self, message: str) -> ProbeResult:
        reason, message = _classify(message)
        return ProbeResult("removed", reason=reason, message=message)

    def parse_profile(self, status: int, body: bytes, fetched_at: datetime) -> ProfileResult:
        answer = _answer(status, body)
        if answer.failure:
            return ProfileResult("failed", failure=answer.failure)
        payload, message = answer.payload, answer.message
        if str(payload.get("ok")) == "1" and _dict(payload.get("data")).get("userInfo"):
            return ProfileResult("exists")
        if not message:
            return ProfileResult("failed", failure=failures.UNEXPECTED_ANSWER)
        sigs = signatures()
        sig = sigs.match(sigs.account_messages, message)
        if sig is None:
            # Words we do not know about an account: kept, and not taken as the account gone.
            return ProfileResult("failed", failure=failures.UNEXPECTED_ANSWER, message=message)
        return ProfileResult("gone", state=ACCOUNT_STATES[sig.reason], reason=sig.reason,
                             message=message)

    def parse_long_text(self, status: int, body: bytes, fetched_at: datetime) -> LongTextResult:
        answer = _answer(status, body)
        if answer.failure:
            return LongTextResult("failed", failure=answer.failure)
        payload, message = answer.payload, answer.message
        data = payload.get("data")
        if str(payload.get("ok")) == "1" and isinstance(data, dict) and "longTextContent" in data:
            return LongTextResult("ok", text=html_to_text(str(data["longTextContent"])))
        if message and str(payload.get("ok")) == "0" and not _listing_words(message):
            # the platform's "not visible", in words
            reason, message = _classify(message)
            return LongTextResult("removed", reason=reason, message=message)
        return LongTextResult("failed", failure=failures.UNEXPECTED_ANSWER)
