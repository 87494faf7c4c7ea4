"""The substring index behind posts_mentioning_term (memoryhole.analysis.substring) and the
change log that keeps `memoryhole serve`'s index check proportional to what changed
(memoryhole.analysis.post_changes): every answer equals the instr() scan's."""

import asyncio
import sqlite3
from datetime import UTC, datetime

import pytest
from memoryhole.analysis import fts, post_changes, substring
from memoryhole.analysis.publish import build_metadata, create_page_indexes, make_datasette
from memoryhole.analysis.search_indexes import update_indexes
from memoryhole.analysis.segmentation import Segmenter
from memoryhole.corpus.store import Corpus, LongTextObservation

# (text, full_text): the query reads COALESCE(full_text, text).
POSTS = [
    ("白纸运动的照片", None),
    ("今天的白纸很白", None),
    ("白", None),                                  # one character
    ("纸", None),
    ("封控三年", "封控三年，白纸举起，全文在此"),       # the whole text differs from the shown one
    ("四通桥上的横幅", None),
    ('他说"自由"*不要*', None),                     # FTS5 syntax characters
    ("Hello world, hello FTS", None),
    ("say HELLO twice: hello", None),
    ("中国🇨🇳加油🙂", None),
    ("A股 5G 白纸", None),
    ("", None),
    (None, None),
    ("纸白", None),                                 # the pair reversed
    ("白 纸", None),                                # the pair apart
]
TERMS = ["白", "纸", "白纸", "纸白", "白纸运动", "白纸举起", "全文", "封控三年", "四通桥", "横幅",
         '"', '"自由"', "*", "*不要*", "Hello", "hello", "HELLO", "o w", "FTS", "🙂", "🇨🇳",
         "A股", "5G", " ", "白 纸", "不存在的词", "x", "纸运动的照片", "照片"]


@pytest.fixture
def data(tmp_path):
    corpus = Corpus(tmp_path)
    conn = corpus.db.conn
    conn.executemany(
        "INSERT INTO posts (platform, post_id, account_id, order_key, text, full_text, "
        "first_seen_at, last_seen_at) VALUES ('weibo', ?, 'a', ?, ?, ?, ?, '2024-03-01')",
        # first seen in pairs (ties: newest first, then the later rowid)
        [(str(100 + k), k, text, full, f"2024-01-{k // 2 + 1:02d}")
         for k, (text, full) in enumerate(POSTS)])
    conn.commit()
    corpus.close()
    return tmp_path


def connect(data):
    return sqlite3.connect(data / "corpus.db", isolation_level=None)


def queries(data):
    meta = build_metadata(data / "corpus.db")["databases"]["corpus"]["queries"]
    return meta["posts_mentioning_term"]["sql"]


def scan(conn, term):
    """The query as it was: instr() over every post."""
    return [r[0] for r in conn.execute(
        "SELECT post_id FROM posts WHERE ? != '' AND instr(COALESCE(full_text, text), ?) > 0 "
        "ORDER BY first_seen_at DESC, rowid DESC LIMIT 1000", [term, term])]


def indexed(conn, sql, term):
    return [r[1] for r in conn.execute(sql, {"term": term})]


def entries(conn):
    """Rows of the substring index (each post's entry once; a post indexed twice counts 2)."""
    return conn.execute(f"SELECT COUNT(*) FROM {substring.TABLE}").fetchone()[0]


def same_as_scan(data, conn):
    sql = queries(data)
    assert "posts_substring" in sql
    for term in TERMS:
        assert indexed(conn, sql, term) == scan(conn, term), term
    return True


def test_every_term_finds_what_the_scan_finds(data):
    conn = connect(data)
    counts = update_indexes(conn, Segmenter(terms=()))
    assert counts["checked_all"] == 1
    assert same_as_scan(data, conn)
    # The index does the finding: a term of two and of one character, and a longer one.
    sql = queries(data)
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, {"term": "白纸"}))
    assert "SCAN posts_substring VIRTUAL TABLE" in plan, plan
    # The indexed branch fetches candidates by rowid (test_a_branch_reads_... below: the other
    # branch, for crowded terms, reads no post meanwhile).
    assert "SEARCH p USING INTEGER PRIMARY KEY (rowid=?) LIST SUBQUERY" in plan, plan
    assert "SEARCH v VIRTUAL TABLE" in plan, plan        # the estimate: a vocabulary lookup
    assert scan(conn, "白纸") == ["110", "104", "101", "100"]
    assert scan(conn, "白") and scan(conn, '"自由"') == ["106"]


def crowded(conn, sql, term):
    """Whether the query reads every post for `term` (in more than an eighth of the posts)."""
    head = sql[:sql.index("select\n  p.platform")]
    return bool(conn.execute(head + "select yes from crowded", {"term": term}).fetchone()[0])


def test_a_crowded_term_reads_every_post(data):
    conn = connect(data)
    update_indexes(conn, Segmenter(terms=()))
    sql = queries(data)
    assert crowded(conn, sql, "白") and crowded(conn, sql, "白纸")
    assert not crowded(conn, sql, "四通桥") and not crowded(conn, sql, "不存在的词")
    assert not crowded(conn, sql, "照") and not crowded(conn, sql, "A股")
    for term in ("白", "白纸", "四通桥", "照"):
        assert indexed(conn, sql, term) == scan(conn, term)


def steps(conn, sql, term):
    """SQLite VM instructions (in hundreds) the query takes for `term`: what it reads."""
    count = [0]
    conn.set_progress_handler(lambda: count.__setitem__(0, count[0] + 1), 100)
    rows = indexed(conn, sql, term)
    conn.set_progress_handler(None, 100)
    return count[0], rows


def test_a_branch_reads_only_what_it_needs(data):
    """A rare term reads its candidates, not the posts (the crowded branch is not run); a crowded
    term walks the posts newest first and stops at the 1,000th: neither grows with old posts."""
    conn = connect(data)
    conn.execute("BEGIN")
    create_page_indexes(conn)   # as `memoryhole serve` prepares the corpus
    conn.execute("COMMIT")
    cost = {}
    for old in (3000, 9000):
        conn.executemany(
            "INSERT INTO posts (platform, post_id, account_id, order_key, text, first_seen_at, "
            "last_seen_at) VALUES ('weibo', ?, 'a', 0, ?, '2023-01-01', '2023-01-01')",
            [(f"old{k}", f"很久以前的帖子{k}") for k in range(len(cost) * 3000, old)])
        conn.executemany(   # newer than the old ones: each has the crowded term
            "INSERT INTO posts (platform, post_id, account_id, order_key, text, first_seen_at, "
            "last_seen_at) VALUES ('weibo', ?, 'a', 0, '新帖', '2023-06-01', '2023-06-01')",
            [(f"new{old}-{k}",) for k in range(1200)])
        update_indexes(conn, Segmenter(terms=()))
        sql = queries(data)
        for term in ("四通桥", "帖"):
            cost[old, term], rows = steps(conn, sql, term)
            assert rows == scan(conn, term), term
        assert crowded(conn, sql, "帖") and not crowded(conn, sql, "四通桥")
    assert cost[9000, "四通桥"] < 1.2 * cost[3000, "四通桥"] + 5, cost
    assert cost[9000, "帖"] < 1.2 * cost[3000, "帖"] + 5, cost


def test_match_expression_agrees_with_the_query_sql(data):
    conn = connect(data)
    update_indexes(conn, Segmenter(terms=()))
    for term in TERMS:
        via_python = {r[0] for r in conn.execute(
            "SELECT rowid FROM posts_substring WHERE posts_substring MATCH ?",
            [substring.match_expression(term)])} if term else set()
        assert {r[0] for r in conn.execute(
            "SELECT rowid FROM posts WHERE post_id IN "
            f"({','.join('?' * len(scan(conn, term)))})", scan(conn, term))} <= via_python, term


def test_changes_are_reindexed_and_nothing_else(data, monkeypatch):
    conn = connect(data)
    segmenter = Segmenter(terms=())
    update_indexes(conn, segmenter)
    hashed = []
    real_hash = fts.text_hash
    monkeypatch.setattr(fts, "text_hash", lambda text: hashed.append(text) or real_hash(text))

    # Nothing changed: no post is read, hashed or segmented.
    counts = update_indexes(conn, segmenter)
    assert counts["checked_all"] == 0 and hashed == []
    assert counts["segmented"] == counts["unchanged"] == counts["substring_indexed"] == 0
    # A re-sighting (last_seen_at only) is no change either.
    conn.execute("UPDATE posts SET last_seen_at = '2024-02-01' WHERE post_id = '105'")
    assert update_indexes(conn, segmenter)["substring_indexed"] == 0 and hashed == []

    conn.execute("UPDATE posts SET text = '白纸换成了黑纸' WHERE post_id = '100'")
    conn.execute("UPDATE posts SET text = text || '！' WHERE post_id = '100'")   # twice
    conn.execute("INSERT INTO posts (platform, post_id, account_id, order_key, text, "
                 "first_seen_at, last_seen_at) VALUES ('weibo', '900', 'a', 99, '旧的黑纸', "
                 "'x', '2024-03-01')")
    conn.execute("UPDATE posts SET text = '新的白纸' WHERE post_id = '900'")  # new, then edited
    conn.execute("DELETE FROM posts WHERE post_id = '101'")
    counts = update_indexes(conn, segmenter)
    assert counts["checked_all"] == 0
    assert sorted(hashed) == sorted(["白纸换成了黑纸！", "新的白纸"])
    assert counts["segmented"] == 2 and counts["removed"] == 1
    assert counts["substring_indexed"] == 2 and counts["substring_removed"] == 2
    assert same_as_scan(data, conn)
    assert scan(conn, "黑纸") == ["100"] and "900" in scan(conn, "白纸")
    assert entries(conn) == conn.execute(
        "SELECT COUNT(*) FROM posts WHERE COALESCE(full_text, text) != ''").fetchone()[0]
    assert indexed(conn, queries(data), "照片") == []

    # An edit through the store: a long post's whole text recorded.
    hashed.clear()
    conn.close()
    corpus = Corpus(data)
    crawl = corpus.start_crawl("timeline", "weibo", {"watchlists": []})
    corpus.record_long_texts(crawl, [LongTextObservation(
        platform="weibo", post_id="105", url="http://x/l",
        fetched_at=datetime(2024, 3, 2, tzinfo=UTC), http_status=200, outcome="ok",
        failure=None, text="四通桥上的横幅，全文：不要核酸要吃饭")])
    corpus.finish_crawl(crawl, "finished", {})
    corpus.close()
    conn = connect(data)
    counts = update_indexes(conn, segmenter)
    assert counts["checked_all"] == 0 and hashed == ["四通桥上的横幅，全文：不要核酸要吃饭"]
    assert scan(conn, "核酸") == ["105"] and same_as_scan(data, conn)
    conn.close()


def test_moved_rowids_and_reused_rowids(data):
    conn = connect(data)
    segmenter = Segmenter(terms=())
    update_indexes(conn, segmenter)
    top = conn.execute("SELECT MAX(rowid) FROM posts").fetchone()[0]
    conn.execute("UPDATE posts SET rowid = 500 WHERE post_id = '100'")      # moved up
    conn.execute("DELETE FROM posts WHERE rowid = ?", [top])                # the top rowid freed
    conn.execute("INSERT INTO posts (platform, post_id, account_id, order_key, text, "
                 "first_seen_at, last_seen_at) VALUES ('weibo', '901', 'a', 98, '白纸再现', "
                 "'x', '2024-04-01')")
    counts = update_indexes(conn, segmenter)
    assert counts["checked_all"] == 0 and same_as_scan(data, conn)
    assert "901" in scan(conn, "白纸") and "100" in scan(conn, "白纸运动")
    assert entries(conn) == conn.execute(
        "SELECT COUNT(*) FROM posts WHERE COALESCE(full_text, text) != ''").fetchone()[0]


def test_unknown_changes_are_checked_post_by_post(data):
    conn = connect(data)
    segmenter = Segmenter(terms=())
    update_indexes(conn, segmenter)
    # Triggers gone (a corpus rebuilt without them): the change cannot be seen in the log.
    conn.execute(f"DROP TRIGGER {post_changes.TRIGGERS[0]}")
    conn.execute("UPDATE posts SET text = '白纸不见了' WHERE post_id = '101'")
    assert post_changes.pending(conn) is None
    counts = update_indexes(conn, segmenter)
    assert counts["checked_all"] == 1 and counts["segmented"] == 1
    assert same_as_scan(data, conn)
    assert post_changes.pending(conn) is not None     # installed again
    # The post at the mark is another: rowids renumbered (VACUUM) under the triggers.
    conn.execute(f"UPDATE {post_changes.MARK_TABLE} SET post_id = 'elsewhere'")
    assert post_changes.pending(conn) is None
    assert update_indexes(conn, segmenter)["checked_all"] == 1 and same_as_scan(data, conn)


def test_without_the_index_the_query_scans(data):
    sql = queries(data)
    assert "posts_substring" not in sql and "instr(" in sql
    conn = connect(data)
    assert [r[1] for r in conn.execute(sql, {"term": "白纸"})] == scan(conn, "白纸")


def test_datasette_answers_from_the_index(data):
    ds = make_datasette(data)   # prepares the corpus: both indexes

    async def fetch(term):
        response = await ds.client.get("/corpus/posts_mentioning_term.json",
                                       params={"term": term, "_shape": "array"})
        assert response.status_code == 200, response.text[:300]
        return [r["post_id"] for r in response.json()]

    conn = connect(data)
    for term in ("白纸", "白", "*不要*", '"自由"', "hello", "全文"):
        assert asyncio.run(fetch(term)) == scan(conn, term), term


def keyword_scan(conn, term):
    """keyword_test's answer from every post: (label, observed, platform_removed) per group."""
    if not term:
        return []
    rows = conn.execute("""SELECT instr(COALESCE(full_text, text), ?) > 0,
        EXISTS (SELECT 1 FROM removals AS r WHERE r.platform = p.platform
                AND r.post_id = p.post_id AND r.reason = 'platform_removed') FROM posts AS p""",
                        [term]).fetchall()
    groups = []
    for has, label in ((1, "posts containing the term"), (0, "posts without it")):
        members = [removed for found, removed in rows if (found == 1) == bool(has)]
        if members:
            groups.append((label, len(members), sum(members)))
    return groups


def test_keyword_test_counts_what_the_scan_counts(data):
    conn = connect(data)
    conn.executemany(
        "INSERT INTO removals (platform, post_id, account_id, reason, last_seen_at, "
        "first_missing_at, detected_crawl_id, probe_id) VALUES ('weibo', ?, 'a', ?, 'x', 'y', 1, 1)",
        [("100", "platform_removed"), ("104", "platform_removed"), ("105", "author_deleted"),
         ("777", "platform_removed")])    # 777: an original never seen, not a post
    update_indexes(conn, Segmenter(terms=()))
    meta = build_metadata(data / "corpus.db")["databases"]["corpus"]["queries"]
    sql = meta["keyword_test"]["sql"]
    assert "posts_substring" in sql
    for term in TERMS + [""]:
        got = [(r[0], r[1], r[2]) for r in conn.execute(sql, {"term": term})]
        assert got == keyword_scan(conn, term), term
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, {"term": "白纸"}))
    assert "SCAN c SEARCH p USING INTEGER PRIMARY KEY (rowid=?) LIST SUBQUERY" in plan, plan


def test_the_change_log_is_not_released(data):
    """A corpus `memoryhole serve` has prepared holds the indexes' change log: bookkeeping (old
    texts, a post key) that a release leaves out, as it leaves out the indexes."""
    from memoryhole.release.source import connect_read_only, table_names

    conn = connect(data)
    update_indexes(conn, Segmenter(terms=()))
    conn.execute("UPDATE posts SET text = '改过' WHERE post_id = '101'")   # a logged change
    conn.close()
    source = connect_read_only(data / "corpus.db")
    present = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {post_changes.LOG_TABLE, post_changes.MARK_TABLE} <= present
    released = set(table_names(source))
    assert "posts" in released
    assert not released & {post_changes.LOG_TABLE, post_changes.MARK_TABLE, substring.TABLE,
                           substring.VOCAB_TABLE}

