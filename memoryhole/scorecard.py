"""Score a corpus against the simulated platform's ground truth (demo and tests only).

The pipeline never reads the truth. This module does, after the fact, to say how well the
pipeline did on what it could have seen: a true removal counts as observable only if the corpus
saw the post alive before it was removed and a later crawl covered the post's place in the
timeline (its window) while it was still removed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

from corpus.clock import parse_iso


@dataclass
class Scorecard:
    observable: int = 0            # true removals inside the watched windows
    detected: int = 0              # removals in the corpus
    matched: int = 0               # detected removals of posts the truth says were removed
    recalled: int = 0              # observable true removals that were detected
    reason_correct: int = 0        # matched with the true reason
    interval_correct: int = 0      # matched whose interval contains the true removal time
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
        return self.interval_correct / self.matched if self.matched else None

    def table(self) -> str:
        def pct(x: float | None) -> str:
            return "n/a" if x is None else f"{100 * x:.1f}%"
        lines = [
            "scorecard against the sandbox's ground truth",
            f"  true removals inside the watched windows  {self.observable:6d}",
            f"  removals detected                         {self.detected:6d}",
            f"  precision                                 {pct(self.precision):>6}",
            f"  recall                                    {pct(self.recall):>6}",
            f"  reason accuracy                           {pct(self.reason_accuracy):>6}",
            f"  true time inside [last seen, first missing] {pct(self.interval_accuracy):>4}",
            "  by reason (observable truth / detected):",
        ]
        for reason in sorted(set(self.truth_by_reason) | set(self.detected_by_reason)):
            lines.append(f"    {reason:22s} {self.truth_by_reason[reason]:5d} / "
                         f"{self.detected_by_reason[reason]:5d}")
        return "\n".join(lines)


def _covered(windows: list[dict], key: int, after: datetime, before: datetime | None) -> bool:
    for w in windows:
        at = parse_iso(w["requested_at"])
        if at < after or (before is not None and at >= before):
            continue
        if w["status"] == "empty" or (w["status"] == "covered" and key >= w["oldest_key"]):
            return True
    return False


def score(db: sqlite_utils.Database, truth: dict[str, Any]) -> Scorecard:
    card = Scorecard()
    posts = {r["post_id"]: r for r in db.query(
        "SELECT post_id, account_id, order_key, first_seen_at FROM posts")}
    windows: dict[str, list[dict]] = {}
    for w in db.query("SELECT account_id, status, oldest_key, requested_at FROM windows "
                      "WHERE requested_at IS NOT NULL"):
        windows.setdefault(w["account_id"], []).append(w)
    truth_removed = {t["post_id"]: t for t in truth["posts"] if t.get("removed_at")}

    detected = list(db.query("SELECT * FROM removals ORDER BY id"))
    card.detected = len(detected)
    detected_posts = set()
    for r in detected:
        card.detected_by_reason[r["reason"]] += 1
        detected_posts.add(r["post_id"])
        t = truth_removed.get(r["post_id"])
        if t is None:
            card.false_removals.append(r)
            continue
        card.matched += 1
        if r["reason"] == t["cause"]:
            card.reason_correct += 1
        else:
            card.wrong_reason.append((r["post_id"], t["cause"], r["reason"]))
        removed_at = parse_iso(t["removed_at"])
        if parse_iso(r["last_seen_at"]) <= removed_at <= parse_iso(r["first_missing_at"]):
            card.interval_correct += 1

    for post_id, t in truth_removed.items():
        post = posts.get(post_id)
        removed_at = parse_iso(t["removed_at"])
        if post is None or parse_iso(post["first_seen_at"]) >= removed_at:
            continue
        restored_at = parse_iso(t["restored_at"]) if t.get("restored_at") else None
        if not _covered(windows.get(post["account_id"], []), post["order_key"], removed_at,
                        restored_at):
            continue
        card.observable += 1
        card.truth_by_reason[t["cause"]] += 1
        if post_id in detected_posts:
            card.recalled += 1
        else:
            card.missed.append(t)
    return card
