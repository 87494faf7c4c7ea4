"""The differ: from what a crawl saw to the posts that vanished, and from probes to removals.

A post's life is a chain of events (`post_events`), never overwritten: first_seen → missing
(absent from a covered window, or shown as a tombstone inside a repost) → visible | removed
(a probe's answer) → confirmed / reason_changed (re-probes) → restored (seen again, or probed
visible) → missing again ... Two steps, each one transaction, each costing in proportion to the
crawl it reads:

`diff_timeline(db, crawl_id)` after a timeline crawl
  1. computes each account's window: the run of pages that succeeded from page 1 on. A window
     covers order keys from the oldest non-pinned post on its last page up (pinned posts never
     bound it), or everything when the crawl reached the end of the timeline. A failed page 1
     covers nothing (rule 1). A page 1 that says "nothing here" is an `empty` window only when
     the account's profile says the account is gone; when the profile still exists it is a
     glitch and covers nothing; when the profile could not tell (`unconfirmed`), the account's
     newest live post is probed, and a probe that says the account is gone makes all its live
     posts candidates.
  2. closes candidates and restores removals for posts seen again;
  3. opens a candidate for every post seen in an earlier crawl, not seen in this one, inside its
     account's window (rule 4); for every live post of an account that is gone; and for every
     original shown as a tombstone inside a repost. Only a probe can say a post was removed.

`resolve_probes(db, crawl_id)` after a probe crawl
  turns each candidate's latest successful probe into a removal (reason, exact message, interval
  [last seen, answer received], the probe as evidence) or closes it as visible; applies
  confirm/recheck probes of earlier removals (the re-probe policy of the crawl's plan); failed
  probes change nothing and are asked again next cycle (rule 1).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import sqlite_utils

from .clock import iso, parse_iso
from .vocabulary import ACCOUNT_STATE_OF_REASON, AccountState, PostEvent
from .vocabulary import CandidateCause as Cause
from .vocabulary import CandidateStatus as Candidate
from .vocabulary import WindowStatus as Window


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
    confirmed: int = 0
    restored: int = 0
    opened: int = 0      # candidates opened for posts of accounts found gone


# The vocabulary values the SQL below binds by name (:open, :covered, :tombstone, ...).
_VOCABULARY_PARAMS = {
    **{s.name.lower(): s.value for s in Candidate},
    **{w.name.lower(): w.value for w in Window},
    **{c.name.lower(): c.value for c in Cause},
}


def _crawl_plan(db: sqlite_utils.Database, crawl_id: int) -> dict:
    """The plan a crawl recorded (with its defaults) when it started."""
    return json.loads(db.execute("SELECT plan_json FROM crawls WHERE id = ?",
                                 [crawl_id]).fetchone()[0])


def compute_windows(db: sqlite_utils.Database, crawl_id: int) -> list[dict]:
    """Window rows for a timeline crawl, from its pages (pure reading; nothing written)."""
    planned = {w["name"]: w["pages"] for w in _crawl_plan(db, crawl_id).get("watchlists", [])}
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
            status = Window.FAILED
        elif first["outcome"] == "end":
            # Nothing at all: believed only when the profile says the account is gone (or the
            # platform has no profile to ask). An existing account with an empty timeline is a
            # glitch, never mass removal.
            check = first.get("account_check")
            status = {None: Window.EMPTY, "gone": Window.EMPTY,
                      "exists": Window.FAILED}.get(check, Window.UNCONFIRMED)
        elif reached_end:
            status, oldest = Window.COVERED, 0
        elif oldest is None:
            status = Window.FAILED   # pages of pinned posts only: nothing bounds the window
        else:
            status = Window.COVERED
        windows.append({
            "crawl_id": crawl_id, "platform": platform, "account_id": account_id,
            "watchlist": watchlist, "status": status.value,
            "pages_planned": planned.get(watchlist, 0),
            "pages_ok": ok, "reached_end": int(reached_end), "newest_key": newest,
            "oldest_key": oldest if status == Window.COVERED else None,
            "requested_at": first["requested_at"] if first else None,
        })
    return windows


def _account_events_from_pages(db: sqlite_utils.Database, crawl_id: int) -> None:
    """Account states the crawl learned: gone (profile's words) or active (its posts shown)."""
    for row in db.query(
            """SELECT platform, account_id, account_state, account_message, fetched_at
               FROM pages WHERE crawl_id = ? AND page = 1 AND account_check = 'gone'""",
            [crawl_id]):
        _set_account_state(db, row["platform"], row["account_id"], row["account_state"],
                           row["account_message"], row["fetched_at"], crawl_id, None)
    for row in db.query(
            """SELECT a.platform, a.account_id, MIN(p.requested_at) AS at FROM accounts a
               JOIN pages p ON p.platform = a.platform AND p.account_id = a.account_id
               WHERE p.crawl_id = ? AND p.outcome = 'posts' AND a.state != ?
               GROUP BY a.platform, a.account_id""", [crawl_id, AccountState.ACTIVE]):
        _set_account_state(db, row["platform"], row["account_id"], AccountState.ACTIVE, None,
                           row["at"], crawl_id, None)


def _set_account_state(db: sqlite_utils.Database, platform: str, account_id: str, state: str,
                       message: str | None, at: str, crawl_id: int | None,
                       probe_id: int | None) -> None:
    current = db.execute("SELECT state FROM accounts WHERE platform = ? AND account_id = ?",
                         [platform, account_id]).fetchone()
    if current is not None and current[0] == state:
        return
    db.execute(
        """INSERT INTO accounts (platform, account_id, state, state_changed_at)
           VALUES (?, ?, ?, ?) ON CONFLICT (platform, account_id) DO UPDATE SET
           state = excluded.state, state_changed_at = excluded.state_changed_at""",
        [platform, account_id, state, at])
    db.execute(
        """INSERT INTO account_events (platform, account_id, state, message, at, crawl_id,
               probe_id) VALUES (?,?,?,?,?,?,?)""",
        [platform, account_id, state, message, at, crawl_id, probe_id])


def diff_timeline(db: sqlite_utils.Database, crawl_id: int) -> TimelineDiff:
    windows = compute_windows(db, crawl_id)
    params = {"crawl": crawl_id, **_VOCABULARY_PARAMS}
    with db.atomic():
        db["windows"].insert_all(windows)
        _account_events_from_pages(db, crawl_id)
        # Seen again: close open candidates, restore active removals. Costs follow the poll:
        # `+s.crawl_id` keeps SQLite on sightings_post (the post's few sightings) instead of
        # sightings_crawl (the whole poll, once per candidate); removals, which pile up with the
        # corpus, are reached from the poll's sightings. Events are written in row id order (the
        # order SQLite's two-pass UPDATE returned them in before).
        seen_again = [row[1:] for row in sorted(db.execute(
            """UPDATE candidates SET status = :seen_again, closed_crawl_id = :crawl,
                   closed_at = (SELECT MIN(seen_at) FROM sightings s WHERE +s.crawl_id = :crawl
                                AND s.platform = candidates.platform
                                AND s.post_id = candidates.post_id)
               WHERE status = :open AND EXISTS (
                   SELECT 1 FROM sightings s WHERE +s.crawl_id = :crawl
                   AND s.platform = candidates.platform AND s.post_id = candidates.post_id)
               RETURNING id, platform, post_id, closed_at""", params).fetchall())]
        _events(db, [(p, pid, PostEvent.SEEN_AGAIN, None, at, crawl_id, None, None)
                     for p, pid, at in seen_again])
        restored = [row[1:] for row in sorted(db.execute(
            """UPDATE removals SET restored_crawl_id = :crawl, next_probe_at = NULL,
                   next_probe_purpose = NULL,
                   restored_at = (SELECT MIN(seen_at) FROM sightings s WHERE +s.crawl_id = :crawl
                                  AND s.platform = removals.platform
                                  AND s.post_id = removals.post_id)
               WHERE restored_at IS NULL AND id IN (
                   SELECT r.id FROM sightings s JOIN removals r
                     ON r.platform = s.platform AND r.post_id = s.post_id
                   WHERE s.crawl_id = :crawl AND r.restored_at IS NULL
                     AND s.seen_at > r.first_missing_at)
               RETURNING id, platform, post_id, restored_at, reason""", params).fetchall())]
        _events(db, [(p, pid, PostEvent.RESTORED, reason, at, crawl_id, None, "seen again")
                     for p, pid, at, reason in restored])
        # Absent from a covered window, or from an account that is gone.
        new = db.execute(
            """INSERT INTO candidates (platform, post_id, account_id, opened_crawl_id,
                   last_seen_at, first_absent_at, status, cause)
               SELECT p.platform, p.post_id, p.account_id, w.crawl_id, p.last_seen_at,
                      w.requested_at, :open,
                      CASE w.status WHEN :empty THEN :empty_timeline ELSE :window END
               FROM windows w JOIN posts p
                 ON p.platform = w.platform AND p.account_id = w.account_id
               WHERE w.crawl_id = :crawl AND w.status IN (:empty, :covered)
                 -- all of an empty window's posts; a covered one's from its oldest key up, as a
                 -- range on posts_account_order (an OR here made SQLite read every post)
                 AND p.order_key >= CASE w.status WHEN :covered THEN w.oldest_key
                                                  ELSE -9223372036854775808 END
                 AND p.last_seen_crawl_id < :crawl
                 AND NOT EXISTS (SELECT 1 FROM removals r WHERE r.platform = p.platform
                                 AND r.post_id = p.post_id AND r.restored_at IS NULL)
                 AND NOT EXISTS (SELECT 1 FROM candidates c WHERE c.platform = p.platform
                                 AND c.post_id = p.post_id AND c.status = :open)
               GROUP BY p.platform, p.post_id
               RETURNING platform, post_id, first_absent_at, cause""", params).fetchall()
        # An original shown as a tombstone inside a repost: gone, says the platform's page.
        tombstoned = db.execute(
            """INSERT INTO candidates (platform, post_id, account_id, opened_crawl_id,
                   last_seen_at, first_absent_at, status, cause)
               SELECT t.platform, t.post_id, COALESCE(p.account_id, ''), t.crawl_id,
                      p.last_seen_at, MIN(t.seen_at), :open, :tombstone
               FROM tombstones t LEFT JOIN posts p
                 ON p.platform = t.platform AND p.post_id = t.post_id
               WHERE t.crawl_id = :crawl
                 AND (p.last_seen_at IS NULL OR p.last_seen_at < t.seen_at)
                 AND NOT EXISTS (SELECT 1 FROM removals r WHERE r.platform = t.platform
                                 AND r.post_id = t.post_id AND r.restored_at IS NULL)
                 AND NOT EXISTS (SELECT 1 FROM candidates c WHERE c.platform = t.platform
                                 AND c.post_id = t.post_id AND c.status = :open)
               GROUP BY t.platform, t.post_id
               RETURNING platform, post_id, first_absent_at, cause""", params).fetchall()
        # Profile could not tell: ask about one post; its answer speaks for the account.
        sample = db.execute(
            """INSERT INTO candidates (platform, post_id, account_id, opened_crawl_id,
                   last_seen_at, first_absent_at, status, cause)
               SELECT p.platform, p.post_id, p.account_id, w.crawl_id, p.last_seen_at,
                      w.requested_at, :open, :unconfirmed_empty_timeline
               FROM windows w JOIN posts p
                 ON p.platform = w.platform AND p.account_id = w.account_id
               WHERE w.crawl_id = :crawl AND w.status = :unconfirmed
                 -- the newest live key, found once per window from the newest end (a MAX
                 -- correlated on p was every post of the account times every post)
                 AND p.order_key = (SELECT q.order_key FROM posts q
                     WHERE q.platform = w.platform AND q.account_id = w.account_id
                     AND NOT EXISTS (SELECT 1 FROM removals r WHERE r.platform = q.platform
                                     AND r.post_id = q.post_id AND r.restored_at IS NULL)
                     ORDER BY q.order_key DESC LIMIT 1)
                 AND NOT EXISTS (SELECT 1 FROM candidates c WHERE c.platform = p.platform
                                 AND c.post_id = p.post_id AND c.status = :open)
               RETURNING platform, post_id, first_absent_at, cause""", params).fetchall()
        opened = new + tombstoned + sample
        _events(db, [(p, pid, PostEvent.MISSING, None, at, crawl_id, None, cause)
                     for p, pid, at, cause in opened])
    open_now = db.execute("SELECT COUNT(*) FROM candidates WHERE status = ?",
                          [Candidate.OPEN]).fetchone()[0]
    count = defaultdict(int)
    for w in windows:
        count[w["status"]] += 1
    return TimelineDiff(windows=len(windows), covered=count[Window.COVERED],
                        empty=count[Window.EMPTY], failed=count[Window.FAILED], seen_again=len(seen_again),
                        restored=len(restored), new_candidates=len(opened),
                        open_candidates=open_now)


def _events(db: sqlite_utils.Database, rows: list[tuple]) -> None:
    db.conn.executemany(
        """INSERT INTO post_events (platform, post_id, event, reason, at, crawl_id, probe_id,
               detail) VALUES (?,?,?,?,?,?,?,?)""", rows)


def _reprobe_policy(db: sqlite_utils.Database, crawl_id: int) -> tuple[float, tuple[float, ...]]:
    policy = _crawl_plan(db, crawl_id).get("reprobe") or {}
    return (float(policy.get("confirm_after", 3600.0)),
            tuple(float(r) for r in policy.get("recheck_after", (86400.0, 604800.0))))


def _next_probe(first_missing_at: str, after: str, rechecks: tuple[float, ...]) -> str | None:
    """The first re-check due after `after`, counted from detection; None when none is left."""
    start, now = parse_iso(first_missing_at), parse_iso(after)
    for offset in rechecks:
        due = start + timedelta(seconds=offset)
        if due > now:
            return iso(due)
    return None


def resolve_probes(db: sqlite_utils.Database, crawl_id: int) -> ProbeResolution:
    confirm_after, rechecks = _reprobe_policy(db, crawl_id)
    # The latest probe of each post in this crawl decides.
    latest = """pr.id = (SELECT MAX(id) FROM probes x WHERE x.crawl_id = :crawl
                         AND x.platform = pr.platform AND x.post_id = pr.post_id)"""
    # probes has no index on crawl_id: CROSS JOIN keeps SQLite from scanning every probe ever
    # made (it did), going from the open candidates / active removals to their probes instead;
    # ORDER BY pr.id is the order that scan gave.
    classify = list(db.query(
        f"""SELECT c.id AS candidate_id, c.last_seen_at, c.account_id AS candidate_account,
                   pr.* FROM candidates c
           CROSS JOIN probes pr ON pr.platform = c.platform AND pr.post_id = c.post_id
           WHERE c.status = :open AND pr.crawl_id = :crawl AND pr.purpose = 'classify'
             AND {latest} ORDER BY pr.id""", {"crawl": crawl_id, "open": Candidate.OPEN}))
    again = list(db.query(
        f"""SELECT r.id AS removal_id, r.reason AS removal_reason, r.first_missing_at,
                   r.confirmed_at, pr.* FROM removals r
           CROSS JOIN probes pr ON pr.platform = r.platform AND pr.post_id = r.post_id
           WHERE r.restored_at IS NULL AND pr.crawl_id = :crawl
             AND pr.purpose IN ('confirm', 'recheck') AND {latest} ORDER BY pr.id""",
        {"crawl": crawl_id}))
    removed = visible = still_open = confirmed = restored = 0
    gone_accounts: set[tuple[str, str, str]] = set()
    opened_for_accounts = 0
    with db.atomic():
        for row in classify:
            if row["outcome"] == "failed":
                still_open += 1
                db.execute("UPDATE candidates SET probes = probes + 1 WHERE id = ?",
                           [row["candidate_id"]])
                continue
            status = Candidate.REMOVED if row["outcome"] == "removed" else Candidate.VISIBLE
            db.execute(
                "UPDATE candidates SET probes = probes + 1, status = ?, closed_at = ?, "
                "closed_crawl_id = ? WHERE id = ?",
                [status, row["probed_at"], crawl_id, row["candidate_id"]])
            if status == Candidate.VISIBLE:
                visible += 1
                _events(db, [(row["platform"], row["post_id"], PostEvent.VISIBLE, None,
                              row["probed_at"], crawl_id, row["id"], None)])
                continue
            removed += 1
            account = row["candidate_account"] or row["account_id"] or ""
            due = parse_iso(row["probed_at"]) + timedelta(seconds=confirm_after)
            db.execute(
                """INSERT INTO removals (platform, post_id, account_id, reason, message,
                       last_seen_at, first_missing_at, detected_crawl_id, probe_id,
                       next_probe_at, next_probe_purpose)
                   VALUES (?,?,?,?,?,?,?,?,?,?,'confirm')""",
                [row["platform"], row["post_id"], account, row["reason"], row["message"],
                 row["last_seen_at"], row["probed_at"], crawl_id, row["id"], iso(due)])
            _events(db, [(row["platform"], row["post_id"], PostEvent.REMOVED, row["reason"],
                          row["probed_at"], crawl_id, row["id"], row["message"])])
            if row["reason"] in ACCOUNT_STATE_OF_REASON and account:
                _set_account_state(db, row["platform"], account,
                                   ACCOUNT_STATE_OF_REASON[row["reason"]], row["message"],
                                   row["probed_at"], crawl_id, row["id"])
                gone_accounts.add((row["platform"], account, row["probed_at"]))
        # An account the platform says is gone: every live post of it is now a candidate.
        for platform, account, at in sorted(gone_accounts):
            opened = db.execute(
                """INSERT INTO candidates (platform, post_id, account_id, opened_crawl_id,
                       last_seen_at, first_absent_at, status, cause)
                   SELECT p.platform, p.post_id, p.account_id, :crawl, p.last_seen_at, :at,
                          :open, :account_gone
                   FROM posts p WHERE p.platform = :platform AND p.account_id = :account
                     AND NOT EXISTS (SELECT 1 FROM removals r WHERE r.platform = p.platform
                                     AND r.post_id = p.post_id AND r.restored_at IS NULL)
                     AND NOT EXISTS (SELECT 1 FROM candidates c WHERE c.platform = p.platform
                                     AND c.post_id = p.post_id AND c.status = :open)
                   RETURNING platform, post_id, first_absent_at""",
                {"crawl": crawl_id, "at": at, "platform": platform, "account": account,
                 **_VOCABULARY_PARAMS},
            ).fetchall()
            _events(db, [(p, pid, PostEvent.MISSING, None, t, crawl_id, None, Cause.ACCOUNT_GONE)
                         for p, pid, t in opened])
            opened_for_accounts += len(opened)
        for row in again:
            if row["outcome"] == "failed":
                continue   # still due: asked again next cycle
            event = (row["platform"], row["post_id"])
            if row["outcome"] == "visible":
                restored += 1
                db.execute(
                    "UPDATE removals SET restored_at = ?, restored_crawl_id = ?, "
                    "next_probe_at = NULL, next_probe_purpose = NULL WHERE id = ?",
                    [row["probed_at"], crawl_id, row["removal_id"]])
                _events(db, [(*event, PostEvent.RESTORED, row["removal_reason"], row["probed_at"],
                              crawl_id, row["id"], "probed visible")])
                continue
            next_at = _next_probe(row["first_missing_at"], row["probed_at"], rechecks)
            newly_confirmed = row["confirmed_at"] is None
            confirmed += newly_confirmed
            db.execute(
                """UPDATE removals SET probes = probes + 1,
                       confirmed_at = COALESCE(confirmed_at, ?),
                       next_probe_at = ?, next_probe_purpose = ? WHERE id = ?""",
                [row["probed_at"], next_at, "recheck" if next_at else None, row["removal_id"]])
            if newly_confirmed:
                _events(db, [(*event, PostEvent.CONFIRMED, row["reason"], row["probed_at"], crawl_id,
                              row["id"], row["purpose"])])
            if row["reason"] != row["removal_reason"]:
                _events(db, [(*event, PostEvent.REASON_CHANGED, row["reason"], row["probed_at"],
                              crawl_id, row["id"], row["message"])])
    return ProbeResolution(probed=len(classify) + len(again), removed=removed, visible=visible,
                           still_open=still_open, confirmed=confirmed, restored=restored,
                           opened=opened_for_accounts)
