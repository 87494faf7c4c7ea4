"""The simulated platform's history, computed once from the seed; state at time t is a pure function.

Construction generates every account, post and event (removal, restriction, restoration, account
state change) for the whole scenario. Queries (`timeline`, `status`, `truth`) only read that
history at a given instant, so asking twice about the same instant gives the same answer, and
asking about the past replays it.

Rules worth knowing:

- Ids: mids are 16-digit integers, `MID_BASE + unix_second * 100_000 + seq`, so mid order is
  creation-time order across the whole world (creation times are whole seconds). Generated posts
  use seq < 50_000, explicitly created posts seq >= 50_000: adding events never renumbers posts.
- Randomness: one RNG stream per concern and per object (texts, arrivals, each kind of fate,
  restorations, faults), seeded from text, so adding explicit events never changes generated
  history, and results are identical across processes.
- Removal activity concentrates on recent posts: new posts and each account's 10 newest initial
  posts weigh 1, older posts 0.1. Shares stay shares of *all* posts (initial + new) in
  expectation. Removals of initial posts are timed from the world's start; nothing is removed
  before start except `restrict.initial_share` of initial posts (restricted before start, so
  short pages exist from the first crawl). Each generated post gets at most one fate (the earliest
  drawn), and censored/restricted posts may be restored later (`restore.share`).
- Timeline pages: 10 slots, newest first; the pinned post is extra on page 1. Restricted posts
  keep their slot but are not shown (short pages); removed posts leave the list. A share of
  generated posts (`card_group_share`) always arrives wrapped in a card_type 11 `card_group`.
- Explicitly created posts (`do: post`) get no random fate and are never wrapped in card groups:
  only explicit events act on them.
- Accounts: while an account is suspended/closed/locked its timeline is `这里还没有内容` and its
  posts answer with the account message, unless the post itself was removed before the account
  changed state (then its own message). Posts are not created while the account is not active.
- Ground truth (`truth`): for each post existing at `at`, the *latest* change that made it
  non-visible or changed why it is non-visible (removed_at, cause, message), and `restored_at`
  when it became visible again after that change. An account state change counts as a removal of
  every post visible at that moment (cause account_suspended/closed/locked); lifting it restores them.
- `schedule` adds events at any time. Scheduling into the past of answers already served rewrites
  that past: keeping it consistent is the caller's job.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import text as textgen
from .clock import as_utc
from .ids import bid_to_mid
from .messages import (
    ACCOUNT_MESSAGES,
    COMPLAINTS,
    HALF_YEAR,
    NOT_FOUND,
    NOT_VISIBLE_ERRNO,
    NOTHING_HERE,
    POST_MESSAGES,
    PRIVACY,
    RULES,
    STATE_CAUSE,
)
from .render import iso, mblog_json, post_card
from .scenario import ACCOUNT_ACTIONS, POST_ACTIONS, EventSpec, Scenario

MID_BASE = 4_900_000_000_000_000
MID_PER_SECOND = 100_000
EXPLICIT_SEQ_BASE = 50_000
PAGE_SIZE = 10
RECENT_INITIAL = 10  # newest initial posts per account that carry full removal weight
DEEP_WEIGHT = 0.1
CONTAINER_PREFIXES = ("107603", "230413")

VISIBLE, RESTRICTED, REMOVED, ACCOUNT = "visible", "restricted", "removed", "account"


@dataclass(frozen=True)
class PostEvent:
    """Something that happens to one post: remove, restrict or restore (`of_seq`: restore only that)."""

    at: datetime
    seq: int
    action: str
    cause: str | None = None
    message: str | None = None
    of_seq: int | None = None


@dataclass(frozen=True)
class AccountEvent:
    """An account entering a state (active, suspended, closed, locked) with the words it shows."""

    at: datetime
    seq: int
    state: str
    message: str | None


@dataclass(frozen=True)
class Visibility:
    """A post's (or account's) condition at one instant, and since when."""

    kind: str
    cause: str | None = None
    message: str | None = None
    since: datetime | None = None
    seq: int | None = None


_HIDDEN = Visibility(REMOVED)


@dataclass(eq=False)
class Account:
    uid: str
    screen_name: str
    followers: int
    follows: int
    verified: bool
    gender: str
    description: str
    avatar: str
    urank: int
    pinned: int | None = None
    posts: list[int] = field(default_factory=list)  # mids, ascending
    events: list[AccountEvent] = field(default_factory=list)


@dataclass(eq=False)
class Post:
    mid: int
    uid: str
    created_at: datetime
    segments: tuple[tuple[str, ...], ...]
    plain: str
    source: str
    pic_ids: tuple[str, ...]
    final_reposts: int
    final_comments: int
    final_attitudes: int
    sensitive: bool
    wrapped: bool = False
    events: list[PostEvent] = field(default_factory=list)


def _rng(seed: int, *parts: object) -> random.Random:
    """An independent, process-stable random stream for one concern and object."""
    return random.Random(":".join([str(seed), *map(str, parts)]))


def _cdf_sample(rng: random.Random, points: tuple[tuple[float, float], ...]) -> float:
    """Sample a delay from a piecewise-linear cumulative distribution (piecewise-uniform density)."""
    u = rng.random()
    for (d0, c0), (d1, c1) in zip(points, points[1:], strict=False):
        if u <= c1 and c1 > c0:
            return d0 + (d1 - d0) * max(0.0, u - c0) / (c1 - c0)
    return points[-1][0]


def _floor_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


class World:
    """Every account, post and event of one scenario, queried at any instant."""

    def __init__(self, scenario: Scenario, start: datetime) -> None:
        self.scenario = scenario
        self.start = _floor_second(as_utc(start))
        self.end = self.start + timedelta(seconds=scenario.duration)
        self.accounts: dict[str, Account] = {}
        self.posts: dict[int, Post] = {}
        self._seq = 0
        self._used_seqs: dict[int, int] = {}
        self._lock = threading.RLock()
        self._generate_accounts()
        self._generate_posts()
        self._generate_account_actions()
        for event in scenario.events:
            self._apply_event_spec(event)

    # ----------------------------------------------------------------- generation

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _generate_accounts(self) -> None:
        seed = self.scenario.seed
        names: set[str] = set()
        for uid in self.scenario.account_ids:
            rng = _rng(seed, "account", uid)
            name = textgen.screen_name(rng)
            while name in names:
                name += str(rng.randint(0, 9))
            names.add(name)
            verified = rng.random() < 0.2
            followers = int(min(5e7, rng.lognormvariate(6.5 + (2.5 if verified else 0), 1.8)))
            self.accounts[uid] = Account(
                uid=uid,
                screen_name=name,
                followers=followers,
                follows=rng.randint(20, 1500),
                verified=verified,
                gender=rng.choice("mf"),
                description=textgen.description(rng) if rng.random() < 0.7 else "",
                avatar=f"{int(uid):08x}ly8g{rng.getrandbits(40):010x}j20u00u0",
                urank=rng.randint(4, 48),
            )

    def _make_post(
        self, rng: random.Random, uid: str, created: datetime, *, sensitive: bool, long: bool
    ) -> dict[str, Any]:
        terms = self.scenario.sensitive_terms
        term = rng.choice(terms) if sensitive and terms else None
        segments = textgen.make_post_segments(rng, long=long, term=term)
        followers = self.accounts[uid].followers
        attitudes = int(rng.lognormvariate(math.log(1 + followers * 0.01), 1.2))
        pics = rng.choice((0,) * 7 + (1, 1, 2, 3, 4, 6, 9))
        return {
            "uid": uid,
            "created_at": created,
            "segments": segments,
            "plain": textgen.plain_text(segments),
            "source": rng.choice(textgen.SOURCES),
            "pic_ids": tuple(f"{rng.getrandbits(64):016x}ly1h{i}" for i in range(pics)),
            "final_reposts": int(attitudes * rng.uniform(0.05, 0.4)),
            "final_comments": int(attitudes * rng.uniform(0.1, 0.6)),
            "final_attitudes": attitudes,
            "sensitive": term is not None,
        }

    def _generate_posts(self) -> None:
        """Initial (backdated) and new posts for every account, then their fates."""
        sc, seed = self.scenario, self.scenario.seed
        drafts: list[tuple[datetime, int, int, str, dict[str, Any], float, str, bool]] = []
        low, high = math.log(120), math.log(1000 * 86400)
        for index, uid in enumerate(sc.account_ids):
            rng = _rng(seed, "initial", uid)
            ages = sorted(
                (math.exp(rng.uniform(low, high)) for _ in range(sc.accounts.initial_posts)), reverse=True
            )  # oldest first
            n = len(ages)
            for k, age in enumerate(ages):
                created = _floor_second(self.start - timedelta(seconds=age))
                prng = _rng(seed, "text", uid, "i", k)
                draft = self._make_post(
                    prng,
                    uid,
                    created,
                    sensitive=prng.random() < sc.sensitive_share,
                    long=prng.random() < sc.long_share,
                )
                rank = n - 1 - k  # 0 = newest
                weight = 1.0 if rank < RECENT_INITIAL else DEEP_WEIGHT
                drafts.append((created, index, k, uid, draft, weight, f"{uid}/i{k}", True))
            rate = sc.accounts.posts_per_hour / 3600.0
            arrivals = _rng(seed, "arrivals", uid)
            t, k = 0.0, 0
            while rate > 0:
                t += arrivals.expovariate(rate)
                if t >= sc.duration:
                    break
                created = _floor_second(self.start + timedelta(seconds=t))
                prng = _rng(seed, "text", uid, "n", k)
                draft = self._make_post(
                    prng,
                    uid,
                    created,
                    sensitive=prng.random() < sc.sensitive_share,
                    long=prng.random() < sc.long_share,
                )
                drafts.append((created, index, n + k, uid, draft, 1.0, f"{uid}/n{k}", False))
                k += 1
        drafts.sort(key=lambda d: (d[0], d[1], d[2]))
        placed: list[tuple[Post, float, str, bool]] = []
        for created, _index, _k, _uid, draft, weight, key, initial in drafts:
            second = int(created.timestamp())
            seq = self._used_seqs.get(second, 0)
            self._used_seqs[second] = seq + 1
            post = Post(mid=MID_BASE + second * MID_PER_SECOND + seq, **draft)
            post.wrapped = _rng(seed, "card_group", key).random() < sc.card_group_share
            self._add_post(post)
            placed.append((post, weight, key, initial))
        self._choose_pinned()
        self._generate_fates(placed)

    def _add_post(self, post: Post) -> None:
        self.posts[post.mid] = post
        bisect.insort(self.accounts[post.uid].posts, post.mid)

    def _choose_pinned(self) -> None:
        for uid, account in self.accounts.items():
            rng = _rng(self.scenario.seed, "pinned", uid)
            if rng.random() >= self.scenario.accounts.pinned_share:
                continue
            older = [m for m in account.posts if self.posts[m].created_at < self.start]
            candidates = older[: max(0, len(older) - RECENT_INITIAL)] or older
            if candidates:
                account.pinned = rng.choice(candidates)

    def _generate_fates(self, placed: list[tuple[Post, float, str, bool]]) -> None:
        """Draw each post's fate from separate streams; keep the earliest; maybe restore it."""
        sc, seed = self.scenario, self.scenario.seed
        total_n = len(placed)
        total_w = sum(w for _, w, _, _ in placed) or 1.0
        sens = [(p, w) for p, w, _, _ in placed if p.sensitive]
        sens_n, sens_w = len(sens), sum(w for _, w in sens) or 1.0

        def prob(share: float, n: int, w_total: float, w: float) -> float:
            return min(1.0, share * n / w_total * w)

        for post, weight, key, initial in placed:
            base = max(post.created_at, self.start)
            if initial:
                rng = _rng(seed, "initial_restrict", key)
                if rng.random() < sc.restrict.initial_share:
                    span = (self.start - post.created_at).total_seconds()
                    at = post.created_at + timedelta(seconds=rng.uniform(0, span))
                    message = HALF_YEAR if rng.random() < sc.restrict.halfyear_share else PRIVACY
                    self._post_event(post, at, "restrict", "restricted", message)
                    continue
            options: list[tuple[datetime, str, str]] = []
            rng = _rng(seed, "author_delete", key)
            if rng.random() < prob(sc.author_delete.share, total_n, total_w, weight):
                d = sc.author_delete.delay
                options.append(
                    (
                        base + timedelta(seconds=rng.uniform(d.min, d.max)),
                        "author_deleted",
                        POST_MESSAGES["author_deleted"][0],
                    )
                )
            if post.sensitive:
                rng = _rng(seed, "censor", key)
                if rng.random() < prob(sc.censor.share, sens_n, sens_w, weight):
                    delay = _cdf_sample(rng, sc.censor.delay) * sc.censor.time_scale
                    if rng.random() < sc.unattributed_share:
                        cause, message = (
                            "removed_unattributed",
                            rng.choice(POST_MESSAGES["removed_unattributed"]),
                        )
                    else:
                        cause = "platform_removed"
                        message = COMPLAINTS if rng.random() < sc.censor.complaints_share else RULES
                    options.append((base + timedelta(seconds=delay), cause, message))
            rng = _rng(seed, "restrict", key)
            if rng.random() < prob(sc.restrict.share, total_n, total_w, weight):
                d = sc.restrict.delay
                message = HALF_YEAR if rng.random() < sc.restrict.halfyear_share else PRIVACY
                options.append((base + timedelta(seconds=rng.uniform(d.min, d.max)), "restricted", message))
            rng = _rng(seed, "unknown", key)
            if rng.random() < prob(sc.unknown.share, total_n, total_w, weight):
                d = sc.unknown.delay
                options.append(
                    (base + timedelta(seconds=rng.uniform(d.min, d.max)), "unknown", sc.unknown.message)
                )
            if not options:
                continue
            at, cause, message = min(options)
            action = "restrict" if cause == "restricted" else "remove"
            event = self._post_event(post, at, action, cause, message)
            if cause in ("platform_removed", "removed_unattributed", "restricted"):
                rng = _rng(seed, "restore", key)
                if rng.random() < sc.restore.share:
                    d = sc.restore.delay
                    self._post_event(
                        post, at + timedelta(seconds=rng.uniform(d.min, d.max)), "restore", of_seq=event.seq
                    )

    def _generate_account_actions(self) -> None:
        sc = self.scenario
        order = list(sc.account_ids)
        _rng(sc.seed, "account_actions").shuffle(order)
        chosen = iter(order)
        for spec, state in ((sc.suspend, "suspended"), (sc.close, "closed"), (sc.lock, "locked")):
            for _ in range(spec.accounts):
                uid = next(chosen)
                rng = _rng(sc.seed, "account_message", uid)
                message = rng.choice(ACCOUNT_MESSAGES[STATE_CAUSE[state]])
                self._account_event(uid, self.start + timedelta(seconds=spec.at), state, message)

    def _post_event(
        self,
        post: Post,
        at: datetime,
        action: str,
        cause: str | None = None,
        message: str | None = None,
        of_seq: int | None = None,
    ) -> PostEvent:
        event = PostEvent(at, self._next_seq(), action, cause, message, of_seq)
        bisect.insort(post.events, event, key=lambda e: (e.at, e.seq))
        return event

    def _account_event(self, uid: str, at: datetime, state: str, message: str | None) -> None:
        event = AccountEvent(at, self._next_seq(), state, message)
        bisect.insort(self.accounts[uid].events, event, key=lambda e: (e.at, e.seq))

    # ----------------------------------------------------------------- explicit events

    def _apply_event_spec(self, spec: EventSpec) -> None:
        at = self.start + timedelta(seconds=spec.at)
        if spec.post is not None:
            post_id = spec.post.mid
            if post_id is None:
                post_id = self._nth_post(spec.post.account or "", spec.post.nth)
            self.schedule(at, spec.do, post_id=post_id, message=spec.message)
        else:
            self.schedule(
                at,
                spec.do,
                account_id=spec.account,
                count=spec.count,
                message=spec.message,
                sensitive=spec.sensitive,
            )

    def _nth_post(self, uid: str, nth: int) -> str:
        account = self._account(uid)
        existing = [m for m in account.posts if self.posts[m].created_at <= self.start]
        if nth >= len(existing):
            raise ValueError(f"account {uid} has {len(existing)} posts at start; nth={nth} is too old")
        return str(existing[-1 - nth])

    def _account(self, uid: str | None) -> Account:
        if uid is None or str(uid) not in self.accounts:
            raise ValueError(
                f"unknown account {uid!r}; accounts are {self.scenario.account_ids[0]}.."
                f"{self.scenario.account_ids[-1]}"
            )
        return self.accounts[str(uid)]

    def schedule(
        self,
        at: datetime,
        do: str,
        post_id: str | int | None = None,
        account_id: str | int | None = None,
        count: int = 1,
        *,
        nth: int | None = None,
        message: str | None = None,
        sensitive: bool = False,
    ) -> list[str]:
        """Add an explicit event at `at`; returns the ids of posts it creates (`do="post"`).

        Post actions (author_delete, censor_complaints, censor_rules, remove_unattributed,
        restrict, restrict_halfyear, unknown, restore) need `post_id`, or `account_id` + `nth`
        (0 = the account's newest post at start). Account actions (suspend, close, lock,
        unsuspend) and `post` (count posts, 1 s apart) need `account_id`. `message` picks one of
        the platform's variants (any text for `unknown`).
        """
        at = as_utc(at)
        with self._lock:
            if do in POST_ACTIONS:
                if post_id is None:
                    if account_id is None or nth is None:
                        raise ValueError(f"{do} needs post_id, or account_id and nth")
                    post_id = self._nth_post(str(account_id), nth)
                post = self.posts.get(_parse_post_id(str(post_id)) or -1)
                if post is None:
                    raise ValueError(f"unknown post {post_id!r}")
                self._apply_post_action(post, at, do, message)
                return []
            if do in ACCOUNT_ACTIONS:
                account = self._account(None if account_id is None else str(account_id))
                state = ACCOUNT_ACTIONS[do]
                if state == "active":
                    msg = None
                else:
                    msg = message or ACCOUNT_MESSAGES[STATE_CAUSE[state]][0]
                self._account_event(account.uid, at, state, msg)
                return []
            if do == "post":
                account = self._account(None if account_id is None else str(account_id))
                return [
                    str(self._create_explicit_post(account.uid, at + timedelta(seconds=i), sensitive))
                    for i in range(count)
                ]
            raise ValueError(f"unknown action {do!r}")

    def _apply_post_action(self, post: Post, at: datetime, do: str, message: str | None) -> None:
        cause = POST_ACTIONS[do]
        if do == "restore":
            self._post_event(post, at, "restore")
            return
        defaults = {
            "censor_complaints": COMPLAINTS,
            "censor_rules": RULES,
            "restrict": PRIVACY,
            "restrict_halfyear": HALF_YEAR,
            "unknown": self.scenario.unknown.message,
        }
        text = message or defaults.get(do) or POST_MESSAGES[cause or ""][0]
        self._post_event(post, at, "restrict" if cause == "restricted" else "remove", cause, text)

    def _create_explicit_post(self, uid: str, created: datetime, sensitive: bool) -> int:
        created = _floor_second(created)
        second = int(created.timestamp())
        seq = max(self._used_seqs.get(second, 0), EXPLICIT_SEQ_BASE)
        self._used_seqs[second] = seq + 1
        mid = MID_BASE + second * MID_PER_SECOND + seq
        rng = _rng(self.scenario.seed, "explicit_text", mid)
        draft = self._make_post(rng, uid, created, sensitive=sensitive, long=False)
        self._add_post(Post(mid=mid, **draft))
        return mid

    # ----------------------------------------------------------------- state at an instant

    def account_state(self, uid: str, at: datetime) -> Visibility:
        """The account's state at `at` (`kind` active/suspended/closed/locked)."""
        state = Visibility("active")
        for event in self.accounts[uid].events:
            if event.at > at:
                break
            state = Visibility(event.state, STATE_CAUSE.get(event.state), event.message, event.at, event.seq)
        return state

    def _exists(self, post: Post, at: datetime) -> bool:
        return post.created_at <= at and self.account_state(post.uid, post.created_at).kind == "active"

    def _own_state(self, post: Post, at: datetime) -> Visibility:
        state = Visibility(VISIBLE, since=post.created_at)
        for event in post.events:
            if event.at > at:
                break
            if event.action == "remove":
                state = Visibility(REMOVED, event.cause, event.message, event.at, event.seq)
            elif event.action == "restrict" and state.kind != REMOVED:
                state = Visibility(RESTRICTED, event.cause, event.message, event.at, event.seq)
            elif event.action == "restore" and (event.of_seq is None or event.of_seq == state.seq):
                state = Visibility(VISIBLE, since=event.at)
        return state

    def _effective(self, post: Post, at: datetime) -> Visibility:
        own = self._own_state(post, at)
        account = self.account_state(post.uid, at)
        if account.kind == "active":
            return own
        if (
            own.kind == REMOVED
            and own.since is not None
            and account.since is not None
            and own.since <= account.since
        ):
            return own
        return Visibility(ACCOUNT, account.cause, account.message, account.since, account.seq)

    # ----------------------------------------------------------------- queries

    def timeline(self, uid: str, page: int, at: datetime, containerid: str | None = None) -> dict[str, Any]:
        """The getIndex envelope for one account's page `page` (1-based) as seen at `at`."""
        at = as_utc(at)
        uid = str(uid)
        containerid = containerid or f"107603{uid}"
        with self._lock:
            account = self.accounts.get(uid)
            if account is None or self.account_state(uid, at).kind != "active":
                return _nothing_here()
            existing = [self.posts[m] for m in reversed(account.posts) if self._exists(self.posts[m], at)]
            states = {p.mid: self._own_state(p, at) for p in existing}
            pinned = self.posts.get(account.pinned) if account.pinned else None
            show_pinned = pinned is not None and states.get(pinned.mid, _HIDDEN).kind == VISIBLE
            slots = [p for p in existing if p.mid != account.pinned and states[p.mid].kind != REMOVED]
            page = max(1, page)
            chunk = slots[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            if not chunk and not (page == 1 and show_pinned):
                return _nothing_here()
            visible_count = sum(1 for p in existing if states[p.mid].kind == VISIBLE)
            statuses = len(existing)
            cards = []
            if page == 1 and show_pinned and pinned is not None:
                cards.append(
                    post_card(
                        mblog_json(pinned, account, at, full=False, statuses_count=statuses),
                        containerid,
                        pinned=True,
                    )
                )
            for post in chunk:
                if states[post.mid].kind != VISIBLE:
                    continue  # restricted: holds its slot, never shown
                card = post_card(
                    mblog_json(post, account, at, full=False, statuses_count=statuses), containerid
                )
                if post.wrapped:
                    card = {"card_type": 11, "card_group": [card], "show_type": 0}
                cards.append(card)
            return {
                "ok": 1,
                "data": {
                    "cardlistInfo": {
                        "containerid": containerid,
                        "v_p": 42,
                        "show_style": 1,
                        "total": visible_count,
                        "page": page + 1,
                    },
                    "cards": cards,
                    "scheme": "",
                    "showAppTips": 0,
                },
            }

    def status(self, post_id: str | int, at: datetime) -> dict[str, Any]:
        """The /statuses/show answer for a mid (or bid) at `at`."""
        at = as_utc(at)
        mid = _parse_post_id(str(post_id))
        with self._lock:
            post = self.posts.get(mid) if mid is not None else None
            if post is None or not self._exists(post, at):
                return _not_visible(NOT_FOUND)
            state = self._effective(post, at)
            if state.kind != VISIBLE:
                return _not_visible(state.message or NOT_FOUND)
            account = self.accounts[post.uid]
            statuses = sum(1 for m in account.posts if self._exists(self.posts[m], at))
            return {"ok": 1, "data": mblog_json(post, account, at, full=True, statuses_count=statuses)}

    def truth(self, at: datetime) -> dict[str, Any]:
        """Ground truth up to `at`: every existing post's latest removal and restoration."""
        at = as_utc(at)
        with self._lock:
            posts = []
            for mid in sorted(self.posts):
                post = self.posts[mid]
                if not self._exists(post, at):
                    continue
                posts.append(self._post_truth(post, at))
            accounts = []
            for uid, account in self.accounts.items():
                state = self.account_state(uid, at)
                accounts.append(
                    {
                        "account_id": uid,
                        "screen_name": account.screen_name,
                        "state": state.kind,
                        "state_changed_at": iso(state.since) if state.since else None,
                    }
                )
            return {"now": iso(at), "posts": posts, "accounts": accounts}

    def _post_truth(self, post: Post, at: datetime) -> dict[str, Any]:
        moments = {post.created_at}
        moments.update(e.at for e in post.events if post.created_at <= e.at <= at)
        moments.update(e.at for e in self.accounts[post.uid].events if post.created_at <= e.at <= at)
        removal: tuple[datetime, str | None, str | None] | None = None
        restored: datetime | None = None
        previous: tuple[str | None, str | None] | None = None  # None = visible
        for moment in sorted(moments):
            state = self._effective(post, moment)
            current = None if state.kind == VISIBLE else (state.cause, state.message)
            if current is not None and current != previous:
                removal, restored = (moment, state.cause, state.message), None
            elif current is None and previous is not None:
                restored = moment
            previous = current
        return {
            "post_id": str(post.mid),
            "account_id": post.uid,
            "created_at": iso(post.created_at),
            "removed_at": iso(removal[0]) if removal else None,
            "restored_at": iso(restored) if restored else None,
            "cause": removal[1] if removal else None,
            "message": removal[2] if removal else None,
        }

    def account_posts(self, uid: str, at: datetime) -> list[str]:
        """Ids of the account's posts existing at `at`, newest first (for tests and tools)."""
        at = as_utc(at)
        with self._lock:
            account = self._account(uid)
            return [str(m) for m in reversed(account.posts) if self._exists(self.posts[m], at)]


def _parse_post_id(value: str) -> int | None:
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        return bid_to_mid(value)
    except ValueError:
        return None


def _nothing_here() -> dict[str, Any]:
    return {"ok": 0, "msg": NOTHING_HERE, "data": {"cards": []}}


def _not_visible(message: str) -> dict[str, Any]:
    return {"ok": 0, "errno": NOT_VISIBLE_ERRNO, "msg": message}


__all__ = ["World", "Account", "Post", "PostEvent", "AccountEvent", "Visibility"]
