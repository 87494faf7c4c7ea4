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

A plan is recorded verbatim (with defaults filled in) on every crawl it drives.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .platforms import ADAPTERS, adapter_for


class PlanError(ValueError):
    """A crawl plan that cannot be used; the message names the file, the field and the fix."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """'10s', '5m', '2h', '1d', '250ms' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 2h, 1d)")
    return float(m[1]) * _UNIT_SECONDS[m[2]]


@dataclass(frozen=True)
class Watchlist:
    name: str
    accounts: tuple[str, ...]
    every: float          # seconds between polls
    pages: int            # timeline pages per account per poll
    public_figures: tuple[str, ...] = ()  # accounts whose ids and names a release keeps


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

    def as_record(self) -> dict[str, Any]:
        """The plan as recorded on each crawl: every value, defaults included."""
        record = asdict(self)
        record.pop("path")
        return record

    @property
    def every(self) -> float:
        """The shortest cadence of any watchlist: how often a cycle runs."""
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
    return plan_from_dict(raw, source=str(path), base_dir=path.parent)


def plan_from_dict(raw: Any, source: str = "plan", base_dir: Path | None = None) -> CrawlPlan:
    if not isinstance(raw, dict):
        raise PlanError(f"{source}: a plan is a YAML mapping with platform and watchlists")
    unknown = set(raw) - {"platform", "base_url", "watchlists", "politeness", "name", "reprobe",
                          "long_texts", "pagination"}
    if unknown:
        raise PlanError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
    platform = raw.get("platform")
    if platform not in ADAPTERS:
        raise PlanError(
            f"{source}: platform: {platform!r} is not a known platform; "
            f"use one of: {', '.join(sorted(ADAPTERS))}"
        )
    base_url = str(raw.get("base_url") or adapter_for(platform).default_base_url).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise PlanError(f"{source}: base_url: {base_url!r} is not an http(s) URL")
    lists = raw.get("watchlists")
    if not isinstance(lists, list) or not lists:
        raise PlanError(f"{source}: watchlists: give at least one watchlist (name, accounts, "
                        "every, pages)")
    watchlists = tuple(
        _watchlist(item, f"{source}: watchlists[{i}]", base_dir) for i, item in enumerate(lists)
    )
    names = [w.name for w in watchlists]
    if len(set(names)) != len(names):
        raise PlanError(f"{source}: watchlists: names must be unique, got {names}")
    return CrawlPlan(platform=platform, base_url=base_url, watchlists=watchlists,
                     politeness=_politeness(raw.get("politeness") or {}, f"{source}: politeness"),
                     reprobe=_reprobe(raw.get("reprobe") or {}, f"{source}: reprobe"),
                     long_texts=bool(raw.get("long_texts", True)),
                     pagination=_pagination(raw.get("pagination", "page"), source),
                     name=raw.get("name"), path=source)


def _watchlist(item: Any, where: str, base_dir: Path | None) -> Watchlist:
    if not isinstance(item, dict):
        raise PlanError(f"{where}: a watchlist is a mapping with name, accounts, every, pages")
    unknown = set(item) - {"name", "accounts", "accounts_file", "every", "pages",
                           "public_figures"}
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    name = item.get("name")
    if not name or not isinstance(name, str):
        raise PlanError(f"{where}.name: give the watchlist a name")
    accounts = [str(a).strip() for a in item.get("accounts") or []]
    if item.get("accounts_file"):
        file = Path(item["accounts_file"])
        if not file.is_absolute() and base_dir is not None:
            file = base_dir / file
        if not file.is_file():
            raise PlanError(f"{where}.accounts_file: {file} does not exist")
        for line in file.read_text("utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                accounts.append(line)
    if not accounts:
        raise PlanError(f"{where}.accounts: list at least one account id (or an accounts_file)")
    bad = [a for a in accounts if not re.fullmatch(r"[0-9A-Za-z_]+", a)]
    if bad:
        raise PlanError(f"{where}.accounts: {bad[0]!r} is not an account id")
    try:
        every = parse_duration(item.get("every", "1h"))
    except ValueError as exc:
        raise PlanError(f"{where}.every: {exc}") from None
    if every <= 0:
        raise PlanError(f"{where}.every: must be positive")
    pages = item.get("pages", 1)
    if not isinstance(pages, int) or isinstance(pages, bool) or not 1 <= pages <= 100:
        raise PlanError(f"{where}.pages: a whole number of pages from 1 to 100, got {pages!r}")
    figures = item.get("public_figures") or []
    if not isinstance(figures, list):
        raise PlanError(f"{where}.public_figures: a list of account ids from this watchlist")
    figures = [str(a).strip() for a in figures]
    strangers = [a for a in figures if a not in accounts]
    if strangers:
        raise PlanError(f"{where}.public_figures: {strangers[0]!r} is not one of the "
                        "watchlist's accounts")
    return Watchlist(name=name, accounts=tuple(dict.fromkeys(accounts)), every=every, pages=pages,
                     public_figures=tuple(dict.fromkeys(figures)))


def _pagination(value: Any, source: str) -> str:
    if value not in ("page", "cursor"):
        raise PlanError(f"{source}: pagination: {value!r}; use page (page numbers) or cursor "
                        "(the platform's since_id)")
    return value


def _reprobe(raw: Any, where: str) -> ReprobePolicy:
    if not isinstance(raw, dict):
        raise PlanError(f"{where}: a mapping with confirm_after and recheck_after")
    unknown = set(raw) - {"confirm_after", "recheck_after"}
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    defaults = ReprobePolicy()
    try:
        confirm = parse_duration(raw.get("confirm_after", defaults.confirm_after))
        rechecks = raw.get("recheck_after", list(defaults.recheck_after))
        if not isinstance(rechecks, list):
            rechecks = [rechecks]
        recheck = tuple(sorted(parse_duration(r) for r in rechecks))
    except ValueError as exc:
        raise PlanError(f"{where}: {exc}") from None
    if confirm <= 0 or any(r <= confirm for r in recheck):
        raise PlanError(f"{where}: confirm_after must be positive and every recheck_after "
                        "later than it")
    return ReprobePolicy(confirm_after=confirm, recheck_after=recheck)


def _politeness(raw: Any, where: str) -> Politeness:
    if not isinstance(raw, dict):
        raise PlanError(f"{where}: a mapping (delay, concurrency, timeout, retries, ...)")
    defaults = Politeness()
    unknown = set(raw) - set(asdict(defaults))
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    try:
        values = {
            "delay": parse_duration(raw.get("delay", defaults.delay)),
            "timeout": parse_duration(raw.get("timeout", defaults.timeout)),
            "concurrency": int(raw.get("concurrency", defaults.concurrency)),
            "retries": int(raw.get("retries", defaults.retries)),
            "obey_robots_txt": bool(raw.get("obey_robots_txt", defaults.obey_robots_txt)),
            "user_agent": str(raw.get("user_agent", defaults.user_agent)),
        }
    except ValueError as exc:
        raise PlanError(f"{where}: {exc}") from None
    if values["concurrency"] < 1 or values["retries"] < 0 or values["timeout"] <= 0:
        raise PlanError(f"{where}: concurrency ≥ 1, retries ≥ 0 and timeout > 0 are required")
    return Politeness(**values)
