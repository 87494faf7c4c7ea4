"""Reading the corpus a release is made from (read-only): its tables and columns, the latest plan
per watchlist, the public figures they name, and the release date."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from .columns import DROP_TABLES, quote
from .options import ReleaseError


def connect_read_only(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def table_names(conn: sqlite3.Connection) -> list[str]:
    """The corpus's public tables: every real table except SQLite's, FTS indexes and their state."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    virtual = [r["name"] for r in rows if (r["sql"] or "").upper().startswith("CREATE VIRTUAL")]
    from memoryhole.analysis.fts import STATE_TABLE

    names = []
    for r in rows:
        name = r["name"]
        if (name.startswith("sqlite_") or name in virtual or name == STATE_TABLE
                or name in DROP_TABLES
                or any(name.startswith(v + "_") for v in virtual)):
            continue
        names.append(name)
    return sorted(names)


def table_columns(conn: sqlite3.Connection, table: str) -> list[sqlite3.Row]:
    return conn.execute(f"PRAGMA table_info({quote(table)})").fetchall()


def latest_plans(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """The plan of each platform's latest crawl (public_figures and watchlists come from it)."""
    plans: dict[str, dict[str, Any]] = {}
    for row in conn.execute("SELECT platform, plan_json FROM crawls ORDER BY id"):
        try:
            plan = json.loads(row["plan_json"] or "{}")
        except ValueError:
            continue
        if isinstance(plan, dict):
            plans[row["platform"]] = plan
    return plans


def public_figures(plans: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    """(platform, account_id) of every account the latest plans mark as a public figure."""
    marked = set()
    for platform, plan in plans.items():
        for watchlist in plan.get("watchlists") or []:
            for account in (watchlist or {}).get("public_figures") or []:
                marked.add((platform, str(account)))
    return marked


def release_date(conn: sqlite3.Connection) -> str:
    """The UTC date (and time) the corpus's last crawl ended: the release's date, not the clock's."""
    row = conn.execute("SELECT MAX(COALESCE(ended_at, started_at)) FROM crawls").fetchone()
    if not row or not row[0]:
        raise ReleaseError("the corpus has no crawls; run `memoryhole crawl` before releasing")
    return row[0]
