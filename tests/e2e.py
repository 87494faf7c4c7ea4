"""Helpers for end-to-end tests: the real CLI in a subprocess, driven clocks, the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import yaml
from memoryhole.corpus.clock import iso, parse_iso
from memoryhole.corpus.store import Corpus

from memoryhole.scorecard import Scorecard, platform_truth, score
from memoryhole.simulated_platforms import full_truth

# A simulated Weibo of one account that never posts and is never suspended: in a scenario for
# another platform, that platform is all there is to watch.
QUIET_WEIBO = {"accounts": {"count": 1, "initial_posts": 1, "posts_per_hour": 0},
               "suspend": {"accounts": 0}}


def write_plan(path: Path, base_url: str, accounts: list[str], pages: int = 2,
               **extra) -> Path:
    plan = {
        "platform": "weibo", "base_url": base_url,
        "watchlists": [{"name": "test", "accounts": accounts, "every": "10s", "pages": pages}],
        "politeness": {"delay": 0, "concurrency": 4, "timeout": "5s", "retries": 3},
        **extra,
    }
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def memoryhole(*args: str, now: datetime | None = None, check: bool = True
               ) -> subprocess.CompletedProcess:
    """Run the installed CLI as a researcher would, with the crawler's clock frozen at `now`."""
    env = dict(os.environ)
    if now is not None:
        env["MEMORYHOLE_NOW"] = iso(now)
    result = subprocess.run([sys.executable, "-m", "memoryhole.cli", *args], env=env,
                            capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"memoryhole {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def crawl_once(plan: Path, data: Path, now: datetime) -> str:
    return memoryhole("crawl", str(plan), "--data", str(data), "--once", now=now).stderr


def exported_removals(data: Path) -> list[dict]:
    out = memoryhole("export", "removals", "--data", str(data)).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# --- comparing a corpus with the sandbox's truth (WeChat, Telegram) ---------------------------


def by_post(rows: list[dict]) -> dict[str, dict]:
    return {r["post_id"]: r for r in rows}


def corpus_rows(data: Path, sql: str) -> list:
    corpus = Corpus(data, create=False)
    try:
        return list(corpus.db.execute(sql).fetchall())
    finally:
        corpus.close()


def scorecard(data: Path, server, platform: str, at: datetime,
              item_watch: bool = False) -> Scorecard:
    """The corpus's removals of `platform` scored against the sandbox `server`'s truth at `at`."""
    truth = full_truth(server, at)
    corpus = Corpus(data, create=False)
    try:
        return score(corpus.db, platform_truth(truth, platform), platform, item_watch)
    finally:
        corpus.close()


def assert_removals_equal_truth(got: dict, expected: dict) -> None:
    """Exported removals by post equal the truth's removed posts: reasons, words, and each true
    removal time inside its interval."""
    assert set(got) == set(expected)
    for pid, removal in got.items():
        truth = expected[pid]
        assert removal["reason"] == truth["cause"], pid
        assert removal["message"] == truth["message"], pid
        assert parse_iso(removal["last_seen_at"]) <= parse_iso(truth["removed_at"]), pid
        assert parse_iso(truth["removed_at"]) <= parse_iso(removal["first_missing_at"]), pid
