"""The sandbox's other platforms (Telegram channels, WeChat articles, Bilibili uploaders, Youku
videos) watched on the same driven clock as its Weibo: their plans, one crawl cycle of each,
their truth and their scorecards. Used by the demo and validation; the pipeline never imports this module.

Validation and the demo crawl them beside Weibo in one scheduler (one reactor, each plan at its
cadence); `crawl_once` runs one cycle of each in its own process (`memoryhole crawl --once`, its
clock at the simulated time) for tests that drive them alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils
import yaml

from memoryhole.corpus.clock import iso

from .scorecard import Scorecard, platform_truth, score

OTHER_PLATFORMS = ("telegram", "wechat", "bilibili", "youku")
ITEM_WATCHES = ("wechat", "youku")
# WeChat articles: every 6 h in their first day, daily after.
# The simulated platforms' random faults are single bad answers, not bans: no cool-downs.
SIMULATED_FAULTS: dict[str, Any] = {"cooldown": {"base": "0s"}}
ITEM_SCHEDULE = ({"until": "1d", "every": "6h"}, {"every": "1d"})


def plans(server: Any, politeness: dict[str, Any],
          schedule: tuple[dict[str, Any], ...] = ITEM_SCHEDULE, every: Any = "1h",
          extra: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Plans for the other platforms `server` simulates: every Telegram channel (a listing watch,
    two pages by cursor, polled `every`), every WeChat article and Youku video (item watches on
    `schedule`) and every Bilibili uploader (a listing watch, two pages); `extra` is laid over
    each plan."""
    found: dict[str, dict[str, Any]] = {}
    if server.telegram is not None:
        found["telegram"] = {
            "name": "telegram", "platform": "telegram", "base_url": f"{server.url}/telegram",
            "pagination": "cursor", "politeness": politeness, "access": SIMULATED_FAULTS,
            "watchlists": [{"name": "channels", "accounts": list(server.telegram.channels),
                            "every": every, "pages": 2}], **(extra or {})}
    if server.wechat is not None:
        found["wechat"] = {
            "name": "wechat", "platform": "wechat", "base_url": f"{server.url}/wechat",
            "politeness": politeness, "access": SIMULATED_FAULTS,
            "watchlists": [{"name": "articles",
                            "items": [a.url for a in server.wechat.articles],
                            "schedule": list(schedule)}], **(extra or {})}
    if getattr(server, "bilibili", None) is not None:
        found["bilibili"] = {
            "name": "bilibili", "platform": "bilibili", "base_url": f"{server.url}/bilibili",
            "politeness": politeness,
            "watchlists": [{"name": "uploaders", "every": every, "pages": 2,
                            "accounts": [str(mid) for mid in server.bilibili.uploaders]}],
            **(extra or {})}
    if getattr(server, "youku", None) is not None:
        found["youku"] = {
            "name": "youku", "platform": "youku", "base_url": f"{server.url}/youku",
            "politeness": politeness,
            "watchlists": [{"name": "videos", "schedule": list(schedule),
                            "items": [v.video_id for v in server.youku.videos]}],
            **(extra or {})}
    return found


def write_plans(server: Any, politeness: dict[str, Any], directory: Path,
                schedule: tuple[dict[str, Any], ...] = ITEM_SCHEDULE, every: Any = "1h",
                extra: dict[str, Any] | None = None) -> list[Path]:
    """The plans as files `<directory>/<platform>-plan.yaml`."""
    paths = []
    for name, plan in plans(server, politeness, schedule, every, extra).items():
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
    if getattr(server, "news", None) is not None:
        truth["news"] = {"articles": server.news.truth(at)}
    if getattr(server, "toutiao", None) is not None:
        truth["toutiao"] = {"items": server.toutiao.truth(at)}
    if getattr(server, "bilibili", None) is not None:
        truth["bilibili"] = server.bilibili.truth(at)
    if getattr(server, "youku", None) is not None:
        truth["youku"] = server.youku.truth(at)
    return truth


def scorecards(db: sqlite_utils.Database, truth: dict[str, Any]) -> dict[str, Scorecard]:
    """A scorecard per other platform in `truth` (WeChat's as an item watch)."""
    return {name: score(db, platform_truth(truth, name), name, item_watch=name in ITEM_WATCHES)
            for name in OTHER_PLATFORMS if name in truth}


def hourly_scorecards(scenario: Any, directory: Path, hours: int
                      ) -> tuple[dict[str, Scorecard], int]:
    """Crawl every other platform `scenario` simulates once a simulated hour for `hours` hours
    (items probed hourly, removals re-probed within the hour so restorations show), then score
    the corpus in `directory`/data against the truth: (scorecards, faults the sandbox injected)."""
    from memoryhole.corpus.store import Corpus
    from memoryhole.sandbox import ManualClock, SandboxServer

    data = directory / "data"
    Corpus(data).close()
    clock = ManualClock(scenario.start)
    with SandboxServer(scenario, clock=clock) as server:
        paths = write_plans(server, {"delay": 0, "concurrency": 8, "timeout": "5s",
                                     "retries": 3}, directory, schedule=({"every": "1h"},))
        for path in paths:
            path.write_text(path.read_text("utf-8") + "reprobe: {confirm_after: 1h, "
                            "recheck_after: [2h]}\n", encoding="utf-8")
        for hour in range(hours + 1):
            clock.set(scenario.start + timedelta(hours=hour))
            crawl_once(paths, data, clock.now())
        truth = full_truth(server, clock.now())
        faults = sum(n for k, n in server.stats.items() if k.startswith("fault:"))
    corpus = Corpus(data, create=False)
    try:
        return scorecards(corpus.db, truth), faults
    finally:
        corpus.close()
