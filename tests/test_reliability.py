"""The reliability suite (issue 8): real `memoryhole crawl` processes against the simulated
platform, abused the way a months-long campaign will be.

- kill -9 at random moments of a campaign (and at the moments luck rarely hits: inside the
  transaction of a batch of more than 500 observations, half-way through a WARC record, inside
  the differ's transaction, between a probe crawl and its resolution), restarting each time;
  then: nothing the crawl had stored is lost, nothing it archived is missing, no duplicate, no
  false removal, `PRAGMA integrity_check` ok, no crawl left `running`, every WARC file readable
  or its damage reported.
- a second and third writer (`memoryhole analyze`, serve's full-text index update) on the corpus
  while crawls flush: every fetched answer stored, no error.

The CI variant runs in well under a minute; `pytest -m long tests/test_reliability.py` runs the
long one (more kills, a bigger world).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
import yaml
from memoryhole.corpus import warc
from memoryhole.corpus.clock import iso
from memoryhole.crawlers.reparse import reparse
from sandbox_worlds import merged
from test_reparse import TABLES, comparable

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario
from memoryhole.scorecard import score

ROOT = Path(__file__).resolve().parent.parent
EMPTY = "这里还没有内容"   # an empty timeline page
FAILPOINTS = ROOT / "tests" / "failpoints.py"
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
DEMO = yaml.safe_load((ROOT / "memoryhole" / "sandbox" / "scenarios" / "demo.yaml").read_text(
    encoding="utf-8"))


def world(accounts: int, posts: int) -> dict:
    """The demo world (removals of every kind, faults, reposts, edits, glitches), scaled."""
    return merged(DEMO, {"start": T0.isoformat(), "seed": 17,
                         "accounts": {"count": accounts, "first_uid": 1001,
                                                      "initial_posts": posts},
                         "faults": {"slow_seconds": 1}})


def write_plan(path: Path, base_url: str, accounts: int, pages: int) -> Path:
    path.write_text(yaml.safe_dump({
        "platform": "weibo", "base_url": base_url,
        "watchlists": [{"name": "all", "accounts": [str(1001 + i) for i in range(accounts)],
                        "every": "10s", "pages": pages}],
        "politeness": {"delay": 0, "concurrency": 16, "timeout": "3s", "retries": 1},
        "reprobe": {"confirm_after": "20s", "recheck_after": ["1m"]},
    }), encoding="utf-8")
    return path


def start_crawl(plan: Path, data: Path, now: datetime, failpoint: str = "") -> subprocess.Popen:
    env = dict(os.environ, MEMORYHOLE_NOW=iso(now), MEMORYHOLE_FAILPOINT=failpoint,
               PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, str(FAILPOINTS), "crawl", str(plan), "--data",
                             str(data), "--once"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def sighting_keys(data: Path) -> set[tuple]:
    """The sightings the corpus has committed (what a crawl reported stored)."""
    if not (data / "corpus.db").exists():
        return set()
    db = sqlite3.connect(f"file:{data / 'corpus.db'}?mode=ro", uri=True)
    try:
        return set(db.execute("SELECT crawl_id, platform, post_id, via_post_id, page, position, "
                              "seen_at FROM sightings"))
    except sqlite3.OperationalError:   # killed before the schema was made
        return set()
    finally:
        db.close()


@dataclass
class Campaign:
    runs: int = 0
    clean_seconds: list = field(default_factory=list)
    kills: int = 0
    kill_points: Counter = field(default_factory=Counter)
    stored_at_kills: set = field(default_factory=set)
    errors: list = field(default_factory=list)


def run_campaign(tmp_path: Path, kills: int, accounts: int, pages: int, seed: int
                 ) -> tuple[Path, Campaign, dict]:
    rng = random.Random(seed)
    data, campaign = tmp_path / "data", Campaign()
    # Moments a kill from outside rarely hits, each once; the rest are at random times.
    planned = ["flush", "warc:40", "diff", "resolve"]
    # Every account has 6 pages of posts: the `flush` run asks for all of them, more than 500
    # observations (a full batch is flushed mid-crawl); the others ask for `pages`.
    with SandboxServer(load_scenario(world(accounts, 60)), clock=ManualClock(T0)) as server:
        plan = write_plan(tmp_path / "plan.yaml", server.url, accounts, pages)
        big_plan = write_plan(tmp_path / "big-plan.yaml", server.url, accounts, 6)
        assert accounts * 6 > 500
        now = T0
        clean: list[float] = []
        while campaign.kills < kills or not clean:
            now += timedelta(seconds=10)
            server.clock.set(now)
            campaign.runs += 1
            if not clean:
                failpoint, delay = "", None            # a clean run measures a cycle
            elif planned and campaign.runs % 2 == 0:
                failpoint, delay = planned.pop(0), None
            else:
                failpoint, delay = "", rng.uniform(0.3, sorted(clean)[len(clean) // 2])
            began = time.monotonic()
            process = start_crawl(big_plan if failpoint == "flush" else plan, data, now,
                                  failpoint)
            try:
                process.wait(timeout=delay if delay is not None else 120)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
            stderr = process.stderr.read()
            if process.returncode == -signal.SIGKILL:
                campaign.kills += 1
                campaign.kill_points[failpoint or "random moment"] += 1
                campaign.stored_at_kills |= sighting_keys(data)
            elif process.returncode != 0:
                campaign.errors.append(stderr)
            else:
                clean.append(time.monotonic() - began)
                campaign.clean_seconds.append(round(clean[-1], 1))
        # A last clean cycle recovers whatever the last kill left.
        now += timedelta(seconds=10)
        server.clock.set(now)
        process = start_crawl(plan, data, now)
        stderr = process.communicate(timeout=120)[1]
        assert process.returncode == 0, stderr
        truth = server.world.truth(now)
    return data, campaign, truth


def check(data: Path, campaign: Campaign, truth: dict, rebuild: bool) -> dict:
    db = sqlite_utils.Database(sqlite3.connect(data / "corpus.db"))
    final = sighting_keys(data)
    lost = campaign.stored_at_kills - final
    duplicates = sum(n - 1 for (n,) in db.execute(
        "SELECT COUNT(*) FROM sightings GROUP BY crawl_id, platform, post_id, via_post_id, "
        "page, position, seen_at HAVING COUNT(*) > 1"))
    for table in ("pages", "probes", "long_texts"):
        duplicates += sum(n - 1 for (n,) in db.execute(
            f"SELECT COUNT(*) FROM {table} WHERE warc_record_id IS NOT NULL "
            "GROUP BY warc_record_id HAVING COUNT(*) > 1"))
    unstored, damage = archived_not_stored(data, db)
    reported = "\n".join(stats or "" for (stats,) in db.execute("SELECT stats_json FROM crawls"))
    # A damaged file is reported by the recovery of the crawl that was writing it.
    unreported = [message for message in damage
                  if message.split(": ", 1)[0].replace(f"{data}/", "") not in reported]
    card = score(db, truth)
    reparse_differences = None
    if rebuild:   # reparse treats each crawl as the live pipeline did: row for row
        reparse(data, data.parent / "reparsed")
        original, rebuilt = comparable(data), comparable(data.parent / "reparsed")
        reparse_differences = sum(sum(((original[t] - rebuilt[t]) + (rebuilt[t] - original[t]))
                                      .values()) for t in TABLES)
    figures = {
        "runs": campaign.runs, "clean_run_seconds": campaign.clean_seconds,
        "kills": campaign.kills, "kill_points": dict(campaign.kill_points),
        "sightings_stored_at_kills": len(campaign.stored_at_kills), "lost": len(lost),
        "archived_not_stored": len(unstored), "duplicates": duplicates,
        "removals": card.detected, "false_removals": len(card.false_removals),
        "crashed_crawls": db.execute(
            "SELECT COUNT(*) FROM crawls WHERE status = 'crashed'").fetchone()[0],
        "running_crawls": db.execute(
            "SELECT COUNT(*) FROM crawls WHERE status = 'running'").fetchone()[0],
        "integrity_check": db.execute("PRAGMA integrity_check").fetchone()[0],
        "damaged_warc_files": len(damage), "damage_unreported": len(unreported),
        "reparse_differences": reparse_differences,
    }
    db.close()
    print("\nreliability campaign: " + json.dumps(figures))
    assert not campaign.errors, campaign.errors[0]
    assert figures["lost"] == 0, figures
    assert not unstored, [f"{a.ref.file}@{a.ref.offset} {a.url}" for a in unstored][:3]
    assert figures["duplicates"] == 0 and figures["false_removals"] == 0, figures
    assert figures["running_crawls"] == 0 and figures["integrity_check"] == "ok", figures
    assert not unreported, unreported
    assert figures["removals"] > 0 and figures["crashed_crawls"] > 0, figures
    assert reparse_differences in (None, 0), figures
    return figures


def archived_not_stored(data: Path, db: sqlite_utils.Database
                        ) -> tuple[list[warc.ArchivedResponse], list[str]]:
    """The answers archived intact that have no row (nothing fetched may be lost), and the
    damage found reading the WARC files."""
    stored = {r for (r,) in db.execute(
        "SELECT warc_record_id FROM pages UNION SELECT warc_record_id FROM probes "
        "UNION SELECT warc_record_id FROM long_texts")}
    damage: list[str] = []
    unstored: list[warc.ArchivedResponse] = []
    profiled: set[tuple] = set()
    for path in sorted((data / "warc").glob("*.warc.gz")):
        try:
            for archived in warc.iter_responses(data, path):
                callback = archived.warc_headers.get(warc.CALLBACK)
                if callback == "parse_profile":
                    profiled.add((archived.crawl_id, archived.meta.get("account")))
                elif callback in {"parse_page", "parse_probe"} and archived.status == 200 \
                        and archived.ref.record_id not in stored and _observation(archived):
                    unstored.append(archived)
        except warc.EvidenceError as exc:
            damage.append(str(exc))
    # An empty page 1 becomes an observation only with its profile check's answer: a crawl
    # killed while that was on its way has none (and a reparse of it has none either).
    unstored = [a for a in unstored if json.loads(a.decoded_body()).get("msg") != EMPTY
                or (a.crawl_id, a.meta.get("account")) in profiled]
    return unstored, damage


def _observation(archived: warc.ArchivedResponse) -> bool:
    """Whether an archived 200 answer is one the spider keeps as an observation (a page or a
    probe answer), not a failed attempt it retried (captcha, login wall, truncated body)."""
    try:
        body = json.loads(archived.decoded_body())
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("ok") != -100 and "message" not in body


def test_kill_9_at_random_moments_of_a_campaign(tmp_path):
    # (tests/test_reparse.py rebuilds a corpus with killed crawls row for row; the long
    # variant rebuilds this whole campaign.)
    data, campaign, truth = run_campaign(tmp_path, kills=20, accounts=85, pages=2, seed=1)
    figures = check(data, campaign, truth, rebuild=False)
    assert figures["kills"] >= 20
    assert {"flush", "warc:40", "diff", "resolve"} <= set(figures["kill_points"])


@pytest.mark.long
def test_kill_9_at_random_moments_of_a_long_campaign(tmp_path):
    data, campaign, truth = run_campaign(tmp_path, kills=80, accounts=150, pages=4, seed=2)
    check(data, campaign, truth, rebuild=True)


def test_crawls_analyze_and_the_search_index_write_one_corpus_together(tmp_path):
    """Crawls flush while `memoryhole analyze` and serve's full-text index update write the same
    corpus, over and over: every answer fetched is stored, every crawl finished, no error."""
    data = tmp_path / "data"
    stop = threading.Event()
    results: dict[str, list[subprocess.CompletedProcess]] = {"analyze": [], "index": []}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    commands = {
        "analyze": [sys.executable, "-m", "memoryhole.cli", "analyze", "--data", str(data)],
        "index": [sys.executable, "-c", "import sys; from memoryhole.analysis.publish import prepare; "
                  "prepare(sys.argv[1])", str(data)],
    }

    def keep_writing(name: str) -> None:
        while not stop.is_set():
            results[name].append(subprocess.run(commands[name], env=env, cwd=ROOT,
                                                capture_output=True, text=True, timeout=300))

    with SandboxServer(load_scenario(world(40, 30)), clock=ManualClock(T0)) as server:
        plan = write_plan(tmp_path / "plan.yaml", server.url, 40, 2)
        now = T0 + timedelta(seconds=10)
        server.clock.set(now)
        first = start_crawl(plan, data, now)
        assert first.wait(timeout=120) == 0, first.stderr.read()
        writers = [threading.Thread(target=keep_writing, args=(name,)) for name in commands]
        for writer in writers:
            writer.start()
        try:
            for _ in range(3):
                now += timedelta(seconds=20)
                server.clock.set(now)
                crawl = start_crawl(plan, data, now)
                stderr = crawl.communicate(timeout=300)[1]
                assert crawl.returncode == 0, stderr
                assert "locked" not in stderr and "Traceback" not in stderr, stderr
        finally:
            stop.set()
            for writer in writers:
                writer.join()
    for name, runs in results.items():
        assert runs, name
        for run in runs:
            assert run.returncode == 0 and "locked" not in run.stderr, (name, run.stderr)
    db = sqlite_utils.Database(sqlite3.connect(data / "corpus.db"))
    assert {s for (s,) in db.execute("SELECT status FROM crawls")} == {"finished"}
    assert db.execute("SELECT COUNT(*) FROM probes").fetchone()[0] > 0
    unstored, damage = archived_not_stored(data, db)
    assert not unstored and not damage, ([a.url for a in unstored][:3], damage)
    assert db.execute("SELECT COUNT(*) FROM posts_fts").fetchone()[0] > 0
    print(f"\ntwo writers: {len(results['analyze'])} analyze runs and {len(results['index'])} "
          "index updates during 3 crawls, nothing lost, no error")
