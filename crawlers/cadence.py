"""Cadence: what is due now, for every watchlist of every plan, within each host's hourly budget.

`due_work(corpus, plans, now)` is the one place that decides. It only reads the corpus:

- a listing watchlist's account is due when its last poll (page 1 requested, from
  `schedule_members`) is at least its poll interval ago: the watchlist's `schedule` step that
  holds for the age of the account's newest post, never sparser than its `every`
  (`plan.poll_interval`); an account never polled is due at once;
- a watched item (item watches) is due by its schedule at its age, as before (`due_items`);
- open candidates, due re-probes and missing long texts are due whenever they exist.

Each host (a base_url's host:port; platforms served from one host share it) gets
`requests_per_hour` requests per trailing hour (the smallest budget of the plans on it). What
its ticks admitted, or made when Scrapy counted more, in the hour before `now` is spent; the
rest is admitted in this order: re-probes, candidate probes, then polls and watched items (the
latest relative to its own interval first, never polled first), then long texts. Polls, items
and long texts leave a tenth of the budget (PROBE_RESERVE) to the probes of the candidates
their crawl opens, so a removal does not wait for the next hour's budget to be asked about.
A poll costs its watchlist's `pages`,
anything else one request, and each crawl one more for robots.txt (when the plan obeys it).
What does not fit stays due and its watchlist is *behind*: its load
(`WatchlistLoad.behind`, `lag_seconds`) is recorded on the tick and said in a log line; nothing
is silently stretched. Retries of failed fetches and the profile check of an emptied page 1 are
not known in advance: they are counted when the crawl ends (`schedule_ticks.requests_made`) and
leave less for the next ticks.

The state is derived from the corpus: `fold()` reads every crawl that ended (finished,
interrupted or recovered `crashed`) and not folded yet, records its plan version and, for
timeline crawls, each account's poll time and newest post. So a scheduler killed with -9
restarts where the corpus stops: accounts whose pages were stored (or recovered from the WARC
files) are not asked again; the others are still due.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils
from memoryhole.corpus import clock
from memoryhole.corpus.store import Corpus

from .plan import CrawlPlan, Watchlist, probe_interval

HOUR = 3600.0
PROBE_RESERVE = 0.1   # share of each host's budget polls leave to probes


def host_of(base_url: str) -> str:
    """The host a budget is kept for: host[:port] of a plan's base_url."""
    return urlsplit(base_url).netloc.lower()


def plan_hash(plan_json: str) -> str:
    """A plan version's name: the first 16 hex digits of the sha256 of the plan as recorded on
    its crawls (`crawls.plan_json`: canonical JSON, defaults included)."""
    return hashlib.sha256(plan_json.encode("utf-8")).hexdigest()[:16]


def plan_json(plan: CrawlPlan) -> str:
    """The plan as CorpusPipeline records it on crawls (same text, so the same hash)."""
    return json.dumps(plan.as_record(), ensure_ascii=False, sort_keys=True)


_HASHES: dict[int, tuple[CrawlPlan, str]] = {}


def _plan_hash_of(plan: CrawlPlan) -> str:
    """plan_hash(plan_json(plan)), once per plan object (a plan of 100,000 accounts takes a
    while to serialise, and the scheduler asks every tick)."""
    known = _HASHES.get(id(plan))
    if known is None or known[0] is not plan:
        if len(_HASHES) > 64:
            _HASHES.clear()
        known = _HASHES[id(plan)] = (plan, plan_hash(plan_json(plan)))
    return known[1]


# --- what the scheduler hands out -------------------------------------------------------------


@dataclass(frozen=True)
class Poll:
    """One account's timeline, page 1 to `pages`, for a watchlist."""

    watchlist: str
    account: str
    pages: int
    due_at: float   # epoch seconds it fell due (-inf: never polled)
    interval: float = 0.0   # its poll interval now


@dataclass
class WatchlistLoad:
    """A watchlist at one tick: how much of it was due and how much the budget let through."""

    platform: str
    watchlist: str
    kind: str                         # account | item
    every: float
    schedule: tuple[Any, ...]
    members: int
    due: int = 0
    admitted: int = 0
    lag_seconds: float = 0.0          # how long the most overdue member not admitted has waited
    last_run_at: str | None = None    # its newest poll (or probe of an item)
    next_run_at: str | None = None    # when its next member falls due

    @property
    def behind(self) -> int:
        return self.due - self.admitted


@dataclass
class HostBudget:
    host: str
    budget: int          # requests per hour
    used: int            # in the hour before the tick
    due: int = 0         # requests the due work needed
    admitted: int = 0

    @property
    def left(self) -> int:
        return max(0, self.budget - self.used - self.admitted)

    @property
    def left_for_polls(self) -> int:
        """What polls may take: all but PROBE_RESERVE of the budget, kept for the candidates
        the polls open (a removal waits for its probe; its interval grows meanwhile)."""
        reserve = max(1, int(self.budget * PROBE_RESERVE))
        return max(0, self.budget - reserve - self.used - self.admitted)


@dataclass
class PlanWork:
    """One plan's share of a tick: polls for its timeline spider, probes for its probe spider."""

    plan: CrawlPlan
    host: str
    plan_hash: str
    at: datetime
    polls: list[Poll] = field(default_factory=list)
    probes: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {
        "watch": [], "candidates": [], "reprobes": [], "long_texts": []})
    requests_due: int = 0
    requests_admitted: int = 0
    probes_behind: int = 0            # candidate probes and re-probes left for a later tick
    watchlists: list[WatchlistLoad] = field(default_factory=list)
    next_due_at: float | None = None  # epoch seconds: the next poll or item due after this tick
    budget_left: int = 0              # this plan's share of what its host's budget has left

    @property
    def idle(self) -> bool:
        return not self.polls and not any(self.probes.values())

    def behind_lines(self) -> list[str]:
        host = self.host
        lines = [f"{self.plan.platform} watchlist {w.watchlist!r} is falling behind its cadence: "
                 f"{w.behind:,} of {w.due:,} due {w.kind}s wait for the budget of {host} "
                 f"({self.plan.requests_per_hour:,} requests/h)"
                 + (f", the oldest {_span(w.lag_seconds)} overdue" if w.lag_seconds else "")
                 for w in self.watchlists if w.behind > 0]
        if self.probes_behind:
            lines.append(f"{self.plan.platform}: {self.probes_behind:,} probes of candidates and "
                         f"removals wait for the budget of {host}")
        return lines


@dataclass
class DueWork:
    at: datetime
    plans: list[PlanWork]
    hosts: dict[str, HostBudget]

    def behind_lines(self) -> list[str]:
        return [line for work in self.plans for line in work.behind_lines()]

    @property
    def next_due_at(self) -> float | None:
        times = [w.next_due_at for w in self.plans if w.next_due_at is not None]
        return min(times) if times else None


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


# --- the decision -----------------------------------------------------------------------------


def _epoch(text: str | None) -> float | None:
    """Epoch seconds of a corpus time; the corpus's own form (clock.iso) is read the fast way."""
    if not text:
        return None
    if len(text) == 27 and text[-1] == "Z":
        return datetime.fromisoformat(text[:26]).replace(tzinfo=UTC).timestamp()
    return clock.parse_iso(text).timestamp()


def _account_loads(db: sqlite_utils.Database, platform: str, watchlist: Watchlist, now: float,
                   everything: bool) -> tuple[WatchlistLoad, list[Poll], float | None]:
    """A listing watchlist's due polls (not yet budgeted) and when its next one falls due.

    Compares the corpus's ISO times as text against cut-offs computed once (a post is young
    for a step when newer than `now - until`; an account is due when polled at or before
    `now - interval`), so 100,000 accounts cost string comparisons, not date parsing."""
    state = {row[0]: (row[1], row[2]) for row in db.execute(
        "SELECT member_id, last_polled_at, newest_post_at FROM schedule_members "
        "WHERE platform = ? AND watchlist = ?", [platform, watchlist.name])}
    load = WatchlistLoad(platform, watchlist.name, "account", watchlist.every, watchlist.schedule,
                         len(watchlist.accounts))
    moment = datetime.fromtimestamp(now, UTC)
    # (born after, interval): the first step whose `until` the newest post is younger than.
    steps = [(None if step.until is None else clock.iso(moment - timedelta(seconds=step.until)),
              min(step.every, watchlist.every)) for step in watchlist.schedule]
    cutoffs = {interval: clock.iso(moment - timedelta(seconds=interval))
               for interval in {watchlist.every, *(i for _, i in steps)}}
    waiting: dict[float, str] = {}   # interval -> the earliest poll among members not due yet
    polls, last = [], None
    for account in watchlist.accounts:
        polled, newest = state.get(account, (None, None))
        if polled is None or everything:
            polls.append(Poll(watchlist.name, account, watchlist.pages,
                              -float("inf") if polled is None else now, watchlist.every))
            if polled is not None and (last is None or polled > last):
                last = polled
            continue
        if last is None or polled > last:
            last = polled
        interval = watchlist.every
        if newest:
            for born_after, step_interval in steps:
                if born_after is None or newest > born_after:
                    interval = step_interval
                    break
        if polled <= cutoffs[interval]:
            polls.append(Poll(watchlist.name, account, watchlist.pages,
                              _epoch(polled) + interval, interval))
        elif interval not in waiting or polled < waiting[interval]:
            waiting[interval] = polled
    next_due = min((_epoch(p) + i for i, p in waiting.items()), default=None)
    load.due = len(polls)
    load.last_run_at = last
    if polls:   # polled now, each is next due one of its intervals from now at the soonest
        soonest = now + min([watchlist.every, *(s.every for s in watchlist.schedule)])
        next_due = soonest if next_due is None else min(next_due, soonest)
    if next_due is not None:
        load.next_run_at = clock.iso(datetime.fromtimestamp(next_due, UTC))
    return load, polls, next_due


def _lateness(now: float, due_at: float, interval: float) -> float:
    """Queue order among polls and items: the most late relative to its own interval first
    (never asked: first of all). Under a budget too small for everything, an account due every
    2 minutes and one due every 20 are both polled at a share of their cadence, rather than in
    turn."""
    if due_at == -float("inf") or interval <= 0:
        return -float("inf")
    return -(now - due_at) / interval


def due_items(corpus: Corpus, plan: CrawlPlan, at: datetime | None = None,
              everything: bool = False) -> tuple[list[dict[str, Any]], float | None]:
    """The watched items (item watches) whose schedule says probe at `at` (never answered, or
    last answered longer ago than the schedule's interval at the item's age), and when the next
    one falls due (epoch seconds). Items that are candidates or removed are left to the re-probe
    policy. An item on several watchlists is asked once, on the densest schedule."""
    at = at or clock.now()
    schedules: dict[str, list] = {}
    for watchlist in plan.watchlists:
        for item in watchlist.items:
            schedules.setdefault(item, []).append(watchlist.schedule)
        if watchlist.accounts and watchlist.probe_schedule:
            # A listing watch with a probe schedule: every post its listings ever showed.
            for post_id in _listed_posts(corpus, plan.platform, watchlist.accounts):
                schedules.setdefault(post_id, []).append(watchlist.probe_schedule)
    due, next_due = [], None
    for post_id, facts in corpus.item_facts(plan.platform, schedules).items():
        if facts["busy"]:
            continue
        if facts["last_probe"] is not None and not everything:
            age = (at - clock.parse_iso(facts["born"])).total_seconds() if facts["born"] else 0.0
            every = min(probe_interval(s, age) for s in schedules[post_id])
            due_at = clock.parse_iso(facts["last_probe"]).timestamp() + every
            if due_at > at.timestamp():
                next_due = due_at if next_due is None else min(next_due, due_at)
                continue
        every = 0.0
        if facts["last_probe"] is not None:
            age = (at - clock.parse_iso(facts["born"])).total_seconds() if facts["born"] else 0.0
            every = min(probe_interval(s, age) for s in schedules[post_id])
        due.append({"post_id": post_id, "account_id": facts["account_id"],
                    "last_probe": facts["last_probe"], "every": every})
    return due, next_due


def _listed_posts(corpus: Corpus, platform: str, accounts: tuple[str, ...]) -> list[str]:
    """The posts of `platform` the listings of `accounts` have shown (sighted on a page)."""
    found: list[str] = []
    for start in range(0, len(accounts), 900):
        chunk = list(accounts[start:start + 900])
        found += [row[0] for row in corpus.db.execute(
            f"SELECT post_id FROM posts WHERE platform = ? AND account_id IN "
            f"({','.join('?' * len(chunk))}) ORDER BY first_seen_at, post_id",
            [platform, *chunk])]
    return found


def probes_after_poll(corpus: Corpus, work: PlanWork) -> tuple[dict[str, list], int]:
    """The probes of a tick once its poll is diffed, and the budget then left: the poll changed
    what needs asking (candidates opened or seen again, removals restored, long posts found,
    posts on a probe schedule first seen), so it is asked again, within what was admitted and
    what the budget has left."""
    plan, probes = work.plan, dict(work.probes)
    left = work.budget_left
    if not any(probes.values()):   # a probe crawl not paid for: its robots.txt
        left = max(0, left - int(plan.politeness.obey_robots_txt))
    fresh = {"reprobes": corpus.due_reprobes(plan.platform, work.at),
             "candidates": corpus.open_candidates(plan.platform),
             "long_texts": corpus.long_texts_needed(plan.platform) if plan.long_texts else []}
    if any(w.probe_schedule for w in plan.watchlists):
        # Posts a listing showed that are probed on a schedule (a feed's articles): the ones
        # this poll found are due now.
        fresh["watch"] = due_items(corpus, plan, work.at)[0]
    for kind, rows in fresh.items():
        admitted = len(probes.get(kind, []))
        probes[kind] = rows[:admitted + left]
        left -= max(0, len(probes[kind]) - admitted)
    return probes, left


def second_pass(corpus: Corpus, plan: CrawlPlan, left: int) -> tuple[dict[str, list], int]:
    """The probes of a tick's second probe crawl (the first found accounts gone: their posts are
    asked now), within the budget `left`, and the budget then left; ({}, left) when none fit.
    The crawl asks robots.txt again, when obeyed."""
    left -= int(plan.politeness.obey_robots_txt)
    if left <= 0:
        return {}, left
    fresh = corpus.open_candidates(plan.platform)
    return {"candidates": fresh[:left]}, left - min(left, len(fresh))


def used_budget(db: sqlite_utils.Database, host: str, now: datetime) -> int:
    """Requests the host's ticks admitted (or made, when more) in the hour before `now`."""
    return int(db.execute(
        "SELECT COALESCE(SUM(MAX(requests_admitted, COALESCE(requests_made, 0))), 0) "
        "FROM schedule_ticks WHERE host = ? AND at > ? AND at <= ?",
        [host, clock.iso(now - timedelta(seconds=HOUR)), clock.iso(now)]).fetchone()[0])


def due_work(corpus: Corpus, plans: Sequence[CrawlPlan], now: datetime | None = None,
             everything: bool = False) -> DueWork:
    """What is due at `now` for each plan, admitted within each host's hourly budget (see the
    module's docstring for the rules). Reads the corpus, writes nothing; `fold()` first so the
    latest crawls count. `everything`: every account and item is due (`crawl --once`); the
    budget still holds."""
    now = now or clock.now()
    at = now.timestamp()
    db = corpus.db
    works: list[PlanWork] = []
    hosts: dict[str, HostBudget] = {}
    queued: dict[str, list[tuple[int, float, int, Any, PlanWork, str]]] = {}
    for plan in plans:
        host = host_of(plan.base_url)
        budget = hosts.setdefault(host, HostBudget(host, plan.requests_per_hour,
                                                    used_budget(db, host, now)))
        budget.budget = min(budget.budget, plan.requests_per_hour)
        work = PlanWork(plan, host, _plan_hash_of(plan), now)
        works.append(work)
        queue = queued.setdefault(host, [])
        # Tier 0 and 1: the measurement itself (re-probes, candidates), first come first served.
        for n, row in enumerate(corpus.due_reprobes(plan.platform, now)):
            queue.append((0, n, 1, row, work, "reprobes", at))
        for n, row in enumerate(corpus.open_candidates(plan.platform)):
            queue.append((1, n, 1, row, work, "candidates", at))
        nexts = []
        for watchlist in plan.watchlists:
            if not watchlist.accounts:
                continue
            load, polls, next_due = _account_loads(db, plan.platform, watchlist, at, everything)
            work.watchlists.append(load)
            nexts.append(next_due)
            queue.extend((2, _lateness(at, p.due_at, p.interval), p.pages, p, work, "polls",
                          p.due_at) for p in polls)
        items = [w for w in plan.watchlists if w.items]
        if items:
            due, next_due = due_items(corpus, plan, now, everything)
            nexts.append(next_due)
            for watchlist in items:
                mine = set(watchlist.items)
                work.watchlists.append(WatchlistLoad(
                    plan.platform, watchlist.name, "item", watchlist.every, watchlist.schedule,
                    len(watchlist.items), due=sum(1 for d in due if d["post_id"] in mine)))
            for row in due:
                last = _epoch(row["last_probe"])
                due_at = -float("inf") if last is None else last + row["every"]
                queue.append((2, _lateness(at, due_at, row["every"]), 1, row, work, "watch",
                              due_at))
        if plan.long_texts:
            for n, row in enumerate(corpus.long_texts_needed(plan.platform)):
                queue.append((3, n, 1, row, work, "long_texts", at))
        known = [n for n in nexts if n is not None]
        work.next_due_at = min(known) if known else None
    for host, queue in queued.items():
        budget = hosts[host]
        queue.sort(key=itemgetter(0, 1))
        full = False
        started: set[tuple[int, bool]] = set()
        for tier, _, cost, what, work, kind, due_at in queue:
            # A crawl asks for robots.txt once, when the plan obeys it: the first poll (timeline
            # crawl) or probe (probe crawl) of a plan pays for it.
            crawl = (id(work), kind == "polls")
            if work.plan.politeness.obey_robots_txt and crawl not in started:
                cost += 1
            budget.due += cost
            work.requests_due += cost
            if not full and cost <= (budget.left if tier < 2 else budget.left_for_polls):
                started.add(crawl)
                budget.admitted += cost
                work.requests_admitted += cost
                if kind == "polls":
                    work.polls.append(what)
                else:
                    work.probes[kind].append(what)
                continue
            full = full or tier == 2   # polls and items keep their order: none jumps the queue
            if tier < 2:
                work.probes_behind += 1
            elif tier == 2:
                # The first member left behind has waited longest: its wait is the lag.
                _left_behind(work, what, kind, at - due_at if due_at > -float("inf") else 0.0)
    for work in works:
        admitted = {}
        for poll in work.polls:
            admitted[poll.watchlist] = admitted.get(poll.watchlist, 0) + 1
        for load in work.watchlists:
            if load.kind == "account":
                load.admitted = admitted.get(load.watchlist, 0)
            else:
                mine = set(next(w for w in work.plan.watchlists
                                if w.name == load.watchlist).items)
                load.admitted = sum(1 for p in work.probes["watch"] if p["post_id"] in mine)
            if load.kind == "item" and work.next_due_at is not None:
                load.next_run_at = clock.iso(datetime.fromtimestamp(work.next_due_at, UTC))
            if load.behind:
                load.next_run_at = clock.iso(now)
        # Plans on one host run side by side: each may spend its share of what is left on the
        # candidates its own diff opens.
        sharing = sum(1 for other in works if other.host == work.host)
        work.budget_left = hosts[work.host].left // sharing
    return DueWork(now, works, hosts)


def _left_behind(work: PlanWork, what: Any, kind: str, waited: float) -> None:
    if kind == "polls":
        name = what.watchlist
    else:
        name = next((w.name for w in work.plan.watchlists if what["post_id"] in w.items), None)
    for load in work.watchlists:
        if load.watchlist == name:
            load.lag_seconds = max(load.lag_seconds, waited)


# --- the state, folded from the crawls ---------------------------------------------------------


def fold(db: sqlite_utils.Database) -> int:
    """Fold every crawl that ended and is not folded yet into the schedule state (call inside a
    write transaction): its plan version (`crawls.plan_hash`, `plan_versions`) and, for a
    timeline crawl, each polled account's poll time (page 1 requested) and newest post. Returns
    how many crawls it folded. Running crawls wait: a crash is folded once recovered."""
    crawls = db.execute(
        "SELECT id, kind, platform, plan_name, plan_json, started_at FROM crawls "
        "WHERE status != 'running' AND id NOT IN (SELECT crawl_id FROM schedule_folded) "
        "ORDER BY id").fetchall()
    for crawl_id, kind, platform, name, text, started_at in crawls:
        record_plan_version(db, crawl_id, platform, name, text, started_at)
        if kind == "timeline":
            db.execute(
                """INSERT INTO schedule_members (platform, watchlist, member_id, last_polled_at,
                       last_crawl_id)
                   SELECT platform, watchlist, account_id, MIN(requested_at), crawl_id FROM pages
                   WHERE crawl_id = ? AND page = 1 AND watchlist IS NOT NULL
                     -- a poll not sent (its host cooling down) stays due for the next tick
                     AND COALESCE(failure, '') != 'cooling_down'
                   GROUP BY 1, 2, 3
                   ON CONFLICT DO UPDATE SET polls = polls + 1,
                       last_polled_at = MAX(last_polled_at, excluded.last_polled_at),
                       last_crawl_id = excluded.last_crawl_id""", [crawl_id])
            db.execute(
                """WITH newest AS (
                       SELECT s.platform, s.account_id,
                              MAX(COALESCE(p.created_at, p.first_seen_at)) AS at
                       FROM sightings s JOIN posts p
                         ON p.platform = s.platform AND p.post_id = s.post_id
                       WHERE s.crawl_id = ? AND s.via_post_id IS NULL AND s.pinned = 0
                       GROUP BY 1, 2)
                   UPDATE schedule_members SET newest_post_at = MAX(
                       COALESCE(newest_post_at, ''), newest.at)
                   FROM newest WHERE schedule_members.platform = newest.platform
                     AND schedule_members.member_id = newest.account_id""", [crawl_id])
        db.execute("INSERT INTO schedule_folded (crawl_id) VALUES (?)", [crawl_id])
    return len(crawls)


def record_plan_version(db: sqlite_utils.Database, crawl_id: int, platform: str,
                        name: str | None, text: str, started_at: str) -> str:
    """Name the plan a crawl recorded by its hash, and number it among its plan's versions."""
    digest = plan_hash(text)
    key = name or platform
    db.execute(
        """INSERT INTO plan_versions (plan_hash, plan_key, version, platform, first_crawl_id,
               first_used_at, plan_json)
           SELECT ?1, ?2, COALESCE((SELECT MAX(version) FROM plan_versions WHERE plan_key = ?2),
                                   0) + 1, ?3, ?4, ?5, ?6
           WHERE NOT EXISTS (SELECT 1 FROM plan_versions WHERE plan_hash = ?1)""",
        [digest, key, platform, crawl_id, started_at, text])
    db.execute("UPDATE crawls SET plan_hash = ? WHERE id = ?", [digest, crawl_id])
    return digest


def plan_version(db: sqlite_utils.Database, plan: CrawlPlan) -> int | None:
    """The version number of `plan` in this corpus (None: no crawl has used it yet)."""
    row = db.execute("SELECT version FROM plan_versions WHERE plan_hash = ?",
                     [plan_hash(plan_json(plan))]).fetchone()
    return row[0] if row else None


def record_tick(db: sqlite_utils.Database, work: DueWork) -> dict[str, int]:
    """Record a tick (call inside a write transaction): a `schedule_ticks` row per plan with due
    work, and every watchlist's load in `schedule_watchlists`. Returns tick ids by platform."""
    at = clock.iso(work.at)
    ticks: dict[str, int] = {}
    for plan_work in work.plans:
        budget = work.hosts[plan_work.host]
        if plan_work.requests_due:
            ticks[plan_work.plan.platform] = int(db.execute(
                """INSERT INTO schedule_ticks (at, platform, host, plan_hash, budget, used_before,
                       requests_due, requests_admitted) VALUES (?,?,?,?,?,?,?,?)""",
                [at, plan_work.plan.platform, plan_work.host, plan_work.plan_hash, budget.budget,
                 budget.used, plan_work.requests_due, plan_work.requests_admitted]).lastrowid)
        rows = [[w.platform, w.watchlist, plan_work.plan_hash, w.kind, w.every,
                 json.dumps([[s.until, s.every] for s in w.schedule]), w.members, w.due,
                 w.admitted, w.behind, w.lag_seconds, w.last_run_at, w.next_run_at, at,
                 ticks.get(plan_work.plan.platform)] for w in plan_work.watchlists]
        db.conn.executemany(
            """INSERT INTO schedule_watchlists (platform, watchlist, plan_hash, kind, every,
                   schedule, members, due, admitted, behind, lag_seconds, last_run_at,
                   next_run_at, tick_at, tick_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT DO UPDATE SET plan_hash = excluded.plan_hash, kind = excluded.kind,
                   every = excluded.every, schedule = excluded.schedule,
                   members = excluded.members, due = excluded.due, admitted = excluded.admitted,
                   behind = excluded.behind, lag_seconds = excluded.lag_seconds,
                   last_run_at = COALESCE(excluded.last_run_at, last_run_at),
                   next_run_at = excluded.next_run_at, tick_at = excluded.tick_at,
                   tick_id = COALESCE(excluded.tick_id, tick_id)""", rows)
        names = [w.watchlist for w in plan_work.watchlists]
        # A watchlist the edited plan no longer has is not shown as current.
        db.execute(f"DELETE FROM schedule_watchlists WHERE platform = ? AND watchlist NOT IN "
                   f"({','.join('?' * len(names))})", [plan_work.plan.platform, *names])
    return ticks


def count_requests(db: sqlite_utils.Database, tick_id: int, requests: int) -> None:
    """Add the requests Scrapy made for a tick's crawl to it (call inside a write transaction)."""
    db.execute("UPDATE schedule_ticks SET requests_made = COALESCE(requests_made, 0) + ? "
               "WHERE id = ?", [requests, tick_id])


def members_of(plans: Iterable[CrawlPlan]) -> int:
    return sum(len(w.accounts) + len(w.items) for p in plans for w in p.watchlists)
