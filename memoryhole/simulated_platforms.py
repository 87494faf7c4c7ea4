"""The sandbox's other platforms (Telegram channels, WeChat articles) watched on the same driven
clock as its Weibo: their plans, one crawl cycle of each, their truth and their scorecards.
Used by the demo and validation; the pipeline never imports this module.

Each crawl runs in its own process (`memoryhole crawl --once`, its clock at the simulated time):
Scrapy's Twisted reactor runs once per process, and the Weibo run owns this one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils
import yaml

from memoryhole.corpus.clock import iso

from .scorecard import Scorecard, platform_truth, score

OTHER_PLATFORMS = ("telegram", "wechat")
# WeChat articles: every 6 h in their first day, daily after.
# The simulated platforms' random faults are single bad answers, not bans: no cool-downs.
SIMULATED_FAULTS: dict[str, Any] = {"cooldown": {"base": "0s"}}
ITEM_SCHEDULE = ({"until": "1d", "every": "6h"}, {"every": "1d"})


def plans(server: Any, politeness: dict[str, Any],
          schedule: tuple[dict[str, Any], ...] = ITEM_SCHEDULE) -> dict[str, dict[str, Any]]:
    """Plans for the other platforms `server` simulates: every Telegram channel (a listing watch,
    two pages by cursor) and every WeChat article (an item watch on `schedule`)."""
    found: dict[str, dict[str, Any]] = {}
    if server.telegram is not None:
        found["telegram"] = {
            "name": "telegram", "platform": "telegram", "base_url": f"{server.url}/telegram",
            "pagination": "cursor", "politeness": politeness, "access": SIMULATED_FAULTS,
            "watchlists": [{"name": "channels", "accounts": list(server.telegram.channels),
                            "every": "1h", "pages": 2}]}
    if server.wechat is not None:
        found["wechat"] = {
            "name": "wechat", "platform": "wechat", "base_url": f"{server.url}/wechat",
            "politeness": politeness, "access": SIMULATED_FAULTS,
            "watchlists": [{"name": "articles",
                            "items": [a.url for a in server.wechat.articles],
                            "schedule": list(schedule)}]}
    return found


def write_plans(server: Any, politeness: dict[str, Any], directory: Path,
                schedule: tuple[dict[str, Any], ...] = ITEM_SCHEDULE) -> list[Path]:
    """The plans as files `<directory>/<platform>-plan.yaml`."""
    paths = []
    for name, plan in plans(server, politeness, schedule).items():
        paths.append(directory / f"{name}-plan.yaml")
        paths[-1].write_text(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False),
                             encoding="utf-8")
    return paths


def crawl_once(plan_paths: list[Path], data_dir: Path, now: datetime,
               log_level: str = "ERROR") -> None:
    """One cycle of each plan, side by side, each in its own process with its clock at `now`."""
    env = dict(os.environ, MEMORYHOLE_NOW=iso(now))
    running = [subprocess.Popen(
        [sys.executable, "-m", "memoryhole.cli", "crawl", str(path), "--data", str(data_dir),
         "--once", "--log-level", log_level], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True) for path in plan_paths]
    problems = []
    for path, process in zip(plan_paths, running, strict=True):
        _, err = process.communicate()
        if process.returncode != 0:
            problems.append(f"{path.name} exited {process.returncode}: {err.strip()[-400:]}")
    if problems:
        raise RuntimeError("; ".join(problems))


def full_truth(server: Any, at: datetime) -> dict[str, Any]:
    """The sandbox's truth at `at` as `GET /_sandbox/truth` gives it: Weibo's, plus `wechat` and
    `telegram` when the scenario simulates them."""
    truth = server.world.truth(at)
    if server.wechat is not None:
        truth["wechat"] = {"articles": server.wechat.truth(at)}
    if server.telegram is not None:
        truth["telegram"] = server.telegram.truth(at)
    return truth


def scorecards(db: sqlite_utils.Database, truth: dict[str, Any]) -> dict[str, Scorecard]:
    """A scorecard per other platform in `truth` (WeChat's as an item watch)."""
    return {name: score(db, platform_truth(truth, name), name, item_watch=name == "wechat")
            for name in OTHER_PLATFORMS if name in truth}
