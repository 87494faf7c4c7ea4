"""analysis.publish: Datasette metadata and serving, against a real Datasette 0.65."""

import asyncio
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import sqlite_utils
import yaml
from datasette.app import Datasette

from analysis.publish import (
    PublishError,
    build_metadata,
    serve,
    serve_argv,
    write_metadata,
)
from analysis.tables import analyze
from corpus.reasons import REASON_DESCRIPTIONS, REASONS, Reason

try:  # the shared hand-built corpus; `tests` is not a package, so import it either way
    from tests.test_analysis import REMOVALS, build_corpus
except ImportError:  # pragma: no cover
    from test_analysis import REMOVALS, build_corpus


@pytest.fixture
def data_dir(tmp_path):
    corpus = build_corpus(tmp_path)
    analyze(corpus.db)
    corpus.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    corpus.close()
    return tmp_path


def get(ds, path):
    async def fetch():
        return await ds.client.get(path)
    response = asyncio.run(fetch())
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return response


def datasette(data_dir):
    return Datasette([str(data_dir / "corpus.db")], metadata=build_metadata())


def test_removals_json(data_dir):
    rows = get(datasette(data_dir), "/corpus/removals.json?_shape=array").json()
    assert sorted((r["id"], r["post_id"], r["reason"]) for r in rows) == sorted(
        (rid, post_id, reason) for rid, post_id, _, reason, *_ in REMOVALS)


def test_removals_page_shows_default_facets_and_reason_vocabulary(data_dir):
    html = get(datasette(data_dir), "/corpus/removals").text
    for facet in ("reason", "account_id", "platform"):
        assert f'id="facet-{facet}"' in html, facet
    assert 'class="facet-info-name"' in html
    # Newest confirmation first by default.
    assert "sorted by first_missing_at descending" in html
    # Column descriptions render, the reason one generated from corpus.reasons.
    assert REASON_DESCRIPTIONS[Reason.AUTHOR_DELETED] in html


def test_metadata_json_has_reason_descriptions(data_dir):
    metadata = get(datasette(data_dir), "/-/metadata.json").json()
    assert metadata["title"] == "memoryhole corpus"
    assert metadata["license"] == "CC BY 4.0"
    reason_text = metadata["databases"]["corpus"]["tables"]["removals"]["columns"]["reason"]
    assert REASON_DESCRIPTIONS[Reason.PLATFORM_REMOVED] in reason_text
    for reason in REASONS:
        assert f"{reason}: {REASON_DESCRIPTIONS[reason]}" in reason_text
    rates = metadata["databases"]["corpus"]["tables"]["account_removal_rates"]["columns"]
    for reason in REASONS:
        assert REASON_DESCRIPTIONS[reason] in rates[reason]


def test_every_table_and_column_of_note_is_described(data_dir):
    tables = build_metadata()["databases"]["corpus"]["tables"]
    db = sqlite_utils.Database(data_dir / "corpus.db")
    try:
        names = [t for t in db.table_names() if not t.startswith("sqlite_")]
        assert "removals" in names and "time_to_removal" in names and "analysis_runs" in names
        undescribed = [t for t in names if not (tables.get(t) or {}).get("description")]
        assert undescribed == []
        # Column descriptions must name real columns (catch typos and renamed columns).
        for table, meta in tables.items():
            assert table in names, f"metadata describes a table the corpus lacks: {table}"
            unknown = set(meta.get("columns", {})) - set(db[table].columns_dict)
            assert not unknown, (table, unknown)
        for table in ("removals", "posts", "sightings", "windows", "candidates", "probes"):
            assert len(tables[table].get("columns", {})) >= 3, table
        assert tables["accounts"]["label_column"] == "screen_name"
    finally:
        db.close()


def test_canned_query(data_dir):
    rows = get(datasette(data_dir),
               "/corpus/removals_by_day_and_reason.json?_shape=array").json()
    assert rows == [
        {"day": "2024-05-04", "reason": "author_deleted", "removals": 1, "restored": 0},
        {"day": "2024-05-03", "reason": "unknown", "removals": 1, "restored": 0},
        {"day": "2024-05-02", "reason": "author_deleted", "removals": 0, "restored": 1},
        {"day": "2024-05-02", "reason": "platform_removed", "removals": 1, "restored": 0},
    ]


def test_write_metadata_json_and_yaml(tmp_path):
    expected = build_metadata()
    as_json = write_metadata(tmp_path / "m" / "metadata.json")
    assert json.loads(as_json.read_text(encoding="utf-8")) == expected
    as_yaml = write_metadata(tmp_path / "metadata.yaml")
    assert yaml.safe_load(as_yaml.read_text(encoding="utf-8")) == expected


def test_serve_argv(data_dir):
    argv = serve_argv(data_dir, port=8123)
    assert argv[1:5] == ["-m", "datasette", "serve", str(data_dir / "corpus.db")]
    metadata_path = data_dir / "datasette" / "metadata.json"
    assert argv[argv.index("--metadata") + 1] == str(metadata_path)
    assert json.loads(metadata_path.read_text(encoding="utf-8")) == build_metadata()
    assert argv[argv.index("--port") + 1] == "8123"
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    i = argv.index("sql_time_limit_ms")
    assert argv[i - 1:i + 2] == ["--setting", "sql_time_limit_ms", "3500"]

    immutable = serve_argv(data_dir, immutable=True)
    assert immutable[4:6] == ["-i", str(data_dir / "corpus.db")]


def test_no_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(PublishError, match="no corpus in .*; run memoryhole crawl first"):
        serve_argv(tmp_path)
    with pytest.raises(PublishError):
        serve(tmp_path / "missing")
    assert not (tmp_path / "datasette").exists()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("immutable", [False, True])
def test_serve_argv_runs_datasette(data_dir, immutable):
    port = free_port()
    process = subprocess.Popen(serve_argv(data_dir, port=port, immutable=immutable),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read().decode(errors="replace")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/corpus.json", timeout=2) as r:
                    body = json.load(r)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert body["database"] == "corpus"
        tables = {t["name"]: t for t in body["tables"]}
        assert tables["removals"]["count"] == len(REMOVALS)
        assert "time_to_removal" in tables
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def test_every_table_page_renders(data_dir):
    """Default sorts, facets and label columns in the metadata must name real columns."""
    db = sqlite_utils.Database(data_dir / "corpus.db")
    names = db.table_names()
    db.close()
    ds = datasette(data_dir)
    for table in names:
        get(ds, f"/corpus/{table}")
        get(ds, f"/corpus/{table}.json")
