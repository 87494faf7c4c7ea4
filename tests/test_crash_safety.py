"""Nothing lost, nothing false (issue 8): a second writer on the corpus, crawls whose process died,
damaged WARC records and damaged corpus databases. The kill -9 campaign is
tests/test_reliability.py."""

from __future__ import annotations

import gzip
import os
import sqlite3
import subprocess
import sys
import threading
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import page, post, probe
from e2e import memoryhole
from memoryhole.corpus import store, warc
from memoryhole.corpus.store import Corpus, CorpusError
from memoryhole.crawlers.reparse import ReparseError, reparse

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 24, 2, 5, tzinfo=UTC)


def hold_write_lock(path: Path, seconds: float, started: threading.Event) -> threading.Thread:
    """Another writer (as `analyze` or serve's index update is) holding the corpus."""
    def run() -> None:
        conn = sqlite3.connect(path, timeout=30)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE crawls SET plan_name = plan_name")
        started.set()
        time.sleep(seconds)
        conn.commit()
        conn.close()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


# --- 1. a second writer ---------------------------------------------------------------------


def test_a_batch_waits_for_another_writer_instead_of_failing(tmp_path):
    corpus = Corpus(tmp_path / "data")
    crawl = corpus.start_crawl("timeline", "weibo", {"watchlists": []})
    started = threading.Event()
    # Longer than sqlite3's default 5 s timeout, which gave "database is locked".
    other = hold_write_lock(corpus.path, 5.5, started)
    started.wait()
    try:
        corpus.record_pages(crawl, [page(1, [post(2), post(1)], T0)])
    finally:
        other.join()
    assert corpus.db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0] == 2
    corpus.close()


def test_a_stale_read_snapshot_does_not_make_a_batch_fail(tmp_path):
    """A write transaction that read first and finds another writer committed since then gets
    SQLITE_BUSY at once, whatever the timeout; transactions begin IMMEDIATE, so it waits."""
    corpus = Corpus(tmp_path / "data")
    crawl = corpus.start_crawl("probe", "weibo", {"watchlists": []})
    with corpus.db.atomic():
        corpus.db.execute("SELECT COUNT(*) FROM probes").fetchone()   # a read snapshot
        done = threading.Event()

        def write() -> None:
            other = sqlite3.connect(corpus.path, timeout=30, isolation_level=None)
            other.execute("UPDATE crawls SET plan_name = 'x'")   # commits at once
            other.close()
            done.set()
        thread = threading.Thread(target=write)
        thread.start()
        time.sleep(0.3)
        corpus.record_probes(crawl, [probe("1", T0, "removed", reason="author_deleted")])
    thread.join()
    assert done.is_set()
    assert corpus.db.execute("SELECT COUNT(*) FROM probes").fetchone()[0] == 1
    corpus.close()


class _Stats:
    def __init__(self) -> None:
        self.values: dict = {}

    def get_stats(self) -> dict:
        return dict(self.values)

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + count


def test_a_crawl_whose_batch_could_not_be_stored_is_never_finished(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from memoryhole.crawlers.pipelines import CorpusPipeline

    monkeypatch.setattr(store, "BUSY_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(store, "WRITE_PATIENCE_SECONDS", 0.5)
    from memoryhole.crawlers.platforms import adapter_for

    plan = SimpleNamespace(platform="weibo", name="p", path=None, base_url="http://x",
                           as_record=lambda: {"watchlists": []}, members=lambda: [])
    spider = SimpleNamespace(data_dir=str(tmp_path / "data"), plan=plan, kind="probe",
                             adapter=adapter_for("weibo"))
    pipeline = CorpusPipeline(SimpleNamespace(stats=_Stats(), engine=None, spider=spider))
    pipeline.open_spider(spider)
    pipeline.process_item(probe("1", T0, "removed", reason="author_deleted"))
    started = threading.Event()
    other = hold_write_lock(tmp_path / "data" / "corpus.db", 2.0, started)
    started.wait()
    try:
        pipeline.close_spider(spider)
        pipeline.spider_closed(spider, "finished")
    finally:
        other.join()
    db = sqlite3.connect(tmp_path / "data" / "corpus.db")
    assert db.execute("SELECT status FROM crawls").fetchall() == [("running",)]
    # ... and its lock is free, so the next start recovers it.
    corpus = Corpus(tmp_path / "data")
    assert [c["id"] for c in corpus.claim_dead_crawls()] == [1]
    corpus.close()


# --- 2. dead crawls, live crawls ------------------------------------------------------------


def test_only_dead_running_crawls_are_claimed(tmp_path):
    data = tmp_path / "data"
    live = Corpus(data)
    live_crawl = live.start_crawl("timeline", "weibo", {"watchlists": []})
    # A crawl whose process dies without a word (as kill -9 does).
    subprocess.run([sys.executable, "-c",
                    "import os, sys; from memoryhole.corpus.store import Corpus; "
                    f"c = Corpus({str(data)!r}); c.start_crawl('timeline', 'weibo', {{}}); "
                    "os._exit(0)"], cwd=ROOT, check=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
    other = Corpus(data)
    claimed = other.claim_dead_crawls()
    assert [c["id"] for c in claimed] == [live_crawl + 1]
    other.mark_crashed(claimed[0]["id"], claimed[0]["started_at"], {"finish_reason": "crashed"})
    assert other.claim_dead_crawls() == []          # the live one is never claimed
    live.finish_crawl(live_crawl, "finished", {})
    statuses = dict(other.db.execute("SELECT id, status FROM crawls").fetchall())
    assert statuses == {live_crawl: "finished", live_crawl + 1: "crashed"}
    assert not list((data / store.LOCK_DIR).glob("*.lock"))
    live.close()
    other.close()


# --- 4. damaged WARC records ----------------------------------------------------------------


def _archive(tmp_path: Path, n: int = 3) -> tuple[Path, list[store.WarcRef]]:
    archive = warc.CrawlArchive(tmp_path, 7, {"software": "test"})
    refs = [archive.append(warc.Exchange(
        url=f"http://127.0.0.1/statuses/show?id={i}", method="GET", request_headers=[],
        request_body=b"", status=200, response_headers=[("Content-Type", "application/json")],
        body=b'{"ok":0,"msg":"%s"}' % os.urandom(1500).hex().encode(),
        received_at=T0)) for i in range(n)]
    archive.close()
    return tmp_path / refs[0].file, refs


def _member_end(raw: bytes, offset: int) -> int:
    """Where the gzip member (one WARC record) starting at `offset` ends."""
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    inflate.decompress(raw[offset:])
    return len(raw) - len(inflate.unused_data)


def test_a_truncated_record_is_an_error_naming_file_and_offset(tmp_path):
    path, refs = _archive(tmp_path)
    raw = path.read_bytes()
    end = _member_end(raw, refs[1].offset)
    path.write_bytes(raw[:end - (end - refs[1].offset) // 3])   # cut inside record 2's body
    with pytest.raises(warc.EvidenceError, match=rf"{path.name}@{refs[1].offset}: .*truncated"):
        warc.read_response(tmp_path, refs[1])
    read = []
    with pytest.raises(warc.EvidenceError, match=rf"@{refs[1].offset}"):
        for archived in warc.iter_responses(tmp_path, path):
            read.append(archived.ref.offset)
    assert read == [refs[0].offset]                 # the intact record before it was read


def test_a_tampered_record_fails_its_digests(tmp_path):
    path, refs = _archive(tmp_path)
    raw = path.read_bytes()
    member = gzip.decompress(raw[refs[1].offset:refs[2].offset])
    tampered = gzip.compress(member.replace(b'"ok":0', b'"ok":1', 1), mtime=0)
    path.write_bytes(raw[:refs[1].offset] + tampered)
    with pytest.raises(warc.EvidenceError, match=rf"@{refs[1].offset}: .*digest failed"):
        warc.read_response(tmp_path, refs[1])
    assert warc.read_response(tmp_path, refs[0]).body.startswith(b'{"ok":0')


# --- 6. a damaged corpus database -----------------------------------------------------------


def _garbage_in_the_middle(data: Path) -> None:
    corpus = Corpus(data)
    corpus.record_pages(corpus.start_crawl("timeline", "weibo", {"watchlists": []}),
                        [page(1, [post(i) for i in range(400, 0, -1)], T0)])
    corpus.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    corpus.close()
    raw = bytearray((data / "corpus.db").read_bytes())
    # The middle half, not 8 KB at the middle: where the posts' pages lie depends on how many
    # tables (and so pages) the schema has, and every migration adds some.
    quarter = len(raw) // 4
    raw[quarter:3 * quarter] = os.urandom(2 * quarter)
    (data / "corpus.db").write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["random bytes", "garbage in the middle", "newer schema"])
def test_a_damaged_corpus_gives_one_line_and_reparse_leaves_nothing(tmp_path, damage):
    data = tmp_path / "data"
    data.mkdir()
    if damage == "random bytes":
        (data / "corpus.db").write_bytes(os.urandom(64 * 1024))
    elif damage == "garbage in the middle":
        _garbage_in_the_middle(data)
    else:
        Corpus(data).close()
        conn = sqlite3.connect(data / "corpus.db")
        conn.execute("PRAGMA user_version = 99")
        conn.close()
    into = tmp_path / "rebuilt"
    commands = [("reparse", "--data", str(data), "--into", str(into)),
                ("evidence", "200", "--data", str(data)), ("analyze", "--data", str(data))]
    if damage != "garbage in the middle":   # opening the corpus already tells
        commands.append(("export", "removals", "--data", str(data)))
    for command in commands:
        result = memoryhole(*command, check=False)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, (command, result.stderr)
        assert lines[0].startswith("Error: ") and "Traceback" not in result.stderr
        assert "corpus" in lines[0]
        assert not into.exists() and not list(tmp_path.glob(".rebuilt*")), command
    with pytest.raises(ReparseError):
        reparse(data, into)
    assert not into.exists() and not list(tmp_path.glob(".rebuilt*"))


def test_a_corpus_of_random_bytes_is_refused_on_open(tmp_path):
    (tmp_path / "corpus.db").write_bytes(os.urandom(4096))
    with pytest.raises(CorpusError, match="not a readable corpus database"):
        Corpus(tmp_path, create=False)
