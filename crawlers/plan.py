"""Crawl plans: what to watch, where, how often and how deep, as a YAML file.

    platform: weibo
    base_url: http://127.0.0.1:8765     # default: the platform's real address
    watchlists:
      - name: demo
        accounts: [1001, 1002, 1003]     # and/or accounts_file: ids.txt (one per line, # comments)
        every: 10s
        pages: 2
        public_figures: [1001]           # optional: releases keep these accounts' ids and names
    politeness: {delay: 1s, concurrency: 2, timeout: 30s, retries: 2, obey_robots_txt: true}

A platform with item watches (its adapter's `watch` is "item": WeChat articles) names items
instead of accounts, and says when each is probed:

    platform: wechat
    watchlists:
      - name: articles
        items: ["https://mp.weixin.qq.com/s?__biz=MzA3&mid=26&idx=1&sn=ab"]  # URLs or ids
        items_file: articles.txt         # and/or one URL or id per line, # comments
        every: 10m                       # how often a cycle looks for items that are due
        schedule:                        # dense in the first day, sparse after: an item is
          - {until: 1d, every: 1h}       # probed every 1h while younger than 1d (its age from
          - {every: 1d}                  # publication, else from its first sighting), then daily

A listing watchlist may state a schedule too, in the same syntax: an account is then polled
more often while its newest post is young (its age from publication), and at `every` once no
step holds. `schedule: fresh` is the default schedule of fresh posts (FRESH_POSTS, from Zhu et
al. 2013: ~30% of censored posts are gone within 5-30 minutes, ~90% within a day):

    watchlists:
      - name: journalists
        accounts_file: journalists.txt
        every: 6h                        # when no step holds (newest post older than 7d)
        schedule:                        # = schedule: fresh
          - {until: 1h, every: 2m}
          - {until: 24h, every: 20m}
          - {until: 7d, every: 1d}
    requests_per_hour: 3600              # budget per host (default); never exceeded

A plan is recorded verbatim (with defaults filled in) on every crawl it drives, and its hash
(`crawls.plan_hash`, `plan_versions`) tells the versions of an edited plan apart.

Every field is type-checked by a strict msgspec schema (`_PlanSpec` and its parts): no coercion
(`'1001'` is not a list of accounts, `'false'` is not false), no NaN or infinite durations, no
unknown keys (a typo must not be silently ignored in a measurement). The first problem becomes one
PlanError line naming the file, the field and what to write instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml
from msgspec import Meta

from .platforms import ADAPTERS, adapter_for


class PlanError(ValueError):
    """A crawl plan that cannot be used; the message names the file, the field and the fix."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """'10s', '5m', '2h', '1d', '250ms' or a number of seconds -> seconds (finite, not negative)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 2h, 1d)")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 2h, 1d)")
        seconds = float(m[1]) * _UNIT_SECONDS[m[2]]
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {value!r} (a finite, non-negative time such as 30s)")
    return seconds


@dataclass(frozen=True)
class Watchlist:
    name: str
    accounts: tuple[str, ...]
    every: float          # seconds between polls
    pages: int            # timeline pages per account per poll
    public_figures: tuple[str, ...] = ()  # accounts whose ids and names a release keeps
    items: tuple[str, ...] = ()           # item watches: post ids (adapter.item_id of the refs)
    # Item watches: when each item is probed. Listing watches (optional): how often an account
    # is polled, by the age of its newest post (crawlers/cadence.py).
    schedule: tuple[ScheduleStep, ...] = ()
    # A listing watch's posts probed on a schedule of their own (feeds: edits, removals after
    # an entry rolled off); () for none.
    probe_schedule: tuple[ScheduleStep, ...] = ()


@dataclass(frozen=True)
class ScheduleStep:
    """Probe an item every `every` seconds while its age is below `until` (None: any age)."""

    every: float
    until: float | None = None


# Dense in the first day, sparse after.
DEFAULT_SCHEDULE = (ScheduleStep(every=3600.0, until=86400.0), ScheduleStep(every=86400.0))

# Fresh posts (`schedule: fresh`), from Zhu et al. 2013 ("The Velocity of Censorship"): ~30% of
# censored posts are gone within 5-30 minutes and ~90% within a day, so look every 2 minutes in
# the first hour, every 20 minutes in the first day, and daily to a week.
FRESH_POSTS = (ScheduleStep(every=120.0, until=3600.0), ScheduleStep(every=1200.0, until=86400.0),
               ScheduleStep(every=86400.0, until=7 * 86400.0))
DEFAULT_REQUESTS_PER_HOUR = 3600   # per host: one a second on average, as the default delay


def probe_interval(schedule: tuple[ScheduleStep, ...], age: float) -> float:
    """Seconds between probes of an item `age` seconds old, by the first step that holds."""
    for step in schedule:
        if step.until is None or age < step.until:
            return step.every
    return schedule[-1].every


def poll_interval(watchlist: Watchlist, age: float | None) -> float:
    """Seconds between polls of a listing watchlist's account whose newest post is `age` seconds
    old (None: no post known): the first schedule step that holds, never sparser than `every`."""
    if age is not None:
        for step in watchlist.schedule:
            if step.until is None or age < step.until:
                return min(step.every, watchlist.every)
    return watchlist.every


@dataclass(frozen=True)
class Politeness:
    delay: float = 1.0            # seconds between requests to the same host
    concurrency: int = 1          # requests in flight per host
    timeout: float = 30.0         # download timeout, seconds
    retries: int = 2              # retries of a failed fetch within one crawl
    obey_robots_txt: bool = True
    user_agent: str = "memoryhole (research crawler; +https://github.com/memoryhole)"


@dataclass(frozen=True)
class ReprobePolicy:
    """When removals are looked at again: once to confirm, then to catch restorations.

    Studies that probe once overstate deletion (Twitter tools saw "54% deleted" shrink to 10% on
    a re-run), so a removal is confirmed by a second probe and re-checked later.
    """

    confirm_after: float = 3600.0                        # seconds after detection
    recheck_after: tuple[float, ...] = (86400.0, 604800.0)  # seconds after detection


@dataclass(frozen=True)
class SearchPlan:
    """A keyword list tested on a schedule (search blocking; memoryhole.crawlers.search_campaign).

    Pacing defaults follow what worked for the blocked-on-Weibo project: about 15 s between
    searches, and a long rest after a captcha or login wall. A terms_file's terms are read into
    `terms`, so the plan a run records holds every term."""

    terms: tuple[str, ...]
    every: float = 86400.0            # seconds between two tests of the same term
    endpoint: str = "desktop"         # desktop (s.weibo.com/weibo?q=) | mobile (unconfirmed)
    base_url: str | None = None       # default: the endpoint's real host
    delay: float = 15.0               # seconds between searches
    captcha_backoff: float = 1800.0   # seconds of rest after a captcha or login wall
    retries: int = 3                  # further attempts at a term whose search failed
    timeout: float = 30.0             # seconds to wait for an answer


@dataclass(frozen=True)
class CookieSource:
    """Where the researcher's cookies are read at crawl time: a file (Netscape cookies.txt as
    browsers export it, or one `Cookie:` header line) or an environment variable. Only the name
    is part of the plan (and so of every crawl's record); the values never are."""

    file: str | None = None
    env: str | None = None

    @property
    def label(self) -> str:
        """The session's name in logs and the corpus (never a cookie value)."""
        return f"cookie:{self.env}" if self.env else f"cookie-file:{Path(self.file or '').name}"


@dataclass(frozen=True)
class Cooldown:
    """How long a host rests after the platform blocks (418, 432, 403, 429, captcha, login wall).

    Defaults follow what public Weibo crawlers found workable: dataabc/weibo-crawler rests
    180 s and pauses 30 s every 50 posts; users report bans of hours after 418s. The n-th block
    in a row rests base * 2^(n-1) (at most `max`), with ±`jitter`; a Retry-After answer is
    honoured when longer. `base: 0s` turns cool-downs off (a blocked request is retried at once).
    """

    base: float = 180.0
    max: float = 3 * 3600.0
    jitter: float = 0.25
    retries: int = 5      # times a blocked request is asked again after cool-downs
    # A crawl holds a request for a cooling host at most this long; past it the request is not
    # sent (failure `cooling_down`) and the crawl ends, so the campaign's other platforms and
    # the next ticks are not held up by an hours-long ban. The scheduler asks again later.
    hold: float = 300.0


@dataclass(frozen=True)
class Pace:
    """Seconds between two requests on one session, drawn uniformly between min and max."""

    min: float = 8.0
    max: float = 15.0


@dataclass(frozen=True)
class Access:
    """How a crawl gets through the platform's gate (crawlers/sessions.py, crawlers/cooldown.py).

    `visitor` None means the platform's default: on where it hands visitor sessions to anonymous
    clients (Weibo). `pace` is the seconds between requests on one session (a researcher's
    cookie or a visitor session), drawn between min and max: weibo-crawler waits 8-15 s.
    """

    cookies: CookieSource | None = None
    visitor: bool | None = None
    pace: Pace = field(default_factory=Pace)
    cooldown: Cooldown = field(default_factory=Cooldown)


@dataclass(frozen=True)
class CrawlPlan:
    platform: str
    base_url: str
    watchlists: tuple[Watchlist, ...]
    politeness: Politeness = field(default_factory=Politeness)
    reprobe: ReprobePolicy = field(default_factory=ReprobePolicy)
    long_texts: bool = True       # fetch the whole text of truncated long posts
    pagination: str = "page"      # page numbers, or the platform's cursor (Weibo: since_id)
    name: str | None = None
    path: str | None = None
    search: SearchPlan | None = None   # a keyword list tested for search blocking
    # The platform's own options (its adapter's `plan_options`: Toutiao's ttwid session).
    options: dict[str, Any] = field(default_factory=dict)
    requests_per_hour: int = DEFAULT_REQUESTS_PER_HOUR   # budget per host, never exceeded
    access: Access = field(default_factory=Access)

    def as_record(self) -> dict[str, Any]:
        """The plan as recorded on each crawl: every value, defaults included."""
        record = asdict(self)
        record.pop("path")
        return record

    def members(self) -> list[tuple[str, str, str]]:
        """(watchlist, account | item, id) of everything the plan watches."""
        return [(w.name, "account", a) for w in self.watchlists for a in w.accounts] + [
            (w.name, "item", i) for w in self.watchlists for i in w.items]

    @property
    def every(self) -> float:
        """The shortest cadence of any watchlist (the scheduler keeps each its own)."""
        return min(w.every for w in self.watchlists)


def load_plan(path: str | Path) -> CrawlPlan:
    """Read and validate a crawl plan; PlanError says what is wrong and where."""
    path = Path(path)
    if not path.is_file():
        raise PlanError(f"{path}: no such plan file (write one; see `memoryhole crawl --help`)")
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PlanError(f"{path}:{where} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    return plan_from_dict(raw, source=str(path), base_dir=path.parent)


# --- the schema ------------------------------------------------------------------------------
# msgspec Structs, converted with strict=True: no coercion, no unknown keys at any level. Values
# msgspec has no type for (durations, account ids, names) are small str/float subclasses that
# `_decode` parses; a ValueError there becomes a ValidationError at that field's path.

DAY = 86400.0


class _Duration(float):
    """Seconds, written '10s', '5m', '2h', '1d', '250ms' or as a number, within [0, most]."""

    most = 366 * DAY
    zero_ok = False

    @classmethod
    def parse(cls, value: Any) -> _Duration:
        seconds = parse_duration(value)
        if seconds > cls.most or (seconds == 0 and not cls.zero_ok):
            raise ValueError("out of range")
        return cls(seconds)


@cache
def _duration(most: float, zero_ok: bool = False) -> type[_Duration]:
    """The duration type of fields allowed up to `most` seconds (0 only with `zero_ok`)."""
    return type(f"Duration{int(most)}{'z' if zero_ok else ''}", (_Duration,),
                {"most": most, "zero_ok": zero_ok})


class _AccountId(str):
    """An account reference. YAML reads 1642634100 as a number; text is a reference the
    platform's adapter reads (`ListingAdapter.account_id`: an id of letters, digits and _, a
    feed's URL)."""

    @classmethod
    def parse(cls, value: Any) -> _AccountId:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return cls(value)
        if isinstance(value, str) and value.strip() and not any(c.isspace() for c in value.strip()):
            return cls(value.strip())
        raise ValueError("not an account id")


class _EnvName(str):
    @classmethod
    def parse(cls, value: Any) -> _EnvName:
        if isinstance(value, str) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
            return cls(value)
        raise ValueError("not an environment variable name")


class _FileName(str):
    @classmethod
    def parse(cls, value: Any) -> _FileName:
        # A cookie value pasted here instead of a path would be recorded on every crawl: refuse it.
        if isinstance(value, str) and value.strip() and "\n" not in value and not re.search(
                r"[;=]", value):
            return cls(value.strip())
        raise ValueError("not a file name")


class _ItemError(ValueError):
    """A bad item of a list a hook reads whole (recheck_after): its index ends the path."""

    def __init__(self, index: int, why: str) -> None:
        super().__init__(why)
        self.index = index


class _Durations(tuple):
    """recheck_after: a list of durations, or one duration alone."""

    @classmethod
    def parse(cls, value: Any) -> _Durations:
        if not isinstance(value, list):
            return cls([_duration(10 * 366 * DAY).parse(value)])
        durations = []
        for index, item in enumerate(value):
            try:
                durations.append(_duration(10 * 366 * DAY).parse(item))
            except ValueError as exc:
                raise _ItemError(index, str(exc)) from None
        return cls(durations)


def _decode(kind: type, value: Any) -> Any:
    """msgspec's hook for the types above: each parses (and checks) what the plan wrote."""
    parse = getattr(kind, "parse", None)
    if parse is None:
        raise NotImplementedError(kind)
    return parse(value)


class _Spec(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A part of a plan as written: every key known, every value of its type."""


class _ScheduleSpec(_Spec):
    every: _duration(366 * DAY)
    until: _duration(10 * 366 * DAY) | None = None


class _WatchlistSpec(_Spec):
    name: Annotated[str, Meta(min_length=1)]
    accounts: list[_AccountId] = []
    accounts_file: str | None = None
    every: _duration(366 * DAY) = 3600.0
    pages: Annotated[int, Meta(ge=1, le=100)] = 1
    public_figures: list[_AccountId] = []
    items: list[str] = []
    items_file: str | None = None
    schedule: list[_ScheduleSpec] | Literal["fresh"] | None = None
    # Listing watches: every post the listing showed is also probed on this schedule (feeds).
    probe_schedule: list[_ScheduleSpec] | Literal["fresh"] | None = None


class _PolitenessSpec(_Spec):
    delay: _duration(DAY, zero_ok=True) = Politeness.delay
    concurrency: Annotated[int, Meta(ge=1, le=1000)] = Politeness.concurrency
    timeout: _duration(DAY) = Politeness.timeout
    retries: Annotated[int, Meta(ge=0, le=100)] = Politeness.retries
    obey_robots_txt: bool = Politeness.obey_robots_txt
    user_agent: Annotated[str, Meta(min_length=1)] = Politeness.user_agent


class _CookiesSpec(_Spec):
    file: _FileName | None = None
    env: _EnvName | None = None


class _PaceSpec(_Spec):
    min: _duration(DAY, zero_ok=True) = Pace.min
    max: _duration(DAY, zero_ok=True) = Pace.max


class _CooldownSpec(_Spec):
    base: _duration(DAY, zero_ok=True) = Cooldown.base
    max: _duration(7 * DAY, zero_ok=True) = Cooldown.max
    jitter: Annotated[float, Meta(ge=0, le=1)] = Cooldown.jitter   # NaN fails both bounds
    retries: Annotated[int, Meta(ge=0, le=100)] = Cooldown.retries
    hold: _duration(DAY, zero_ok=True) = Cooldown.hold


class _AccessSpec(_Spec):
    cookies: _CookiesSpec | None = None
    visitor: bool | None = None
    pace: _PaceSpec | None = None
    cooldown: _CooldownSpec | None = None


class _ReprobeSpec(_Spec):
    confirm_after: _duration(366 * DAY) = ReprobePolicy.confirm_after
    recheck_after: _Durations = ReprobePolicy().recheck_after


class _SearchSpec(_Spec):
    terms: list[Annotated[str, Meta(min_length=1)]] = []
    terms_file: str | None = None
    every: _duration(366 * DAY) = SearchPlan.every
    endpoint: Literal["desktop", "mobile"] = "desktop"
    base_url: str | None = None
    delay: _duration(DAY, zero_ok=True) = SearchPlan.delay
    captcha_backoff: _duration(7 * DAY, zero_ok=True) = SearchPlan.captcha_backoff
    retries: Annotated[int, Meta(ge=0, le=100)] = SearchPlan.retries
    timeout: _duration(DAY) = SearchPlan.timeout


class _PlanSpec(_Spec):
    platform: str
    base_url: str | None = None
    watchlists: list[_WatchlistSpec] = []   # at least one, unless the plan has a search list
    search: _SearchSpec | None = None
    politeness: _PolitenessSpec | None = None     # empty section: the defaults
    reprobe: _ReprobeSpec | None = None
    long_texts: bool = True
    pagination: Literal["page", "cursor"] = "page"
    name: str | None = None
    options: dict[str, str | bool | int] | None = None
    requests_per_hour: Annotated[int, Meta(ge=1, le=10**9)] = DEFAULT_REQUESTS_PER_HOUR
    access: _AccessSpec | None = None


# What to write instead, by field name: the fix half of every error message.
_FIX = {
    "platform": "the platform's name: " + ", ".join(sorted(ADAPTERS)),
    "base_url": "an http(s) URL, e.g. base_url: https://m.weibo.cn",
    "watchlists": "a list of watchlists, each a mapping with name, accounts, every, pages",
    "name": "a name (text)",
    "accounts": "a list of account ids, e.g. accounts: [1642634100, 1784473157]",
    "accounts_file": "a file name (one account id per line), e.g. accounts_file: ids.txt",
    "every": "a duration up to 366d, e.g. every: 10m",
    "pages": "a whole number from 1 to 100, e.g. pages: 2",
    "public_figures": "a list of ids from the watchlist's accounts, e.g. public_figures: [1642634100]",
    "items": "a list of item URLs or ids (platforms with item watches), e.g. items: [URL]",
    "items_file": "a file name (one item URL or id per line), e.g. items_file: articles.txt",
    "schedule": "fresh, or a list of steps, e.g. schedule: [{until: 1d, every: 1h}, {every: 1d}]",
    "probe_schedule": "fresh, or a list of steps, e.g. probe_schedule: [{until: 1d, every: 1h}, "
                      "{every: 1d}]",
    "requests_per_hour": "a whole number of requests per host per hour, e.g. requests_per_hour: 1800",
    "until": "a duration, e.g. until: 1d (leave it out on the last step)",
    "politeness": "a mapping with delay, concurrency, timeout, retries, obey_robots_txt, user_agent",
    "delay": "a duration from 0 to 1d, e.g. delay: 1s",
    "concurrency": "a whole number from 1 to 1000, e.g. concurrency: 1",
    "timeout": "a duration up to 1d, e.g. timeout: 30s",
    "retries": "a whole number from 0 to 100, e.g. retries: 2",
    "obey_robots_txt": "true or false, unquoted",
    "user_agent": "text naming the crawler and a contact",
    "reprobe": "a mapping with confirm_after and recheck_after",
    "confirm_after": "a duration up to 366d, e.g. confirm_after: 1h",
    "recheck_after": "a list of durations up to 3660d, e.g. recheck_after: [24h, 7d]",
    "long_texts": "true or false, unquoted",
    "pagination": "page (page numbers) or cursor (the platform's since_id)",
    "search": "a mapping with terms (or terms_file), every, endpoint, delay, captcha_backoff",
    "terms": "a list of search terms, e.g. terms: [天安门, 六四]",
    "terms_file": "a file name (one search term per line), e.g. terms_file: terms.txt",
    "endpoint": "desktop (s.weibo.com/weibo?q=) or mobile (the search container, unconfirmed)",
    "captcha_backoff": "a duration up to 7d, e.g. captcha_backoff: 30m",
    "options": "a mapping of the platform's options, e.g. options: {ttwid: register} (toutiao)",
    "access": "a mapping with cookies, visitor, pace, cooldown",
    "cookies": "where the cookies are, by name: cookies: {file: cookies.txt} or "
               "cookies: {env: WEIBO_COOKIE} (never the cookie itself)",
    "file": "a file name, e.g. file: cookies.txt (the file holds the cookies, not the plan)",
    "env": "an environment variable's name, e.g. env: WEIBO_COOKIE",
    "visitor": "true or false, unquoted",
    "pace": "a mapping with min and max, e.g. pace: {min: 8s, max: 15s}",
    "min": "a duration up to 1d, e.g. min: 8s",
    "max": "a duration, e.g. max: 3h",
    "cooldown": "a mapping with base, max, jitter, retries, hold",
    "hold": "a duration up to 1d, e.g. hold: 5m",
    "base": "a duration up to 1d, e.g. base: 3m (0s: no cool-downs)",
    "jitter": "a share from 0 to 1, e.g. jitter: 0.25",
}
_SPECS = {"watchlists": _WatchlistSpec, "politeness": _PolitenessSpec, "reprobe": _ReprobeSpec,
          "schedule": _ScheduleSpec, "probe_schedule": _ScheduleSpec, "search": _SearchSpec,
          "access": _AccessSpec, "cookies": _CookiesSpec, "pace": _PaceSpec,
          "cooldown": _CooldownSpec}


def _where(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the plan"


def _shown(value: Any) -> str:
    """A value as the plan's author wrote it in YAML, and what YAML made of it."""
    kind = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list",
            dict: "a mapping", type(None): "empty"}.get(type(value), type(value).__name__)
    if value is None or isinstance(value, bool):
        text = {None: "null", True: "true", False: "false"}[value]
    elif isinstance(value, float) and not math.isfinite(value):
        text = ".nan" if math.isnan(value) else ("-" if value < 0 else "") + ".inf"
    else:
        text = repr(value)
    return f"{text if len(text) <= 60 else text[:59] + '…'} ({kind})"


_PATH_PART = re.compile(r"\.([A-Za-z_]\w*)|\[(\d+)\]")
_KEY_NOT_TEXT = "key not text"


def _location(exc: msgspec.ValidationError) -> tuple[str, list[str | int]]:
    """msgspec's message and its path (`$.watchlists[0].every`) as keys and indexes; a
    mapping's key that msgspec does not name (`$.options[...]`) ends the path at the mapping."""
    message, found, path = str(exc).rpartition(" - at `")
    if not found:
        return str(exc), []
    if path.startswith("key` in `"):   # a mapping's key that is not text
        message, path = _KEY_NOT_TEXT, path.removeprefix("key` in `")
    loc: list[str | int] = []
    position = 1 if path.startswith("$") else len(path)
    while part := _PATH_PART.match(path, position):
        loc.append(part[1] if part[1] is not None else int(part[2]))
        position = part.end()
    if isinstance(exc.__cause__, _ItemError):
        loc.append(exc.__cause__.index)
    return message, loc


def _written(raw: Any, loc: list[str | int]) -> Any:
    """What the plan holds at `loc`."""
    for part in loc:
        raw = raw[part]
    return raw


def _problem(exc: msgspec.ValidationError, raw: dict[str, Any]) -> str:
    """msgspec's error as one line: the field's path in the plan, what was written there and
    what to write instead."""
    message, loc = _location(exc)
    key = re.fullmatch(r"Object (contains unknown|missing required) field `(.*)`", message, re.S)
    if key:
        loc.append(key[2])
    where = _where(loc)
    field_name = next((p for p in reversed(loc) if isinstance(p, str)), "")
    fix = _FIX.get(field_name, "see the crawl plan in README.md")
    parent = next((p for p in reversed(loc[:-1] if key else loc) if isinstance(p, str)), None)
    known = sorted(_SPECS.get(parent, _PlanSpec).__struct_fields__)
    if key and key[1] == "contains unknown":
        if "cookies" in loc:   # a cookie pasted as a key: never repeat it
            where = _where(loc[:-1]) + " has an unknown key (not shown)"
            return f"{where}; the keys here are {', '.join(known)}"
        return f"{where}: unknown key; the keys here are {', '.join(known)}"
    if key:
        return f"{where}: missing; give {fix}"
    if message == _KEY_NOT_TEXT:
        bad = next(k for k in _written(raw, loc) if not isinstance(k, str))
        if parent is None or parent in _SPECS:
            return f"{where}: the key {_shown(bad)} is not text; the keys here are " + \
                ", ".join(known)
        return f"{where}: the key {_shown(bad)} is not text; use {fix}"
    if "cookies" in loc:   # what was written there may be a secret: never repeat it
        return f"{where}: not a name (the value is not shown); use {fix}"
    return f"{where}: got {_shown(_written(raw, loc))}; use {fix}"


def plan_from_dict(raw: Any, source: str = "plan", base_dir: Path | None = None) -> CrawlPlan:
    """Validate a plan (as read from YAML, or as recorded on a crawl) and build it."""
    if not isinstance(raw, dict):
        raise PlanError(f"{source}: a plan is a YAML mapping with platform and watchlists")
    try:
        spec = msgspec.convert(raw, _PlanSpec, strict=True, dec_hook=_decode)
    except msgspec.ValidationError as exc:   # the first problem msgspec meets
        raise PlanError(f"{source}: {_problem(exc, raw)}") from None
    if spec.platform not in ADAPTERS:
        raise PlanError(f"{source}: platform: {spec.platform!r} is not a known platform; "
                        f"use one of: {', '.join(sorted(ADAPTERS))}")
    base_url = (spec.base_url or ADAPTERS[spec.platform].default_base_url).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise PlanError(f"{source}: base_url: {base_url!r} is not an http(s) URL; use "
                        f"{_FIX['base_url']}")
    if not spec.watchlists and spec.search is None:
        raise PlanError(f"{source}: watchlists: missing; give {_FIX['watchlists']}")
    search = _search(spec.search, f"{source}: search", base_dir, spec.platform)
    adapter = adapter_for(spec.platform)
    try:
        adapter.check_options(spec.options or {})
    except ValueError as exc:
        raise PlanError(f"{source}: options.{exc}") from None
    watchlists = tuple(_watchlist(item, f"{source}: watchlists[{i}]", base_dir, adapter)
                       for i, item in enumerate(spec.watchlists))
    names = [w.name for w in watchlists]
    if len(set(names)) != len(names):
        raise PlanError(f"{source}: watchlists: names must be unique, got {names}")
    reprobe = spec.reprobe or _ReprobeSpec()
    if any(r <= reprobe.confirm_after for r in reprobe.recheck_after):
        raise PlanError(f"{source}: reprobe: every recheck_after must be later than confirm_after")
    access = _access(spec.access, source, base_dir, adapter)
    return CrawlPlan(platform=spec.platform, base_url=base_url, watchlists=watchlists,
                     politeness=_politeness(spec.politeness or _PolitenessSpec()),
                     reprobe=ReprobePolicy(confirm_after=float(reprobe.confirm_after),
                                           recheck_after=tuple(sorted(map(float,
                                                                          reprobe.recheck_after)))),
                     long_texts=spec.long_texts, pagination=spec.pagination, name=spec.name,
                     path=source, search=search, options=dict(spec.options or {}),
                     requests_per_hour=spec.requests_per_hour, access=access)


def _politeness(spec: _PolitenessSpec) -> Politeness:
    return Politeness(delay=float(spec.delay), concurrency=spec.concurrency,
                      timeout=float(spec.timeout), retries=spec.retries,
                      obey_robots_txt=spec.obey_robots_txt, user_agent=spec.user_agent)


def _search(spec: _SearchSpec | None, where: str, base_dir: Path | None,
            platform: str) -> SearchPlan | None:
    """The plan's search list, its terms_file read (one term per line, # comments)."""
    if spec is None:
        return None
    if platform != "weibo":
        raise PlanError(f"{where}: search blocking is tested on weibo only, not {platform!r}")
    terms = [t.strip() for t in spec.terms]
    if spec.terms_file:
        terms += [line for _, line in _lines(spec.terms_file, f"{where}.terms_file", base_dir)]
    terms = [t for t in dict.fromkeys(terms) if t]
    if not terms:
        raise PlanError(f"{where}.terms: list at least one term (or a terms_file)")
    base_url = spec.base_url.rstrip("/") if spec.base_url else None
    if base_url is not None and not re.match(r"^https?://[^/\s]+", base_url):
        raise PlanError(f"{where}.base_url: {base_url!r} is not an http(s) URL; use "
                        f"{_FIX['base_url']}")
    return SearchPlan(terms=tuple(terms), every=float(spec.every), endpoint=spec.endpoint,
                      base_url=base_url, delay=float(spec.delay),
                      captcha_backoff=float(spec.captcha_backoff), retries=spec.retries,
                      timeout=float(spec.timeout))


def _access(spec: _AccessSpec | None, source: str, base_dir: Path | None,
            adapter: Any) -> Access:
    spec = spec or _AccessSpec()
    where = f"{source}: access"
    cookies = None
    if spec.cookies is not None:
        if (spec.cookies.file is None) == (spec.cookies.env is None):
            raise PlanError(f"{where}.cookies: give one of file or env, e.g. cookies: "
                            "{file: cookies.txt}")
        file = None if spec.cookies.file is None else str(spec.cookies.file)
        if file is not None and base_dir is not None and not Path(file).is_absolute():
            file = str((base_dir / file).resolve())   # read at crawl time, from any directory
        env = None if spec.cookies.env is None else str(spec.cookies.env)
        cookies = CookieSource(file=file, env=env)
    has_flow = getattr(adapter, "visitor_flow", None) is not None
    if spec.visitor and not has_flow:
        raise PlanError(f"{where}.visitor: {adapter.name} has no visitor sessions; remove it")
    pace = spec.pace or _PaceSpec()
    if pace.max < pace.min:
        raise PlanError(f"{where}.pace: max must not be below min")
    cool = spec.cooldown or _CooldownSpec()
    if cool.max < cool.base:
        raise PlanError(f"{where}.cooldown: max must not be below base")
    return Access(cookies=cookies, visitor=has_flow if spec.visitor is None else spec.visitor,
                  pace=Pace(min=float(pace.min), max=float(pace.max)),
                  cooldown=Cooldown(base=float(cool.base), max=float(cool.max),
                                    jitter=cool.jitter, retries=cool.retries,
                                    hold=float(cool.hold)))


def _lines(file_name: str, where: str, base_dir: Path | None) -> list[tuple[int, str]]:
    """(line number, text) of a list file's non-empty lines; # starts a comment."""
    file = Path(file_name)
    if not file.is_absolute() and base_dir is not None:
        file = base_dir / file
    if not file.is_file():
        raise PlanError(f"{where}: {file} does not exist")
    try:
        lines = file.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{where}: {file} cannot be read as UTF-8 text ({exc})") from None
    # A URL's fragment is not a comment: only a # at the start or after a space starts one.
    found = [(n, re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip())
             for n, line in enumerate(lines, 1)]
    return [(n, line) for n, line in found if line]


def _watchlist(spec: _WatchlistSpec, where: str, base_dir: Path | None,
               adapter: Any) -> Watchlist:
    if adapter.watch == "item" or (adapter.item_watch and (spec.items or spec.items_file)):
        return _item_watchlist(spec, where, base_dir, adapter)
    if spec.items or spec.items_file:
        raise PlanError(f"{where}: {adapter.name} is watched through its listings: give "
                        "accounts (items and items_file are for item watches)")
    if adapter.max_pages is not None and spec.pages > adapter.max_pages:
        raise PlanError(f"{where}.pages: {adapter.name}'s listings have at most "
                        f"{adapter.max_pages} page(s); use pages: {adapter.max_pages}")
    accounts = []
    for i, ref in enumerate(spec.accounts):
        try:
            accounts.append(adapter.account_id(str(ref)))
        except ValueError as exc:
            raise PlanError(f"{where}.accounts[{i}]: {ref!r} is not a {adapter.name} account "
                            f"({exc})"[:300]) from None
    if spec.accounts_file:
        for number, line in _lines(spec.accounts_file, f"{where}.accounts_file", base_dir):
            try:
                accounts.append(adapter.account_id(line))
            except ValueError:
                raise PlanError(f"{where}.accounts_file: {spec.accounts_file} line {number}: "
                                f"{line!r} is not an account id (one id per line, # starts a "
                                "comment)") from None
    if not accounts:
        raise PlanError(f"{where}.accounts: list at least one account id (or an accounts_file)")
    public = []
    for ref in spec.public_figures:
        try:
            public.append(adapter.account_id(str(ref)))
        except ValueError:
            public.append(str(ref))
    strangers = [a for a in public if a not in accounts]
    if strangers:
        raise PlanError(f"{where}.public_figures: {strangers[0]!r} is not one of the "
                        "watchlist's accounts")
    # A listing watch's optional probe schedule: every post it has sighted is also probed on it
    # (a feed's articles, whose bodies change and which vanish after rolling off the feed).
    probe_schedule = _schedule(spec, where, DEFAULT_SCHEDULE, "probe_schedule") \
        if spec.probe_schedule else ()
    return Watchlist(name=spec.name, accounts=tuple(dict.fromkeys(accounts)),
                     every=float(spec.every),
                     pages=spec.pages, public_figures=tuple(dict.fromkeys(public)),
                     schedule=_schedule(spec, where, ()), probe_schedule=probe_schedule)


def _item_watchlist(spec: _WatchlistSpec, where: str, base_dir: Path | None,
                    adapter: Any) -> Watchlist:
    if spec.accounts or spec.accounts_file or spec.public_figures:
        raise PlanError(f"{where}: {adapter.name} has no listing to page through: name its "
                        "items (items: or items_file:) instead of accounts")
    refs = [(f"{where}.items[{i}]", ref) for i, ref in enumerate(spec.items)]
    if spec.items_file:
        refs += [(f"{where}.items_file: {spec.items_file} line {n}", line)
                 for n, line in _lines(spec.items_file, f"{where}.items_file", base_dir)]
    items = []
    for place, ref in refs:
        try:
            items.append(adapter.item_id(ref.strip()))
        except ValueError as exc:
            raise PlanError(f"{place}: {ref!r} is not a {adapter.name} item ({exc})") from None
    if not items:
        raise PlanError(f"{where}.items: list at least one item URL or id (or an items_file)")
    return Watchlist(name=spec.name, accounts=(), every=float(spec.every), pages=spec.pages,
                     items=tuple(dict.fromkeys(items)),
                     schedule=_schedule(spec, where, DEFAULT_SCHEDULE))


def _schedule(spec: _WatchlistSpec, where: str, default: tuple[ScheduleStep, ...],
              key: str = "schedule") -> tuple[ScheduleStep, ...]:
    """A watchlist's schedule (or probe_schedule): its steps, `fresh` (FRESH_POSTS), or
    `default` when none."""
    steps = getattr(spec, key)
    if steps == "fresh":
        return FRESH_POSTS
    schedule = tuple(ScheduleStep(every=float(s.every),
                                  until=None if s.until is None else float(s.until))
                     for s in steps or ())
    schedule = schedule or default
    untils = [s.until for s in schedule]
    if None in untils[:-1] or untils != sorted(untils, key=lambda u: math.inf if u is None else u):
        raise PlanError(f"{where}.{key}: steps go from young to old (`until` increasing), "
                        "only the last without `until`")
    if any(s.every <= 0 for s in schedule):
        raise PlanError(f"{where}.{key}: every step needs an `every` above 0")
    return schedule
