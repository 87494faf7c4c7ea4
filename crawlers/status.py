"""A campaign's health, per watchlist and platform: `memoryhole status --data DIR`.

Read from the corpus only (the scheduler's `schedule_watchlists` and `schedule_ticks`, the crawls
and what they fetched, the `cooldowns` the access layer records when it exists), so it answers
for a campaign that is running, stopped or crashed. `now` is the crawler's clock
(MEMORYHOLE_NOW when frozen). Trouble is said in words (`CampaignStatus.problems`): a watchlist
falling behind its cadence, a campaign that stopped ticking, a session that keeps getting
blocked, a platform whose fetches mostly fail. The same figures are a Datasette page
(`campaign_status` in analysis/metadata.yaml).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils
from memoryhole.corpus import clock

# A session blocked this often in a day "keeps getting blocked".
BLOCKED_OFTEN = 3
# A platform whose fetches in the last hour failed at least this share is unhealthy.
FAILING_SHARE = 0.5


@dataclass
class WatchlistStatus:
    platform: str
    watchlist: str
    kind: str                 # account | item
    plan_version: int | None
    every: float
    schedule: list[list[float | None]]
    members: int
    last_run_at: str | None
    next_run_at: str | None
    lag_seconds: float        # behind cadence now: since its next run fell due (0: on time)
    due: int                  # at the last tick
    behind: int               # ... left for later by the budget
    pages_hour: int = 0
    pages_day: int = 0
    failed_pages_day: int = 0
    posts_watched: int = 0
    removals: int = 0


@dataclass
class PlatformStatus:
    platform: str
    host: str | None
    budget: int | None
    requests_hour: int        # requests its host's ticks admitted or made in the last hour
    probes_hour: int = 0
    probes_day: int = 0
    failures_hour: dict[str, int] = field(default_factory=dict)
    failures_day: dict[str, int] = field(default_factory=dict)
    fetches_hour: int = 0     # pages, probes and long texts fetched or failed in the last hour
    cooldowns: list[dict[str, Any]] = field(default_factory=list)   # in force now
    last_tick_at: str | None = None


@dataclass
class CampaignStatus:
    at: str
    watchlists: list[WatchlistStatus]
    platforms: list[PlatformStatus]
    problems: list[str]

    @property
    def healthy(self) -> bool:
        return not self.problems


def _has_table(db: sqlite_utils.Database, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                      [name]).fetchone() is not None


def _since(db: sqlite_utils.Database, start: str) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM crawls WHERE started_at > ?", [start])]


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def campaign_status(db: sqlite_utils.Database, now: datetime | None = None) -> CampaignStatus:
    """The campaign's status at `now` (default: the crawler's clock)."""
    now = now or clock.now()
    at = clock.iso(now)
    hour, day = clock.iso(now - timedelta(hours=1)), clock.iso(now - timedelta(days=1))
    hour_ids, day_ids = _since(db, hour), _since(db, day)

    def marks(ids: list[int]) -> str:
        return ",".join(str(int(i)) for i in ids) or "NULL"

    versions = dict(db.execute("SELECT plan_hash, version FROM plan_versions").fetchall())
    watchlists = []
    for row in db.query("SELECT * FROM schedule_watchlists ORDER BY platform, watchlist"):
        lag = 0.0
        if row["next_run_at"]:
            lag = max(0.0, (now - clock.parse_iso(row["next_run_at"])).total_seconds())
        status = WatchlistStatus(
            platform=row["platform"], watchlist=row["watchlist"], kind=row["kind"],
            plan_version=versions.get(row["plan_hash"]), every=row["every"],
            schedule=json.loads(row["schedule"] or "[]"), members=row["members"],
            last_run_at=row["last_run_at"], next_run_at=row["next_run_at"], lag_seconds=lag,
            due=row["due"], behind=row["behind"])
        pages = db.execute(
            f"""SELECT COALESCE(SUM(c.started_at > ?), 0), COUNT(*),
                       COALESCE(SUM(p.outcome = 'failed'), 0)
                FROM pages p JOIN crawls c ON c.id = p.crawl_id
                WHERE p.crawl_id IN ({marks(day_ids)}) AND p.platform = ? AND p.watchlist = ?""",
            [hour, status.platform, status.watchlist]).fetchone()
        status.pages_hour, status.pages_day, status.failed_pages_day = pages
        member = ("m.member_id = p.account_id" if status.kind == "account"
                  else "m.member_id = p.post_id")
        status.posts_watched = db.execute(
            f"""SELECT COUNT(*) FROM watchlist_members m JOIN posts p
                ON p.platform = m.platform AND {member}
                WHERE m.platform = ? AND m.watchlist = ? AND m.kind = ?""",
            [status.platform, status.watchlist, status.kind]).fetchone()[0]
        status.removals = db.execute(
            f"""SELECT COUNT(*) FROM removals p JOIN watchlist_members m
                ON m.platform = p.platform AND {member} AND m.watchlist = ? AND m.kind = ?
                WHERE p.platform = ?""",
            [status.watchlist, status.kind, status.platform]).fetchone()[0]
        watchlists.append(status)

    platforms = []
    for (platform,) in db.execute(
            "SELECT platform FROM schedule_watchlists UNION SELECT platform FROM crawls "
            f"WHERE id IN ({marks(day_ids)}) ORDER BY 1"):
        tick = db.execute("SELECT host, budget, at FROM schedule_ticks WHERE platform = ? "
                          "ORDER BY id DESC LIMIT 1", [platform]).fetchone()
        host, budget, last_tick = tick if tick else (None, None, None)
        used = 0
        if host:
            used = db.execute(
                "SELECT COALESCE(SUM(MAX(requests_admitted, COALESCE(requests_made, 0))), 0) "
                "FROM schedule_ticks WHERE host = ? AND at > ? AND at <= ?",
                [host, hour, at]).fetchone()[0]
        status = PlatformStatus(platform, host, budget, used, last_tick_at=last_tick)
        status.probes_hour, status.probes_day = db.execute(
            f"""SELECT COALESCE(SUM(c.started_at > ?), 0), COUNT(*) FROM probes p
                JOIN crawls c ON c.id = p.crawl_id
                WHERE p.crawl_id IN ({marks(day_ids)}) AND p.platform = ?""",
            [hour, platform]).fetchone()
        for ids, into in ((hour_ids, status.failures_hour), (day_ids, status.failures_day)):
            into.update(db.execute(
                f"""SELECT failure, COUNT(*) FROM fetch_failures WHERE crawl_id IN ({marks(ids)})
                    AND platform = ? GROUP BY failure ORDER BY COUNT(*) DESC, failure""",
                [platform]).fetchall())
        status.fetches_hour = db.execute(
            f"""SELECT (SELECT COUNT(*) FROM pages WHERE crawl_id IN ({marks(hour_ids)})
                        AND platform = ?1)
                     + (SELECT COUNT(*) FROM probes WHERE crawl_id IN ({marks(hour_ids)})
                        AND platform = ?1)""", [platform]).fetchone()[0]
        if _has_table(db, "cooldowns"):
            status.cooldowns = list(db.query(
                "SELECT host, session, cause, started_at, until FROM cooldowns "
                "WHERE platform = ? AND until > ? AND started_at <= ? ORDER BY until",
                [platform, at, at]))
        platforms.append(status)
    return CampaignStatus(at, watchlists, platforms, _problems(db, now, watchlists, platforms))


def _problems(db: sqlite_utils.Database, now: datetime, watchlists: list[WatchlistStatus],
              platforms: list[PlatformStatus]) -> list[str]:
    """What is wrong, in words a researcher acts on."""
    problems = []
    for w in watchlists:
        if w.behind:
            problems.append(
                f"{w.platform} watchlist {w.watchlist!r} is falling behind its cadence: at the "
                f"last tick {w.behind:,} of {w.due:,} due {w.kind}s waited for the request "
                "budget; raise requests_per_hour, poll less often (every, schedule) or fewer "
                "pages")
        elif w.lag_seconds > max(120.0, 0.5 * w.every):
            problems.append(
                f"{w.platform} watchlist {w.watchlist!r} is {_span(w.lag_seconds)} behind its "
                f"cadence (next run was due {w.next_run_at}): is `memoryhole schedule` running?")
    for p in platforms:
        failed = sum(p.failures_hour.values())
        if p.fetches_hour and failed / (p.fetches_hour + failed) >= FAILING_SHARE:
            kinds = ", ".join(f"{k} ×{n}" for k, n in p.failures_hour.items())
            problems.append(f"{p.platform}: {failed} of the last hour's fetch attempts failed "
                            f"({kinds}); nothing failed is counted as a removal, but the "
                            "campaign is not seeing the platform")
        for c in p.cooldowns:
            problems.append(f"{p.platform}: {c['host']} session {c['session'] or '(none)'} is "
                            f"cooling down until {c['until']} ({c['cause']})")
    if _has_table(db, "cooldowns"):
        day = clock.iso(now - timedelta(days=1))
        for platform, host, session, times, cause in db.execute(
                """SELECT platform, host, session, COUNT(*), GROUP_CONCAT(DISTINCT cause)
                   FROM cooldowns WHERE started_at > ? AND started_at <= ?
                   GROUP BY 1, 2, 3 HAVING COUNT(*) >= ? ORDER BY 4 DESC""",
                [day, clock.iso(now), BLOCKED_OFTEN]):
            problems.append(
                f"{platform}: session {session or '(none)'} at {host} keeps getting blocked: "
                f"{times} cool-downs in the last day ({cause}); renew its cookies, slow it down "
                "(politeness.delay, requests_per_hour) or give it a rest")
    return problems


def format_status(status: CampaignStatus) -> str:
    """The status as text: a table of watchlists, one of platforms, then the problems."""
    def short(text: str | None) -> str:
        return text[:16].replace("T", " ") if text else "-"

    lines = [f"campaign status at {short(status.at)} UTC"]
    if not status.watchlists and not status.platforms:
        return lines[0] + ": no scheduled crawl yet (`memoryhole schedule PLAN --data DIR`)"
    head = ("platform", "watchlist", "plan v", "every", "members", "last run", "next run", "lag",
            "due/behind", "pages 1h/1d", "failed 1d", "posts", "removals")
    rows = [head]
    for w in status.watchlists:
        every = _span(w.every) + (" adaptive" if w.schedule and w.kind == "account" else "")
        rows.append((w.platform, w.watchlist, str(w.plan_version or "-"), every,
                     f"{w.members:,}", short(w.last_run_at), short(w.next_run_at),
                     _span(w.lag_seconds) if w.lag_seconds else "on time",
                     f"{w.due}/{w.behind}", f"{w.pages_hour}/{w.pages_day}",
                     str(w.failed_pages_day), f"{w.posts_watched:,}", f"{w.removals:,}"))
    lines += _table(rows)
    rows = [("platform", "host", "requests 1h/budget", "probes 1h/1d", "failures 1d",
             "cool-downs now", "last tick")]
    for p in status.platforms:
        rows.append((p.platform, p.host or "-",
                     f"{p.requests_hour:,}/{p.budget:,}" if p.budget else "-",
                     f"{p.probes_hour}/{p.probes_day}",
                     ", ".join(f"{k} ×{n}" for k, n in p.failures_day.items()) or "none",
                     str(len(p.cooldowns)), short(p.last_tick_at)))
    lines += [""] + _table(rows)
    lines.append("")
    lines += [f"! {p}" for p in status.problems] or ["healthy: every watchlist on its cadence"]
    return "\n".join(lines)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def status_record(status: CampaignStatus) -> dict[str, Any]:
    """The status as plain data (`memoryhole status --json`)."""
    from dataclasses import asdict

    return asdict(status) | {"healthy": status.healthy}
