"""`memoryhole evidence POST_ID`: a post's history and the archived response that classified its
removal, read back from the WARC files written by real crawls of the simulated platform."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from conftest import at, page, post, probe
from e2e import crawl_once, memoryhole, write_plan
from memoryhole.corpus import warc
from memoryhole.corpus.evidence import format_history, post_history
from memoryhole.corpus.store import WarcRef

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
CENSORED = "该微博因违反《微博社区公约》的相关规定，已被删除"


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """Two cycles: a post censored between them, its first probe refused (418) then answered.
    Returns (data dir, censored post id, deleted post id)."""
    tmp = tmp_path_factory.mktemp("evidence")
    scenario = load_scenario({
        "seed": 2, "start": T0.isoformat(), "duration": 0,
        "accounts": {"count": 2, "first_uid": 1001, "initial_posts": 15, "posts_per_hour": 0},
        "author_delete": {"share": 0}, "censor": {"share": 0}, "restrict": {"share": 0},
        "restore": {"share": 0}, "suspend": {"accounts": 0}, "unknown": {"share": 0},
        "faults": {"rate": 0}, "long_share": 0,
    })
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        data = tmp / "data"
        plan = write_plan(tmp / "plan.yaml", server.url, ["1001", "1002"], pages=1)
        mids = sorted((p["post_id"] for p in server.world.truth(T0)["posts"]
                       if p["account_id"] == "1001"), key=int, reverse=True)
        censored, deleted = mids[1], mids[3]
        server.clock.set(minutes(1))
        crawl_once(plan, data, minutes(1))
        server.world.schedule(minutes(2), "censor_rules", post_id=censored, message=CENSORED)
        server.world.schedule(minutes(2), "author_delete", post_id=deleted)
        server.inject_fault("http_418", f"statuses/show?id={censored}", 1)
        server.clock.set(minutes(5))
        crawl_once(plan, data, minutes(5))
    return data, censored, deleted


def removal_of(data, post_id: str) -> sqlite3.Row:
    db = sqlite3.connect(data / "corpus.db")
    db.row_factory = sqlite3.Row
    row = db.execute("""SELECT r.id, r.probe_id, r.detected_crawl_id, p.warc_file, p.warc_offset,
                               p.warc_record_id, p.response_body
                        FROM removals r JOIN probes p ON p.id = r.probe_id
                        WHERE r.post_id = ?""", [post_id]).fetchone()
    db.close()
    return row


def test_the_history_ends_with_the_archived_probe_answer(crawled):
    data, censored, _ = crawled
    removal = removal_of(data, censored)
    crawl, probe_id = removal["detected_crawl_id"], removal["probe_id"]
    shown = memoryhole("evidence", censored, "--data", str(data)).stdout
    lines = shown.splitlines()
    assert lines[0].startswith(f"post {censored} (weibo) by account 1001")
    assert "sightings: 1 in 1 crawls, first 2026-11-24T02:01:00.000000Z, last " \
           "2026-11-24T02:01:00.000000Z" in lines
    assert "  v1  2026-11-24T02:01:00.000000Z  crawl 1  " in shown
    assert "  2026-11-24T02:01:00.000000Z  first_seen  crawl 1" in lines
    assert f"  2026-11-24T02:05:00.000000Z  removed  platform_removed  crawl {crawl}  " \
           f"probe {probe_id}  {CENSORED}" in lines
    assert f"  #{probe_id}  2026-11-24T02:05:00.000000Z  classify  removed  platform_removed  " \
           f"HTTP 200  \"{CENSORED}\"" in lines
    assert f"  #{removal['id']}  platform_removed  \"{CENSORED}\"" in lines
    assert "     removed in [2026-11-24T02:01:00.000000Z, 2026-11-24T02:05:00.000000Z]" in lines
    assert "     confirmed -  probes 1  restored -" in lines
    evidence = lines[lines.index("     confirmed -  probes 1  restored -") + 1:]
    assert evidence[0] == (f"     classified by probe #{probe_id}; its response, from "
                           f"{removal['warc_file']}@{removal['warc_offset']} "
                           f"{removal['warc_record_id']}:")
    assert evidence[1:3] == ["       received 2026-11-24T02:05:00.000000Z",
                             "       HTTP/1.1 200 OK"]
    assert "       Content-Type: application/json; charset=utf-8" in evidence
    # The decoded body, pretty-printed, Chinese as characters.
    assert f'           "msg": "{CENSORED}"' in evidence
    assert "\\u" not in shown


def test_the_json_history_points_at_the_record_the_probe_row_names(crawled):
    data, censored, _ = crawled
    record = json.loads(memoryhole("evidence", censored, "--data", str(data), "--json").stdout)
    [removal] = record["removals"]
    evidence = removal["evidence"]
    row = removal_of(data, censored)
    ref = WarcRef(row["warc_file"], row["warc_offset"], row["warc_record_id"])
    assert (evidence["warc_file"], evidence["warc_offset"], evidence["warc_record_id"]) == (
        ref.file, ref.offset, ref.record_id)
    assert evidence["status"] == 200 and evidence["source"] == "warc"
    assert json.loads(evidence["body"])["msg"] == CENSORED
    # The archived bytes are the ones the probe stored.
    assert warc.read_response(data, ref).body == row["response_body"]
    assert [e["event"] for e in record["events"]] == ["first_seen", "missing", "removed"]
    assert [p["outcome"] for p in record["probes"]] == ["removed"]
    assert record["sightings"]["count"] == 1


def test_the_refused_first_attempt_is_archived_too(crawled):
    data, censored, _ = crawled
    crawl = removal_of(data, censored)["detected_crawl_id"]
    answers = [(a.status, a.url) for f in warc.crawl_files(data, crawl)
               for a in warc.iter_responses(data, f)]
    assert [s for s, url in answers if url.endswith(f"id={censored}")] == [418, 200]
    # ... and the history names it beside the answer that counted.
    lines = memoryhole("evidence", censored, "--data", str(data)).stdout.splitlines()
    refused = lines[lines.index("     other answers to the same request in that crawl's "
                                "archive:") + 1:]
    assert len(refused) == 1
    assert refused[0].startswith("       2026-11-24T02:05:00.000000Z  HTTP 418  warc/crawl-")


def test_unknown_posts_and_missing_files_are_one_line_errors(crawled, tmp_path):
    data, censored, deleted = crawled
    result = memoryhole("evidence", "999", "--data", str(data), check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: post 999: not in the corpus at {data / 'corpus.db'}"]

    moved = data / removal_of(data, deleted)["warc_file"]
    moved.rename(tmp_path / moved.name)
    try:
        result = memoryhole("evidence", deleted, "--data", str(data), check=False)
    finally:
        (tmp_path / moved.name).rename(moved)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {moved}: WARC file missing")


def test_a_corpus_made_before_archiving_shows_the_probe_row(builder):
    builder.timeline([page(1, [post(3), post(2), post(1)], at(0))])
    builder.timeline([page(1, [post(3), post(1)], at(10))])
    builder.probes([probe("2", at(11), "removed", "author_deleted", "抱歉，此微博已被作者删除。")])
    builder.corpus.db.execute("DELETE FROM post_events")   # a corpus from before lifecycles
    history = post_history(builder.corpus, "2")
    text = format_history(history)
    assert "events: none recorded" in text
    assert "classified by probe #1; its response, from the probe row (no WARC record):" in text
    assert '           "ok": 0' in text
