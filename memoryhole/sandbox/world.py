"""The simulated platform's history, computed once from the seed; state at time t is a pure function.

Construction generates every account, post and event (removal, restriction, restoration, account
state change, repost, edit, glitch) for the whole scenario. Queries (`timeline`, `profile`,
`status`, `extend`, `truth`) only read that history at a given instant, so asking twice about the
same instant gives the same answer, and asking about the past replays it.

Rules worth knowing:

- Ids: mids are 16-digit integers, `MID_BASE + unix_second * 100_000 + seq`, so mid order is
  creation-time order across the whole world (creation times are whole seconds). Generated posts
  use seq < 50_000, explicitly created posts seq >= 50_000: adding events never renumbers posts.
- Randomness: one RNG stream per concern and per object (texts, arrivals, each kind of fate,
  restorations, reposts, edits, glitches, faults), seeded from text, so adding explicit events
  never changes generated history, and results are identical across processes. Turning reposts
  on (outside accounts, repost texts) does change the generated world; edits and glitches only
  add to it.
- Removal activity concentrates on recent posts: new posts and each account's 10 newest initial
  posts weigh 1, older posts 0.1. Shares stay shares of *all* posts (initial + new) in
  expectation. Removals of initial posts are timed from the world's start; nothing is removed
  before start except `restrict.initial_share` of initial posts (restricted before start, so
  short pages exist from the first crawl). Each generated post gets at most one fate (the earliest
  drawn), and censored/restricted posts may be restored later (`restore.share`).
- Timeline pages: 10 slots, newest first; the pinned post is extra on page 1. Restricted posts
  keep their slot but are not shown (short pages); removed posts leave the list. A share of
  generated posts (`card_group_share`) always arrives wrapped in a card_type 11 `card_group`.
- Explicitly created posts (`do: post`, `do: repost`) get no random fate and are never wrapped
  in card groups: only explicit events act on them.
- Accounts: while an account is suspended/closed/locked its timeline is `这里还没有内容`, its
  profile `{"ok": 0, "msg": <its words>}`, and its posts answer with the account message, unless
  the post itself was removed before the account changed state (then its own message). Posts are
  not created while the account is not active.
- Glitches (`glitch_empty`, `glitches.share`): for a while the account's timeline (every page,
  both containers) answers `这里还没有内容` although the account, its profile and its posts are fine.
- Cursor pages (`since_id`): the 230413 container, or any request with `since_id`. A page's
  `cardlistInfo.since_id` is the mid of its last (oldest) slot, and `since_id=X` answers the 10
  slots with mid strictly below X; so removals above X never shift later pages. Page 1 (no
  since_id) leads with the pinned post. The 230413 container ignores `page`.
- Reposts: a repost's `retweeted_status` is the original's mblog (list form in lists, detail form
  in /statuses/show) while visible, else a tombstone: `{"deleted": "1", "user": null, "state": 7
  (author) | 8 (platform: complaints *and* rules), "visible": {"type": 0}, "text": words +
  查看帮助：<a …>网页链接</a>, "id", "mid", "idstr"}`; unattributed/unknown removals have no
  `state`; restricted originals and originals hidden with their account carry neither `deleted`
  nor `state` (they are not deleted), only their words. The repost itself stays visible.
  Outside accounts (`reposts.outside_accounts`) live in `accounts` with `watched=False`.
- Edits: from an edit on, the post's text (lists, detail, extend) is the new one, `edit_count`
  counts the edits so far and `edit_at` is the latest one's absolute time; the mid stays.
- Ground truth (`truth`): for each post existing at `at`, the *latest* change that made it
  non-visible or changed why it is non-visible (removed_at, cause, message), and `restored_at`
  when it became visible again after that change; `history` lists every such change (removed_at,
  cause, message, restored_at), oldest first. An account state change counts as a removal of
  every post visible at that moment (cause account_suspended/closed/locked); lifting it restores
  them. Added keys: `text` (current plain text), `original_text`, `edits` [{at, text}] made by
  `at`, `long_text` (lists cut it), `repost_of` (mid or null), `watched`. Accounts carry
  `watched` and `glitches` [{from, until}] begun by `at`; the outside pool is listed under
  `outside_accounts`, not `accounts`.
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
from .render import (
    counts_json,
    extend_json,
    iso,
    mblog_json,
    post_card,
    profile_json,
    tombstone_json,
)
from .scenario import ACCOUNT_ACTIONS, POST_ACTIONS, EventSpec, Scenario

MID_BASE = 4_900_000_000_000_000
MID_PER_SECOND = 100_000
EXPLICIT_SEQ_BASE = 50_000
PAGE_SIZE = 10
RECENT_INITIAL = 10  # newest initial posts per account that carry full removal weight
DEEP_WEIGHT = 0.1
RECENT_ORIGINALS = 30  # a generated repost picks its original among this many recent originals
CONTAINER_PREFIXES = ("107603", "230413")
CURSOR_PREFIX = "230413"  # the newer container: paginated by since_id, never by page
TOMBSTONE_STATE = {"author_deleted": 7, "platform_removed": 8}

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


@dataclass(frozen=True)
class Edit:
    """The author's edit of a post: from `at` on, the post's text is `segments`."""

    at: datetime
    seq: int
    segments: tuple[tuple[str, ...], ...]


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
    watched: bool = True  # False: an outside account, whose posts appear only inside reposts
    glitches: list[tuple[datetime, datetime]] = field(default_factory=list)  # [from, until)


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
    repost_of: int | None = None  # the original's mid
    edits: list[Edit] = field(default_factory=list)


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
        # Account actions come first so that a generated repost never picks an original that its
        # suspended author never got to post (event seqs only order events of one object).
        self._generate_account_actions()
        self._generate_posts()
        self._generate_glitches()
        for event in scenario.events:
            self._apply_event_spec(event)

    # ----------------------------------------------------------------- generation

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _generate_accounts(self) -> None:
        seed = self.scenario.seed
        names: set[str] = set()
        outside = set(self.scenario.outside_account_ids)
        for uid in [*self.scenario.account_ids, *self.scenario.outside_account_ids]:
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
                watched=uid not in outside,
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
        for index, uid in enumerate([*sc.account_ids, *sc.outside_account_ids]):
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
        originals: dict[bool, list[Post]] = {True: [], False: []}  # by watched, creation order
        for created, _index, _k, uid, draft, weight, key, initial in drafts:
            second = int(created.timestamp())
            seq = self._used_seqs.get(second, 0)
            self._used_seqs[second] = seq + 1
            repost_of = None
            if sc.reposts.share > 0 and self.accounts[uid].watched:
                repost_of, draft = self._maybe_repost(key, uid, created, draft, originals)
            post = Post(mid=MID_BASE + second * MID_PER_SECOND + seq, **draft, repost_of=repost_of)
            post.wrapped = _rng(seed, "card_group", key).random() < sc.card_group_share
            self._add_post(post)
            placed.append((post, weight, key, initial))
            if repost_of is None:
                originals[self.accounts[uid].watched].append(post)
        self._choose_pinned()
        self._generate_fates(placed)
        self._generate_edits(placed)

    def _maybe_repost(
        self,
        key: str,
        uid: str,
        created: datetime,
        draft: dict[str, Any],
        originals: dict[bool, list[Post]],
    ) -> tuple[int | None, dict[str, Any]]:
        """Decide whether a generated post is a repost; if so pick its original and its text."""
        spec = self.scenario.reposts
        rng = _rng(self.scenario.seed, "repost", key)
        if rng.random() >= spec.share:
            return None, draft
        pools = (originals[False], originals[True])
        if rng.random() >= 0.5:
            pools = pools[::-1]
        for pool in pools:
            candidates = [
                p
                for p in pool[-RECENT_ORIGINALS:]
                if p.uid != uid
                and p.created_at < created
                and self.account_state(p.uid, p.created_at).kind == "active"
            ]
            if candidates:
                original = rng.choice(candidates)
                segments = textgen.repost_segments(rng, spec.comment_share)
                return original.mid, {
                    **draft,
                    "segments": segments,
                    "plain": textgen.plain_text(segments),
                    "pic_ids": (),
                    "sensitive": False,
                }
        return None, draft

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

    def _generate_edits(self, placed: list[tuple[Post, float, str, bool]]) -> None:
        """`edits.share` of generated posts get one edit, unless removed/restricted before it."""
        spec, seed = self.scenario.edits, self.scenario.seed
        if spec.share <= 0:
            return
        for post, _weight, key, _initial in placed:
            rng = _rng(seed, "edit", key)
            if rng.random() >= spec.share:
                continue
            base = max(post.created_at, self.start)
            at = base + timedelta(seconds=rng.uniform(spec.delay.min, spec.delay.max))
            if any(event.at <= at for event in post.events):
                continue
            self._add_edit(post, at, textgen.edited_segments(rng, post.segments))

    def _generate_glitches(self) -> None:
        """`glitches.share` of watched accounts answer an empty timeline once, for a while."""
        spec, sc = self.scenario.glitches, self.scenario
        if spec.share <= 0:
            return
        for uid in sc.account_ids:
            rng = _rng(sc.seed, "glitch", uid)
            if rng.random() < spec.share:
                begin = self.start + timedelta(seconds=rng.uniform(0, sc.duration))
                self._add_glitch(uid, begin, spec.duration)

    def _add_edit(self, post: Post, at: datetime, segments: tuple[tuple[str, ...], ...]) -> None:
        edit = Edit(at, self._next_seq(), segments)
        bisect.insort(post.edits, edit, key=lambda e: (e.at, e.seq))

    def _add_glitch(self, uid: str, at: datetime, seconds: float) -> None:
        bisect.insort(self.accounts[uid].glitches, (at, at + timedelta(seconds=seconds)))

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
        post_id = None
        if spec.post is not None:
            post_id = spec.post.mid
            if post_id is None:
                post_id = self._nth_post(spec.post.account or "", spec.post.nth)
        self.schedule(
            at,
            spec.do,
            post_id=post_id,
            account_id=spec.account,
            count=spec.count,
            message=spec.message,
            sensitive=spec.sensitive,
            text=spec.text,
            duration=spec.duration,
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
        text: str | None = None,
        duration: float | timedelta | None = None,
    ) -> list[str]:
        """Add an explicit event at `at`; returns the ids of posts it creates (`post`, `repost`).

        Post actions (author_delete, censor_complaints, censor_rules, remove_unattributed,
        restrict, restrict_halfyear, unknown, restore, and `edit`) need `post_id`, or
        `account_id` + `nth` (0 = the account's newest post at start). Account actions (suspend,
        close, lock, unsuspend) and `post` (count posts, 1 s apart) need `account_id`. `message`
        picks one of the platform's variants (any text for `unknown`).

        - `edit`: from `at` the post's text is `text` (plain; None = the current text plus one
          sentence); `edit_count` and `edit_at` follow, the mid stays.
        - `repost`: `account_id` reposts `post_id` (an original, created by `at`) at `at`, with
          `text` as its comment (None = 转发微博); returns the repost's mid.
        - `glitch_empty`: `account_id`'s timeline answers 这里还没有内容 from `at` for `duration`
          (seconds or a timedelta; None = 60 s) although the account and its posts are fine.
        """
        at = as_utc(at)
        with self._lock:
            if do in POST_ACTIONS or do == "edit":
                if post_id is None:
                    if account_id is None or nth is None:
                        raise ValueError(f"{do} needs post_id, or account_id and nth")
                    post_id = self._nth_post(str(account_id), nth)
                post = self._post(post_id)
                if do == "edit":
                    self._explicit_edit(post, at, text)
                else:
                    self._apply_post_action(post, at, do, message)
                return []
            if do == "repost":
                account = self._account(None if account_id is None else str(account_id))
                if post_id is None:
                    raise ValueError("repost needs post_id (the original) and account_id (who reposts)")
                original = self._post(post_id)
                if original.repost_of is not None:
                    raise ValueError(f"post {original.mid} is itself a repost; repost its original")
                if original.created_at > at:
                    raise ValueError(f"post {original.mid} does not exist yet at {iso(at)}")
                return [str(self._create_explicit_post(account.uid, at, False, original.mid, text))]
            if do == "glitch_empty":
                account = self._account(None if account_id is None else str(account_id))
                if isinstance(duration, timedelta):
                    duration = duration.total_seconds()
                seconds = 60.0 if duration is None else float(duration)
                if seconds <= 0:
                    raise ValueError(f"glitch_empty needs a positive duration, got {duration!r}")
                self._add_glitch(account.uid, at, seconds)
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

    def _post(self, post_id: str | int) -> Post:
        post = self.posts.get(_parse_post_id(str(post_id)) or -1)
        if post is None:
            raise ValueError(f"unknown post {post_id!r}")
        return post

    def _explicit_edit(self, post: Post, at: datetime, text: str | None) -> None:
        if text is not None:
            segments = textgen.plain_segments(text)
        else:
            rng = _rng(self.scenario.seed, "explicit_edit", post.mid, iso(at))
            segments = textgen.edited_segments(rng, self._segments_at(post, at)[0])
        self._add_edit(post, at, segments)

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

    def _create_explicit_post(
        self,
        uid: str,
        created: datetime,
        sensitive: bool,
        repost_of: int | None = None,
        text: str | None = None,
    ) -> int:
        created = _floor_second(created)
        second = int(created.timestamp())
        seq = max(self._used_seqs.get(second, 0), EXPLICIT_SEQ_BASE)
        self._used_seqs[second] = seq + 1
        mid = MID_BASE + second * MID_PER_SECOND + seq
        rng = _rng(self.scenario.seed, "explicit_text", mid)
        draft = self._make_post(rng, uid, created, sensitive=sensitive, long=False)
        if repost_of is not None:
            segments = textgen.plain_segments(text or textgen.REPOST_DEFAULT)
            draft.update(segments=segments, plain=textgen.plain_text(segments), pic_ids=(), sensitive=False)
        self._add_post(Post(mid=mid, **draft, repost_of=repost_of))
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

    def _existing(self, account: Account, at: datetime) -> list[Post]:
        """The account's posts existing at `at`, newest first (bisect: mids follow creation time)."""
        limit = MID_BASE + (math.floor(at.timestamp()) + 1) * MID_PER_SECOND
        end = bisect.bisect_left(account.posts, limit)
        posts = self.posts
        if not account.events:  # never changed state: every post created by `at` exists
            return [posts[m] for m in reversed(account.posts[:end])]
        return [posts[m] for m in reversed(account.posts[:end]) if self._exists(posts[m], at)]

    def _segments_at(self, post: Post, at: datetime) -> tuple[tuple[tuple[str, ...], ...], list[Edit]]:
        """The post's text at `at` and the edits made by then."""
        done = [e for e in post.edits if e.at <= at]
        return (done[-1].segments if done else post.segments), done

    def _glitching(self, account: Account, at: datetime) -> bool:
        return any(begin <= at < until for begin, until in account.glitches)

    def _mblog(
        self, post: Post, at: datetime, *, full: bool, statuses_count: int | None = None
    ) -> dict[str, Any]:
        """The post's mblog at `at`, with its current text and, for a repost, its original."""
        account = self.accounts[post.uid]
        if statuses_count is None:
            statuses_count = len(self._existing(account, at))
        segments, edits = self._segments_at(post, at)
        mblog = mblog_json(
            post,
            account,
            at,
            full=full,
            statuses_count=statuses_count,
            segments=segments,
            edit_count=len(edits),
            edit_at=edits[-1].at if edits else None,
        )
        if post.repost_of is not None:
            mblog["retweeted_status"] = self._retweeted(post.repost_of, at, full)
        return mblog

    def _retweeted(self, mid: int, at: datetime, full: bool) -> dict[str, Any]:
        """A repost's `retweeted_status`: the original's mblog while visible, else its tombstone."""
        original = self.posts.get(mid)
        if original is None or not self._exists(original, at):
            return tombstone_json(mid, NOT_FOUND, deleted=True, state=None)
        state = self._effective(original, at)
        if state.kind == VISIBLE:
            return self._mblog(original, at, full=full)
        message = state.message or NOT_FOUND
        if state.kind == REMOVED:
            return tombstone_json(mid, message, deleted=True, state=TOMBSTONE_STATE.get(state.cause or ""))
        # Restricted, or hidden with its account: not deleted, so neither the flag nor a state.
        return tombstone_json(mid, message, deleted=False, state=None)

    # ----------------------------------------------------------------- queries

    def timeline(
        self,
        uid: str,
        page: int,
        at: datetime,
        containerid: str | None = None,
        *,
        since_id: int | None = None,
        cursor: bool | None = None,
    ) -> dict[str, Any]:
        """The getIndex envelope for one account's timeline as seen at `at`.

        Page mode (`containerid` 107603<uid>, no since_id): `page` is 1-based and
        `cardlistInfo.page` is the next page. Cursor mode (`cursor=True`; by default when
        `since_id` is given or the containerid starts with 230413, which ignores `page`): without
        `since_id` the first page, with it the 10 slots strictly older than `since_id`;
        `cardlistInfo.since_id` is the mid of the page's last (oldest) slot and there is no `page`.
        """
        at = as_utc(at)
        uid = str(uid)
        containerid = containerid or f"107603{uid}"
        if cursor is None:
            cursor = since_id is not None or containerid.startswith(CURSOR_PREFIX)
        with self._lock:
            account = self.accounts.get(uid)
            if account is None or self.account_state(uid, at).kind != "active":
                return _nothing_here()
            if self._glitching(account, at):
                return _nothing_here()
            existing = self._existing(account, at)
            states = {p.mid: self._own_state(p, at) for p in existing}
            pinned = self.posts.get(account.pinned) if account.pinned else None
            show_pinned = pinned is not None and states.get(pinned.mid, _HIDDEN).kind == VISIBLE
            slots = [p for p in existing if p.mid != account.pinned and states[p.mid].kind != REMOVED]
            if cursor:
                first = since_id is None
                begin = 0 if first else bisect.bisect_right(slots, -int(since_id or 0), key=lambda p: -p.mid)
                chunk = slots[begin : begin + PAGE_SIZE]
            else:
                page = max(1, page)
                first = page == 1
                chunk = slots[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            if not chunk and not (first and show_pinned):
                return _nothing_here()
            visible_count = sum(1 for p in existing if states[p.mid].kind == VISIBLE)
            statuses = len(existing)
            cards = []
            if first and show_pinned and pinned is not None:
                cards.append(
                    post_card(
                        self._mblog(pinned, at, full=False, statuses_count=statuses),
                        containerid,
                        pinned=True,
                    )
                )
            for post in chunk:
                if states[post.mid].kind != VISIBLE:
                    continue  # restricted: holds its slot, never shown
                card = post_card(self._mblog(post, at, full=False, statuses_count=statuses), containerid)
                if post.wrapped:
                    card = {"card_type": 11, "card_group": [card], "show_type": 0}
                cards.append(card)
            info: dict[str, Any] = {
                "containerid": containerid,
                "v_p": 42,
                "show_style": 1,
                "total": visible_count,
            }
            if cursor:
                last = chunk[-1] if chunk else pinned
                info["since_id"] = last.mid if last is not None else 0
            else:
                info["page"] = page + 1
            return {
                "ok": 1,
                "data": {"cardlistInfo": info, "cards": cards, "scheme": "", "showAppTips": 0},
            }

    def profile(self, uid: str, at: datetime) -> dict[str, Any]:
        """getIndex without containerid: `userInfo` + `tabsInfo` while the account is active,
        `{"ok": 0, "msg": <the account's words>}` while suspended/closed/locked (also during a
        glitch_empty: the profile stays ok:1 then)."""
        at = as_utc(at)
        uid = str(uid)
        with self._lock:
            account = self.accounts.get(uid)
            if account is None:
                return _nothing_here()
            state = self.account_state(uid, at)
            if state.kind != "active":
                return {"ok": 0, "msg": state.message or NOTHING_HERE}
            return profile_json(account, len(self._existing(account, at)))

    def _visible_post(self, post_id: str | int, at: datetime) -> tuple[Post | None, dict[str, Any] | None]:
        """(post, None) when the post is visible at `at`, else (None, the not-visible answer)."""
        mid = _parse_post_id(str(post_id))
        post = self.posts.get(mid) if mid is not None else None
        if post is None or not self._exists(post, at):
            return None, _not_visible(NOT_FOUND)
        state = self._effective(post, at)
        if state.kind != VISIBLE:
            return None, _not_visible(state.message or NOT_FOUND)
        return post, None

    def status(self, post_id: str | int, at: datetime) -> dict[str, Any]:
        """The /statuses/show answer for a mid (or bid) at `at`: the full text, isLongText false."""
        at = as_utc(at)
        with self._lock:
            post, answer = self._visible_post(post_id, at)
            if post is None:
                return answer or _not_visible(NOT_FOUND)
            return {"ok": 1, "data": self._mblog(post, at, full=True)}

    def extend(self, post_id: str | int, at: datetime) -> dict[str, Any]:
        """The /statuses/extend answer: `data.longTextContent` (the whole text as HTML) and the
        counts when visible; otherwise the same answer as /statuses/show."""
        at = as_utc(at)
        with self._lock:
            post, answer = self._visible_post(post_id, at)
            if post is None:
                return answer or _not_visible(NOT_FOUND)
            return extend_json(self._segments_at(post, at)[0], counts_json(post, at))

    def truth(self, at: datetime) -> dict[str, Any]:
        """Ground truth up to `at`: every existing post's latest removal and restoration, its text
        and edits; the watched accounts (`accounts`) and the outside pool (`outside_accounts`)."""
        at = as_utc(at)
        with self._lock:
            posts = []
            for mid in sorted(self.posts):
                post = self.posts[mid]
                if not self._exists(post, at):
                    continue
                posts.append(self._post_truth(post, at))
            accounts: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
            for uid, account in self.accounts.items():
                state = self.account_state(uid, at)
                accounts[account.watched].append(
                    {
                        "account_id": uid,
                        "screen_name": account.screen_name,
                        "state": state.kind,
                        "state_changed_at": iso(state.since) if state.since else None,
                        "watched": account.watched,
                        "glitches": [
                            {"from": iso(begin), "until": iso(until)}
                            for begin, until in account.glitches
                            if begin <= at
                        ],
                    }
                )
            return {
                "now": iso(at),
                "posts": posts,
                "accounts": accounts[True],
                "outside_accounts": accounts[False],
            }

    def _post_truth(self, post: Post, at: datetime) -> dict[str, Any]:
        moments = {post.created_at}
        moments.update(e.at for e in post.events if post.created_at <= e.at <= at)
        moments.update(e.at for e in self.accounts[post.uid].events if post.created_at <= e.at <= at)
        removal: tuple[datetime, str | None, str | None] | None = None
        restored: datetime | None = None
        previous: tuple[str | None, str | None] | None = None  # None = visible
        history: list[dict[str, Any]] = []   # every episode, oldest first
        for moment in sorted(moments):
            state = self._effective(post, moment)
            current = None if state.kind == VISIBLE else (state.cause, state.message)
            if current is not None and current != previous:
                removal, restored = (moment, state.cause, state.message), None
                history.append({"removed_at": iso(moment), "restored_at": None,
                                "cause": state.cause, "message": state.message})
            elif current is None and previous is not None:
                restored = moment
                history[-1]["restored_at"] = iso(moment)
            previous = current
        segments, edits = self._segments_at(post, at)
        text = textgen.plain_text(segments)
        return {
            "post_id": str(post.mid),
            "account_id": post.uid,
            "created_at": iso(post.created_at),
            "removed_at": iso(removal[0]) if removal else None,
            "restored_at": iso(restored) if restored else None,
            "cause": removal[1] if removal else None,
            "message": removal[2] if removal else None,
            "history": history,
            "text": text,
            "original_text": post.plain,
            "edits": [{"at": iso(e.at), "text": textgen.plain_text(e.segments)} for e in edits],
            "long_text": len(text) > textgen.LIST_TEXT_LIMIT,
            "repost_of": str(post.repost_of) if post.repost_of is not None else None,
            "watched": self.accounts[post.uid].watched,
        }

    def account_posts(self, uid: str, at: datetime) -> list[str]:
        """Ids of the account's posts existing at `at`, newest first (for tests and tools)."""
        at = as_utc(at)
        with self._lock:
            return [str(p.mid) for p in self._existing(self._account(uid), at)]


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


__all__ = ["World", "Account", "Post", "PostEvent", "AccountEvent", "Edit", "Visibility"]
