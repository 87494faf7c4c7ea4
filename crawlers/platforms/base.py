"""The platform adapter contract.

An adapter knows one platform's URLs, words and shapes; it never fetches. Spiders fetch, adapters
parse: the `parse_*` methods are pure functions of (HTTP status, raw body bytes, fetch time), so
the same code runs on live responses, recorded fixtures and archived evidence.

Two kinds of watch, one lifecycle (first_seen → missing → removed | visible → confirmed →
restored), one set of tables:

- a **listing** watch (`ListingAdapter`: a Weibo account, a Telegram channel, a Bilibili uploader,
  later a feed) pages through a source that lists items newest first. Only items inside the part of the
  listing a crawl covered can be missing (the differ's windows, over the adapter's order key).
- an **item** watch (`ItemAdapter`: WeChat articles, Youku videos, a news article) has no listing
  the public can page through: the plan names the items, and each is probed on the plan's
  schedule. A probe that says gone is a removal (through the same candidates, probes, removals,
  evidence and re-probes); a probe that fails is nothing; no window is faked. An item's first
  visible probe is its first sighting (its versioned fields and text are kept, so a removed item
  can still be read). A listing platform may watch named items too (`item_watch = True` and an
  `item_id`: Bilibili's uploaders are listed, and a video can be watched alone); its plans then
  have `items:` watchlists beside `accounts:` ones, feeding the same posts.

What an adapter declares (class attributes), so that no file in corpus/ or analysis/ names a
platform:

- `name`, `default_base_url`, `watch` ("listing" | "item");
- `order_key`: what `PostRecord.order_key` is made of — "id" (a time-ordered id: Weibo's mid,
  Telegram's message id) or "timestamp" (the creation time in UTC epoch milliseconds, where the
  platform has no time-ordered id); a listing's windows are ranges of it;
- `versioned_fields`: the PostRecord fields (or `extra` keys) whose change makes a new version;
- `created_at_resolution`: how exact `created_at` is, as rules (age at first sighting below which,
  resolution in seconds), the last rule's age None; required: analysis refuses a platform that
  declares none rather than assume exact times;
- `extra_columns`: platform-only fields of a post (`PostRecord.extra`), each with a description
  (shown in Datasette) and the release's column policy for it;
- `status_failures` / `failure_descriptions`: HTTP statuses and failure names only this platform
  uses (the generic ones are in memoryhole.crawlers.failures);
- `messages_file`: the platform's words (a YAML signature file beside the adapter, each entry
  backed by a recorded fixture), read with `load_signatures`; entries marked `unconfirmed`
  classify as `unknown` and are listed in the declaration (`unconfirmed_words`);
- listings: `account_id` (what an account reference is: an id, a feed's URL) and `max_pages`;
- `plan_options` (the plan's `options:` the platform reads) and a visitor session
  (`session_request`/`parse_session`: Toutiao's ttwid) opened before a crawl's probes;
- `parse_probe_response`, where the URL an answer came from after redirects is itself part of
  the answer (a news article redirected to its site's home page).
  backed by a recorded fixture), read with `load_signatures`;
- `gate_failures`: this platform's failure names that mean "the platform is blocking us" (a
  cool-down, crawlers/cooldown.py; the generic ones are `failures.GATE`); `visitor_flow`: the
  name of the visitor-session flow the platform offers anonymous clients (crawlers/sessions.py),
  or None.

To add a platform: subclass `ListingAdapter` or `ItemAdapter` in crawlers/platforms/<name>.py, ship
its messages beside it, and register it in `memoryhole.crawlers.platforms.ADAPTERS`. Spiders, plans, the
corpus's platform record, analysis and releases follow from the declaration (README: "Adding a
platform").
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, ClassVar, Literal

import yaml

WatchKind = Literal["listing", "item"]
OrderKeyKind = Literal["id", "timestamp"]
# What a release does with an extra column (memoryhole.release's column policies): `drop` (never
# published), `post` (another id of the post: pseudonymised like post_id, and looked for in
# text), `account` (an account id), `screen_name`, `text` (published, redacted), `free` (short
# text, redacted), `keep` (published as is: no identifying content).
ReleasePolicy = Literal["drop", "post", "account", "screen_name", "text", "free", "keep"]
# (age at first sighting below which, resolution in seconds), in order; the last age is None.
ResolutionRules = tuple[tuple[float | None, float], ...]
ExtraValue = str | int | float | bool | None


@dataclass(frozen=True)
class ExtraColumn:
    """A platform-only field of a post, stored in `posts.extra` (JSON) under `name`."""

    name: str
    description: str
    release: ReleasePolicy = "drop"
    # Another written form of the post's id (Weibo's bid): wherever text shows it, a release
    # replaces it with the post's pseudonym, and the leak scan looks for it.
    post_alias: bool = False


@dataclass(frozen=True)
class Tombstone:
    """An original post's removal, as a repost shows it (the original itself is gone)."""

    post_id: str
    reason: str
    message: str


@dataclass(frozen=True)
class PostRecord:
    """One post (or item) as a listing page or a probe showed it."""

    platform: str
    post_id: str                   # the platform's id, as text (digits, codes, channel/id)
    account_id: str                # who published it ('' when the platform does not say)
    order_key: int                 # sorts posts by time within an account (adapter.order_key)
    created_at: datetime | None    # None when the platform's date could not be read
    text: str
    screen_name: str | None = None
    url: str | None = None
    text_truncated: bool = False   # the listing cut the text; adapter.long_text_url has it all
    pinned: bool = False
    edit_count: int | None = None
    repost_of: PostRecord | None = None          # the original, intact, inside this repost
    original_tombstone: Tombstone | None = None  # ... or the original's tombstone
    # (earliest, latest) possible creation time, from the form of the platform's date
    created_interval: tuple[datetime, datetime] | None = None
    # Platform-only fields, by the names the adapter's `extra_columns` declare.
    extra: Mapping[str, ExtraValue] = field(default_factory=dict, compare=False)

    def versioned(self, fields: tuple[str, ...] = ("text", "edit_count")) -> dict[str, object]:
        """The fields whose change makes a new version (counts of likes etc. are not content):
        PostRecord attributes or `extra` keys, by name (the adapter's `versioned_fields`)."""
        return {name: getattr(self, name) if name in _RECORD_FIELDS else self.extra.get(name)
                for name in fields}


_RECORD_FIELDS = frozenset(PostRecord.__dataclass_fields__) - {"extra"}


def timestamp_order_key(created_at: datetime) -> int:
    """The order key of a platform without time-ordered ids (`order_key = "timestamp"`): the
    creation time in UTC epoch milliseconds."""
    return int(created_at.timestamp() * 1000)


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


@dataclass(frozen=True)
class SessionRequest:
    """A request that opens a visitor session before a crawl's first fetch (Toutiao's ttwid);
    the cookies its answer grants (`PlatformAdapter.parse_session`) go with every request."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


# --- the platform's words --------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One entry of a messages file: words matched as a substring, and what they mean."""

    words: str
    reason: str | None = None     # memoryhole.corpus.reasons, for words that say an item is not visible
    failure: str | None = None    # memoryhole.crawlers.failures, for words that are not an observation
    note: str | None = None
    # Words no recorded real answer confirms yet: they classify as `unknown` (reason must say so)
    # and the platform's declaration lists them as unconfirmed (shown in Datasette).
    unconfirmed: bool = False

    @property
    def confirmed(self) -> bool:
        return not self.unconfirmed


@dataclass(frozen=True)
class Signatures:
    """A platform's words as shipped in its messages file; tables by section name, in file order.

    Sections every adapter may use: `not_observations` (captcha, rate limit, login wall: failures,
    never removals), `post_messages` (an item not visible, with its reason), `account_messages`
    (the publisher's account gone), `listing_end` (a listing saying there is nothing more; Weibo's
    file calls it `timeline_end`). An adapter may add its own sections.
    """

    version: int
    tables: Mapping[str, tuple[Signature, ...]]

    def table(self, name: str) -> tuple[Signature, ...]:
        return self.tables.get(name, ())

    def match(self, table: tuple[Signature, ...] | str, message: str) -> Signature | None:
        """The first entry of `table` whose words are in `message`."""
        rows = self.table(table) if isinstance(table, str) else table
        return next((sig for sig in rows if sig.words in message), None)

    def exact(self, table: str, key: str) -> Signature | None:
        """The entry of `table` whose words are exactly `key`: for platforms that answer with
        codes (`-404` must not match `-4`), written as the adapter spells its keys."""
        return next((sig for sig in self.table(table) if sig.words == key), None)

    def rows(self) -> list[dict[str, Any]]:
        """Every entry with its section, as the corpus records it (the declaration's
        `signatures`, published in Datasette as `platform_signatures`)."""
        return [{"section": section, "words": sig.words, "reason": sig.reason,
                 "failure": sig.failure, "confirmed": sig.confirmed, "note": sig.note}
                for section, table in self.tables.items() for sig in table]

    # Weibo's sections by attribute, as its parser has always read them.
    @property
    def not_observations(self) -> tuple[Signature, ...]:
        return self.table("not_observations")

    @property
    def post_messages(self) -> tuple[Signature, ...]:
        return self.table("post_messages")

    @property
    def account_messages(self) -> tuple[Signature, ...]:
        return self.table("account_messages")

    @property
    def timeline_end(self) -> tuple[Signature, ...]:
        return self.table("timeline_end") or self.table("listing_end")


# libyaml's safe loader where PyYAML was built with it: every crawl reads its platform's messages
# file at start, ~10x faster than the pure-Python loader (the same tables: tests/test_messages.py).
MESSAGES_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def load_signatures(package: str, filename: str, known_failures: frozenset[str] | None = None
                    ) -> Signatures:
    """Read a messages file shipped in `package`; every reason and failure must be known (a typo
    in a data file must not turn a removal into `unknown` or a captcha into a removal)."""
    from memoryhole.corpus.reasons import REASONS

    from .. import failures

    known = failures.FAILURES if known_failures is None else known_failures
    raw = yaml.load(resources.files(package).joinpath(filename).read_text("utf-8"),
                    Loader=MESSAGES_LOADER)
    tables: dict[str, tuple[Signature, ...]] = {}
    for key, rows in raw.items():
        if key == "version":
            continue
        table = tuple(Signature(str(r["words"]), r.get("reason"), r.get("failure"), r.get("note"),
                                bool(r.get("unconfirmed", False)))
                      for r in rows or [])
        for row in table:
            if row.reason is not None and row.reason not in REASONS:
                raise ValueError(f"{filename}: {key}: unknown reason {row.reason!r}")
            if row.failure is not None and row.failure not in known:
                raise ValueError(f"{filename}: {key}: unknown failure {row.failure!r}")
            if not row.confirmed and row.reason not in (None, "unknown"):
                raise ValueError(f"{filename}: {key}: {row.words!r} is unconfirmed, so its "
                                 f"reason must be unknown until a recorded answer confirms it "
                                 f"(got {row.reason!r})")
        tables[key] = table
    return Signatures(version=raw["version"], tables=tables)


# --- adapters ---------------------------------------------------------------------------------


class PlatformAdapter(ABC):
    """One platform: where its items are, and how to read its answers. See the module docstring
    for what a subclass declares."""

    name: ClassVar[str]
    default_base_url: ClassVar[str]
    watch: ClassVar[WatchKind]
    order_key: ClassVar[OrderKeyKind] = "id"
    versioned_fields: ClassVar[tuple[str, ...]] = ("text", "edit_count")
    created_at_resolution: ClassVar[ResolutionRules]
    extra_columns: ClassVar[tuple[ExtraColumn, ...]] = ()
    status_failures: ClassVar[Mapping[int, str]] = {}      # HTTP status -> failure name
    failure_descriptions: ClassVar[Mapping[str, str]] = {}  # this platform's own failure names
    messages_file: ClassVar[str | None] = None              # beside the adapter's module
    # The plan's `options:` this platform reads, name -> what it does (README, plan errors).
    plan_options: ClassVar[Mapping[str, str]] = {}
    # Whether plans may name single items to probe on a schedule (`item_id`): every item
    # watch, and a listing platform whose items can also be watched alone (Bilibili's videos).
    item_watch: ClassVar[bool] = False
    gate_failures: ClassVar[frozenset[str]] = frozenset()   # own failures that mean blocked
    visitor_flow: ClassVar[str | None] = None                # crawlers/sessions.py FLOWS

    @abstractmethod
    def probe_url(self, base_url: str, post_id: str) -> str:
        """URL that answers whether a single post (item) is visible, and if not, why."""

    @abstractmethod
    def parse_probe(self, status: int, body: bytes, fetched_at: datetime) -> ProbeResult:
        """Read a probe response. Pure: no I/O, no clock. A `visible` result carries the post
        (`post`) whenever the answer shows it: for an item watch that is the sighting."""

    def parse_probe_response(self, status: int, body: bytes, fetched_at: datetime, *,
                             url: str, asked_url: str) -> ProbeResult:
        """What the probe spider calls: the answer together with where it came from (`url`,
        after redirects) and what was asked (`asked_url`). Pure. Platforms for which a redirect
        is itself an answer (a news site sending a removed article's reader to its home page)
        override it; the default reads the answer alone."""
        return self.parse_probe(status, body, fetched_at)

    # Optional capabilities: a platform without them returns None from the URL methods.

    def check_options(self, options: Mapping[str, Any]) -> None:
        """ValueError (naming the option) for a plan's `options:` this platform cannot use."""
        unknown = sorted(set(options) - set(self.plan_options))
        if unknown:
            known = ", ".join(sorted(self.plan_options)) or "none"
            raise ValueError(f"{unknown[0]}: not an option of {self.name} (its options: {known})")

    def session_request(self, base_url: str, options: Mapping[str, Any]) -> SessionRequest | None:
        """The request that opens a visitor session before a crawl (None: the platform needs
        none, or the plan's options do not ask for one)."""
        return None

    def parse_session(self, status: int, headers: Mapping[str, list[str]],
                      body: bytes) -> dict[str, str] | None:
        """The cookies a session answer grants, by name; None when it granted none. Pure."""
        return None

    def long_text_url(self, base_url: str, post_id: str) -> str | None:
        """URL of a truncated post's whole text."""
        return None

    def parse_long_text(self, status: int, body: bytes, fetched_at: datetime) -> LongTextResult:
        raise NotImplementedError

    def signatures(self) -> Signatures:
        """The platform's words (its `messages_file`)."""
        if self.messages_file is None:
            raise NotImplementedError(f"{self.name}: no messages_file declared")
        return load_signatures(type(self).__module__.rsplit(".", 1)[0], self.messages_file,
                               frozenset(failure_names(type(self))))

    def failure_for_status(self, status: int) -> str | None:
        """The failure an HTTP status means on this platform, or None for 200."""
        from .. import failures

        if status in self.status_failures:
            return self.status_failures[status]
        return failures.failure_for_status(status)

    def is_gate_failure(self, failure: str | None) -> bool:
        """Whether a failure means the platform is blocking this client (a cool-down)."""
        from .. import failures

        return failure in failures.GATE or failure in self.gate_failures

    @classmethod
    def declaration(cls) -> dict[str, Any]:
        """What the corpus records about the platform (table `platforms`), so that analysis and
        releases read the declaration from the corpus, never from crawler code."""
        return {
            "platform": cls.name, "watch": cls.watch, "order_key": cls.order_key,
            "versioned_fields": list(cls.versioned_fields),
            "created_at_resolution": [list(rule) for rule in cls.created_at_resolution],
            "extra_columns": [{"name": c.name, "description": c.description,
                               "release": c.release, "post_alias": c.post_alias}
                              for c in cls.extra_columns],
            "failures": dict(cls.failure_descriptions),
            # Only platforms with words no recorded answer confirms carry the key (Datasette
            # shows them on removals.message; their removals are `unknown`).
            **({"unconfirmed_words": words} if (words := cls.unconfirmed_words()) else {}),
            # The platform's words and what each means, confirmed or not (platform_signatures).
            "signatures": cls().signatures().rows() if cls.messages_file else [],
        }

    @classmethod
    def unconfirmed_words(cls) -> list[dict[str, str]]:
        """The messages file's entries marked unconfirmed: section, words, what they would mean."""
        if cls.messages_file is None:
            return []
        sigs = cls().signatures()
        return [{"section": section, "words": sig.words,
                 "means": sig.reason or sig.failure or "", "note": sig.note or ""}
                for section, rows in sigs.tables.items() for sig in rows if sig.unconfirmed]


class ListingAdapter(PlatformAdapter):
    """A source that lists items newest first, in pages (see the module docstring)."""

    watch: ClassVar[WatchKind] = "listing"
    max_pages: ClassVar[int | None] = None   # a listing of one page (a feed) says 1

    def account_id(self, ref: str) -> str:
        """The stable account_id of a listing the plan names (an account id; a feed's URL);
        ValueError (naming what is wrong) for anything else. Idempotent. The default: letters,
        digits and `_`, as Weibo's and Telegram's ids are."""
        text = ref.strip()
        if not re.fullmatch(r"[0-9A-Za-z_]+", text):
            raise ValueError("an account id is letters, digits and _")
        return text

    @abstractmethod
    def timeline_url(self, base_url: str, account_id: str, page: int,
                     cursor: str | None = None, by_cursor: bool = False) -> str:
        """URL of page `page` (1-based) of an account's listing; with `by_cursor`, the
        cursor-paginated listing, page 1 or the page after `cursor`."""

    @abstractmethod
    def parse_timeline(self, status: int, body: bytes, fetched_at: datetime) -> TimelinePage:
        """Read a listing page. Pure: no I/O, no clock. `next_cursor` is what the next page is
        asked with, where the platform pages by cursor (Weibo's since_id, Telegram's before).
        A post whose `account_id` is '' (a feed's entry: the page does not name its publisher)
        belongs to the listing it was seen on."""

    def item_id(self, ref: str) -> str:
        """A listing platform that also watches named items (`item_watch = True`) implements
        this as `ItemAdapter.item_id` says; its plans then accept `items:` watchlists beside
        `accounts:` ones, and both feed the same posts."""
        raise NotImplementedError(f"{self.name} is watched through its listings only")

    def profile_url(self, base_url: str, account_id: str) -> str | None:
        """URL of the account's profile, asked when its listing suddenly shows nothing."""
        return None

    def parse_profile(self, status: int, body: bytes, fetched_at: datetime) -> ProfileResult:
        raise NotImplementedError


class ItemAdapter(PlatformAdapter):
    """Items named by the plan and probed on its schedule (see the module docstring)."""

    watch: ClassVar[WatchKind] = "item"
    item_watch: ClassVar[bool] = True

    @abstractmethod
    def item_id(self, ref: str) -> str:
        """The stable post_id of an item the plan names by URL or id; ValueError (naming what
        is wrong) for a reference that is not this platform's item. Idempotent (a recorded plan
        holds the ids and is read again by reparse). The probe asks
        `probe_url(base_url, item_id(ref))`; its visible answer's `post` is the sighting."""


def failure_names(adapter: type[PlatformAdapter]) -> tuple[str, ...]:
    """The failure names a platform may record: the generic ones and its own."""
    from .. import failures

    return (*failures.FAILURES, *adapter.failure_descriptions)

