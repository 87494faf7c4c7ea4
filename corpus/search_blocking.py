"""Search blocking in the corpus: runs, terms, tests with evidence, blocks as intervals.

A term's history is built as removals are: only an observation moves it (a `blocked`,
`results` or `no_results` answer); a failed search (captcha, login wall, 5xx, timeout) and an
`unknown` answer are kept as tests and move nothing. A block is an interval on each side:

- blocked after `blocked_after` (the request time of the last test that showed results or no
  results; NULL when the term was blocked at its first test) and before `blocked_before` (the
  answer of the first test that said blocked);
- unblocked after `unblocked_after` (the request time of the last test that still said blocked)
  and before `unblocked_before` (the answer of the first test after it that showed results).

Request times are safe lower bounds and answer times safe upper bounds, as for sightings and
probes. Each test is stored, with the term's state and its block, in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from .clock import iso, now
from .provenance import software_version
from .store import Corpus, WarcRef
from .warc import ArchivedResponse, EvidenceError, contained_path, read_response


class SearchOutcome(StrEnum):
    """What one search said about a term (search_tests.outcome)."""

    BLOCKED = "blocked"
    RESULTS = "results"
    NO_RESULTS = "no_results"
    UNKNOWN = "unknown"
    FAILED = "failed"


OUTCOME_DESCRIPTIONS = {
    SearchOutcome.BLOCKED: "the platform said the results are withheld (根据相关法律法规和政策，"
                           "搜索结果未予显示): the term is blocked",
    SearchOutcome.RESULTS: "the search showed results (result_count: the stated total where "
                           "the page shows one): not blocked",
    SearchOutcome.NO_RESULTS: "the platform said nothing matched (抱歉，未找到相关结果): not blocked",
    SearchOutcome.UNKNOWN: "an answer that says neither, or words not confirmed for this "
                           "endpoint (the mobile container's blocked words): kept, moves nothing",
    SearchOutcome.FAILED: "not an observation (captcha, login wall, 5xx, 418/432/403, timeout, "
                          "unreadable page): kept as evidence, moves nothing",
}
OBSERVATIONS = frozenset({SearchOutcome.BLOCKED, SearchOutcome.RESULTS, SearchOutcome.NO_RESULTS})


@dataclass(frozen=True)
class SearchTest:
    """One search of one term, as answered (or not)."""

    platform: str
    term: str
    purpose: str                  # watch | minimize
    endpoint: str
    url: str
    requested_at: datetime
    tested_at: datetime
    outcome: str
    http_status: int | None = None
    result_count: int | None = None
    results_shown: int | None = None
    message: str | None = None
    failure: str | None = None
    detail: str | None = None
    evidence: WarcRef | None = None
    minimization_id: int | None = None


def start_run(corpus: Corpus, kind: str, platform: str, endpoint: str, base_url: str,
              plan: dict[str, Any]) -> int:
    """Open a `running` search run (kind campaign | minimize) with its plan and software."""
    return corpus.write(lambda: int(corpus.db.execute(
        "INSERT INTO search_runs (kind, platform, endpoint, base_url, plan_json, "
        "software_version, started_at, status) VALUES (?,?,?,?,?,?,?, 'running')",
        [kind, platform, endpoint, base_url, json.dumps(plan, ensure_ascii=False,
                                                        sort_keys=True),
         software_version(), iso(now())]).lastrowid))


def finish_run(corpus: Corpus, run_id: int, status: str, stats: dict[str, Any]) -> None:
    corpus.write(lambda: corpus.db.execute(
        "UPDATE search_runs SET status = ?, ended_at = ?, stats_json = ? WHERE id = ?",
        [status, iso(now()), json.dumps(stats, ensure_ascii=False, sort_keys=True), run_id]))


def add_terms(corpus: Corpus, platform: str, terms: Iterable[str]) -> None:
    """Terms under test (a plan's list): each gets a row, `untested` until its first answer."""
    rows = [(platform, t) for t in terms]
    corpus.write(lambda: corpus.db.conn.executemany(
        "INSERT OR IGNORE INTO search_terms (platform, term) VALUES (?, ?)", rows))


def due_terms(corpus: Corpus, platform: str, terms: Iterable[str], every: float,
              at: datetime, slack: float = 0.0) -> list[str]:
    """The plan's terms (in its order) never answered or last answered `every` seconds ago
    (or due within `slack` seconds: tested with the others rather than alone soon after)."""
    last = dict(corpus.db.execute(
        "SELECT term, last_tested_at FROM search_terms WHERE platform = ?", [platform]).fetchall())
    due = []
    for term in dict.fromkeys(terms):
        seen = last.get(term)
        if seen is None or (at - datetime.fromisoformat(seen.replace("Z", "+00:00"))
                            ).total_seconds() >= every - slack:
            due.append(term)
    return due


def record_test(corpus: Corpus, run_id: int, test: SearchTest) -> int:
    """Store one test; a `watch` observation also moves its term's state and blocks."""
    return corpus.write(lambda: _record(corpus, run_id, test))


def _record(corpus: Corpus, run_id: int, test: SearchTest) -> int:
    db = corpus.db
    ref = test.evidence
    test_id = int(db.execute(
        """INSERT INTO search_tests (run_id, platform, term, purpose, minimization_id, endpoint,
               url, requested_at, tested_at, http_status, outcome, result_count, results_shown,
               message, failure, detail, warc_file, warc_offset, warc_record_id)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        [run_id, test.platform, test.term, test.purpose, test.minimization_id, test.endpoint,
         test.url, iso(test.requested_at), iso(test.tested_at), test.http_status, test.outcome,
         test.result_count, test.results_shown, test.message, test.failure, test.detail,
         ref.file if ref else None, ref.offset if ref else None,
         ref.record_id if ref else None]).lastrowid)
    if test.purpose == "watch":
        _move_term(db, test, test_id)
    return test_id


def _move_term(db: Any, test: SearchTest, test_id: int) -> None:
    key = [test.platform, test.term]
    db.execute("INSERT OR IGNORE INTO search_terms (platform, term) VALUES (?, ?)", key)
    if test.outcome == SearchOutcome.FAILED:
        db.execute("UPDATE search_terms SET failed_tests = failed_tests + 1 "
                   "WHERE platform = ? AND term = ?", key)
        return
    if test.outcome not in OBSERVATIONS:   # an answer, so the schedule moves; the state does not
        db.execute("UPDATE search_terms SET last_tested_at = ?, last_outcome = ?, "
                   "first_tested_at = COALESCE(first_tested_at, ?) WHERE platform = ? AND term = ?",
                   [iso(test.tested_at), test.outcome, iso(test.tested_at), *key])
        return
    requested, answered = iso(test.requested_at), iso(test.tested_at)
    blocked = test.outcome == SearchOutcome.BLOCKED
    last_unblocked = db.execute(
        "SELECT last_unblocked_at FROM search_terms WHERE platform = ? AND term = ?",
        key).fetchone()[0]
    open_block = db.execute(
        "SELECT id, last_blocked_at FROM search_blocks WHERE platform = ? AND term = ? "
        "AND unblocked_before IS NULL", key).fetchone()
    if blocked and open_block is None:
        db.execute(
            """INSERT INTO search_blocks (platform, term, blocked_after, blocked_before,
                   blocked_test_id, message, last_blocked_at) VALUES (?,?,?,?,?,?,?)""",
            [*key, last_unblocked, answered, test_id, test.message, requested])
    elif blocked:
        db.execute("UPDATE search_blocks SET blocked_tests = blocked_tests + 1, "
                   "last_blocked_at = ? WHERE id = ?", [requested, open_block[0]])
    elif open_block is not None:
        db.execute("UPDATE search_blocks SET unblocked_after = last_blocked_at, "
                   "unblocked_before = ?, unblocked_test_id = ? WHERE id = ?",
                   [answered, test_id, open_block[0]])
    db.execute(
        f"""UPDATE search_terms SET state = ?, last_outcome = ?, last_result_count = ?,
               last_tested_at = ?, first_tested_at = COALESCE(first_tested_at, ?),
               tests = tests + 1,
               {'last_blocked_at' if blocked else 'last_unblocked_at'} = ?
           WHERE platform = ? AND term = ?""",
        ["blocked" if blocked else "unblocked", test.outcome, test.result_count, answered,
         answered, requested, *key])


# --- minimizations ----------------------------------------------------------------------------


def start_minimization(corpus: Corpus, run_id: int, platform: str, term: str) -> int:
    return corpus.write(lambda: int(corpus.db.execute(
        "INSERT INTO search_minimizations (run_id, platform, term, started_at, status) "
        "VALUES (?,?,?,?, 'running')", [run_id, platform, term, iso(now())]).lastrowid))


def finish_minimization(corpus: Corpus, minimization_id: int, status: str, probes: int,
                        failed_probes: int, substrings: list[str]) -> None:
    """Keep a minimization's result with its original phrase (status minimal | not_blocked |
    incomplete; substrings only for `minimal`)."""
    def store() -> None:
        row = corpus.db.execute("SELECT platform, term FROM search_minimizations WHERE id = ?",
                                [minimization_id]).fetchone()
        corpus.db.execute(
            "UPDATE search_minimizations SET status = ?, ended_at = ?, probes = ?, "
            "failed_probes = ?, substrings = ? WHERE id = ?",
            [status, iso(now()), probes, failed_probes,
             json.dumps(substrings, ensure_ascii=False), minimization_id])
        corpus.db.conn.executemany(
            "INSERT OR IGNORE INTO search_minimal_substrings (minimization_id, platform, term, "
            "substring) VALUES (?,?,?,?)",
            [(minimization_id, row[0], row[1], s) for s in substrings])
    corpus.write(store)


def search_test_evidence(corpus: Corpus, test_id: int) -> tuple[dict[str, Any], ArchivedResponse | None]:
    """A search test and the answer it got, read back from its WARC record (None: the search
    got no answer to archive, a network error); EvidenceError names what is missing."""
    row = corpus.db.execute("SELECT * FROM search_tests WHERE id = ?", [test_id]).fetchone()
    if row is None:
        raise EvidenceError(f"search test {test_id}: not in the corpus")
    test = dict(zip([c[0] for c in corpus.db.execute(
        "SELECT * FROM search_tests LIMIT 0").description], row, strict=True))
    if test["warc_file"] is None:
        return test, None
    try:
        contained_path(corpus.data_dir, test["warc_file"])
    except EvidenceError as exc:
        raise EvidenceError(f"search test {test_id}: warc_file {exc}") from None
    return test, read_response(corpus.data_dir, WarcRef(test["warc_file"], test["warc_offset"],
                                                        test["warc_record_id"]))
