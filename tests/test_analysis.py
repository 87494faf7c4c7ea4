"""memoryhole.analysis.tables.analyze on a small hand-built corpus with known answers."""

import json

import pytest
from memoryhole.analysis.tables import BASE_TABLES, DERIVED_TABLES, analyze
from memoryhole.corpus.reasons import REASONS
from memoryhole.corpus.store import Corpus
from memoryhole.crawlers.platforms import ADAPTERS

CRAWLED_AT = "2024-05-01T00:00:00.000000Z"

# (post_id, account_id, created_at)
POSTS = [
    ("p1", "A", "2024-05-01T08:00:00.000000Z"),
    ("p2", "A", "2024-05-01T09:00:00.000001Z"),
    ("p3", "A", "2024-05-01T09:30:00.000000Z"),
    ("p4", "A", "2024-05-01T09:40:00.000000Z"),
    ("p5", "A", "2024-05-01T09:50:00.000000Z"),
    ("p6", "B", "2024-05-01T07:00:00.000000Z"),
    ("p7", "B", None),
]
# Known to the posts table but never sighted (not in the denominator).
UNSIGHTED = ("p8", "A", "2024-05-01T09:55:00.000000Z")

# (id, post_id, account_id, reason, last_seen_at, first_missing_at, restored_at)
REMOVALS = [
    (1, "p1", "A", "platform_removed",
     "2024-05-01T10:00:00.000000Z", "2024-05-02T11:30:00.250000Z", None),
    (2, "p2", "A", "author_deleted",
     "2024-05-01T10:00:00.000000Z", "2024-05-02T23:59:59.999999Z", "2024-05-03T06:00:00.000000Z"),
    (3, "p7", "B", "unknown",
     "2024-05-02T12:00:00.000000Z", "2024-05-03T00:00:00.000000Z", None),
    # p2 vanished again after it was restored: a second removal of the same post.
    (4, "p2", "A", "author_deleted",
     "2024-05-03T06:00:00.000000Z", "2024-05-04T01:00:00.000000Z", None),
]


def build_corpus(tmp_path):
    corpus = Corpus(tmp_path)
    corpus.record_platform("weibo", ADAPTERS["weibo"].declaration())
    db = corpus.db
    with db.atomic():
        db["crawls"].insert_all([
            {"id": 1, "kind": "timeline", "platform": "weibo", "plan_json": "{}",
             "software_version": "test", "started_at": CRAWLED_AT, "status": "finished"},
            {"id": 2, "kind": "probe", "platform": "weibo", "plan_json": "{}",
             "software_version": "test", "started_at": CRAWLED_AT, "status": "finished"},
        ])
        db["accounts"].insert_all([
            {"platform": "weibo", "account_id": "A", "screen_name": "Alice"},
            {"platform": "weibo", "account_id": "B", "screen_name": "Bob"},
            # Watched, but no post ever seen: no denominator.
            {"platform": "weibo", "account_id": "C", "screen_name": "Carol"},
        ])
        db["posts"].insert_all([
            {"platform": "weibo", "post_id": post_id, "account_id": account_id,
             "order_key": n, "created_at": created_at, "first_seen_at": CRAWLED_AT,
             "last_seen_at": CRAWLED_AT, "last_seen_crawl_id": 1}
            for n, (post_id, account_id, created_at) in enumerate([*POSTS, UNSIGHTED], start=1)
        ])
        sightings = []
        for seen_at in ("2024-05-01T10:00:00.000000Z", "2024-05-01T22:00:00.000000Z"):
            for position, (post_id, account_id, _) in enumerate(POSTS):
                sightings.append((1, "weibo", post_id, account_id, 1, position, 0, seen_at))
        db.conn.executemany(
            "INSERT INTO sightings (crawl_id, platform, post_id, account_id, page, position, "
            "pinned, seen_at) VALUES (?,?,?,?,?,?,?,?)", sightings)
        db.conn.executemany(
            "INSERT INTO probes (id, crawl_id, platform, post_id, account_id, url, requested_at, "
            "probed_at, http_status, outcome, reason, message) "
            "VALUES (?, 2, 'weibo', ?, ?, 'https://weibo.test/x', ?, ?, 200, 'removed', ?, 'msg')",
            [(rid, post_id, account_id, missing, missing, reason)
             for rid, post_id, account_id, reason, _, missing, _ in REMOVALS])
        db.conn.executemany(
            "INSERT INTO removals (id, platform, post_id, account_id, reason, message, "
            "last_seen_at, first_missing_at, detected_crawl_id, probe_id, restored_at, "
            "restored_crawl_id) VALUES (?, 'weibo', ?, ?, ?, 'msg', ?, ?, 2, ?, ?, ?)",
            [(rid, post_id, account_id, reason, seen, missing, rid, restored,
              1 if restored else None)
             for rid, post_id, account_id, reason, seen, missing, restored in REMOVALS])
    return corpus


@pytest.fixture
def corpus(tmp_path):
    corpus = build_corpus(tmp_path)
    yield corpus
    corpus.close()


def test_counts(corpus):
    counts = analyze(corpus.db)
    assert set(counts) == set(DERIVED_TABLES)
    assert {t: counts[t] for t in BASE_TABLES} == {
        "removals_by_day": 4, "account_removal_rates": 3, "time_to_removal": 4}
    assert counts["post_tokens"] == 8        # every post segmented, sighted or not
    assert counts["figures"] == 0            # no data directory given: no figures
    for table, n in counts.items():
        assert corpus.db[table].count == n


def test_removals_by_day(corpus):
    analyze(corpus.db)
    rows = corpus.db.execute(
        "SELECT day, platform, reason, removals, restored FROM removals_by_day "
        "ORDER BY day, reason").fetchall()
    assert rows == [
        # 23:59:59.999999 stays on its own day
        ("2024-05-02", "weibo", "author_deleted", 0, 1),
        ("2024-05-02", "weibo", "platform_removed", 1, 0),
        ("2024-05-03", "weibo", "unknown", 1, 0),
        ("2024-05-04", "weibo", "author_deleted", 1, 0),
    ]


def test_account_removal_rates(corpus):
    analyze(corpus.db)
    table = corpus.db["account_removal_rates"]
    assert [c.name for c in table.columns] == [
        "platform", "account_id", "screen_name", "posts_observed", "removals", *REASONS,
        "removal_rate"]
    rows = {r["account_id"]: r for r in table.rows}
    assert set(rows) == {"A", "B", "C"}

    a = rows["A"]
    assert a["screen_name"] == "Alice"
    assert a["posts_observed"] == 5          # sighted twice each; p8 never sighted
    assert a["removals"] == 2                # p2 removed twice: distinct posts
    assert a["platform_removed"] == 1
    assert a["author_deleted"] == 1
    assert a["unknown"] == 0
    assert a["removal_rate"] == pytest.approx(2 / 5)

    b = rows["B"]
    assert (b["posts_observed"], b["removals"], b["unknown"]) == (2, 1, 1)
    assert b["removal_rate"] == pytest.approx(0.5)
    assert sum(b[r] for r in REASONS) == 1

    c = rows["C"]
    assert (c["screen_name"], c["posts_observed"], c["removals"]) == ("Carol", 0, 0)
    assert c["removal_rate"] is None


def test_time_to_removal_is_an_interval_in_exact_seconds(corpus):
    analyze(corpus.db)
    rows = {r["removal_id"]: r for r in corpus.db["time_to_removal"].rows}
    assert set(rows) == {1, 2, 3, 4}

    r1 = rows[1]
    assert (r1["post_id"], r1["account_id"], r1["reason"]) == ("p1", "A", "platform_removed")
    assert r1["created_at"] == "2024-05-01T08:00:00.000000Z"
    assert r1["last_seen_at"] == "2024-05-01T10:00:00.000000Z"
    assert r1["first_missing_at"] == "2024-05-02T11:30:00.250000Z"
    assert r1["min_seconds"] == 7200.0
    assert r1["max_seconds"] == 99060.25  # 27.5 h + 0.25 s, from the earliest creation (60 s before)

    # Microseconds count: julianday() alone would round them away.
    r2 = rows[2]
    assert r2["min_seconds"] == 3599.999999
    assert r2["max_seconds"] == 140459.999998  # 39 h - 2 us + 60 s resolution
    assert r2["restored_at"] == "2024-05-03T06:00:00.000000Z"

    r4 = rows[4]
    assert r4["min_seconds"] == 161999.999999  # 45 h - 1 us
    assert r4["max_seconds"] == 230459.999999  # 64 h - 1 us + 60 s resolution

    # Creation time unknown: no bounds, but the removal is still listed.
    r3 = rows[3]
    assert r3["created_at"] is None
    assert r3["min_seconds"] is None and r3["max_seconds"] is None

    for r in rows.values():
        if r["min_seconds"] is not None:
            assert r["min_seconds"] <= r["max_seconds"]


def test_removed_within_is_yes_no_or_undetermined(corpus):
    analyze(corpus.db)
    rows = {r["removal_id"]: r for r in corpus.db["time_to_removal"].rows}
    # First seen 2024-05-01T00:00 before the creation time: an age under an hour, so created_at
    # came from a "N分钟前" form, good to the minute.
    assert rows[1]["created_at_resolution_seconds"] == 60.0
    # p1: [2 h, 27.5 h + 60 s]: surely not within 5m/30m/1h, undetermined for 24 h.
    assert [rows[1][f"removed_within_{d}"] for d in ("5m", "30m", "1h", "24h")] == [
        0, 0, 0, None]
    # Creation time unknown: nothing can be said.
    assert rows[3]["created_at_resolution_seconds"] is None
    assert rows[3]["removed_within_24h"] is None


def test_removed_within_yes(tmp_path):
    corpus = build_corpus(tmp_path)
    try:
        # p3 created 09:30 (or up to 60 s before), seen 09:31, gone by 09:33: [1 min, 4 min].
        corpus.db.execute("UPDATE posts SET first_seen_at = '2024-05-01T09:31:00.000000Z' "
                          "WHERE post_id = 'p3'")
        corpus.db.execute(
            "INSERT INTO probes (id, crawl_id, platform, post_id, account_id, url, requested_at, "
            "probed_at, outcome, reason) VALUES (9, 2, 'weibo', 'p3', 'A', 'u', "
            "'2024-05-01T09:33:00.000000Z', '2024-05-01T09:33:00.000000Z', 'removed', "
            "'platform_removed')")
        corpus.db.execute(
            "INSERT INTO removals (id, platform, post_id, account_id, reason, last_seen_at, "
            "first_missing_at, detected_crawl_id, probe_id) VALUES (9, 'weibo', 'p3', 'A', "
            "'platform_removed', '2024-05-01T09:31:00.000000Z', '2024-05-01T09:33:00.000000Z', "
            "2, 9)")
        corpus.db.conn.commit()
        analyze(corpus.db)
        row = corpus.db["time_to_removal"].get(9)
        assert (row["min_seconds"], row["max_seconds"]) == (60.0, 240.0)   # + 60 s resolution
        assert [row[f"removed_within_{d}"] for d in ("5m", "30m", "1h", "24h")] == [1, 1, 1, 1]
    finally:
        corpus.close()


def test_analyze_is_idempotent_and_logs_runs(corpus):
    first = analyze(corpus.db)
    snapshot = {t: list(corpus.db[t].rows) for t in DERIVED_TABLES}
    second = analyze(corpus.db)
    assert second == first
    assert {t: list(corpus.db[t].rows) for t in DERIVED_TABLES} == snapshot

    runs = list(corpus.db["analysis_runs"].rows_where(order_by="id"))
    assert len(runs) == 2
    for run in runs:
        assert json.loads(run["row_counts"]) == first
        assert run["software_version"].startswith("memoryhole ")
        assert run["ran_at"].endswith("Z")


def test_analyze_replaces_tables_with_current_corpus(corpus, monkeypatch):
    monkeypatch.setenv("MEMORYHOLE_NOW", "2024-06-01T00:00:00+00:00")
    analyze(corpus.db)
    corpus.db.execute("UPDATE removals SET restored_at = '2024-05-05T00:00:00.000000Z', "
                      "restored_crawl_id = 1 WHERE id = 1")
    corpus.db.conn.commit()
    analyze(corpus.db)
    row = corpus.db.execute(
        "SELECT removals, restored FROM removals_by_day WHERE day = '2024-05-02' "
        "AND reason = 'platform_removed'").fetchone()
    assert row == (0, 1)
    assert [r["ran_at"] for r in corpus.db["analysis_runs"].rows] == [
        "2024-06-01T00:00:00.000000Z"] * 2


def test_analyze_on_empty_corpus(tmp_path):
    corpus = Corpus(tmp_path)
    try:
        assert analyze(corpus.db) == {t: 0 for t in DERIVED_TABLES}
        assert corpus.db["analysis_runs"].count == 1
    finally:
        corpus.close()
