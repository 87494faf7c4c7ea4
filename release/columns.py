"""The column policy: what a release does with each column (drop, pseudonymise, redact, keep),
and each column's Frictionless type."""

from __future__ import annotations

# Never published: raw evidence, local paths, request URLs (they embed account ids), cursors and
# order keys (they are post ids), hashes of raw content.
DROP_COLUMNS = frozenset({
    "url", "plan_path", "stats_json", "response_headers", "response_body", "order_key",
    "newest_key", "oldest_key", "cursor", "next_cursor", "content_hash", "text_sha256",
    "text_hash", "tokens",      # derived from raw text: recompute from the released text instead
    "worker_address",           # the campaign's own machines (distributed crawling)
})


# Tables derived word by word from raw text (identifiers split into words escape redaction), a
# distributed campaign's ingest bookkeeping (its keys embed account and post ids), the
# scheduler's working state (crawlers/cadence.py) and the search indexes' change log, which are
# not observations.
DROP_TABLES = frozenset({"post_tokens", "worker_receipts", "worker_exchanges",
                         "schedule_members", "schedule_folded", "schedule_ticks",
                         "schedule_watchlists",
                         # the search indexes' change log (memoryhole.analysis.post_changes):
                         # texts the indexes held and a post key, bookkeeping of `serve`
                         "posts_changed", "posts_changed_mark"})


KEEP_TEXT_COLUMNS = frozenset({"base_url"})


ACCOUNT_KEYS = frozenset({"account_id", "user_id"})


ACCOUNT_LIST_KEYS = frozenset({"accounts", "public_figures"})


POST_KEYS = frozenset({"post_id", "repost_of"})


# A post's platform-only fields (posts.extra, JSON): each key is released by the policy its
# platform's declaration gives it (corpus table `platforms`); a key nobody declared is dropped.
EXTRA_COLUMN = "extra"


SCREEN_NAME_KEYS = frozenset({"screen_name"})


TEXT_KEYS = frozenset({"text", "full_text", "raw_text"})


def column_policy(name: str, declared_type: str = "") -> str:
    """What a release does with a column: drop, account, post, screen_name, text, keep, free or
    extra.

    `free` text is redacted (URLs, @mentions, raw ids and names) and walked when it is JSON;
    `extra` (posts.extra) is JSON whose keys follow their platform's declared policies.
    """
    name = name.lower()
    if name == EXTRA_COLUMN:
        return "extra"
    if (name in DROP_COLUMNS or name.startswith("warc_") or name.endswith("_path")
            or (name.endswith("_url") and name not in KEEP_TEXT_COLUMNS)
            or "BLOB" in declared_type.upper()):
        return "drop"
    if name in KEEP_TEXT_COLUMNS:
        return "keep"
    if name in ACCOUNT_KEYS or name.endswith("_account_id"):
        return "account"
    if name in POST_KEYS or name.endswith("_post_id"):
        return "post"
    if name in SCREEN_NAME_KEYS or name.endswith("_screen_name"):
        return "screen_name"
    if name in TEXT_KEYS or name.endswith("_text") and "INT" not in declared_type.upper():
        return "text"
    return "free"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def frictionless_type(name: str, declared: str) -> str:
    declared = declared.upper()
    if "INT" in declared:
        return "integer"
    if any(t in declared for t in ("REAL", "FLOA", "DOUB", "NUM")):
        return "number"
    if name.endswith("_at"):
        return "datetime"       # corpus times: UTC ISO 8601 (memoryhole.corpus.clock)
    return "string"
