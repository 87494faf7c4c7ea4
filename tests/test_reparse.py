"""Reparse: three real crawl cycles against the simulated platform (deletions, censorship, an
edit, a repost of a censored original, a suspension, an empty-timeline glitch, faults and a
timeout), then `memoryhole reparse` rebuilds every table from the WARC files alone — row for
row — and a parser fix applied in a reparse reaches the old crawls."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from e2e import crawl_once, memoryhole
from memoryhole.corpus import warc
from memoryhole.corpus.clock import iso
from memoryhole.crawlers.platforms import Signature, weibo
from memoryhole.crawlers.reparse import ReparseError, reparse
from scrapy import Spider
from test_warc import warcio_check

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
ACCOUNTS = ["1001", "1002", "1003", "1004", "1005"]
UNKNOWN_WORDS = "该内容暂时无法查看，请稍后再试"   # words no signature table knows
# Every table a crawl writes into, observations and derived ones.
TABLES = ("crawls", "accounts", "posts", "sightings", "pages", "windows", "candidates", "probes",
          "fetch_failures", "removals", "post_events", "post_versions", "account_events",
          "tombstones", "long_texts")


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def write_plan(path: Path, base_url: str, timeout: str = "1s", retries: int = 2) -> Path:
    path.write_text(yaml.safe_dump({
        "platform": "weibo", "base_url": base_url,
        "watchlists": [{"name": "test", "accounts": ACCOUNTS, "every": "10s", "pages": 2}],
        "politeness": {"delay": 0, "concurrency": 4, "timeout": timeout, "retries": retries},
        "reprobe": {"confirm_after": "2m", "recheck_after": ["1h"]},
    }), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """A corpus made by three crawl cycles of the real CLI; returns its data directory."""
    tmp = tmp_path_factory.mktemp("reparse")
    scenario = load_scenario({
        "seed": 5, "start": T0.isoformat(), "duration": 0,
        "accounts": {"count": 5, "first_uid": 1001, "pinned_share": 0.4, "initial_posts": 25,
                     "posts_per_hour": 0},
        "long_share": 0.15, "card_group_share": 0.1,
        "author_delete": {"share": 0}, "censor": {"share": 0}, "restrict": {"share": 0},
        "restore": {"share": 0}, "suspend": {"accounts": 0}, "unknown": {"share": 0},
        "faults": {"rate": 0, "slow_seconds": 1.5},
    })
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        world, data = server.world, tmp / "data"
        plan = write_plan(tmp / "plan.yaml", server.url)
        truth = world.truth(T0)["posts"]
        nth = {a: sorted((p["post_id"] for p in truth if p["account_id"] == a), key=int,
                         reverse=True) for a in ACCOUNTS}

        server.clock.set(minutes(1))
        crawl_once(plan, data, minutes(1))

        world.schedule(minutes(2), "author_delete", post_id=nth["1001"][0])
        world.schedule(minutes(2), "censor_rules", post_id=nth["1001"][5])
        world.schedule(minutes(2), "restrict", post_id=nth["1002"][3])
        world.schedule(minutes(2), "unknown", post_id=nth["1003"][7], message=UNKNOWN_WORDS)
        world.schedule(minutes(2), "edit", post_id=nth["1003"][1])
        world.schedule(minutes(2), "repost", post_id=nth["1001"][2], account_id="1002")
        world.schedule(minutes(3), "censor_complaints", post_id=nth["1001"][2])
        world.schedule(minutes(3), "suspend", account_id="1004")
        world.schedule(minutes(4), "glitch_empty", account_id="1005", duration=120)
        server.inject_fault("http_500", "value=1001", 1)
        server.inject_fault("truncated", "value=1002", 1)
        server.inject_fault("captcha", "value=1003&containerid", 1)
        server.inject_fault("http_418", "statuses/show", 2)
        server.inject_fault("login_wall", "statuses/show", 1)
        server.inject_fault("slow", "value=1003&containerid=1076031003&page=2", 3)  # times out
        server.clock.set(minutes(5))
        crawl_once(plan, data, minutes(5))

        world.schedule(minutes(6), "restore", post_id=nth["1002"][3])
        world.schedule(minutes(6), "post", account_id="1005", count=3)
        server.clock.set(minutes(8))
        crawl_once(plan, data, minutes(8))
    return data


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    for name in ("corpus.db", "corpus.db-wal"):
        if (path / name).exists():
            digest.update((path / name).read_bytes())
    return digest.hexdigest()


def comparable(data: Path) -> dict[str, Counter]:
    """Every table as a multiset of rows: `id` columns left out and references to pages and
    probes replaced by the rows they point at, so only content is compared (crawls keep ids)."""
    db = sqlite3.connect(data / "corpus.db")
    db.row_factory = sqlite3.Row

    def content(row: sqlite3.Row, keep_id: bool = False) -> dict:
        return {k: row[k] for k in row.keys() if keep_id or k != "id"}

    referenced = {table: {row["id"]: tuple(sorted(content(row).items()))
                          for row in db.execute(f"SELECT * FROM {table}")}
                  for table in ("pages", "probes")}
    tables = {}
    for table in TABLES:
        rows = Counter()
        for row in db.execute(f"SELECT * FROM {table}"):
            values = content(row, keep_id=table == "crawls")
            for column, target in (("page_id", "pages"), ("probe_id", "probes")):
                if values.get(column) is not None:
                    values[column] = referenced[target][values[column]]
            rows[tuple(sorted(values.items()))] += 1
        tables[table] = rows
    db.close()
    return tables


def query(data: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(data / "corpus.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_the_crawls_left_evidence_for_every_answer(crawled):
    files = sorted((crawled / "warc").glob("*.warc.gz"))
    assert len(files) == len(query(crawled, "SELECT id FROM crawls"))
    result = warcio_check(files)
    assert result.returncode == 0, result.stdout
    # Every page and probe that got an answer points at its response record.
    assert query(crawled, "SELECT COUNT(*) FROM pages WHERE http_status IS NOT NULL "
                          "AND warc_record_id IS NULL") == [(0,)]
    assert query(crawled, "SELECT COUNT(*) FROM probes WHERE http_status IS NOT NULL "
                          "AND warc_record_id IS NULL") == [(0,)]
    # The failures were archived too: a 418 and a captcha are evidence that they were failures.
    statuses = Counter()
    for path in files:
        for archived in warc.iter_responses(crawled, path):
            statuses[archived.status] += 1
            if b'"ok":-100' in archived.decoded_body():
                statuses["captcha"] += 1
    assert statuses[418] == 2 and statuses[500] == 1 and statuses["captcha"] >= 1


def test_reparse_rebuilds_every_table_row_for_row(crawled, tmp_path):
    # What the scenario must have produced, or the comparison below proves little.
    reasons = {r for (r,) in query(crawled, "SELECT reason FROM removals")}
    assert {"author_deleted", "platform_removed", "restricted", "unknown"} <= reasons
    assert query(crawled, "SELECT COUNT(*) FROM removals WHERE restored_at IS NOT NULL") == [(1,)]
    assert query(crawled, "SELECT COUNT(*) FROM removals WHERE confirmed_at IS NOT NULL")[0][0]
    assert query(crawled, "SELECT COUNT(*) FROM tombstones")[0][0] >= 1
    assert query(crawled, "SELECT COUNT(*) FROM post_versions WHERE version = 2")[0][0] >= 1
    assert query(crawled, "SELECT COUNT(*) FROM long_texts")[0][0] >= 1
    assert query(crawled, "SELECT COUNT(*) FROM pages WHERE account_check IS NOT NULL")[0][0]
    assert query(crawled, "SELECT failure FROM pages WHERE http_status IS NULL") == [("timeout",)]
    assert ("timeout",) in query(crawled, "SELECT failure FROM fetch_failures "
                                          "WHERE http_status IS NULL")
    before = fingerprint(crawled)

    into = tmp_path / "reparsed"
    result = memoryhole("reparse", "--data", str(crawled), "--into", str(into))
    crawls = len(query(crawled, "SELECT id FROM crawls"))
    assert result.stdout.startswith(f"reparsed {crawls} crawls from {crawled} into {into}: ")
    assert fingerprint(crawled) == before          # the original is never modified

    original, rebuilt = comparable(crawled), comparable(into)
    for table in TABLES:
        missing = original[table] - rebuilt[table]
        extra = rebuilt[table] - original[table]
        assert not missing and not extra, (table, list(missing)[:2], list(extra)[:2])
    provenance = json.loads((into / "reparse.json").read_text())
    assert provenance["unrequested"] == 0 and provenance["unanswered"] == 0
    assert provenance["software"].startswith("memoryhole ")

    # The rebuilt corpus carries its evidence: its references resolve in its own directory.
    [(post_id,)] = query(into, "SELECT post_id FROM removals WHERE reason = 'restricted'")
    shown = memoryhole("evidence", post_id, "--data", str(into)).stdout
    assert "HTTP/1.1 200 OK" in shown and "restored 2026-11-24T02:08:00" in shown


def test_reparse_is_exact_on_a_running_clock(tmp_path):
    """With the crawler's real clock every time differs; the rebuilt rows carry the same ones
    (answers at their archived receipt, give-ups when the crawl recorded them)."""
    scenario = load_scenario({
        "seed": 8, "start": T0.isoformat(), "duration": 0,
        "accounts": {"count": 2, "first_uid": 1001, "initial_posts": 15, "posts_per_hour": 0},
        "long_share": 0.2, "author_delete": {"share": 0}, "censor": {"share": 0},
        "restrict": {"share": 0}, "restore": {"share": 0}, "suspend": {"accounts": 0},
        "unknown": {"share": 0}, "faults": {"rate": 0, "slow_seconds": 0.6},
    })
    data = tmp_path / "data"
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        plan = write_plan(tmp_path / "plan.yaml", server.url, timeout="0.3s", retries=1)
        mids = sorted((p["post_id"] for p in server.world.truth(T0)["posts"]
                       if p["account_id"] == "1001"), key=int, reverse=True)
        server.clock.set(minutes(1))
        memoryhole("crawl", str(plan), "--data", str(data), "--once")
        server.world.schedule(minutes(2), "censor_rules", post_id=mids[1])
        server.world.schedule(minutes(2), "author_delete", post_id=mids[3])
        server.inject_fault("http_418", "statuses/show", 1)
        server.inject_fault("captcha", "value=1002", 1)
        server.inject_fault("slow", "value=1001&containerid=1076031001&page=2", 2)
        server.inject_fault("slow", f"statuses/show?id={mids[3]}", 2)
        server.clock.set(minutes(5))
        memoryhole("crawl", str(plan), "--data", str(data), "--once")
    gave_up = query(data, "SELECT requested_at FROM pages WHERE http_status IS NULL "
                          "UNION ALL SELECT requested_at FROM probes WHERE http_status IS NULL")
    assert len(gave_up) == 2 and not gave_up[0][0].startswith("2026-11-24T02:05")

    reparse(data, tmp_path / "reparsed")
    original, rebuilt = comparable(data), comparable(tmp_path / "reparsed")
    for table in TABLES:
        assert original[table] == rebuilt[table], table


def test_a_parser_fix_reaches_old_crawls(crawled, tmp_path, monkeypatch):
    """The words were uncatalogued when crawled (`unknown`); a signature added later
    classifies them, and a reparse applies it to the crawls already made."""
    [(post_id, reason)] = query(crawled, "SELECT post_id, reason FROM removals "
                                         f"WHERE message = '{UNKNOWN_WORDS}'")
    assert reason == "unknown"
    shipped = weibo.signatures()
    fixed = replace(shipped, tables={**shipped.tables, "post_messages": shipped.post_messages + (
        Signature(words=UNKNOWN_WORDS, reason="platform_removed"),)})
    monkeypatch.setattr(weibo, "signatures", lambda: fixed)

    report = reparse(crawled, tmp_path / "fixed")
    assert report.unrequested == 0 and report.unanswered == 0

    rebuilt = dict(query(tmp_path / "fixed", "SELECT post_id, reason FROM removals"))
    assert rebuilt[post_id] == "platform_removed"
    assert query(tmp_path / "fixed", "SELECT reason FROM probes WHERE post_id = "
                                     f"'{post_id}' AND outcome = 'removed'")[0] == (
        "platform_removed",)
    # Everything else is as it was.
    original = dict(query(crawled, "SELECT post_id, reason FROM removals"))
    assert {k: v for k, v in rebuilt.items() if k != post_id} == {
        k: v for k, v in original.items() if k != post_id}


def test_reparse_refuses_to_overwrite(crawled, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ReparseError, match="not empty"):
        reparse(crawled, tmp_path / "busy")
    with pytest.raises(ReparseError, match="new corpus"):
        reparse(crawled, crawled)
    result = memoryhole("reparse", "--data", str(tmp_path / "busy"), check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'busy' / 'corpus.db'}: no corpus here"]


def test_a_corpus_without_warc_evidence_cannot_be_reparsed(builder, tmp_path):
    from conftest import at, page, post

    builder.timeline([page(1, [post(3), post(2), post(1)], at(0))])
    with pytest.raises(ReparseError, match="crawl 1 was made without WARC archiving"):
        reparse(builder.corpus.data_dir, tmp_path / "out")


def test_archived_answers_pass_the_middlewares_that_ran_after_archiving(tmp_path):
    """A gzip answer replayed from the archive is decoded as the live one was."""
    import gzip

    from memoryhole.corpus.store import WarcRef
    from memoryhole.crawlers.reparse import _middlewares_after_archive, _response
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.settings import Settings
    from scrapy.statscollectors import MemoryStatsCollector

    settings = Settings()
    settings.setmodule("memoryhole.crawlers.settings", priority="project")
    crawler = Crawler(Spider, settings)
    crawler.stats = MemoryStatsCollector(crawler)
    chain = _middlewares_after_archive(crawler)
    names = [type(m).__name__ for m in chain]
    assert names.index("RedirectMiddleware") < names.index("HttpCompressionMiddleware")
    assert "WarcArchiveMiddleware" not in names and "RequestTimeMiddleware" not in names

    body = gzip.compress('{"msg": "已被删除"}'.encode())
    archived = warc.ArchivedResponse(
        ref=WarcRef("warc/x.warc.gz", 0, "<urn:uuid:x>"), url="http://127.0.0.1/s?id=1",
        date=T0, protocol="HTTP/1.1", status=200, reason="OK",
        headers=[("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
        body=body, warc_headers={warc.META: '{"post_id": "1"}'})
    response = _response(archived, Request(archived.url, meta={"purpose": "classify"}))
    for middleware in chain:
        response = middleware.process_response(response.request, response)
    assert response.body.decode() == '{"msg": "已被删除"}'
    assert response.meta["post_id"] == "1" and response.meta["purpose"] == "classify"


# --- crashes and damaged records (issue 8) ---------------------------------------------------


def archived_answers(data: Path, crawl_id: int, callbacks: set[str]) -> int:
    """How many answers crawl `crawl_id` has archived so far (a record being written is not)."""
    count = 0
    for path in warc.crawl_files(data, crawl_id):
        try:
            for archived in warc.iter_responses(data, path):
                count += archived.warc_headers.get(warc.CALLBACK) in callbacks
        except warc.EvidenceError:
            pass
    return count


def kill_when(process: subprocess.Popen, ready, timeout: float = 60) -> None:
    """kill -9 the process once `ready()` holds."""
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the crawl never got there"
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()


def crawl_process(plan: Path, data: Path, now: datetime) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "memoryhole.cli", "crawl", str(plan), "--data", str(data),
         "--once"], stderr=subprocess.PIPE, text=True, env=dict(os.environ,
                                                                 MEMORYHOLE_NOW=iso(now)))


def newest_crawl(data: Path, kind: str) -> int:
    found = query(data, f"SELECT MAX(id) FROM crawls WHERE kind = '{kind}'")[0][0]
    return found or 0


def assert_rebuilt_row_for_row(data: Path, into: Path) -> None:
    report = reparse(data, into)
    original, rebuilt = comparable(data), comparable(into)
    for table in TABLES:
        missing = original[table] - rebuilt[table]
        extra = rebuilt[table] - original[table]
        assert not missing and not extra, (table, list(missing)[:2], list(extra)[:2])
    # (Requests a killed crawl had in flight stay unanswered.)
    assert report.unrequested == 0, report.summary()


def test_reparse_is_row_for_row_on_a_corpus_with_killed_crawls(tmp_path):
    """kill -9 mid timeline crawl and mid probe crawl; each restart recovers the dead crawl from
    its WARC (`crashed`, neither diffed nor resolved). Reparse treats each crawl as the live
    pipeline did, so it rebuilds the corpus row for row: with the killed crawl still `running`
    (only what it had stored), and after the restarts (everything it archived)."""
    scenario = load_scenario({
        "seed": 11, "start": T0.isoformat(), "duration": 0,
        "accounts": {"count": 5, "first_uid": 1001, "initial_posts": 25, "posts_per_hour": 0},
        "long_share": 0.1, "author_delete": {"share": 0}, "censor": {"share": 0},
        "restrict": {"share": 0}, "restore": {"share": 0}, "suspend": {"accounts": 0},
        "unknown": {"share": 0}, "faults": {"rate": 0, "slow_seconds": 8},
    })
    data = tmp_path / "data"
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        world = server.world
        plan = write_plan(tmp_path / "plan.yaml", server.url, timeout="20s", retries=1)
        mids = {a: sorted((p["post_id"] for p in world.truth(T0)["posts"]
                           if p["account_id"] == a), key=int, reverse=True)
                for a in ("1001", "1002")}
        server.clock.set(minutes(1))
        crawl_once(plan, data, minutes(1))

        world.schedule(minutes(2), "author_delete", post_id=mids["1001"][1])
        world.schedule(minutes(2), "censor_rules", post_id=mids["1001"][4])
        world.schedule(minutes(2), "censor_complaints", post_id=mids["1002"][2])
        server.clock.set(minutes(3))
        # Killed while one timeline page is still on its way: nothing flushed yet.
        server.inject_fault("slow", "value=1004&containerid=1076031004&page=2", 1)
        process = crawl_process(plan, data, minutes(3))
        kill_when(process, lambda: newest_crawl(data, "timeline") > 1 and archived_answers(
            data, newest_crawl(data, "timeline"), {"parse_page"}) >= 9)
        assert query(data, "SELECT status FROM crawls ORDER BY id DESC LIMIT 1") == [
            ("running",)]
        assert_rebuilt_row_for_row(data, tmp_path / "while-running")

        # The restart recovers it, then runs a cycle; killed again while probing.
        server.clock.set(minutes(5))
        server.inject_fault("slow", "statuses/show", 1)
        probes_before = newest_crawl(data, "probe")
        process = crawl_process(plan, data, minutes(5))
        kill_when(process, lambda: newest_crawl(data, "probe") > probes_before and archived_answers(
            data, newest_crawl(data, "probe"), {"parse_probe"}) >= 2)

        server.clock.set(minutes(7))
        crawl_once(plan, data, minutes(7))
    statuses = query(data, "SELECT kind, status FROM crawls ORDER BY id")
    assert ("timeline", "crashed") in statuses and ("probe", "crashed") in statuses
    assert ("timeline", "running") not in statuses and ("probe", "running") not in statuses
    # The crashed timeline crawl's pages are all in the corpus, recovered from its archive.
    [(crashed,)] = query(data, "SELECT id FROM crawls WHERE kind = 'timeline' "
                               "AND status = 'crashed'")
    assert query(data, f"SELECT COUNT(*) FROM pages WHERE crawl_id = {crashed}") == [
        (archived_answers(data, crashed, {"parse_page"}),)]
    assert len(query(data, "SELECT id FROM removals")) == 3
    assert_rebuilt_row_for_row(data, tmp_path / "after-restarts")


@pytest.mark.parametrize("damage", ["garbled", "cut"])
def test_a_damaged_probe_record_is_reported_and_its_rows_kept(crawled, tmp_path, damage):
    """A garbled WARC record, or a file cut inside one (it read as an empty body): `evidence`
    says which file and offset, exit 1; reparse reports it and replays the probe from the
    response its row kept, so no removal is lost."""
    data = tmp_path / "data"
    shutil.copytree(crawled, data)
    [(post_id, file, offset)] = query(data, """
        SELECT r.post_id, p.warc_file, p.warc_offset FROM removals r
        JOIN probes p ON p.id = r.probe_id WHERE r.reason = 'author_deleted'""")
    path = data / file
    (data / "warc" / path.name).unlink()   # a private copy, not a link to the fixture's file
    raw = bytearray((crawled / file).read_bytes())
    middle = offset + 60
    if damage == "garbled":
        raw[middle:middle + 40] = bytes(b ^ 0x5A for b in raw[middle:middle + 40])
    else:
        del raw[middle + 200:]
    path.write_bytes(bytes(raw))

    shown = memoryhole("evidence", post_id, "--data", str(data), check=False)
    assert shown.returncode == 1, shown.stdout
    assert f"{file}@{offset}" in shown.stderr and len(shown.stderr.strip().splitlines()) == 1

    report = reparse(data, tmp_path / "reparsed")
    assert report.damaged and f"{file}@{offset}" in report.damaged[0]
    assert report.salvaged >= 1
    original, rebuilt = comparable(data), comparable(tmp_path / "reparsed")
    for table in ("removals", "probes", "candidates", "post_events") if damage == "cut" else TABLES:
        assert original[table] == rebuilt[table], table
