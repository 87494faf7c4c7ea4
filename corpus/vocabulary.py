"""The corpus's other vocabularies: window statuses, candidate statuses and causes, post events
and account states, each one enum with its descriptions (as memoryhole.corpus.reasons is for reasons).

The differ and the store write exactly these strings (a test checks a sandbox corpus holds no
other value); the schema's comments point here; the
Datasette metadata (memoryhole.analysis.publish) and the release's datasheet (memoryhole.release)
describe each column from `VOCABULARIES`, so no description is copied anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .reasons import Reason


class WindowStatus(StrEnum):
    COVERED = "covered"
    EMPTY = "empty"
    UNCONFIRMED = "unconfirmed"
    FAILED = "failed"


class CandidateStatus(StrEnum):
    OPEN = "open"
    VISIBLE = "visible"
    REMOVED = "removed"
    SEEN_AGAIN = "seen_again"


class CandidateCause(StrEnum):
    WINDOW = "window"
    EMPTY_TIMELINE = "empty_timeline"
    UNCONFIRMED_EMPTY_TIMELINE = "unconfirmed_empty_timeline"
    TOMBSTONE = "tombstone"
    ACCOUNT_GONE = "account_gone"
    ITEM_PROBE = "item_probe"


class ProbePurpose(StrEnum):
    CLASSIFY = "classify"
    CONFIRM = "confirm"
    RECHECK = "recheck"
    WATCH = "watch"


class PostEvent(StrEnum):
    FIRST_SEEN = "first_seen"
    MISSING = "missing"
    SEEN_AGAIN = "seen_again"
    VISIBLE = "visible"
    REMOVED = "removed"
    CONFIRMED = "confirmed"
    REASON_CHANGED = "reason_changed"
    RESTORED = "restored"


class AccountState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"
    LOCKED = "locked"


# What each value means. One mapping per vocabulary: the same word (visible, removed,
# seen_again) means different things in different vocabularies.
WINDOW_STATUSES: dict[WindowStatus, str] = {
    WindowStatus.COVERED: "pages from page 1 on were read; a post seen before whose order key "
    "lies inside (from the oldest non-pinned post of the last good page up, or everything when "
    "the crawl reached the end of the timeline) and that is absent becomes a candidate.",
    WindowStatus.EMPTY: "page 1 said there is nothing here and the account's profile says the "
    "account is gone (or the platform has no profile): every live post becomes a candidate.",
    WindowStatus.UNCONFIRMED: "page 1 said there is nothing here and the profile could not tell "
    "whether the account exists: only the account's newest live post becomes a candidate, and "
    "its probe speaks for the account.",
    WindowStatus.FAILED: "page 1 failed, showed only pinned posts, or was empty while the profile "
    "says the account exists (a glitch): the window covers nothing and opens no candidate.",
}
CANDIDATE_STATUSES: dict[CandidateStatus, str] = {
    CandidateStatus.OPEN: "waiting for a probe.",
    CandidateStatus.VISIBLE: "a probe found the post visible.",
    CandidateStatus.REMOVED: "a probe got the platform to say the post is gone; a removal was "
    "recorded.",
    CandidateStatus.SEEN_AGAIN: "a later crawl saw the post again before any probe said it was "
    "gone.",
}
CANDIDATE_CAUSES: dict[CandidateCause, str] = {
    CandidateCause.WINDOW: "absent from a covered window.",
    CandidateCause.EMPTY_TIMELINE: "a live post of an account whose timeline was empty and whose "
    "profile says it is gone (an empty window).",
    CandidateCause.UNCONFIRMED_EMPTY_TIMELINE: "the newest live post of an account whose timeline "
    "was empty and whose profile could not tell (an unconfirmed window); its probe speaks for "
    "the account.",
    CandidateCause.TOMBSTONE: "a repost showed the original as removed (a tombstone).",
    CandidateCause.ACCOUNT_GONE: "a live post of an account a probe found suspended, closed or "
    "locked.",
    CandidateCause.ITEM_PROBE: "a watched item (item watches have no listing) whose scheduled "
    "probe said it is gone; that probe classifies it at once.",
}
PROBE_PURPOSES: dict[ProbePurpose, str] = {
    ProbePurpose.CLASSIFY: "asks why a candidate is missing.",
    ProbePurpose.CONFIRM: "asks again, after the plan's confirm delay, whether a removal holds.",
    ProbePurpose.RECHECK: "asks again later whether a removed post came back.",
    ProbePurpose.WATCH: "a watched item's scheduled probe (item watches): visible is a "
    "sighting, gone opens a candidate, a failure is nothing.",
}
POST_EVENTS: dict[PostEvent, str] = {
    PostEvent.FIRST_SEEN: "first sighted.",
    PostEvent.MISSING: "became a candidate; detail holds the candidate's cause.",
    PostEvent.SEEN_AGAIN: "a candidate was sighted again before a probe said it was gone.",
    PostEvent.VISIBLE: "a probe found a candidate visible.",
    PostEvent.REMOVED: "a probe got the platform to say the post is gone: a removal.",
    PostEvent.CONFIRMED: "a later probe (after the plan's confirm delay) agreed it is gone.",
    PostEvent.REASON_CHANGED: "a later probe gave another reason; detail holds its words.",
    PostEvent.RESTORED: "a removed post was seen again or probed visible.",
}
ACCOUNT_STATES: dict[AccountState, str] = {
    AccountState.ACTIVE: "the account's posts are shown.",
    AccountState.SUSPENDED: "the platform suspended the account.",
    AccountState.CLOSED: "the account was closed (by its user, or agent not stated).",
    AccountState.LOCKED: "the account is locked pending verification.",
}

# The account state a removal reason implies (a probe's answer about a post of a gone account).
ACCOUNT_STATE_OF_REASON: dict[str, str] = {
    Reason.ACCOUNT_SUSPENDED: AccountState.SUSPENDED,
    Reason.ACCOUNT_CLOSED: AccountState.CLOSED,
    Reason.ACCOUNT_LOCKED: AccountState.LOCKED,
}


@dataclass(frozen=True)
class Vocabulary:
    """A vocabulary (its values, in order, with their meanings) and the columns that hold it."""

    name: str
    descriptions: dict[str, str]
    columns: tuple[str, ...]          # "table.column"

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(str(value) for value in self.descriptions)

    def describe(self, value: str) -> str:
        return self.descriptions[value]

    def text(self) -> str:
        """Every value with its meaning, as one plain-text sentence list."""
        return " ".join(f"{value}: {meaning}" for value, meaning in self.descriptions.items())


VOCABULARIES: tuple[Vocabulary, ...] = (
    Vocabulary("window status", WINDOW_STATUSES, ("windows.status",)),
    Vocabulary("candidate status", CANDIDATE_STATUSES, ("candidates.status",)),
    Vocabulary("candidate cause", CANDIDATE_CAUSES, ("candidates.cause",)),
    Vocabulary("probe purpose", PROBE_PURPOSES, ("probes.purpose",)),
    Vocabulary("post event", POST_EVENTS, ("post_events.event",)),
    Vocabulary("account state", ACCOUNT_STATES, ("accounts.state", "account_events.state")),
    Vocabulary("state of a gone account",
               {state: ACCOUNT_STATES[state] for state in ACCOUNT_STATE_OF_REASON.values()},
               ("pages.account_state",)),
)


def vocabulary_of(table: str, column: str) -> Vocabulary | None:
    """The vocabulary a column holds, or None."""
    for vocabulary in VOCABULARIES:
        if f"{table}.{column}" in vocabulary.columns:
            return vocabulary
    return None
