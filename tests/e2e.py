"""Helpers for end-to-end tests: the real CLI in a subprocess, driven clocks, the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import yaml
from memoryhole.corpus.clock import iso


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
