"""The ground truth at an instant: every post's removals and restorations with their causes, and
the accounts' states and glitches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import text as textgen
from .clock import as_utc
from .history import VISIBLE, Post, WorldRecords
from .render import iso


class GroundTruth(WorldRecords):
    """The ground truth at an instant."""

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
