"""The platform adapter contract.

An adapter knows one platform's URLs and words; it never fetches. Spiders fetch, adapters parse:
`parse_timeline` and `parse_probe` are pure functions of (HTTP status, raw body bytes, fetch time),
so the same code runs on live responses, recorded fixtures and archived evidence.

To add a platform: subclass `PlatformAdapter`, ship its messages as a data file beside it, register
it in `memoryhole.crawlers.platforms.ADAPTERS`, and add recorded fixtures with one parser test per message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class Tombstone:
    """An original post's removal, as a repost shows it (the original itself is gone)."""

    post_id: str
    reason: str
    message: str


@dataclass(frozen=True)
class PostRecord:
    """One post as a timeline or probe response showed it."""

    platform: str
    post_id: str
    account_id: str
    order_key: int                 # sorts posts by time within the platform (Weibo: the mid)
    created_at: datetime | None    # None when the platform's date could not be read
    text: str
    screen_name: str | None = None
    bid: str | None = None
    url: str | None = None
    is_long_text: bool = False
    source: str | None = None
    pinned: bool = False
    edit_count: int | None = None
    repost_of: PostRecord | None = None          # the original, intact, inside this repost
    original_tombstone: Tombstone | None = None  # ... or the original's tombstone
    # (earliest, latest) possible creation time, from the form of the platform's date
    created_interval: tuple[datetime, datetime] | None = None

    def versioned(self) -> dict[str, object]:
        """The fields whose change makes a new version (counts of likes etc. are not content)."""
        return {"text": self.text, "edit_count": self.edit_count}


@dataclass(frozen=True)
class TimelinePage:
    """What one timeline page said.

    outcome: `posts` (a page of posts, possibly short), `end` (the platform says there is nothing
    more: past the last page, or an account with nothing to show), `failed` (not an observation).
    """

    outcome: Literal["posts", "end", "failed"]
    posts: tuple[PostRecord, ...] = ()
    failure: str | None = None
    detail: str | None = None
    next_cursor: str | None = None   # since_id for the next page, where the platform uses one


@dataclass(frozen=True)
class ProbeResult:
    """What a single-post probe said.

    outcome: `visible`, `removed` (with a reason from memoryhole.corpus.reasons and the platform's exact
    message) or `failed` (not an observation: never a removal).
    """

    outcome: Literal["visible", "removed", "failed"]
    reason: str | None = None
    message: str | None = None
    failure: str | None = None
    detail: str | None = None
    post: PostRecord | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ProfileResult:
    """What an account's profile said when its timeline came back empty.

    outcome: `exists` (the account is there: an empty timeline is then a glitch, not a removal),
    `gone` (with the account state and the platform's words), or `failed`.
    """

    outcome: Literal["exists", "gone", "failed"]
    state: str | None = None        # suspended | closed | locked (when gone)
    reason: str | None = None       # account_suspended | account_closed | account_locked | unknown
    message: str | None = None
    failure: str | None = None


@dataclass(frozen=True)
class LongTextResult:
    """A long post's whole text (`ok`), or why it could not be had."""

    outcome: Literal["ok", "removed", "failed"]
    text: str | None = None
    reason: str | None = None
    message: str | None = None
    failure: str | None = None


class PlatformAdapter(ABC):
    """One platform: where its timelines and posts are, and how to read its answers."""

    name: str
    default_base_url: str

    @abstractmethod
    def timeline_url(self, base_url: str, account_id: str, page: int,
                     cursor: str | None = None, by_cursor: bool = False) -> str:
        """URL of page `page` (1-based) of an account's timeline; with `by_cursor`, the
        cursor-paginated timeline, page 1 or the page after `cursor`."""

    @abstractmethod
    def probe_url(self, base_url: str, post_id: str) -> str:
        """URL that answers whether a single post is visible, and if not, why."""

    @abstractmethod
    def parse_timeline(self, status: int, body: bytes, fetched_at: datetime) -> TimelinePage:
        """Read a timeline response. Pure: no I/O, no clock."""

    @abstractmethod
    def parse_probe(self, status: int, body: bytes, fetched_at: datetime) -> ProbeResult:
        """Read a probe response. Pure: no I/O, no clock."""

    # Optional capabilities: a platform without them returns None from the URL methods.

    def profile_url(self, base_url: str, account_id: str) -> str | None:
        """URL of the account's profile, asked when its timeline suddenly shows nothing."""
        return None

    def parse_profile(self, status: int, body: bytes, fetched_at: datetime) -> ProfileResult:
        raise NotImplementedError

    def long_text_url(self, base_url: str, post_id: str) -> str | None:
        """URL of a truncated post's whole text."""
        return None

    def parse_long_text(self, status: int, body: bytes, fetched_at: datetime) -> LongTextResult:
        raise NotImplementedError
