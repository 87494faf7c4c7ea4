"""Explicit events: the scenario's `events` and `World.schedule`, acting on posts and accounts at
any instant (and creating posts and reposts)."""

from __future__ import annotations

from datetime import datetime, timedelta

from . import text as textgen
from .answers import parse_post_id
from .clock import as_utc
from .history import (
    EXPLICIT_SEQ_BASE,
    MID_BASE,
    MID_PER_SECOND,
    Account,
    Post,
    WorldRecords,
    floor_second,
    seeded_rng,
)
from .messages import ACCOUNT_MESSAGES, COMPLAINTS, HALF_YEAR, POST_MESSAGES, PRIVACY, RULES, STATE_CAUSE
from .render import iso
from .scenario import ACCOUNT_ACTIONS, POST_ACTIONS, EventSpec


class ExplicitEvents(WorldRecords):
    """Adds explicit events to the history."""

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
        post = self.posts.get(parse_post_id(str(post_id)) or -1)
        if post is None:
            raise ValueError(f"unknown post {post_id!r}")
        return post
    def _explicit_edit(self, post: Post, at: datetime, text: str | None) -> None:
        if text is not None:
            segments = textgen.plain_segments(text)
        else:
            rng = seeded_rng(self.scenario.seed, "explicit_edit", post.mid, iso(at))
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
        created = floor_second(created)
        second = int(created.timestamp())
        seq = max(self._used_seqs.get(second, 0), EXPLICIT_SEQ_BASE)
        self._used_seqs[second] = seq + 1
        mid = MID_BASE + second * MID_PER_SECOND + seq
        rng = seeded_rng(self.scenario.seed, "explicit_text", mid)
        draft = self._make_post(rng, uid, created, sensitive=sensitive, long=False)
        if repost_of is not None:
            segments = textgen.plain_segments(text or textgen.REPOST_DEFAULT)
            draft.update(segments=segments, plain=textgen.plain_text(segments), pic_ids=(), sensitive=False)
        self._add_post(Post(mid=mid, **draft, repost_of=repost_of))
        return mid
