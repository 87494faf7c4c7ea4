"""The one outcome vocabulary for removals.

Every table, export and figure uses exactly these strings. `unknown` means the platform answered
with words we do not recognise: the words are kept, the reason is never guessed.
"""

from enum import StrEnum


class Reason(StrEnum):
    AUTHOR_DELETED = "author_deleted"
    PLATFORM_REMOVED = "platform_removed"
    REMOVED_UNATTRIBUTED = "removed_unattributed"
    RESTRICTED = "restricted"
    ACCOUNT_SUSPENDED = "account_suspended"
    ACCOUNT_CLOSED = "account_closed"
    ACCOUNT_LOCKED = "account_locked"
    UNKNOWN = "unknown"


REASON_DESCRIPTIONS: dict[str, str] = {
    Reason.AUTHOR_DELETED: "The platform says the author deleted the post.",
    Reason.PLATFORM_REMOVED: "The platform says it removed the post (rules, complaints, moderation).",
    Reason.REMOVED_UNATTRIBUTED: "The platform says the post is gone without saying who removed it.",
    Reason.RESTRICTED: "The post exists but is hidden from the public (privacy or visibility "
    "settings, review). Not a deletion.",
    Reason.ACCOUNT_SUSPENDED: "The author's account was suspended by the platform.",
    Reason.ACCOUNT_CLOSED: "The author's account was closed (by the user, or agent not stated).",
    Reason.ACCOUNT_LOCKED: "The author's account is locked pending verification.",
    Reason.UNKNOWN: "The platform answered with words memoryhole does not recognise; the exact "
    "words are kept in `message`.",
}

REASONS: tuple[str, ...] = tuple(r.value for r in Reason)
