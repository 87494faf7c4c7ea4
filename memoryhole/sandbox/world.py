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

The World is assembled from cohesive parts, one module each: `history` (the records and their
constants), `generation` (the seeded history), `events` (explicit and scheduled events),
`state` (a post or account at an instant), `answers` (the platform's endpoints) and `truth` (the
ground truth).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from .answers import PlatformAnswers, nothing_here
from .clock import as_utc
from .events import ExplicitEvents
from .generation import Generation
from .history import (
    CONTAINER_PREFIXES,
    CURSOR_PREFIX,
    Account,
    AccountEvent,
    Edit,
    Post,
    PostEvent,
    Visibility,
    floor_second,
)
from .scenario import Scenario
from .state import StateAtInstant
from .truth import GroundTruth

__all__ = ["CONTAINER_PREFIXES", "CURSOR_PREFIX", "Account", "AccountEvent", "Edit", "Post", "PostEvent",
           "Visibility", "World", "nothing_here"]


class World(Generation, ExplicitEvents, StateAtInstant, PlatformAnswers, GroundTruth):
    """Every account, post and event of one scenario, queried at any instant."""

    def __init__(self, scenario: Scenario, start: datetime) -> None:
        self.scenario = scenario
        self.start = floor_second(as_utc(start))
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
