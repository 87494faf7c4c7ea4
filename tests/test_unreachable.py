"""A crawl that could fetch nothing says so in one line and exits non-zero; one that fetched
something, despite failures, is a normal run. Connection errors are named, not tracebacks."""

from __future__ import annotations

import socket
import sqlite3
from datetime import UTC, datetime

import pytest
from e2e import memoryhole, write_plan
from memoryhole.corpus.differ import ProbeResolution, TimelineDiff
from memoryhole.crawlers import failures
from memoryhole.crawlers.scheduler import CycleReport, fetched_nothing

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unreachable_plan(tmp_path, every: str = "10s"):
    plan = write_plan(tmp_path / "plan.yaml", f"http://127.0.0.1:{closed_port()}",
                      ["1001", "1002"], pages=1)
    plan.write_text(plan.read_text().replace("every: 10s", f"every: {every}")
                    .replace("timeout: 5s", "timeout: 2s").replace("retries: 3", "retries: 1"))
    return plan


def test_an_unreachable_platform_is_one_line_and_a_failed_run(tmp_path):
    data = tmp_path / "data"
    result = memoryhole("crawl", str(unreachable_plan(tmp_path)), "--data", str(data), "--once",
                        check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "nothing could be fetched" in errors[0]
    assert "connection_error" in errors[0] and "127.0.0.1" in errors[0]
    db = sqlite3.connect(data / "corpus.db")
    assert {r[0] for r in db.execute("SELECT failure FROM fetch_failures")} == {
        failures.CONNECTION_ERROR}
    assert db.execute("SELECT COUNT(*) FROM pages WHERE outcome = 'failed'").fetchone()[0] == 2


def test_every_cycle_failing_fails_the_run(tmp_path):
    result = memoryhole("crawl", str(unreachable_plan(tmp_path, every="1s")), "--data",
                        str(tmp_path / "data"), "--cycles", "2", check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    cycles = [line for line in result.stderr.splitlines() if line.startswith("cycle ")]
    assert len(cycles) == 2 and all("nothing could be fetched" in line for line in cycles)
    assert "in 2 cycles" in result.stderr.splitlines()[-1]


def test_some_failures_with_some_success_is_a_normal_run(tmp_path):
    scenario = load_scenario({"seed": 3, "start": T0.isoformat(), "duration": 0,
                              "accounts": {"count": 2, "first_uid": 1001, "initial_posts": 5,
                                           "posts_per_hour": 0}, "faults": {"rate": 0}})
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        server.inject_fault("http_418", "value=1002", -1)
        plan = write_plan(tmp_path / "plan.yaml", server.url, ["1001", "1002"], pages=1)
        result = memoryhole("crawl", str(plan), "--data", str(tmp_path / "data"), "--once",
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "nothing could be fetched" not in result.stderr
    assert "windows 1 covered/0 empty/1 failed" in result.stderr


@pytest.mark.parametrize("exception", ["DownloadConnectionRefusedError", "CannotResolveHostError",
                                       "DownloadFailedError", "ResponseDataLossError"])
def test_scrapy_download_errors_are_connection_errors(exception):
    import scrapy.exceptions

    error = getattr(scrapy.exceptions, exception)("connection refused")
    assert failures.failure_for_exception(error) == failures.CONNECTION_ERROR


def diff(covered: int, empty: int, failed: int) -> TimelineDiff:
    return TimelineDiff(windows=covered + empty + failed, covered=covered, empty=empty,
                        failed=failed, seen_again=0, restored=0, new_candidates=0,
                        open_candidates=0)


def cycle(number: int, covered=0, empty=0, failed=2, probed=0, still_open=0) -> CycleReport:
    resolution = ProbeResolution(probed, 0, probed - still_open, still_open) if probed else None
    return CycleReport(number, diff=diff(covered, empty, failed), resolution=resolution)


def test_what_fetching_nothing_means():
    assert cycle(1).fetched_nothing
    assert not cycle(1, covered=1, failed=1).fetched_nothing
    assert not cycle(1, empty=1, failed=0).fetched_nothing       # an empty timeline is an answer
    assert not cycle(1, probed=3, still_open=2).fetched_nothing  # one probe was answered
    assert cycle(1, probed=3, still_open=3).fetched_nothing
    assert not CycleReport(1, interrupted=True).fetched_nothing  # stopped before any diff
    # A run fails only when none of its finished cycles fetched anything.
    assert fetched_nothing([cycle(1), cycle(2)])
    assert not fetched_nothing([cycle(1), cycle(2, covered=2, failed=0)])
    assert not fetched_nothing([cycle(1, covered=2, failed=0), cycle(2)])
    assert not fetched_nothing([])
    assert not fetched_nothing([CycleReport(1, interrupted=True)])
