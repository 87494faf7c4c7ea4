"""Generating a world from its scenario: accounts, posts, fates, edits, glitches, account actions.

Every draw comes from its own seeded stream (history._rng), so explicit events never change the
generated history."""

from __future__ import annotations

import bisect
import math
import random
from datetime import datetime, timedelta
from typing import Any

from . import text as textgen
from .history import (
    DEEP_WEIGHT,
    MID_BASE,
    MID_PER_SECOND,
    RECENT_INITIAL,
    RECENT_ORIGINALS,
    Account,
    AccountEvent,
    Edit,
    Post,
    PostEvent,
    WorldRecords,
    cdf_sample,
    floor_second,
    seeded_rng,
)
from .messages import ACCOUNT_MESSAGES, COMPLAINTS, HALF_YEAR, POST_MESSAGES, PRIVACY, RULES, STATE_CAUSE


class Generation(WorldRecords):
    """Builds the generated part of the history (called once, from World.__init__)."""

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq
    def _generate_accounts(self) -> None:
        seed = self.scenario.seed
        names: set[str] = set()
        outside = set(self.scenario.outside_account_ids)
        for uid in [*self.scenario.account_ids, *self.scenario.outside_account_ids]:
            rng = seeded_rng(seed, "account", uid)
            name = textgen.screen_name(rng)
            while name in names:
                name += str(rng.randint(0, 9))
            names.add(name)
            verified = rng.random() < 0.2
            followers = int(min(5e7, rng.lognormvariate(6.5 + (2.5 if verified else 0), 1.8)))
            self.accounts[uid] = Account(
                uid=uid,
                screen_name=name,
                followers=followers,
                follows=rng.randint(20, 1500),
                verified=verified,
                gender=rng.choice("mf"),
                description=textgen.description(rng) if rng.random() < 0.7 else "",
                avatar=f"{int(uid):08x}ly8g{rng.getrandbits(40):010x}j20u00u0",
                urank=rng.randint(4, 48),
                watched=uid not in outside,
            )
    def _make_post(
        self, rng: random.Random, uid: str, created: datetime, *, sensitive: bool, long: bool
    ) -> dict[str, Any]:
        terms = self.scenario.sensitive_terms
        term = rng.choice(terms) if sensitive and terms else None
        segments = textgen.make_post_segments(rng, long=long, term=term)
        followers = self.accounts[uid].followers
        attitudes = int(rng.lognormvariate(math.log(1 + followers * 0.01), 1.2))
        pics = rng.choice((0,) * 7 + (1, 1, 2, 3, 4, 6, 9))
        return {
            "uid": uid,
            "created_at": created,
            "segments": segments,
            "plain": textgen.plain_text(segments),
            "source": rng.choice(textgen.SOURCES),
            "pic_ids": tuple(f"{rng.getrandbits(64):016x}ly1h{i}" for i in range(pics)),
            "final_reposts": int(attitudes * rng.uniform(0.05, 0.4)),
            "final_comments": int(attitudes * rng.uniform(0.1, 0.6)),
            "final_attitudes": attitudes,
            "sensitive": term is not None,
        }
    def _generate_posts(self) -> None:
        """Initial (backdated) and new posts for every account, then their fates."""
        sc, seed = self.scenario, self.scenario.seed
        drafts: list[tuple[datetime, int, int, str, dict[str, Any], float, str, bool]] = []
        low, high = math.log(120), math.log(1000 * 86400)
        for index, uid in enumerate([*sc.account_ids, *sc.outside_account_ids]):
            rng = seeded_rng(seed, "initial", uid)
            ages = sorted(
                (math.exp(rng.uniform(low, high)) for _ in range(sc.accounts.initial_posts)), reverse=True
            )  # oldest first
            n = len(ages)
            for k, age in enumerate(ages):
                created = floor_second(self.start - timedelta(seconds=age))
                prng = seeded_rng(seed, "text", uid, "i", k)
                draft = self._make_post(
                    prng,
                    uid,
                    created,
                    sensitive=prng.random() < sc.sensitive_share,
                    long=prng.random() < sc.long_share,
                )
                rank = n - 1 - k  # 0 = newest
                weight = 1.0 if rank < RECENT_INITIAL else DEEP_WEIGHT
                drafts.append((created, index, k, uid, draft, weight, f"{uid}/i{k}", True))
            rate = sc.accounts.posts_per_hour / 3600.0
            arrivals = seeded_rng(seed, "arrivals", uid)
            t, k = 0.0, 0
            while rate > 0:
                t += arrivals.expovariate(rate)
                if t >= sc.duration:
                    break
                created = floor_second(self.start + timedelta(seconds=t))
                prng = seeded_rng(seed, "text", uid, "n", k)
                draft = self._make_post(
                    prng,
                    uid,
                    created,
                    sensitive=prng.random() < sc.sensitive_share,
                    long=prng.random() < sc.long_share,
                )
                drafts.append((created, index, n + k, uid, draft, 1.0, f"{uid}/n{k}", False))
                k += 1
        drafts.sort(key=lambda d: (d[0], d[1], d[2]))
        placed: list[tuple[Post, float, str, bool]] = []
        originals: dict[bool, list[Post]] = {True: [], False: []}  # by watched, creation order
        for created, _index, _k, uid, draft, weight, key, initial in drafts:
            second = int(created.timestamp())
            seq = self._used_seqs.get(second, 0)
            self._used_seqs[second] = seq + 1
            repost_of = None
            if sc.reposts.share > 0 and self.accounts[uid].watched:
                repost_of, draft = self._maybe_repost(key, uid, created, draft, originals)
            post = Post(mid=MID_BASE + second * MID_PER_SECOND + seq, **draft, repost_of=repost_of)
            post.wrapped = seeded_rng(seed, "card_group", key).random() < sc.card_group_share
            self._add_post(post)
            placed.append((post, weight, key, initial))
            if repost_of is None:
                originals[self.accounts[uid].watched].append(post)
        self._choose_pinned()
        self._generate_fates(placed)
        self._generate_edits(placed)
    def _maybe_repost(
        self,
        key: str,
        uid: str,
        created: datetime,
        draft: dict[str, Any],
        originals: dict[bool, list[Post]],
    ) -> tuple[int | None, dict[str, Any]]:
        """Decide whether a generated post is a repost; if so pick its original and its text."""
        spec = self.scenario.reposts
        rng = seeded_rng(self.scenario.seed, "repost", key)
        if rng.random() >= spec.share:
            return None, draft
        pools = (originals[False], originals[True])
        if rng.random() >= 0.5:
            pools = pools[::-1]
        for pool in pools:
            candidates = [
                p
                for p in pool[-RECENT_ORIGINALS:]
                if p.uid != uid
                and p.created_at < created
                and self.account_state(p.uid, p.created_at).kind == "active"
            ]
            if candidates:
                original = rng.choice(candidates)
                segments = textgen.repost_segments(rng, spec.comment_share)
                return original.mid, {
                    **draft,
                    "segments": segments,
                    "plain": textgen.plain_text(segments),
                    "pic_ids": (),
                    "sensitive": False,
                }
        return None, draft
    def _add_post(self, post: Post) -> None:
        self.posts[post.mid] = post
        bisect.insort(self.accounts[post.uid].posts, post.mid)
    def _choose_pinned(self) -> None:
        for uid, account in self.accounts.items():
            rng = seeded_rng(self.scenario.seed, "pinned", uid)
            if rng.random() >= self.scenario.accounts.pinned_share:
                continue
            older = [m for m in account.posts if self.posts[m].created_at < self.start]
            candidates = older[: max(0, len(older) - RECENT_INITIAL)] or older
            if candidates:
                account.pinned = rng.choice(candidates)
    def _generate_fates(self, placed: list[tuple[Post, float, str, bool]]) -> None:
        """Draw each post's fate from separate streams; keep the earliest; maybe restore it."""
        sc, seed = self.scenario, self.scenario.seed
        total_n = len(placed)
        total_w = sum(w for _, w, _, _ in placed) or 1.0
        sens = [(p, w) for p, w, _, _ in placed if p.sensitive]
        sens_n, sens_w = len(sens), sum(w for _, w in sens) or 1.0

        def prob(share: float, n: int, w_total: float, w: float) -> float:
            return min(1.0, share * n / w_total * w)

        for post, weight, key, initial in placed:
            base = max(post.created_at, self.start)
            if initial:
                rng = seeded_rng(seed, "initial_restrict", key)
                if rng.random() < sc.restrict.initial_share:
                    span = (self.start - post.created_at).total_seconds()
                    at = post.created_at + timedelta(seconds=rng.uniform(0, span))
                    message = HALF_YEAR if rng.random() < sc.restrict.halfyear_share else PRIVACY
                    self._post_event(post, at, "restrict", "restricted", message)
                    continue
            options: list[tuple[datetime, str, str]] = []
            rng = seeded_rng(seed, "author_delete", key)
            if rng.random() < prob(sc.author_delete.share, total_n, total_w, weight):
                d = sc.author_delete.delay
                options.append(
                    (
                        base + timedelta(seconds=rng.uniform(d.min, d.max)),
                        "author_deleted",
                        POST_MESSAGES["author_deleted"][0],
                    )
                )
            if post.sensitive:
                rng = seeded_rng(seed, "censor", key)
                if rng.random() < prob(sc.censor.share, sens_n, sens_w, weight):
                    delay = cdf_sample(rng, sc.censor.delay) * sc.censor.time_scale
                    if rng.random() < sc.unattributed_share:
                        cause, message = (
                            "removed_unattributed",
                            rng.choice(POST_MESSAGES["removed_unattributed"]),
                        )
                    else:
                        cause = "platform_removed"
                        message = COMPLAINTS if rng.random() < sc.censor.complaints_share else RULES
                    options.append((base + timedelta(seconds=delay), cause, message))
            rng = seeded_rng(seed, "restrict", key)
            if rng.random() < prob(sc.restrict.share, total_n, total_w, weight):
                d = sc.restrict.delay
                message = HALF_YEAR if rng.random() < sc.restrict.halfyear_share else PRIVACY
                options.append((base + timedelta(seconds=rng.uniform(d.min, d.max)), "restricted", message))
            rng = seeded_rng(seed, "unknown", key)
            if rng.random() < prob(sc.unknown.share, total_n, total_w, weight):
                d = sc.unknown.delay
                options.append(
                    (base + timedelta(seconds=rng.uniform(d.min, d.max)), "unknown", sc.unknown.message)
                )
            if not options:
                continue
            at, cause, message = min(options)
            action = "restrict" if cause == "restricted" else "remove"
            event = self._post_event(post, at, action, cause, message)
            if cause in ("platform_removed", "removed_unattributed", "restricted"):
                rng = seeded_rng(seed, "restore", key)
                if rng.random() < sc.restore.share:
                    d = sc.restore.delay
                    self._post_event(
                        post, at + timedelta(seconds=rng.uniform(d.min, d.max)), "restore", of_seq=event.seq
                    )
    def _generate_edits(self, placed: list[tuple[Post, float, str, bool]]) -> None:
        """`edits.share` of generated posts get one edit, unless removed/restricted before it."""
        spec, seed = self.scenario.edits, self.scenario.seed
        if spec.share <= 0:
            return
        for post, _weight, key, _initial in placed:
            rng = seeded_rng(seed, "edit", key)
            if rng.random() >= spec.share:
                continue
            base = max(post.created_at, self.start)
            at = base + timedelta(seconds=rng.uniform(spec.delay.min, spec.delay.max))
            if any(event.at <= at for event in post.events):
                continue
            self._add_edit(post, at, textgen.edited_segments(rng, post.segments))
    def _generate_glitches(self) -> None:
        """`glitches.share` of watched accounts answer an empty timeline once, for a while."""
        spec, sc = self.scenario.glitches, self.scenario
        if spec.share <= 0:
            return
        for uid in sc.account_ids:
            rng = seeded_rng(sc.seed, "glitch", uid)
            if rng.random() < spec.share:
                begin = self.start + timedelta(seconds=rng.uniform(0, sc.duration))
                self._add_glitch(uid, begin, spec.duration)
    def _add_edit(self, post: Post, at: datetime, segments: tuple[tuple[str, ...], ...]) -> None:
        edit = Edit(at, self._next_seq(), segments)
        bisect.insort(post.edits, edit, key=lambda e: (e.at, e.seq))
    def _add_glitch(self, uid: str, at: datetime, seconds: float) -> None:
        bisect.insort(self.accounts[uid].glitches, (at, at + timedelta(seconds=seconds)))
    def _generate_account_actions(self) -> None:
        sc = self.scenario
        order = list(sc.account_ids)
        seeded_rng(sc.seed, "account_actions").shuffle(order)
        chosen = iter(order)
        for spec, state in ((sc.suspend, "suspended"), (sc.close, "closed"), (sc.lock, "locked")):
            for _ in range(spec.accounts):
                uid = next(chosen)
                rng = seeded_rng(sc.seed, "account_message", uid)
                message = rng.choice(ACCOUNT_MESSAGES[STATE_CAUSE[state]])
                self._account_event(uid, self.start + timedelta(seconds=spec.at), state, message)
    def _post_event(
        self,
        post: Post,
        at: datetime,
        action: str,
        cause: str | None = None,
        message: str | None = None,
        of_seq: int | None = None,
    ) -> PostEvent:
        event = PostEvent(at, self._next_seq(), action, cause, message, of_seq)
        bisect.insort(post.events, event, key=lambda e: (e.at, e.seq))
        return event
    def _account_event(self, uid: str, at: datetime, state: str, message: str | None) -> None:
        event = AccountEvent(at, self._next_seq(), state, message)
        bisect.insort(self.accounts[uid].events, event, key=lambda e: (e.at, e.seq))
