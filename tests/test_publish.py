"""memoryhole.analysis.publish: Datasette metadata and serving, against a real Datasette 0.65."""

import asyncio
import json
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import memoryhole.analysis.fts as fts
import pytest
import sqlite_utils
import yaml
from memoryhole.analysis.publish import (
    PLUGINS_DIR,
    TEMPLATES_DIR,
    PublishError,
    build_metadata,
    make_datasette,
    prepare,
    serve,
    serve_argv,
    write_metadata,
)
from memoryhole.analysis.segmentation import Segmenter
from memoryhole.analysis.tables import analyze
from memoryhole.corpus.reasons import REASON_DESCRIPTIONS, REASONS, Reason
from pipeline_corpus import ACCOUNTS
from pipeline_corpus import build as build_pipeline_corpus

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
    prepare(tmp_path)            # what serving does first: the full-text index
    return tmp_path


def get(ds, path):
    async def fetch():
        return await ds.client.get(path)
    response = asyncio.run(fetch())
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return response


def datasette(data_dir):
    return make_datasette(data_dir)


def public_tables(db):
    """Tables Datasette lists: not the FTS index's virtual and shadow tables."""
    return [t for t in db.table_names()
            if not t.startswith("sqlite_") and not (t.startswith("posts_fts") and
                                                    t != "posts_fts_state")
            and not t.startswith("posts_substring_")]


def test_removals_json(data_dir):
    rows = get(datasette(data_dir), "/corpus/removals.json?_shape=array").json()
    assert sorted((r["id"], r["post_id"], r["reason"]) for r in rows) == sorted(
        (rid, post_id, reason) for rid, post_id, _, reason, *_ in REMOVALS)


def test_removals_page_shows_default_facets_and_reason_vocabulary(data_dir):
    html = get(datasette(data_dir), "/corpus/removals").text
    for facet in ("reason", "account_id", "platform", "first_missing_at"):
        assert f'id="facet-{facet}"' in html, facet
    assert 'class="facet-info-name"' in html
    # Newest confirmation first by default.
    assert "sorted by first_missing_at descending" in html
    # Column descriptions render, the reason one generated from memoryhole.corpus.reasons.
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
        names = public_tables(db)
        assert "removals" in names and "time_to_removal" in names and "analysis_runs" in names
        undescribed = [t for t in names if not (tables.get(t) or {}).get("description")]
        assert undescribed == []
        # Column descriptions must name real columns (catch typos and renamed columns).
        for table, meta in tables.items():
            assert table in names, f"metadata describes a table the corpus lacks: {table}"
            if meta.get("hidden"):
                continue
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
    assert json.loads(metadata_path.read_text(encoding="utf-8")) == build_metadata(
        data_dir / "corpus.db")
    assert argv[argv.index("--plugins-dir") + 1] == str(PLUGINS_DIR)
    assert argv[argv.index("--template-dir") + 1] == str(TEMPLATES_DIR)
    assert (PLUGINS_DIR / "memoryhole_datasette.py").is_file()
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
    names = public_tables(db)
    db.close()
    ds = datasette(data_dir)
    for table in names:
        get(ds, f"/corpus/{table}")
        get(ds, f"/corpus/{table}.json")


# --- Chinese search, the post page, evidence, the dashboard: on a pipeline-made corpus --------


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return build_pipeline_corpus(tmp_path_factory.mktemp("publish-pipeline"))


def test_fts_query_segments_chinese_and_escapes_the_rest():
    assert fts.fts_query("高校食堂") == '"高校" "食堂"'
    assert fts.fts_query('hello "big world') == '"hello" "big world"'
    assert fts.fts_query("") == ""


def test_full_text_index_never_resegments_unchanged_posts(pipeline, monkeypatch):
    prepare(pipeline.data)
    calls = []
    real = Segmenter.tokens
    monkeypatch.setattr(Segmenter, "tokens", lambda self, text: calls.append(text) or real(self, text))
    conn = sqlite3.connect(pipeline.data / "corpus.db", isolation_level=None)
    try:
        assert fts.update_index(conn)["segmented"] == 0 and calls == []
        conn.execute("UPDATE posts SET text = '食堂关门了' WHERE post_id = ?",
                     [pipeline.posts["campus"]])
        counts = fts.update_index(conn)
        assert counts["segmented"] == 1 and calls == ["食堂关门了"]
        assert counts["unchanged"] == conn.execute("SELECT COUNT(*) - 1 FROM posts").fetchone()[0]
        hits = {r[0] for r in conn.execute(
            "SELECT post_id FROM posts WHERE rowid IN (SELECT rowid FROM posts_fts "
            "WHERE posts_fts MATCH ?)", [fts.fts_query("食堂")])}
        assert pipeline.posts["campus"] in hits
        conn.execute("UPDATE posts SET text = ? WHERE post_id = ?",
                     [pipeline.texts["campus"], pipeline.posts["campus"]])
        fts.update_index(conn)
    finally:
        conn.close()


def test_datasette_reads_the_corpus_through_a_memory_map(data_dir):
    """Datasette's connections map the corpus (its database page counts every table, and SQLite
    cannot interrupt a count of a big FTS5 shadow table)."""
    from memoryhole.analysis.datasette_plugins.memoryhole_datasette import MMAP_BYTES

    ds = datasette(data_dir)

    async def mapped():
        return await ds.get_database("corpus").execute_fn(
            lambda conn: conn.execute("PRAGMA mmap_size").fetchone()[0])
    assert asyncio.run(mapped()) == MMAP_BYTES > 0


def test_datasette_finds_chinese_without_spaces(pipeline):
    ds = make_datasette(pipeline.data)
    canteen = pipeline.posts["canteen"]
    rows = get(ds, "/corpus/posts.json?_search=高校食堂&_shape=array").json()
    assert [r["post_id"] for r in rows] == [canteen]
    rows = get(ds, "/corpus/search_posts.json?q=高校食堂&_shape=array").json()
    assert [(r["post_id"], r["removed_reason"]) for r in rows] == [(canteen, "platform_removed")]
    both = {r["post_id"] for r in get(ds, "/corpus/posts.json?_search=食堂&_shape=array").json()}
    assert {canteen, pipeline.posts["canteen_only"]} <= both
    # A plain substring search would not have found it: the words are apart.
    assert "高校食堂" not in pipeline.texts["canteen"]
    rows = get(ds, "/corpus/posts_mentioning_term.json?term=高校食堂&_shape=array").json()
    assert rows == []


def test_post_page_and_evidence(pipeline):
    ds = make_datasette(pipeline.data)
    canteen = pipeline.posts["canteen"]
    page = get(ds, f"/corpus/posts/weibo,{canteen}").text
    assert pipeline.texts["canteen"] in page
    assert "Reason: <code>platform_removed</code>" in page
    assert "Versions (2)" in page and "Probes (1)" in page
    probe_id = get(ds, f"/corpus/removals.json?post_id={canteen}&_shape=array").json()[0]["probe_id"]
    assert f'href="/-/evidence/corpus/{probe_id}"' in page
    evidence = get(ds, f"/-/evidence/corpus/{probe_id}").text
    assert "Response body (JSON, pretty-printed)" in evidence
    assert "该微博因违反《微博社区公约》的相关规定，已被删除" in evidence
    rows = get(ds, f"/corpus/evidence.json?probe_id={probe_id}&_shape=array").json()
    assert "已被删除" in rows[0]["response_text"]
    removals = get(ds, "/corpus/removals").text
    assert f'href="/corpus/posts/weibo,{canteen}"' in removals
    visible = get(ds, f"/corpus/posts/weibo,{pipeline.posts['canteen_only']}").text
    assert "right-censored" in visible


def test_canned_queries_answer(pipeline):
    ds = make_datasette(pipeline.data)
    rows = get(ds, "/corpus/keyword_test.json?term=高校&_shape=array").json()
    assert rows[0]["posts"] == "posts containing the term" and rows[0]["platform_removed"] >= 1
    rows = get(ds, "/corpus/time_to_removal_for_term.json?term=食堂&_shape=array").json()
    assert [r["post_id"] for r in rows] == [pipeline.posts["canteen"]]
    assert 0 <= rows[0]["min_hours"] <= rows[0]["max_hours"]
    rows = get(ds, f"/corpus/account_history.json?account_id={ACCOUNTS[0]}&_shape=array").json()
    assert any(r["event"] == "removed: platform_removed" for r in rows)
    assert get(ds, "/robots.txt").text.strip().endswith("Disallow: /")
    dashboard = get(ds, "/-/dashboards/memoryhole").text
    assert "Removals recorded" in dashboard


def test_queries_and_charts_appear_only_with_their_tables(data_dir, tmp_path):
    full = build_metadata()
    assert "search_posts" in full["databases"]["corpus"]["queries"]
    assert all("requires" not in q for q in full["databases"]["corpus"]["queries"].values())
    conn = sqlite3.connect(tmp_path / "bare.db")
    conn.execute("CREATE TABLE removals (id INTEGER, reason TEXT, first_missing_at TEXT)")
    conn.close()
    bare = build_metadata(tmp_path / "bare.db")
    queries = bare["databases"]["corpus"]["queries"]
    assert "search_posts" not in queries and "account_history" not in queries
    assert "removals_by_day_and_reason" in queries
    charts = bare["plugins"]["datasette-dashboards"]["memoryhole"]["charts"]
    assert "top_terms" not in charts and "removals_total" in charts
    assert "removals_by_day" not in charts    # read from the analysis table, absent here
    layout = bare["plugins"]["datasette-dashboards"]["memoryhole"]["layout"]
    assert {c for row in layout for c in row} == set(charts)
    assert len({len(row) for row in layout}) == 1
    served = build_metadata(data_dir / "corpus.db")["databases"]["corpus"]["queries"]
    assert "search_posts" in served and "evidence" in served


def test_dashboard_and_term_query_read_the_analysis_tables(data_dir):
    """Every dashboard chart and the terms query answer on an analysed corpus, and none of them
    reads the full-text index's vocabulary (a scan of every indexed word)."""
    ds = datasette(data_dir)
    metadata = build_metadata(data_dir / "corpus.db")
    charts = metadata["plugins"]["datasette-dashboards"]["memoryhole"]["charts"]
    assert {"removals_by_day", "rate_by_day", "survival", "top_terms"} <= set(charts)
    for slug, chart in charts.items():
        assert "posts_fts_terms" not in chart["query"] and "sightings" not in chart["query"], slug
        rows = get(ds, "/corpus.json?_shape=array&sql=" + urllib.parse.quote(chart["query"])).json()
        assert isinstance(rows, list), slug
    get(ds, "/-/dashboards/memoryhole")
    query = metadata["databases"]["corpus"]["queries"]["top_removed_terms"]["sql"]
    assert "term_stats" in query and "posts_fts_terms" not in query
    get(ds, "/corpus/top_removed_terms.json")


# --- at campaign scale: what each page costs does not grow with the corpus -------------------

#: Tables that grow with the corpus (the analysis tables stay small).
CORPUS_SIZED = ("posts", "sightings", "removals", "probes", "post_events", "pages", "windows",
                "candidates", "post_versions", "tombstones")


def plan(conn, sql):
    return " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql))


def test_default_sorts_and_facets_of_big_tables_are_indexed(data_dir):
    """A default sort reads an index in order (no sort of the table); a default facet counts
    from an index (no temporary B-tree over the table)."""
    tables = build_metadata(data_dir / "corpus.db")["databases"]["corpus"]["tables"]
    conn = sqlite3.connect(data_dir / "corpus.db")
    checked = 0
    for table in CORPUS_SIZED:
        meta = tables.get(table, {})
        sort = meta.get("sort") or meta.get("sort_desc")
        if sort:
            found = plan(conn, f"SELECT * FROM {table} ORDER BY {sort} DESC LIMIT 101")
            assert "TEMP B-TREE" not in found, (table, sort, found)
            checked += 1
        for facet in meta.get("facets", []):
            if isinstance(facet, dict):       # a date facet: count from an index on the column
                (column,) = facet.values()
                found = plan(conn, f"SELECT date({column}), count(*) FROM {table} "
                             f"GROUP BY date({column})")
                assert "COVERING INDEX" in found, (table, facet, found)
            else:
                found = plan(conn, f"SELECT {facet}, count(*) FROM {table} GROUP BY {facet}")
                assert "TEMP B-TREE" not in found and "INDEX" in found, (table, facet, found)
            checked += 1
    conn.close()
    assert checked >= 6
    assert "facets" not in tables["posts"] and "facets" not in tables["post_events"]


def test_pages_suggest_no_facets(data_dir):
    """Facet suggestions ran one query per column on every view (47 of 79 on a posts page)."""
    ds = datasette(data_dir)
    for table in ("posts", "removals", "sightings"):
        body = get(ds, f"/corpus/{table}.json").json()
        assert body["suggested_facets"] == [], table
    removals = get(ds, "/corpus/removals.json").json()
    assert {"reason", "account_id", "platform"} <= set(removals["facet_results"])


def test_jieba_is_loaded_at_startup(data_dir):
    """The first search after start no longer pays for loading jieba's dictionary."""
    from memoryhole.analysis import segmentation

    ds = datasette(data_dir)
    segmentation._tokenizer.cache_clear()
    asyncio.run(ds.invoke_startup())
    assert segmentation._tokenizer.cache_info().currsize >= 1


def test_canned_queries_join_removals_by_post(data_dir):
    """Each post's removals are found by (platform, post_id): a page index on removals.platform
    alone was chosen for these joins and read every removal of the platform for each post."""
    queries = build_metadata(data_dir / "corpus.db")["databases"]["corpus"]["queries"]
    conn = sqlite3.connect(data_dir / "corpus.db")
    for name in ("posts_mentioning_term", "keyword_test", "search_posts"):
        sql = queries[name]["sql"].replace("jieba_query(:q)", ":q")
        found = plan(conn, sql.replace(":term", "'x'").replace(":q", "'x'"))
        assert "SEARCH r USING INDEX" in found and "(platform=? AND post_id=?)" in found, (
            name, found)
    conn.close()
