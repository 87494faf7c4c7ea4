"""Score a corpus against the simulated platform's ground truth (demo, validation, tests only).

The pipeline never reads the truth. This module does, after the fact, to say how well the
pipeline did on what it could have seen. The truth is a list of removal *episodes* per post
(removed_at, cause, restored_at; a post may be removed, restored and removed again):

- an episode is *observable* when the corpus saw the post alive before it, and a later crawl
  covered the post's place in its account's timeline while the post was still gone (a covered
  window reaching its order key, or an account whose timeline emptied);
- a detected removal *matches* an episode of the same post when the episode's removal time lies
  inside the removal's interval [last_seen_at, first_missing_at];
- precision = matched / detected; recall = observable episodes matched / observable;
  reason accuracy = matched with the true cause / matched; interval accuracy = detected removals
  of posts the truth says were removed whose interval contains a true removal time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

from memoryhole.corpus.clock import parse_iso

FAR_PAST = datetime.min.replace(tzinfo=parse_iso("2000-01-01T00:00:00Z").tzinfo)


@dataclass
class Scorecard:
    observable: int = 0            # true removal episodes inside the watched windows
    detected: int = 0              # removals in the corpus
    matched: int = 0               # detected removals whose interval holds a true removal
    recalled: int = 0              # observable episodes that a detected removal matches
    reason_correct: int = 0        # matched with the true reason
    of_removed_posts: int = 0      # detected removals of posts the truth says were removed
    restorations: int = 0          # observable restorations of detected removals
    restorations_detected: int = 0
    truth_by_reason: Counter = field(default_factory=Counter)
    detected_by_reason: Counter = field(default_factory=Counter)
    false_removals: list[dict[str, Any]] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)
    wrong_reason: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.matched / self.detected if self.detected else None

    @property
    def recall(self) -> float | None:
        return self.recalled / self.observable if self.observable else None

    @property
    def reason_accuracy(self) -> float | None:
        return self.reason_correct / self.matched if self.matched else None

    @property
    def interval_accuracy(self) -> float | None:
        return self.matched / self.of_removed_posts if self.of_removed_posts else None

    @property
    def restoration_recall(self) -> float | None:
        return self.restorations_detected / self.restorations if self.restorations else None

    def table(self, title: str = "scorecard against the sandbox's ground truth") -> str:
        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{100 * x:.1f}%"
        lines = [
            title,
            f"  true removals inside the watched windows   {self.observable:7d}",
            f"  removals detected                          {self.detected:7d}",
            f"  precision                                  {pct(self.precision):>7}",
            f"  recall                                     {pct(self.recall):>7}",
            f"  reason accuracy                            {pct(self.reason_accuracy):>7}",
            f"  true time inside [last seen, first missing] {pct(self.interval_accuracy):>6}",
            f"  restorations detected                 {self.restorations_detected:5d} / "
            f"{self.restorations:<5d}",
            "  by reason (observable truth / detected):",
        ]
        for reason in sorted(set(self.truth_by_reason) | set(self.detected_by_reason)):
            lines.append(f"    {reason:22s} {self.truth_by_reason[reason]:6d} / "
                         f"{self.detected_by_reason[reason]:6d}")
        return "\n".join(lines)


def episodes(post: dict[str, Any]) -> list[dict[str, Any]]:
    """A truth post's removal episodes, oldest first, from its `history` when the platform gives
    one (else the latest removal alone).

    A change of why an already-hidden post is hidden (restricted, then its account closed) is
    not a new removal: consecutive changes with no restoration between them are one episode
    whose `changes` list each (time, cause) — the cause a probe sees is the one in force then.
    """
    history = post.get("history")
    if history is None:
        history = [{k: post.get(k) for k in ("removed_at", "restored_at", "cause", "message")}
                   ] if post.get("removed_at") else []
    merged: list[dict[str, Any]] = []
    for change in history:
        at = parse_iso(change["removed_at"])
        if merged and merged[-1]["restored"] is None:
            merged[-1]["changes"].append((at, change["cause"]))
            merged[-1]["restored"] = (parse_iso(change["restored_at"])
                                      if change.get("restored_at") else None)
            continue
        merged.append({
            "post_id": post["post_id"], "removed": at, "cause": change["cause"],
            "restored": parse_iso(change["restored_at"]) if change.get("restored_at") else None,
            "changes": [(at, change["cause"])],
        })
    return merged


def _cause_at(episode: dict[str, Any], moment: datetime) -> str:
    """The cause in force at `moment` (the latest change at or before it)."""
    causes = [cause for at, cause in episode["changes"] if at <= moment]
    return causes[-1] if causes else episode["cause"]


def _covered(windows: list[dict], key: int, after: datetime, before: datetime | None) -> bool:
    for w in windows:
        at = w["at"]
        if at < after or (before is not None and at >= before):
            continue
        if w["status"] in ("empty", "unconfirmed") or (
                w["status"] == "covered" and key >= w["oldest_key"]):
            return True
    return False


def platform_truth(truth: dict[str, Any], platform: str) -> dict[str, Any]:
    """One platform's part of the sandbox's truth, as {"posts": [...]} keyed by post_id (Weibo's
    is the top level; WeChat's articles are keyed by their item id)."""
    if platform == "wechat":
        return {"posts": [dict(a, post_id=a["item_id"])
                          for a in truth.get("wechat", {}).get("articles", [])]}
    if platform == "telegram":
        return {"posts": truth.get("telegram", {}).get("posts", [])}
    if platform in ("news", "toutiao"):   # their articles / items, keyed by item id
        part = truth.get(platform, {})
        return {"posts": [dict(a, post_id=a["item_id"])
                          for a in part.get("articles", part.get("items", []))]}
    if platform != "weibo" and isinstance(truth.get(platform), dict):
        # Every other simulated platform's truth is {"posts": [...]} under its name.
        return {"posts": truth[platform].get("posts", [])}
    return {"posts": truth["posts"]}


def _answered(db: sqlite_utils.Database, platform: str) -> dict[str, list[datetime]]:
    """When each item was answered by a probe (visible or removed): an item watch's coverage."""
    answered: dict[str, list[datetime]] = {}
    for r in db.query("SELECT post_id, probed_at FROM probes WHERE platform = ? AND outcome "
                      "IN ('visible', 'removed')", [platform]):
        answered.setdefault(r["post_id"], []).append(parse_iso(r["probed_at"]))
    return answered


def score(db: sqlite_utils.Database, truth: dict[str, Any], platform: str | None = None,
          item_watch: bool = False) -> Scorecard:
    """Score the removals of `platform` (every platform when None) against `truth` (that
    platform's part, see `platform_truth`). For an item watch an episode is observable when a
    probe answered while the item was gone (there are no windows)."""
    card = Scorecard()
    where, args = ("WHERE platform = ?", [platform]) if platform else ("", [])
    posts = {r["post_id"]: r for r in db.query(
        f"SELECT post_id, account_id, order_key, first_seen_at FROM posts {where}", args)}
    windows: dict[str, list[dict]] = {}
    for w in db.query("SELECT account_id, status, oldest_key, requested_at FROM windows "
                      f"WHERE requested_at IS NOT NULL {'AND platform = ?' if platform else ''}",
                      args):
        windows.setdefault(w["account_id"], []).append(
            dict(w, at=parse_iso(w["requested_at"])))
    answered = _answered(db, platform) if item_watch and platform else {}
    truth_episodes = {p["post_id"]: eps for p in truth["posts"] if (eps := episodes(p))}

    matched_episodes: dict[tuple[str, datetime], dict] = {}
    for r in db.query(f"SELECT * FROM removals {where} ORDER BY id", args):
        card.detected += 1
        card.detected_by_reason[r["reason"]] += 1
        eps = truth_episodes.get(r["post_id"])
        if not eps:
            card.false_removals.append(r)
            continue
        card.of_removed_posts += 1
        low = parse_iso(r["last_seen_at"]) if r["last_seen_at"] else FAR_PAST
        high = parse_iso(r["first_missing_at"])
        inside = [e for e in eps if low <= e["removed"] <= high]
        if not inside:
            card.false_removals.append(r)
            continue
        episode = inside[-1]
        card.matched += 1
        matched_episodes[(r["post_id"], episode["removed"])] = r
        seen_cause = _cause_at(episode, high)   # what the classifying probe was shown
        if r["reason"] == seen_cause:
            card.reason_correct += 1
        else:
            card.wrong_reason.append((r["post_id"], seen_cause, r["reason"]))

    for post_id, eps in truth_episodes.items():
        post = posts.get(post_id)
        if post is None:
            continue
        account_windows = windows.get(post["account_id"], [])
        for e in eps:
            if parse_iso(post["first_seen_at"]) >= e["removed"]:
                continue
            if item_watch:
                if not any(e["removed"] <= at and (e["restored"] is None or at < e["restored"])
                           for at in answered.get(post_id, ())):
                    continue
            elif not _covered(account_windows, post["order_key"], e["removed"], e["restored"]):
                continue
            card.observable += 1
            card.truth_by_reason[e["cause"]] += 1
            detection = matched_episodes.get((post_id, e["removed"]))
            if detection is None:
                card.missed.append(e)
                continue
            card.recalled += 1
            if item_watch:
                if e["restored"] is not None and any(at >= e["restored"]
                                                     for at in answered.get(post_id, ())):
                    card.restorations += 1
                    card.restorations_detected += detection["restored_at"] is not None
            elif e["restored"] is not None and _covered(
                    [w for w in account_windows if w["status"] == "covered"],
                    post["order_key"], e["restored"], None):
                card.restorations += 1
                card.restorations_detected += detection["restored_at"] is not None
    return card
