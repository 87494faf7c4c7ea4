"""Scenario files: what the simulated platform will do, written down before it happens.

A scenario is YAML (or a dict) whose every key has a sensible default, so `{}` is a working
world. `load_scenario(None)` loads the shipped demo (`DEFAULT_SCENARIO_PATH`). Invalid input
raises `ScenarioError` with one line naming the field and the fix, e.g.
"scenario.yaml: censor.share must be between 0 and 1, got 1.5".

Durations are "90s", "5m", "2h", "1d" (also "250ms", "1.5h") or plain numbers of seconds.

Keys (defaults in the dataclasses below):

    seed, start (ISO or null = clock now), duration (new posts are generated during it)
    accounts: count, first_uid, pinned_share, initial_posts, posts_per_hour
    sensitive_terms, sensitive_share (share of all posts carrying a term), long_share (>140 chars)
    card_group_share          posts always delivered wrapped in a card_type 11 group (default 0)
    author_delete: share, delay {min, max}        share of all posts; delay after max(created, start)
    censor: share (of sensitive posts), delay [[d, cumulative]...], time_scale, complaints_share
    unattributed_share        share of censored posts shown with an unattributed message
    restrict: share, delay, initial_share (restricted before start; default 0), halfyear_share
    restore: share (of censored/restricted posts), delay
    suspend | close | lock: accounts, at          accounts changing state at start + at
    unknown: share, message, delay                removals shown with words no table knows
    faults: rate, kinds, slow_seconds
    reposts: share, outside_accounts, outside_first_uid, comment_share          (default off)
    edits: share, delay {min, max}                                              (default off)
    glitches: share, duration                                                   (default off)
    events: [{at, do, post: {account, nth} | "<mid>", account, count, sensitive, message, text, for}]
    wechat: {...}, telegram: {...}   other platforms on the same server (memoryhole/sandbox/wechat.py,
                                     telegram.py; absent = none)
    bilibili: {uploaders, videos}, youku: {videos}   video platforms (memoryhole/sandbox/video.py)
    gate: {...}               cookies, visitor sessions and rate limits on the Weibo paths
                              (memoryhole/sandbox/gate.py; absent = everyone is answered)

Newer behaviours, all off unless asked for (so `{}` keeps its exact world):

- `reposts.share`: share of generated posts of the watched accounts that are reposts of another
  account's older post (text `转发微博` or, with probability `comment_share` (0.5), a short
  comment). The original is chosen among the ~30 most recent eligible originals, half of the time
  from a pool of `outside_accounts` unwatched accounts (uids `outside_first_uid`, 7210450101, … ; the
  pool defaults to 5 accounts when share > 0 and to none when share is 0). Outside accounts post,
  and their posts are deleted/censored/restricted, like any account; they are not suspended at
  random, and they are listed in the truth under `outside_accounts`, not `accounts`.
- `edits.share`: share of generated posts edited once, `delay` (default 30s..10m) after
  max(created, start), unless removed/restricted before; the edit appends a sentence.
- `glitches.share`: share of watched accounts whose timeline answers `这里还没有内容` once, for
  `duration` (default 1m), starting at a uniform moment within `duration` of the scenario.

Explicit events (`events`) happen `at` after start (negative = before). Post actions:
author_delete, censor_complaints, censor_rules, remove_unattributed, restrict, restrict_halfyear,
unknown, restore (`post`: `{account, nth}` with nth 0 = the newest post at start, or a mid).
Account actions: suspend, close, lock, unsuspend (`account`). `do: post` creates `count` posts at
`at`, 1 s apart (`sensitive` puts a term in them). `message` picks one of the platform's variants.
`do: edit` edits `post` (`text`: the new plain text; omitted = the old text plus a sentence).
`do: repost` makes `account` repost `post` (`text`: the comment; omitted = 转发微博).
`do: glitch_empty` empties `account`'s timeline `for` a duration (default 1m) although the
account and its posts are fine. `post`/`account` may name outside accounts when the pool exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from .messages import ACCOUNT_MESSAGES, DEFAULT_UNKNOWN, POST_MESSAGES

DEFAULT_SCENARIO_PATH = Path(__file__).with_name("scenarios") / "demo.yaml"

FAULT_KINDS: tuple[str, ...] = (
    "http_500",
    "http_502",
    "http_418",
    "http_432",
    "http_403",
    "captcha",
    "login_wall",
    "truncated",
    "slow",
)

#: Explicit actions on one post, and the cause each gives it.
POST_ACTIONS: dict[str, str | None] = {
    "author_delete": "author_deleted",
    "censor_complaints": "platform_removed",
    "censor_rules": "platform_removed",
    "remove_unattributed": "removed_unattributed",
    "restrict": "restricted",
    "restrict_halfyear": "restricted",
    "unknown": "unknown",
    "restore": None,
}
#: Explicit actions on an account, and the state each leaves it in.
ACCOUNT_ACTIONS: dict[str, str] = {
    "suspend": "suspended",
    "close": "closed",
    "lock": "locked",
    "unsuspend": "active",
}
#: Other explicit actions: create posts, edit a post, repost a post, empty a timeline for a while.
OTHER_ACTIONS: tuple[str, ...] = ("post", "edit", "repost", "glitch_empty")
EVENT_ACTIONS: tuple[str, ...] = (*POST_ACTIONS, *ACCOUNT_ACTIONS, *OTHER_ACTIONS)

DEFAULT_SENSITIVE_TERMS: tuple[str, ...] = (
    "李文亮",
    "新冠疫苗",
    "白纸",
    "封控",
    "维权",
    "躺平",
    "彭帅",
    "四通桥",
)

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


class ScenarioError(ValueError):
    """A scenario file or dict is invalid; the message names the field and the fix."""


def parse_duration(value: Any, name: str = "duration") -> float:
    """Seconds in a duration: a number, or text like "90s", "5m", "2h", "1d"."""
    if isinstance(value, bool):
        raise ScenarioError(f"{name} must be a duration like 90s, 5m, 2h, 1d, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ScenarioError(f"{name} must be a duration like 90s, 5m, 2h, 1d, got {value!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


@dataclass(frozen=True)
class DelayRange:
    """A uniform delay between `min` and `max` seconds."""

    min: float
    max: float


@dataclass(frozen=True)
class Share:
    """A share of posts that something happens to, after a uniform delay."""

    share: float
    delay: DelayRange


@dataclass(frozen=True)
class AccountsSpec:
    count: int = 50
    first_uid: int = 5864320101     # Weibo uids have 10 digits (mids 16, see world.py)
    pinned_share: float = 0.2
    initial_posts: int = 25
    posts_per_hour: float = 40.0


@dataclass(frozen=True)
class CensorSpec:
    """Platform removal of sensitive posts; `delay` is a piecewise-linear CDF (seconds, share)."""

    share: float = 0.6
    delay: tuple[tuple[float, float], ...] = (
        (300.0, 0.0),
        (1800.0, 0.3),
        (86400.0, 0.9),
        (259200.0, 1.0),
    )
    time_scale: float = 1.0
    complaints_share: float = 0.5


@dataclass(frozen=True)
class RestrictSpec:
    share: float = 0.01
    delay: DelayRange = DelayRange(10.0, 120.0)
    initial_share: float = 0.0  # restricted before start (short pages at once); demo: 0.03
    halfyear_share: float = 0.3


@dataclass(frozen=True)
class AccountActionSpec:
    accounts: int = 0
    at: float = 120.0


@dataclass(frozen=True)
class UnknownSpec:
    share: float = 0.0
    message: str = DEFAULT_UNKNOWN
    delay: DelayRange = DelayRange(10.0, 120.0)


@dataclass(frozen=True)
class FaultSpec:
    rate: float = 0.0
    kinds: tuple[str, ...] = ("http_500", "http_418", "http_432", "captcha", "login_wall", "truncated")
    slow_seconds: float = 5.0


@dataclass(frozen=True)
class RepostSpec:
    """Reposts among generated posts; `outside_accounts` None = 5 when share > 0, else 0."""

    share: float = 0.0
    outside_accounts: int | None = None
    outside_first_uid: int = 7210450101
    comment_share: float = 0.5

    @property
    def pool_size(self) -> int:
        if self.outside_accounts is not None:
            return self.outside_accounts
        return 5 if self.share > 0 else 0


@dataclass(frozen=True)
class GlitchSpec:
    """Accounts whose timeline is empty for `duration` seconds once, although nothing changed."""

    share: float = 0.0
    duration: float = 60.0


@dataclass(frozen=True)
class PostRef:
    """A post named by account and age rank at start (`nth` 0 = newest), or by `mid`."""

    account: str | None = None
    nth: int = 0
    mid: str | None = None


@dataclass(frozen=True)
class EventSpec:
    """One explicit event, `at` seconds after start (negative = before start)."""

    at: float
    do: str
    post: PostRef | None = None
    account: str | None = None
    count: int = 1
    sensitive: bool = False
    message: str | None = None
    text: str | None = None
    duration: float = 60.0  # `for` of glitch_empty


@dataclass(frozen=True)
class Scenario:
    """Everything the world needs; all fields have defaults (`Scenario()` is a working world)."""

    seed: int = 7
    start: datetime | None = None
    duration: float = 180.0
    accounts: AccountsSpec = AccountsSpec()
    sensitive_terms: tuple[str, ...] = DEFAULT_SENSITIVE_TERMS
    sensitive_share: float = 0.25
    long_share: float = 0.05
    card_group_share: float = 0.0  # posts wrapped in card_type 11 groups; demo: 0.02
    author_delete: Share = Share(0.04, DelayRange(10.0, 120.0))
    censor: CensorSpec = CensorSpec()
    unattributed_share: float = 0.1
    restrict: RestrictSpec = RestrictSpec()
    restore: Share = Share(0.1, DelayRange(20.0, 60.0))
    suspend: AccountActionSpec = AccountActionSpec(1, 90.0)
    close: AccountActionSpec = AccountActionSpec(0, 120.0)
    lock: AccountActionSpec = AccountActionSpec(0, 120.0)
    unknown: UnknownSpec = UnknownSpec()
    faults: FaultSpec = FaultSpec()
    reposts: RepostSpec = RepostSpec()
    edits: Share = Share(0.0, DelayRange(30.0, 600.0))
    glitches: GlitchSpec = GlitchSpec()
    events: tuple[EventSpec, ...] = ()
    wechat: Any = None     # wechat.WechatSpec: simulated WeChat articles (None: none)
    telegram: Any = None   # telegram.TelegramSpec: simulated Telegram channels (None: none)
    weibo_search: Any = None   # search.SearchSpec: Weibo search with blocked keywords (None: none)
    news: Any = None       # news.NewsSpec: a simulated news site and its feed (None: none)
    toutiao: Any = None    # news.ToutiaoSpec: simulated Toutiao pages (None: none)
    bilibili: Any = None   # video.VideoSpec: simulated Bilibili uploaders and videos (None: none)
    youku: Any = None      # video.VideoSpec: simulated Youku videos (None: none)
    gate: Any = None       # gate.GateSpec: cookies, visitor sessions, rate limits (None: none)
    source: str = field(default="scenario", compare=False)

    @property
    def account_ids(self) -> list[str]:
        """The uids of the scenario's (watched) accounts, as strings."""
        first = self.accounts.first_uid
        return [str(uid) for uid in range(first, first + self.accounts.count)]

    @property
    def outside_account_ids(self) -> list[str]:
        """The uids of the unwatched accounts whose posts appear only inside reposts (may be empty)."""
        first = self.reposts.outside_first_uid
        return [str(uid) for uid in range(first, first + self.reposts.pool_size)]


class _Reader:
    """Validates one scenario mapping, producing errors that name the field."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, name: str, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.label}: {name} {problem}")

    def section(self, data: Any, name: str, known: tuple[str, ...]) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise self.fail(name, f"must be a mapping with keys {', '.join(known)}, got {data!r}")
        for key in data:
            if key not in known:
                raise self.fail(
                    f"{name}.{key}" if name else str(key),
                    f"is not a known key; use one of {', '.join(known)}",
                )
        return data

    def number(
        self,
        data: dict,
        key: str,
        name: str,
        default: float,
        low: float | None = 0.0,
        high: float | None = None,
    ) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, f"must be a number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                raise self.fail(name, f"must be at least {low}, got {value!r}")
            raise self.fail(name, f"must be between {low:g} and {high:g}, got {value!r}")
        return float(value)

    def share(self, data: dict, key: str, name: str, default: float) -> float:
        return self.number(data, key, name, default, 0.0, 1.0)

    def integer(self, data: dict, key: str, name: str, default: int, low: int = 0) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, f"must be a whole number, got {value!r}")
        if value < low:
            raise self.fail(name, f"must be at least {low}, got {value!r}")
        return value

    def duration(self, data: dict, key: str, name: str, default: float, negative_ok: bool = False) -> float:
        value = data.get(key, default)
        try:
            seconds = parse_duration(value, name)
        except ScenarioError as err:
            raise ScenarioError(f"{self.label}: {err}") from None
        if seconds < 0 and not negative_ok:
            raise self.fail(name, f"must not be negative, got {value!r}")
        return seconds

    def delay_range(self, data: dict, key: str, name: str, default: DelayRange) -> DelayRange:
        value = data.get(key)
        if value is None:
            return default
        if not isinstance(value, dict):
            seconds = self.duration({key: value}, key, name, 0.0)
            return DelayRange(seconds, seconds)
        spec = self.section(value, name, ("min", "max"))
        low = self.duration(spec, "min", f"{name}.min", default.min)
        high = self.duration(spec, "max", f"{name}.max", default.max)
        if high < low:
            raise self.fail(name, f"needs min <= max, got min {low:g}s and max {high:g}s")
        return DelayRange(low, high)

    def share_spec(self, data: Any, name: str, default: Share) -> Share:
        spec = self.section(data, name, ("share", "delay"))
        return Share(
            self.share(spec, "share", f"{name}.share", default.share),
            self.delay_range(spec, "delay", f"{name}.delay", default.delay),
        )

    def account_action(self, data: Any, name: str, default: AccountActionSpec) -> AccountActionSpec:
        spec = self.section(data, name, ("accounts", "at"))
        return AccountActionSpec(
            self.integer(spec, "accounts", f"{name}.accounts", default.accounts),
            self.duration(spec, "at", f"{name}.at", default.at),
        )

    def censor(self, data: Any) -> CensorSpec:
        d = CensorSpec()
        spec = self.section(data, "censor", ("share", "delay", "time_scale", "complaints_share"))
        points = d.delay
        if "delay" in spec:
            raw = spec["delay"]
            hint = "a list of [delay, cumulative share] pairs like [[5m, 0.0], [72h, 1.0]]"
            if not isinstance(raw, list) or len(raw) < 2:
                raise self.fail("censor.delay", f"must be {hint}, got {raw!r}")
            parsed = []
            for i, pair in enumerate(raw):
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    raise self.fail(f"censor.delay[{i}]", f"must be a pair [delay, share], got {pair!r}")
                seconds = self.duration({"d": pair[0]}, "d", f"censor.delay[{i}][0]", 0.0)
                cumulative = self.share({"s": pair[1]}, "s", f"censor.delay[{i}][1]", 0.0)
                if parsed and (seconds < parsed[-1][0] or cumulative < parsed[-1][1]):
                    raise self.fail(
                        "censor.delay",
                        f"must grow: each delay and cumulative share at least the previous one (entry {i})",
                    )
                parsed.append((seconds, cumulative))
            if parsed[-1][1] != 1.0:
                raise self.fail("censor.delay", f"must end at cumulative share 1.0, got {parsed[-1][1]}")
            points = tuple(parsed)
        time_scale = self.number(spec, "time_scale", "censor.time_scale", d.time_scale)
        if time_scale <= 0:
            raise self.fail("censor.time_scale", f"must be greater than 0, got {time_scale}")
        return CensorSpec(
            share=self.share(spec, "share", "censor.share", d.share),
            delay=points,
            time_scale=time_scale,
            complaints_share=self.share(
                spec, "complaints_share", "censor.complaints_share", d.complaints_share
            ),
        )

    def faults(self, data: Any) -> FaultSpec:
        d = FaultSpec()
        spec = self.section(data, "faults", ("rate", "kinds", "slow_seconds"))
        kinds = spec.get("kinds", list(d.kinds))
        if not isinstance(kinds, list) or not kinds:
            raise self.fail("faults.kinds", f"must be a non-empty list from {', '.join(FAULT_KINDS)}")
        for kind in kinds:
            if kind not in FAULT_KINDS:
                raise self.fail("faults.kinds", f"has {kind!r}; use kinds from {', '.join(FAULT_KINDS)}")
        return FaultSpec(
            rate=self.share(spec, "rate", "faults.rate", d.rate),
            kinds=tuple(kinds),
            slow_seconds=self.number(spec, "slow_seconds", "faults.slow_seconds", d.slow_seconds),
        )

    def event(self, data: Any, i: int, accounts: set[str]) -> EventSpec:
        name = f"events[{i}]"
        spec = self.section(
            data, name, ("at", "do", "post", "account", "count", "sensitive", "message", "text", "for")
        )
        if "at" not in spec or "do" not in spec:
            raise self.fail(name, "needs both `at` (duration after start) and `do` (the action)")
        at = self.duration(spec, "at", f"{name}.at", 0.0, negative_ok=True)
        do = spec["do"]
        if do not in EVENT_ACTIONS:
            raise self.fail(f"{name}.do", f"must be one of {', '.join(EVENT_ACTIONS)}, got {do!r}")
        message = spec.get("message")
        if message is not None:
            if do in OTHER_ACTIONS:
                raise self.fail(f"{name}.message", f"is not used by {do}; remove it")
            allowed = _allowed_messages(do)
            if not isinstance(message, str) or (allowed is not None and message not in allowed):
                choices = " / ".join(allowed or ())
                raise self.fail(f"{name}.message", f"for {do} must be one of: {choices}; got {message!r}")
        text = spec.get("text")
        if text is not None:
            if do not in ("edit", "repost"):
                raise self.fail(f"{name}.text", f"is only used by edit and repost, not {do}")
            if not isinstance(text, str) or not text.strip():
                raise self.fail(f"{name}.text", f"must be non-empty text, got {text!r}")
        if "for" in spec and do != "glitch_empty":
            raise self.fail(f"{name}.for", f"is only used by glitch_empty, not {do}")
        needs_post = do in POST_ACTIONS or do in ("edit", "repost")
        post = self._post_ref(spec, name, accounts) if needs_post else None
        if do in POST_ACTIONS or do == "edit":
            return EventSpec(at=at, do=do, post=post, message=message, text=text)
        if "account" not in spec:
            raise self.fail(f"{name}.account", f"is required for {do}")
        account = self._account(spec["account"], f"{name}.account", accounts)
        if do == "post":
            sensitive = spec.get("sensitive", False)
            if not isinstance(sensitive, bool):
                raise self.fail(f"{name}.sensitive", f"must be true or false, got {sensitive!r}")
            return EventSpec(
                at=at,
                do=do,
                account=account,
                count=self.integer(spec, "count", f"{name}.count", 1, low=1),
                sensitive=sensitive,
            )
        if do == "repost":
            return EventSpec(at=at, do=do, account=account, post=post, text=text)
        if do == "glitch_empty":
            seconds = self.duration(spec, "for", f"{name}.for", 60.0)
            if seconds <= 0:
                raise self.fail(f"{name}.for", f"must be longer than 0, got {spec.get('for')!r}")
            return EventSpec(at=at, do=do, account=account, duration=seconds)
        return EventSpec(at=at, do=do, account=account, message=message)

    def _post_ref(self, spec: dict[str, Any], name: str, accounts: set[str]) -> PostRef:
        ref = spec.get("post")
        if isinstance(ref, int | str) and not isinstance(ref, bool):
            if not str(ref).isdigit():
                raise self.fail(f"{name}.post", f"must be a numeric mid or {{account, nth}}, got {ref!r}")
            return PostRef(mid=str(ref))
        ref = self.section(ref, f"{name}.post", ("account", "nth"))
        if "account" not in ref:
            raise self.fail(f"{name}.post", 'must name a post: {account: "5864320101", nth: 0} or "<mid>"')
        return PostRef(
            account=self._account(ref["account"], f"{name}.post.account", accounts),
            nth=self.integer(ref, "nth", f"{name}.post.nth", 0),
        )

    def _account(self, value: Any, name: str, accounts: set[str]) -> str:
        uid = str(value)
        if uid not in accounts:
            ordered = sorted(accounts, key=int)
            raise self.fail(
                name, f"{uid!r} is not one of the scenario's accounts ({ordered[0]}..{ordered[-1]})"
            )
        return uid

    def reposts(self, data: Any, watched: list[str]) -> RepostSpec:
        """`watched`: the first and last watched uid."""
        d = RepostSpec()
        spec = self.section(
            data, "reposts", ("share", "outside_accounts", "outside_first_uid", "comment_share")
        )
        outside = None
        if "outside_accounts" in spec:
            outside = self.integer(spec, "outside_accounts", "reposts.outside_accounts", 0)
        result = RepostSpec(
            share=self.share(spec, "share", "reposts.share", d.share),
            outside_accounts=outside,
            outside_first_uid=self.integer(
                spec, "outside_first_uid", "reposts.outside_first_uid", d.outside_first_uid, low=1
            ),
            comment_share=self.share(spec, "comment_share", "reposts.comment_share", d.comment_share),
        )
        first, n = result.outside_first_uid, result.pool_size
        if n and first <= int(watched[-1]) and first + n - 1 >= int(watched[0]):
            raise self.fail(
                "reposts.outside_first_uid",
                f"makes outside uids {first}..{first + n - 1} overlap the watched accounts "
                f"({watched[0]}..{watched[-1]}); pick a uid past them",
            )
        return result

    def glitches(self, data: Any) -> GlitchSpec:
        d = GlitchSpec()
        spec = self.section(data, "glitches", ("share", "duration"))
        seconds = self.duration(spec, "duration", "glitches.duration", d.duration)
        if seconds <= 0:
            raise self.fail("glitches.duration", f"must be longer than 0, got {spec.get('duration')!r}")
        return GlitchSpec(share=self.share(spec, "share", "glitches.share", d.share), duration=seconds)


def _allowed_messages(do: str) -> tuple[str, ...] | None:
    """The messages an explicit event may pick; None = any text (unknown)."""
    if do == "unknown":
        return None
    if do in ACCOUNT_ACTIONS and do != "unsuspend":
        return ACCOUNT_MESSAGES["account_" + ACCOUNT_ACTIONS[do]]
    cause = POST_ACTIONS.get(do)
    if cause in POST_MESSAGES:
        return POST_MESSAGES[cause]
    return ()


def _parse_start(value: Any, label: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ScenarioError(
                f"{label}: start must be an ISO time like 2024-05-01T12:00:00Z or null, got {value!r}"
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


_TOP_KEYS = (
    "seed",
    "start",
    "duration",
    "accounts",
    "sensitive_terms",
    "sensitive_share",
    "long_share",
    "card_group_share",
    "author_delete",
    "censor",
    "unattributed_share",
    "restrict",
    "restore",
    "suspend",
    "close",
    "lock",
    "unknown",
    "faults",
    "reposts",
    "edits",
    "glitches",
    "events",
    "wechat",
    "telegram",
    "weibo_search",
    "news",
    "toutiao",
    "bilibili",
    "youku",
    "gate",
)


def scenario_from_dict(data: dict[str, Any] | None, label: str = "scenario") -> Scenario:
    """Validate a scenario mapping and fill in defaults."""
    r = _Reader(label)
    d = Scenario()
    top = r.section(data or {}, "", _TOP_KEYS)
    seed = r.integer(top, "seed", "seed", d.seed, low=-(2**63))

    acc = r.section(
        top.get("accounts"),
        "accounts",
        ("count", "first_uid", "pinned_share", "initial_posts", "posts_per_hour"),
    )
    da = d.accounts
    accounts = AccountsSpec(
        count=r.integer(acc, "count", "accounts.count", da.count, low=1),
        first_uid=r.integer(acc, "first_uid", "accounts.first_uid", da.first_uid, low=1),
        pinned_share=r.share(acc, "pinned_share", "accounts.pinned_share", da.pinned_share),
        initial_posts=r.integer(acc, "initial_posts", "accounts.initial_posts", da.initial_posts),
        posts_per_hour=r.number(acc, "posts_per_hour", "accounts.posts_per_hour", da.posts_per_hour),
    )

    terms = top.get("sensitive_terms", list(d.sensitive_terms))
    if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
        raise r.fail("sensitive_terms", f"must be a list of non-empty words, got {terms!r}")
    sensitive_share = r.share(top, "sensitive_share", "sensitive_share", d.sensitive_share)
    if sensitive_share > 0 and not terms:
        raise r.fail(
            "sensitive_terms", "is empty but sensitive_share > 0; add terms or set sensitive_share: 0"
        )

    dr = d.restrict
    rs = r.section(top.get("restrict"), "restrict", ("share", "delay", "initial_share", "halfyear_share"))
    restrict = RestrictSpec(
        share=r.share(rs, "share", "restrict.share", dr.share),
        delay=r.delay_range(rs, "delay", "restrict.delay", dr.delay),
        initial_share=r.share(rs, "initial_share", "restrict.initial_share", dr.initial_share),
        halfyear_share=r.share(rs, "halfyear_share", "restrict.halfyear_share", dr.halfyear_share),
    )

    du = d.unknown
    us = r.section(top.get("unknown"), "unknown", ("share", "message", "delay"))
    message = us.get("message", du.message)
    if not isinstance(message, str) or not message.strip():
        raise r.fail("unknown.message", f"must be non-empty text, got {message!r}")
    unknown = UnknownSpec(
        share=r.share(us, "share", "unknown.share", du.share),
        message=message,
        delay=r.delay_range(us, "delay", "unknown.delay", du.delay),
    )

    suspend = r.account_action(top.get("suspend"), "suspend", d.suspend)
    close = r.account_action(top.get("close"), "close", d.close)
    lock = r.account_action(top.get("lock"), "lock", d.lock)
    affected = suspend.accounts + close.accounts + lock.accounts
    if affected > accounts.count:
        raise r.fail(
            "suspend/close/lock",
            f"ask for {affected} accounts but accounts.count is {accounts.count}; lower them or add accounts",
        )

    scenario = Scenario(
        seed=seed,
        start=_parse_start(top.get("start"), label),
        duration=r.duration(top, "duration", "duration", d.duration),
        accounts=accounts,
        sensitive_terms=tuple(t.strip() for t in terms),
        sensitive_share=sensitive_share,
        long_share=r.share(top, "long_share", "long_share", d.long_share),
        card_group_share=r.share(top, "card_group_share", "card_group_share", d.card_group_share),
        author_delete=r.share_spec(top.get("author_delete"), "author_delete", d.author_delete),
        censor=r.censor(top.get("censor")),
        unattributed_share=r.share(top, "unattributed_share", "unattributed_share", d.unattributed_share),
        restrict=restrict,
        restore=r.share_spec(top.get("restore"), "restore", d.restore),
        suspend=suspend,
        close=close,
        lock=lock,
        unknown=unknown,
        faults=r.faults(top.get("faults")),
        reposts=r.reposts(
            top.get("reposts"), [str(accounts.first_uid), str(accounts.first_uid + accounts.count - 1)]
        ),
        edits=r.share_spec(top.get("edits"), "edits", d.edits),
        glitches=r.glitches(top.get("glitches")),
        source=label,
    )
    events = top.get("events") or []
    if not isinstance(events, list):
        raise r.fail("events", f"must be a list of events, got {events!r}")
    ids = set(scenario.account_ids) | set(scenario.outside_account_ids)
    parsed = tuple(r.event(e, i, ids) for i, e in enumerate(events))
    # The other platforms' sections (imported here: their modules import this one).
    from .gate import gate_spec
    from .news import news_spec, toutiao_spec
    from .search import search_spec
    from .telegram import telegram_spec
    from .video import video_specs
    from .wechat import wechat_spec

    bilibili, youku = video_specs(top, label)
    return replace(scenario, events=parsed, wechat=wechat_spec(top.get("wechat"), label),
                   telegram=telegram_spec(top.get("telegram"), label),
                   weibo_search=search_spec(top.get("weibo_search"), label),
                   news=news_spec(top.get("news"), label),
                   toutiao=toutiao_spec(top.get("toutiao"), label),
                   bilibili=bilibili, youku=youku, gate=gate_spec(top.get("gate"), label))


def load_scenario(source: str | Path | dict[str, Any] | Scenario | None = None) -> Scenario:
    """Load a scenario from a YAML path, a dict, or (None) the shipped demo scenario."""
    if isinstance(source, Scenario):
        return source
    if source is None:
        source = DEFAULT_SCENARIO_PATH
    if isinstance(source, dict):
        return scenario_from_dict(source)
    path = Path(source)
    label = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"{label}: cannot read scenario file ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ScenarioError(f"{label}: not valid YAML{where}; check indentation and quoting") from None
    if data is not None and not isinstance(data, dict):
        raise ScenarioError(f"{label}: must be a mapping of scenario keys, got {type(data).__name__}")
    return scenario_from_dict(data, label)
