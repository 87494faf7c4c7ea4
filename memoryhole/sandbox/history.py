"""The simulated world's records: accounts, posts, their events and edits, and the constants of
ids and pages. Plain data; the World (world.py) generates, schedules and reads them."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import datetime

from .scenario import Scenario

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


HIDDEN = Visibility(REMOVED)


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


def seeded_rng(seed: int, *parts: object) -> random.Random:
    """An independent, process-stable random stream for one concern and object."""
    return random.Random(":".join([str(seed), *map(str, parts)]))


def cdf_sample(rng: random.Random, points: tuple[tuple[float, float], ...]) -> float:
    """Sample a delay from a piecewise-linear cumulative distribution (piecewise-uniform density)."""
    u = rng.random()
    for (d0, c0), (d1, c1) in zip(points, points[1:], strict=False):
        if u <= c1 and c1 > c0:
            return d0 + (d1 - d0) * max(0.0, u - c0) / (c1 - c0)
    return points[-1][0]


def floor_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


class WorldRecords:
    """The history every part of the World reads and writes (filled by World.__init__)."""

    scenario: Scenario
    start: datetime
    end: datetime
    accounts: dict[str, Account]
    posts: dict[int, Post]
    _seq: int
    _used_seqs: dict[int, int]
    _lock: threading.RLock
