"""memoryhole.analysis.fts: the Chinese full-text index, segmented once per post version and
shared with the analysis's post_tokens where the segmenters agree."""

import sqlite3

import pytest
import sqlite_utils
from memoryhole.analysis import fts, segmentation
from memoryhole.analysis.segmentation import Segmenter
from memoryhole.corpus.store import Corpus

TEXTS = ["今天高校里的食堂又涨价了", "四通桥上的横幅", "这家食堂的饭菜真不错", "天气很好 hello world",
         "白纸运动的照片", "躺平也是一种选择"]


@pytest.fixture
def corpus_path(tmp_path):
    corpus = Corpus(tmp_path)
    corpus.db.conn.executemany(
        "INSERT INTO posts (platform, post_id, account_id, order_key, text, first_seen_at, "
        "last_seen_at) VALUES ('weibo', ?, 'a', ?, ?, 'x', 'x')",
        [(str(100 + k), k, text) for k, text in enumerate(TEXTS)])
    corpus.db.conn.commit()
    corpus.close()
    return tmp_path / "corpus.db"


def connect(path):
    return sqlite3.connect(path, isolation_level=None)


def hits(conn, query):
    return sorted(r[0] for r in conn.execute(
        "SELECT post_id FROM posts WHERE rowid IN (SELECT rowid FROM posts_fts "
        "WHERE posts_fts MATCH ?)", [fts.fts_query(query, fts.stored_segmenter(conn))]))


def consistent(conn):
    """Every indexed word is a word of a post's current text, each post indexed once."""
    words = conn.execute("SELECT COUNT(*) FROM posts_fts_terms").fetchone()[0]
    stored = sum(len(t.split()) for (t,) in conn.execute("SELECT tokens FROM posts_fts_state"))
    states = conn.execute("SELECT COUNT(*), COUNT(DISTINCT posts_rowid) FROM posts_fts_state "
                          "JOIN posts ON posts.rowid = posts_rowid").fetchone()
    posts = conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
    return words == stored and states == (posts, posts)


def test_index_reuses_the_analysis_words(corpus_path, monkeypatch):
    segmenter = fts.default_segmenter()
    db = sqlite_utils.Database(corpus_path)
    assert segmentation.segment_posts(db, segmenter) == len(TEXTS)
    db.close()
    calls = []
    real = Segmenter.tokens
    monkeypatch.setattr(Segmenter, "tokens", lambda self, text: calls.append(text) or real(self, text))
    conn = connect(corpus_path)
    counts = fts.update_index(conn, segmenter)
    assert counts["shared"] == len(TEXTS) and counts["segmented"] == 0 and calls == []
    assert hits(conn, "高校食堂") == ["100"]


def test_analysis_reuses_the_words_the_index_made(corpus_path):
    segmenter = fts.default_segmenter()
    conn = connect(corpus_path)
    conn.execute(segmentation.CREATE_SQL)      # an analysed corpus has post_tokens
    assert fts.update_index(conn, segmenter)["segmented"] == len(TEXTS)
    conn.execute("UPDATE posts SET text = '食堂关门了' WHERE post_id = '102'")
    assert fts.update_index(conn, segmenter)["segmented"] == 1
    db = sqlite_utils.Database(corpus_path)
    assert segmentation.segment_posts(db, segmenter) == 0
    db.close()
    assert hits(conn, "关门") == ["102"] and hits(conn, "饭菜") == []
    assert consistent(conn)


def test_another_dictionary_is_not_shared(corpus_path):
    other = Segmenter(terms=(("天气很好", None),))
    db = sqlite_utils.Database(corpus_path)
    segmentation.segment_posts(db, other)
    db.close()
    conn = connect(corpus_path)
    counts = fts.update_index(conn, fts.default_segmenter())
    assert counts["shared"] == 0 and counts["segmented"] == len(TEXTS)
    assert hits(conn, "天气") == ["103"]


def test_queries_are_segmented_with_the_index_dictionary(corpus_path):
    # 四通桥 is in the shipped user dictionary: one word in the index and in the query.
    assert "四通桥" in fts.default_segmenter().term_set
    assert "四通桥" not in fts.PLAIN_JIEBA.tokens("四通桥上")
    conn = connect(corpus_path)
    fts.update_index(conn, fts.default_segmenter())
    assert fts.stored_segmenter(conn) == fts.default_segmenter()
    assert hits(conn, "四通桥") == ["101"]
    query = fts.query_function(fts.stored_segmenter(conn))
    assert query("四通桥") == '"四通桥"'


def test_a_new_dictionary_rebuilds_the_index(corpus_path):
    conn = connect(corpus_path)
    fts.update_index(conn, fts.PLAIN_JIEBA)
    assert fts.update_index(conn, fts.PLAIN_JIEBA)["unchanged"] == len(TEXTS)
    counts = fts.update_index(conn, fts.default_segmenter())
    assert counts["rebuilt"] == 1 and counts["segmented"] == len(TEXTS)
    assert hits(conn, "四通桥") == ["101"] and consistent(conn)


def test_an_index_of_the_old_layout_is_rebuilt(corpus_path):
    conn = connect(corpus_path)
    conn.execute("CREATE TABLE posts_fts_state (posts_rowid INTEGER PRIMARY KEY, platform TEXT, "
                 "post_id TEXT, text_sha256 TEXT, tokens TEXT)")
    conn.execute("CREATE VIRTUAL TABLE posts_fts USING fts5(text, content=[posts], "
                 "content_rowid=[rowid], tokenize='unicode61')")
    assert fts.stored_segmenter(conn) == fts.PLAIN_JIEBA
    counts = fts.update_index(conn)
    assert counts["rebuilt"] == 1 and counts["segmented"] == len(TEXTS)
    assert hits(conn, "食堂") == ["100", "102"] and consistent(conn)


def test_rowids_renumbered_and_deleted_posts(corpus_path):
    conn = connect(corpus_path)
    segmenter = fts.default_segmenter()
    fts.update_index(conn, segmenter)
    rowid = dict(conn.execute("SELECT post_id, rowid FROM posts"))
    conn.execute("DELETE FROM posts WHERE post_id IN ('100', '102')")
    # What VACUUM may do to a table without an INTEGER PRIMARY KEY: renumber its rows, here
    # into a deleted post's rowid and past every other.
    conn.execute("UPDATE posts SET rowid = ? WHERE post_id = '105'", [rowid["100"]])
    conn.execute("UPDATE posts SET rowid = 50 WHERE post_id = '103'")
    counts = fts.update_index(conn, segmenter)
    assert counts["moved"] == 2 and counts["segmented"] == 0
    assert consistent(conn)
    assert hits(conn, "食堂") == [] and hits(conn, "横幅") == ["101"]
    assert hits(conn, "躺平") == ["105"] and hits(conn, "hello") == ["103"]
    # A new post may take a rowid an old entry still held.
    conn.execute("INSERT INTO posts (platform, post_id, account_id, order_key, text, "
                 "first_seen_at, last_seen_at) VALUES ('weibo', '200', 'a', 9, '食堂的新菜', 'x', 'x')")
    fts.update_index(conn, segmenter)
    assert hits(conn, "食堂") == ["200"] and consistent(conn)


def test_a_cold_build_indexes_as_an_incremental_one(corpus_path):
    """A build from nothing adds every post without looking up state; it must index exactly
    what updates post by post do."""
    segmenter = fts.default_segmenter()
    conn = connect(corpus_path)

    def snapshot():
        return (conn.execute("SELECT * FROM posts_fts_state ORDER BY posts_rowid").fetchall(),
                conn.execute("SELECT term, doc, col, offset FROM posts_fts_terms "
                             "ORDER BY doc, offset").fetchall())

    assert fts.update_index(conn, segmenter)["segmented"] == len(TEXTS)
    cold = snapshot()
    assert len(cold[0]) == len(TEXTS) and consistent(conn)
    for table in fts.INDEX_TABLES:
        conn.execute(f"DROP TABLE {table}")
    later = conn.execute("SELECT rowid, * FROM posts WHERE post_id >= '103'").fetchall()
    conn.execute("DELETE FROM posts WHERE post_id >= '103'")
    assert fts.update_index(conn, segmenter)["segmented"] == len(TEXTS) - len(later)
    marks = ", ".join("?" * len(later[0]))
    conn.executemany(f"INSERT INTO posts (rowid, {', '.join(c for c in columns(conn))}) "
                     f"VALUES ({marks})", later)
    counts = fts.update_index(conn, segmenter)
    assert counts["segmented"] == len(later) and counts["unchanged"] == len(TEXTS) - len(later)
    assert snapshot() == cold


def columns(conn):
    return [r[1] for r in conn.execute("PRAGMA table_info(posts)")]
