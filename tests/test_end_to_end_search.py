"""End to end on simulated Weibo search (memoryhole/sandbox/search.py): planted keywords blocked
and unblocked at known times, results counts, no results, and captchas on 15% of searches.

A campaign of six simulated days (a cycle every 6 h, 15 s between searches, 30 min back-off
after a captcha) on a driven clock: every block the truth holds is found, its start and end
inside the tested intervals; every observation agrees with the truth at its time; captchas are
kept as tests and never observations; each test's WARC record reads back to the same outcome.
Minimizing phrases finds exactly the planted keywords, with the probes counted. The CLI
(`keywords watch`, `keywords minimize`), reparse and Datasette are run on the result."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from e2e import QUIET_WEIBO, memoryhole
from memoryhole.analysis.publish import make_datasette
from memoryhole.corpus.clock import parse_iso
from memoryhole.corpus.store import Corpus, WarcRef
from memoryhole.corpus.warc import read_response
from memoryhole.crawlers.plan import plan_from_dict
from memoryhole.crawlers.platforms.weibo_search import parse_search
from memoryhole.crawlers.search_campaign import Pacing, minimize, run_campaign

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

T0 = datetime(2026, 6, 1, tzinfo=UTC)
KEYWORDS = [
    {"words": "天安门"},                                                  # blocked throughout
    {"words": "白纸", "blocked": [{"from": "1d", "until": "3d"}]},         # blocked, then lifted
    {"words": "四通桥", "blocked": [{"until": "2d"}, {"from": "4d"}]},      # lifted, then again
    {"words": "习包子", "blocked": [{"from": "2.5d"}]},                     # blocked later
]
TERMS = ["天安门广场", "白纸运动", "四通桥横幅", "习包子铺", "无人知晓的词", "高校食堂"]
SEARCH = {"every": "6h", "delay": "15s", "captcha_backoff": "30m", "retries": 4}


@pytest.fixture
def platform():
    scenario = load_scenario({
        "seed": 5, "start": T0.isoformat(), "duration": 0, "faults": {"rate": 0},
        **QUIET_WEIBO,
        "weibo_search": {"keywords": KEYWORDS, "no_results": ["无人知晓的词"], "captcha": 0.15}})
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        yield server


def driven(server: SandboxServer) -> Pacing:
    """The campaign's clock is the platform's: waiting moves simulated time."""
    return Pacing(now=server.clock.now, sleep=lambda s: server.clock.advance(s))


def true_periods(server: SandboxServer, term: str, at: datetime) -> list[tuple[datetime, datetime]]:
    """When `term` was blocked, up to `at`: the union of its keywords' blocked periods."""
    spans = sorted((parse_iso(p["from"]), parse_iso(p["until"]) if p["until"] else datetime.max
                    .replace(tzinfo=UTC))
                   for k in server.search.truth(at)["keywords"] if k["words"] in term
                   for p in k["blocked"])
    merged: list[list[datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def blocked_at(periods, moment: datetime) -> bool:
    return any(a <= moment < b for a, b in periods)


def rows(data, sql, args=()):
    corpus = Corpus(data, create=False)
    try:
        return [dict(r) for r in corpus.db.query(sql, args)]
    finally:
        corpus.close()


def test_a_campaign_finds_every_block_inside_its_intervals(platform, tmp_path):
    data = tmp_path / "data"
    plan = plan_from_dict({"platform": "weibo", "search": {
        "terms": TERMS, "base_url": f"{platform.url}/search", **SEARCH}})
    cycles = run_campaign(plan, data, cycles=24, pacing=driven(platform))
    end = platform.clock.now()
    assert len(cycles) == 24 and end >= T0 + timedelta(days=5, hours=18)

    tests = rows(data, "SELECT * FROM search_tests ORDER BY id")
    observations = [t for t in tests if t["outcome"] != "failed"]
    captchas = [t for t in tests if t["failure"] == "captcha"]
    assert captchas and all(t["outcome"] == "failed" for t in captchas)
    assert len(observations) == len(TERMS) * 24          # every term answered in every cycle
    # Every observation agrees with the truth at its time (the clock stands still in a search).
    for test in observations:
        periods = true_periods(platform, test["term"], end)
        assert (test["outcome"] == "blocked") == blocked_at(periods, parse_iso(test["tested_at"]))
        if test["outcome"] == "results":
            assert test["result_count"] == platform.search.count(test["term"]) > 0
        assert (test["outcome"] == "no_results") == (test["term"] == "无人知晓的词")

    # Every true block, and only those, with its start and end inside the tested intervals.
    found = 0
    for term in TERMS:
        blocks = rows(data, "SELECT * FROM search_blocks WHERE term = ? ORDER BY id", [term])
        periods = true_periods(platform, term, end)
        assert len(blocks) == len(periods), term
        for block, (start, stop) in zip(blocks, periods, strict=True):
            if block["blocked_after"] is None:      # blocked at the term's first test
                assert start <= parse_iso(block["blocked_before"]) and start == T0
            else:
                assert parse_iso(block["blocked_after"]) <= start <= parse_iso(
                    block["blocked_before"]), term
            if stop > end:
                assert block["unblocked_before"] is None, term
            else:
                assert parse_iso(block["unblocked_after"]) <= stop <= parse_iso(
                    block["unblocked_before"]), term
            found += 1
    assert found == 5
    print(f"campaign: {len(TERMS)} terms, {len(tests)} searches: {len(observations)} "
          f"observations, {len(captchas)} captchas (failed, kept); {found} of 5 true blocks, "
          "start and end inside their intervals")
    now = {r["term"] for r in rows(data, "SELECT term FROM search_terms WHERE state = 'blocked'")}
    assert now == {t for t in TERMS if blocked_at(true_periods(platform, t, end), end)} == {
        "天安门广场", "四通桥横幅", "习包子铺"}

    # Each test's archived answer reads back to the same outcome.
    for test in tests:
        archived = read_response(data, WarcRef(test["warc_file"], test["warc_offset"],
                                               test["warc_record_id"]))
        again = parse_search(archived.status, archived.body, "desktop")
        assert (again.outcome, again.failure) == (test["outcome"], test["failure"])

    # Minimization against the platform as it is now: exactly the planted keywords.
    for phrase, planted in (("我们在天安门广场上举着白纸看四通桥", ["天安门", "四通桥"]),
                            ("楼下的习包子铺关门了", ["习包子"]),
                            ("今天天气不错", [])):
        result = minimize(phrase, data, plan.search, pacing=driven(platform))
        assert result.substrings == planted and result.status == (
            "minimal" if planted else "not_blocked")
        stored = rows(data, "SELECT COUNT(*) AS n, SUM(outcome = 'failed') AS failed FROM "
                      "search_tests WHERE minimization_id = ?", [result.minimization_id])[0]
        assert stored["n"] == result.probes + result.failed_probes
        assert (stored["failed"] or 0) == result.failed_probes
        print(f"minimize {phrase}: {planted} in {result.probes} probes "
              f"(+{result.failed_probes} captchas)")

    # Reparse rebuilds the same search tables from the archive.
    memoryhole("reparse", "--data", str(data), "--into", str(tmp_path / "again"))
    for table in ("search_blocks", "search_terms", "search_minimizations"):
        assert rows(tmp_path / "again", f"SELECT * FROM {table} ORDER BY rowid") == rows(
            data, f"SELECT * FROM {table} ORDER BY rowid"), table

    # Datasette: blocked terms now, a term's history, the dashboard.
    ds = make_datasette(data)

    def get(path):
        response = asyncio.run(ds.client.get(path))
        assert response.status_code == 200, (path, response.text[:300])
        return response

    listed = get("/corpus/search_blocked_terms_now.json?_shape=array").json()
    assert {r["term"] for r in listed} == now
    history = get("/corpus/search_term_history.json?_shape=array&term=四通桥横幅").json()
    assert [r["event"] for r in history if not r["event"].startswith("test")].count(
        "blocked") == 2
    assert "Terms blocked, by day of test" in get("/-/dashboards/search_blocking").text


def test_the_cli_watches_and_minimizes(platform, tmp_path):
    data, plan = tmp_path / "data", tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"platform": "weibo", "search": {
        "terms": TERMS, "base_url": f"{platform.url}/search", "every": "6h", "delay": "0s",
        "captcha_backoff": "0s", "retries": 10}}, allow_unicode=True), "utf-8")
    for day in (0, 2):
        platform.clock.set(T0 + timedelta(days=day, hours=1))
        out = memoryhole("keywords", "watch", str(plan), "--data", str(data), "--once", "-v",
                         now=platform.clock.now()).stderr
        assert f"{len(TERMS)} terms tested" in out and "白纸运动: " in out
    blocks = rows(data, "SELECT term, blocked_after, blocked_before FROM search_blocks "
                        "WHERE term = '白纸运动'")
    assert blocks == [{"term": "白纸运动", "blocked_after": "2026-06-01T01:00:00.000000Z",
                       "blocked_before": "2026-06-03T01:00:00.000000Z"}]
    result = memoryhole("keywords", "minimize", "我们在天安门广场上举着白纸", "--data", str(data),
                        "--plan", str(plan), "--json", now=platform.clock.now())
    found = json.loads(result.stdout)
    assert found["substrings"] == ["天安门", "白纸"] and found["status"] == "minimal"
    assert found["probes"] > 0 and "我们在天安门广场上举着白纸: blocked" in result.stderr
    blocked = rows(data, "SELECT id FROM search_tests WHERE outcome = 'blocked' LIMIT 1")[0]
    shown = memoryhole("keywords", "evidence", str(blocked["id"]), "--data", str(data)).stdout
    assert "-> blocked" in shown and "HTTP/1.1 200" in shown and "根据相关法律法规和政策" in shown
    # Bad input: one line, non-zero.
    bad = memoryhole("keywords", "minimize", "天安门", "--data", str(data), "--base-url", "nope",
                     check=False)
    assert bad.returncode == 1 and "--base-url" in bad.stderr and "Traceback" not in bad.stderr


def test_sigterm_stops_a_watch_and_keeps_its_answers(platform, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    data, plan = tmp_path / "data", tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"platform": "weibo", "search": {
        "terms": TERMS, "base_url": f"{platform.url}/search", "every": "1h", "delay": "1s",
        "captcha_backoff": "0s"}}, allow_unicode=True), "utf-8")
    watch = subprocess.Popen([sys.executable, "-m", "memoryhole.cli", "keywords", "watch",
                              str(plan), "--data", str(data)], stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "MEMORYHOLE_NOW": T0.isoformat()})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:   # stop it in the middle of its first cycle
        if (data / "corpus.db").exists() and rows(data, "SELECT COUNT(*) AS n FROM "
                                                  "search_tests")[0]["n"] >= 2:
            break
        time.sleep(0.1)
    watch.send_signal(signal.SIGTERM)
    _, err = watch.communicate(timeout=30)
    assert watch.returncode == 130 and "interrupted" in err and "Traceback" not in err
    runs = rows(data, "SELECT status FROM search_runs")
    assert runs and runs[-1]["status"] == "interrupted"
    assert 2 <= rows(data, "SELECT COUNT(*) AS n FROM search_tests")[0]["n"] < len(TERMS)
