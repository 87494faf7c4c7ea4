"""The platform's answers at an instant: timeline pages (page and since_id containers), profiles,
/statuses/show and /statuses/extend."""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any

from .clock import as_utc
from .history import CURSOR_PREFIX, HIDDEN, PAGE_SIZE, REMOVED, VISIBLE, Post, WorldRecords
from .ids import bid_to_mid
from .messages import NOT_FOUND, NOT_VISIBLE_ERRNO, NOTHING_HERE
from .render import counts_json, extend_json, iso, post_card, profile_json


class PlatformAnswers(WorldRecords):
    """Answers the platform's endpoints at an instant, as JSON-ready dicts."""

    def timeline(
        self,
        uid: str,
        page: int,
        at: datetime,
        containerid: str | None = None,
        *,
        since_id: int | None = None,
        cursor: bool | None = None,
    ) -> dict[str, Any]:
        """The getIndex envelope for one account's timeline as seen at `at`.

        Page mode (`containerid` 107603<uid>, no since_id): `page` is 1-based and
        `cardlistInfo.page` is the next page. Cursor mode (`cursor=True`; by default when
        `since_id` is given or the containerid starts with 230413, which ignores `page`): without
        `since_id` the first page, with it the 10 slots strictly older than `since_id`;
        `cardlistInfo.since_id` is the mid of the page's last (oldest) slot and there is no `page`.
        """
        at = as_utc(at)
        uid = str(uid)
        containerid = containerid or f"107603{uid}"
        if cursor is None:
            cursor = since_id is not None or containerid.startswith(CURSOR_PREFIX)
        with self._lock:
            account = self.accounts.get(uid)
            if account is None or self.account_state(uid, at).kind != "active":
                return nothing_here()
            if self._glitching(account, at):
                return nothing_here()
            existing = self._existing(account, at)
            states = {p.mid: self._own_state(p, at) for p in existing}
            pinned = self.posts.get(account.pinned) if account.pinned else None
            show_pinned = pinned is not None and states.get(pinned.mid, HIDDEN).kind == VISIBLE
            slots = [p for p in existing if p.mid != account.pinned and states[p.mid].kind != REMOVED]
            if cursor:
                first = since_id is None
                begin = 0 if first else bisect.bisect_right(slots, -int(since_id or 0), key=lambda p: -p.mid)
                chunk = slots[begin : begin + PAGE_SIZE]
            else:
                page = max(1, page)
                first = page == 1
                chunk = slots[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            if not chunk and not (first and show_pinned):
                return nothing_here()
            visible_count = sum(1 for p in existing if states[p.mid].kind == VISIBLE)
            statuses = len(existing)
            cards = []
            if first and show_pinned and pinned is not None:
                cards.append(
                    post_card(
                        self._mblog(pinned, at, full=False, statuses_count=statuses),
                        containerid,
                        pinned=True,
                    )
                )
            for post in chunk:
                if states[post.mid].kind != VISIBLE:
                    continue  # restricted: holds its slot, never shown
                card = post_card(self._mblog(post, at, full=False, statuses_count=statuses), containerid)
                if post.wrapped:
                    card = {"card_type": 11, "card_group": [card], "show_type": 0}
                cards.append(card)
            info: dict[str, Any] = {
                "containerid": containerid,
                "v_p": 42,
                "show_style": 1,
                "total": visible_count,
            }
            if cursor:
                last = chunk[-1] if chunk else pinned
                info["since_id"] = last.mid if last is not None else 0
            else:
                info["page"] = page + 1
            return {
                "ok": 1,
                "data": {"cardlistInfo": info, "cards": cards, "scheme": "", "showAppTips": 0},
            }
    def profile(self, uid: str, at: datetime) -> dict[str, Any]:
        """getIndex without containerid: `userInfo` + `tabsInfo` while the account is active,
        `{"ok": 0, "msg": <the account's words>}` while suspended/closed/locked (also during a
        glitch_empty: the profile stays ok:1 then)."""
        at = as_utc(at)
        uid = str(uid)
        with self._lock:
            account = self.accounts.get(uid)
            if account is None:
                return nothing_here()
            state = self.account_state(uid, at)
            if state.kind != "active":
                return {"ok": 0, "msg": state.message or NOTHING_HERE}
            return profile_json(account, len(self._existing(account, at)))
    def _visible_post(self, post_id: str | int, at: datetime) -> tuple[Post | None, dict[str, Any] | None]:
        """(post, None) when the post is visible at `at`, else (None, the not-visible answer)."""
        mid = parse_post_id(str(post_id))
        post = self.posts.get(mid) if mid is not None else None
        if post is None or not self._exists(post, at):
            return None, _not_visible(NOT_FOUND)
        state = self._effective(post, at)
        if state.kind != VISIBLE:
            return None, _not_visible(state.message or NOT_FOUND)
        return post, None
    def status(self, post_id: str | int, at: datetime) -> dict[str, Any]:
        """The /statuses/show answer for a mid (or bid) at `at`: the full text, isLongText false."""
        at = as_utc(at)
        with self._lock:
            post, answer = self._visible_post(post_id, at)
            if post is None:
                return answer or _not_visible(NOT_FOUND)
            return {"ok": 1, "data": self._mblog(post, at, full=True)}
    def extend(self, post_id: str | int, at: datetime) -> dict[str, Any]:
        """The /statuses/extend answer: `data.longTextContent` (the whole text as HTML) and the
        counts when visible; otherwise the same answer as /statuses/show."""
        at = as_utc(at)
        with self._lock:
            post, answer = self._visible_post(post_id, at)
            if post is None:
                return answer or _not_visible(NOT_FOUND)
            return extend_json(self._segments_at(post, at)[0], counts_json(post, at))
    def truth(self, at: datetime) -> dict[str, Any]:
        """Ground truth up to `at`: every existing post's latest removal and restoration, its text
        and edits; the watched accounts (`accounts`) and the outside pool (`outside_accounts`)."""
        at = as_utc(at)
        with self._lock:
            posts = []
            for mid in sorted(self.posts):
                post = self.posts[mid]
                if not self._exists(post, at):
                    continue
                posts.append(self._post_truth(post, at))
            accounts: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
            for uid, account in self.accounts.items():
                state = self.account_state(uid, at)
                accounts[account.watched].append(
                    {
                        "account_id": uid,
                        "screen_name": account.screen_name,
                        "state": state.kind,
                        "state_changed_at": iso(state.since) if state.since else None,
                        "watched": account.watched,
                        "glitches": [
                            {"from": iso(begin), "until": iso(until)}
                            for begin, until in account.glitches
                            if begin <= at
                        ],
                    }
                )
            return {
                "now": iso(at),
                "posts": posts,
                "accounts": accounts[True],
                "outside_accounts": accounts[False],
            }


def parse_post_id(value: str) -> int | None:
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        return bid_to_mid(value)
    except ValueError:
        return None


def nothing_here() -> dict[str, Any]:
    return {"ok": 0, "msg": NOTHING_HERE, "data": {"cards": []}}


def _not_visible(message: str) -> dict[str, Any]:
    return {"ok": 0, "errno": NOT_VISIBLE_ERRNO, "msg": message}
