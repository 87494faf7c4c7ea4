"""The crawl as a process: `scrapy crawl` from the project root, and clean stops on signals."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from e2e import write_plan
from memoryhole.corpus.clock import iso

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def sandbox():
    scenario = load_scenario({"seed": 3, "start": T0.isoformat(), "duration": 0,
                              "accounts": {"count": 3, "first_uid": 1001, "initial_posts": 15,
                                           "posts_per_hour": 0},
                              "faults": {"rate": 0}})
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        yield server


def test_scrapy_crawl_weibo_timeline_from_the_project_root(sandbox, tmp_path):
    plan = write_plan(tmp_path / "plan.yaml", sandbox.url, ["1001", "1002", "1003"], pages=2)
    env = dict(os.environ, MEMORYHOLE_NOW=iso(T0))
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "weibo_timeline", "-a", f"plan={plan}",
         "-a", f"data={tmp_path / 'data'}", "-s", "LOG_LEVEL=WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(tmp_path / "data" / "corpus.db")
    pages = db.execute("SELECT COUNT(*) FROM pages WHERE outcome = 'posts'").fetchone()[0]
    sightings = db.execute("SELECT COUNT(DISTINCT post_id) FROM sightings").fetchone()[0]
    crawl = db.execute("SELECT kind, status, software_version, plan_json FROM crawls").fetchone()
    assert pages == 6
    assert sightings >= 3 * 15 - 3   # two full pages of 15 posts, less hidden ones
    assert crawl[0] == "timeline" and crawl[1] == "finished"
    assert crawl[2].startswith("memoryhole ")
    assert sandbox.url in crawl[3]


def test_sigterm_stops_a_running_crawl_cleanly(sandbox, tmp_path):
    plan = write_plan(tmp_path / "plan.yaml", sandbox.url, ["1001", "1002"], pages=1)
    data = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "memoryhole.cli", "crawl", str(plan), "--data", str(data)],
        stderr=subprocess.PIPE, text=True, env=dict(os.environ, MEMORYHOLE_NOW=iso(T0)))
    try:
        # Wait (by reading its output, not by sleeping) until the first cycle is done.
        for line in process.stderr:
            if line.startswith("cycle 1"):
                break
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        assert process.wait(timeout=60) == 0, rest
    finally:
        if process.poll() is None:
            process.kill()
    db = sqlite3.connect(data / "corpus.db")
    statuses = [r[0] for r in db.execute("SELECT status FROM crawls")]
    assert statuses and "running" not in statuses
    assert db.execute("SELECT COUNT(*) FROM crawls WHERE ended_at IS NULL").fetchone()[0] == 0


# What a crawl cycle must not import: other platforms' adapters (and their parsers), Scrapy's
# remote control (aiohttp), the distributed paths' Redis clients, pydantic (the plan is checked
# by msgspec). Each cost every process's start.
NOT_IN_A_WEIBO_CYCLE = [
    *(f"memoryhole.crawlers.platforms.{name}"
      for name in ("wechat", "telegram", "news", "toutiao", "bilibili", "youku")),
    "trafilatura", "feedparser", "scrapy.extensions.remote_control", "aiohttp", "redis",
    "scrapy_redis", "memoryhole.crawlers.worker", "memoryhole.crawlers.ingester",
    "memoryhole.crawlers.reparse",   # only when a dead crawl is to be recovered
    "pydantic", "pydantic_core",
]


def test_a_crawl_cycle_imports_only_what_it_needs(sandbox, tmp_path):
    plan = write_plan(tmp_path / "plan.yaml", sandbox.url, ["1001"], pages=1)
    modules = tmp_path / "modules.txt"
    # The CLI as a researcher runs it; the modules loaded are listed as the process exits.
    code = ("import atexit, runpy, sys\n"
            f"atexit.register(lambda: open({str(modules)!r}, 'w').write('\\n'.join(sys.modules)))\n"
            "runpy.run_module('memoryhole.cli', run_name='__main__')")
    result = subprocess.run(
        [sys.executable, "-c", code, "crawl", str(plan), "--data", str(tmp_path / "data"),
         "--once"], capture_output=True, text=True, timeout=120,
        env=dict(os.environ, MEMORYHOLE_NOW=iso(T0)))
    assert result.returncode == 0, result.stderr
    loaded = set(modules.read_text().split())
    assert "memoryhole.crawlers.platforms.weibo" in loaded   # the check can see an adapter
    assert sorted(loaded & set(NOT_IN_A_WEIBO_CYCLE)) == []
