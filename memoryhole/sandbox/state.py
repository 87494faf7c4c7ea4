"""What a post or an account is at an instant: visibility, existence, its text after edits, and
its mblog as the platform shows it."""

from __future__ import annotations

import bisect
import math
from datetime import datetime
from typing import Any

from .history import (
    ACCOUNT,
    MID_BASE,
    MID_PER_SECOND,
    REMOVED,
    RESTRICTED,
    TOMBSTONE_STATE,
    VISIBLE,
    Account,
    Edit,
    Post,
    Visibility,
    WorldRecords,
)
from .messages import NOT_FOUND, STATE_CAUSE
from .render import mblog_json, tombstone_json


class StateAtInstant(WorldRecords):
    """Reads the history at an instant."""

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
