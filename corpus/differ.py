"""The differ: from what a crawl saw to the posts that vanished, and from probes to removals.

Two steps, each one transaction, each costing in proportion to the crawl it reads:

`diff_timeline(db, crawl_id)` after a timeline crawl
  1. computes each account's window: the run of pages that succeeded from page 1 on. A window
     covers order keys from the oldest non-pinned post on its last page up (pinned posts never
     bound it), or everything when the crawl reached the end of the timeline. A failed page 1
     covers nothing (rule 1); a page 1 that says "nothing here" is an `empty` window.
  2. closes candidates and restores removals for posts seen again;
  3. opens a candidate for every post seen in an earlier crawl, not seen in this one, inside its
     account's window (rule 4) — or for every live post of an account whose window is `empty`.
     Nothing is declared removed here: only a probe can say that.

`resolve_probes(db, crawl_id)` after a probe crawl
  turns each candidate's latest successful probe into a removal (reason, exact message, interval
  [last seen, answer received], the probe as evidence) or closes it as visible. Failed probes
  leave the candidate open for the next cycle (rule 1).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

import sqlite_utils


@dataclass(frozen=True)
class TimelineDiff:
    windows: int
    covered: int
    empty: int
    failed: int
    seen_again: int
    restored: int
    new_candidates: int
    open_candidates: int


@dataclass(frozen=True)
class ProbeResolution:
    probed: int
    removed: int
    visible: int
    still_open: int


def compute_windows(db: sqlite_utils.Database, crawl_id: int) -> list[dict]:
    """Window rows for a timeline crawl, from its pages (pure reading; nothing written)."""
    plan = json.loads(db.execute("SELECT plan_json FROM crawls WHERE id = ?",
                                 [crawl_id]).fetchone()[0])
    planned = {w["name"]: w["pages"] for w in plan.get("watchlists", [])}
    by_account: dict[tuple, dict[int, dict]] = defaultdict(dict)
    for page in db.query("SELECT * FROM pages WHERE crawl_id = ? ORDER BY id", [crawl_id]):
        # A later row for the same page (a retry that got through) replaces an earlier one.
        by_account[(page["platform"], page["account_id"], page["watchlist"])][page["page"]] = page
    windows = []
    for (platform, account_id, watchlist), pages in sorted(by_account.items()):
        ok, reached_end, newest, oldest = 0, False, None, None
        first = pages.get(1)
        for number in range(1, max(pages) + 1):
            page = pages.get(number)
            if page is None or page["outcome"] == "failed":
                break
            if page["outcome"] == "end":
                reached_end = True
                break
            ok += 1
            if page["newest_key"] is not None:
                newest = max(newest or page["newest_key"], page["newest_key"])
                oldest = min(oldest or page["oldest_key"], page["oldest_key"])
        if first is None or first["outcome"] == "failed":
            status = "failed"
        elif first["outcome"] == "end":
            status = "empty"
        elif reached_end:
            status, oldest = "covered", 0
        elif oldest is None:
            status = "failed"   # pages of pinned posts only: nothing bounds the window
        else:
            status = "covered"
        windows.append({
            "crawl_id": crawl_id, "platform": platform, "account_id": account_id,
            "watchlist": watchlist, "status": status, "pages_planned": planned.get(watchlist, 0),
            "pages_ok": ok, "reached_end": int(reached_end), "newest_key": newest,
            "oldest_key": oldest if status == "covered" else None,
            "requested_at": first["requested_at"] if first else None,
        })
    return windows


def diff_timeline(db: sqlite_utils.Database, crawl_id: int) -> TimelineDiff:
    windows = compute_windows(db, crawl_id)
    with db.atomic():
        db["windows"].insert_all(windows)
        seen_again = db.execute(
            """UPDATE candidates SET status = 'seen_again', closed_crawl_id = :crawl,
                   closed_at = (SELECT MIN(seen_at) FROM sightings s WHERE s.crawl_id = :crawl
                                AND s.platform = candidates.platform
                                AND s.post_id = candidates.post_id)
               WHERE status = 'open' AND EXISTS (
                   SELECT 1 FROM sightings s WHERE s.crawl_id = :crawl
                   AND s.platform = candidates.platform AND s.post_id = candidates.post_id)""",
            {"crawl": crawl_id}).rowcount
        restored = db.execute(
            """UPDATE removals SET restored_crawl_id = :crawl,
                   restored_at = (SELECT MIN(seen_at) FROM sightings s WHERE s.crawl_id = :crawl
                                  AND s.platform = removals.platform
                                  AND s.post_id = removals.post_id)
               WHERE restored_at IS NULL AND EXISTS (
                   SELECT 1 FROM sightings s WHERE s.crawl_id = :crawl
                   AND s.platform = removals.platform AND s.post_id = removals.post_id
                   AND s.seen_at > removals.first_missing_at)""",
            {"crawl": crawl_id}).rowcount
        # Absent from a covered window, or from an account that now shows nothing at all.
        new = db.execute(
            """INSERT INTO candidates (platform, post_id, account_id, opened_crawl_id,
                   last_seen_at, first_absent_at, status)
               SELECT p.platform, p.post_id, p.account_id, w.crawl_id, p.last_seen_at,
                      w.requested_at, 'open'
               FROM windows w JOIN posts p
                 ON p.platform = w.platform AND p.account_id = w.account_id
               WHERE w.crawl_id = :crawl
                 AND (w.status = 'empty' OR (w.status = 'covered' AND p.order_key >= w.oldest_key))
                 AND p.last_seen_crawl_id < :crawl
                 AND NOT EXISTS (SELECT 1 FROM removals r WHERE r.platform = p.platform
                                 AND r.post_id = p.post_id AND r.restored_at IS NULL)
                 AND NOT EXISTS (SELECT 1 FROM candidates c WHERE c.platform = p.platform
                                 AND c.post_id = p.post_id AND c.status = 'open')
               GROUP BY p.platform, p.post_id""",
            {"crawl": crawl_id}).rowcount
    open_now = db.execute("SELECT COUNT(*) FROM candidates WHERE status = 'open'").fetchone()[0]
    count = defaultdict(int)
    for w in windows:
        count[w["status"]] += 1
    return TimelineDiff(windows=len(windows), covered=count["covered"], empty=count["empty"],
                        failed=count["failed"], seen_again=seen_again, restored=restored,
                        new_candidates=new, open_candidates=open_now)


def resolve_probes(db: sqlite_utils.Database, crawl_id: int) -> ProbeResolution:
    # The latest probe of each open candidate in this crawl decides.
    rows = list(db.query(
        """SELECT c.id AS candidate_id, c.last_seen_at, pr.*
           FROM candidates c
           JOIN probes pr ON pr.platform = c.platform AND pr.post_id = c.post_id
           WHERE c.status = 'open' AND pr.crawl_id = :crawl
             AND pr.id = (SELECT MAX(id) FROM probes x WHERE x.crawl_id = :crawl
                          AND x.platform = c.platform AND x.post_id = c.post_id)""",
        {"crawl": crawl_id}))
    removed = visible = still_open = 0
    with db.atomic():
        for row in rows:
            if row["outcome"] == "failed":
                still_open += 1
                db.execute("UPDATE candidates SET probes = probes + 1 WHERE id = ?",
                           [row["candidate_id"]])
                continue
            status = "removed" if row["outcome"] == "removed" else "visible"
            db.execute(
                "UPDATE candidates SET probes = probes + 1, status = ?, closed_at = ?, "
                "closed_crawl_id = ? WHERE id = ?",
                [status, row["probed_at"], crawl_id, row["candidate_id"]])
            if status == "visible":
                visible += 1
                continue
            removed += 1
            db.execute(
                """INSERT INTO removals (platform, post_id, account_id, reason, message,
                       last_seen_at, first_missing_at, detected_crawl_id, probe_id)
                   VALUES (?,?,?,?,?,?,?,?,?)""",
                [row["platform"], row["post_id"], row["account_id"], row["reason"],
                 row["message"], row["last_seen_at"], row["probed_at"], crawl_id, row["id"]])
    return ProbeResolution(probed=len(rows), removed=removed, visible=visible,
                           still_open=still_open)
