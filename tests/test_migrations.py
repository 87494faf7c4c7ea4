"""Schema migrations, from every earlier version to the current one.

For each version v < SCHEMA_VERSION a corpus is built by the first v migrations only and filled
with realistic rows written with that version's columns; opening it with `Corpus` must bring it
to SCHEMA_VERSION with every row and value intact, and a crawl cycle must then write as usual.
A new migration needs a seed for the version before it (SEEDS), or this file fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils
from conftest import page, post, probe
from e2e import memoryhole
from memoryhole.corpus import schema
from memoryhole.corpus.clock import iso
from memoryhole.corpus.differ import diff_timeline, resolve_probes
from memoryhole.corpus.store import DB_NAME, Corpus, CorpusError

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
PLAN = {"platform": "weibo", "base_url": "https://m.weibo.cn",
        "watchlists": [{"name": "w", "accounts": ["1001"], "every": 600.0, "pages": 1}]}
DELETED = "抱歉，此微博已被作者删除。"
CENSORED = "该微博因违反《微博社区公约》的相关规定，已被删除"


def t(minutes: float) -> str:
    return iso(T0 + timedelta(minutes=minutes))


def seed_v1(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Two timeline crawls and a probe crawl as version 1 stored them: post 102 vanished from the
    second crawl and was classified as censored; post 100 is still live."""
    crawl = {"kind": "timeline", "platform": "weibo", "plan_name": "w", "plan_path": "plan.yaml",
             "plan_json": json.dumps(PLAN), "software_version": "memoryhole 0.1.0",
             "base_url": "https://m.weibo.cn", "status": "finished", "stats_json": "{}"}
    rows: dict[str, list[dict]] = {
        "crawls": [{**crawl, "id": 1, "started_at": t(0), "ended_at": t(1)},
                   {**crawl, "id": 2, "started_at": t(10), "ended_at": t(11)},
                   {**crawl, "id": 3, "kind": "probe", "started_at": t(11), "ended_at": t(12)}],
        "accounts": [{"platform": "weibo", "account_id": "1001", "screen_name": "记者甲",
                      "watchlist": "w", "first_seen_at": t(0), "last_seen_at": t(10)}],
        "posts": [{"platform": "weibo", "post_id": str(k), "account_id": "1001",
                   "order_key": k, "bid": f"B{k}", "url": f"https://m.weibo.cn/status/B{k}",
                   "created_at": t(-60), "text": f"第{k}条微博", "is_long_text": 0,
                   "source": "iPhone", "first_seen_at": t(0),
                   "last_seen_at": t(0) if k == 102 else t(10),
                   "last_seen_crawl_id": 1 if k == 102 else 2} for k in (100, 101, 102, 103)],
        "pages": [{"id": 1, "crawl_id": 1, "platform": "weibo", "account_id": "1001",
                   "watchlist": "w", "page": 1, "url": "https://m.weibo.cn/api/x?page=1",
                   "requested_at": t(0), "fetched_at": t(0.1), "http_status": 200,
                   "outcome": "posts", "failure": None, "n_posts": 4, "newest_key": 103,
                   "oldest_key": 100},
                  {"id": 2, "crawl_id": 2, "platform": "weibo", "account_id": "1001",
                   "watchlist": "w", "page": 1, "url": "https://m.weibo.cn/api/x?page=1",
                   "requested_at": t(10), "fetched_at": t(10.1), "http_status": 200,
                   "outcome": "posts", "failure": None, "n_posts": 3, "newest_key": 103,
                   "oldest_key": 100}],
        "sightings": [{"crawl_id": c, "platform": "weibo", "post_id": str(k),
                       "account_id": "1001", "page": 1, "position": 103 - k, "pinned": 0,
                       "seen_at": t(0 if c == 1 else 10)}
                      for c, keys in ((1, (103, 102, 101, 100)), (2, (103, 101, 100)))
                      for k in keys],
        "windows": [{"crawl_id": c, "platform": "weibo", "account_id": "1001", "watchlist": "w",
                     "status": "covered", "pages_planned": 1, "pages_ok": 1, "reached_end": 0,
                     "newest_key": 103, "oldest_key": 100, "requested_at": t(0 if c == 1 else 10)}
                    for c in (1, 2)],
        "candidates": [{"id": 1, "platform": "weibo", "post_id": "102", "account_id": "1001",
                        "opened_crawl_id": 2, "last_seen_at": t(0), "first_absent_at": t(10),
                        "status": "removed", "probes": 1, "closed_at": t(11.5),
                        "closed_crawl_id": 3}],
        "probes": [{"id": 1, "crawl_id": 3, "platform": "weibo", "post_id": "102",
                    "account_id": "1001", "url": "https://m.weibo.cn/statuses/show?id=102",
                    "requested_at": t(11.4), "probed_at": t(11.5), "http_status": 200,
                    "outcome": "removed", "reason": "platform_removed", "message": CENSORED,
                    "failure": None, "response_headers": '{"Content-Type": ["application/json"]}',
                    "response_body": json.dumps({"ok": 0, "msg": CENSORED},
                                                ensure_ascii=False).encode("utf-8")}],
        "fetch_failures": [{"crawl_id": 2, "platform": "weibo",
                            "url": "https://m.weibo.cn/api/x?page=1", "failure": "captcha",
                            "http_status": 200, "detail": "ok=-100", "at": t(10)}],
        "removals": [{"id": 1, "platform": "weibo", "post_id": "102", "account_id": "1001",
                      "reason": "platform_removed", "message": CENSORED, "last_seen_at": t(0),
                      "first_missing_at": t(11.5), "detected_crawl_id": 3, "probe_id": 1,
                      "restored_at": None, "restored_crawl_id": None}],
    }
    for table, table_rows in rows.items():
        for row in table_rows:
            columns = ", ".join(row)
            db.execute(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})",
                       list(row.values()))
    db.conn.commit()
    return rows


def seed_v2(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Version 1's rows (every v1 column is still there) plus what version 2 added: lifecycle
    events, versions, a tombstone seen in a repost, an account state."""
    rows = seed_v1(db)
    extra: dict[str, list[dict]] = {
        "post_events": [{"platform": "weibo", "post_id": "102", "event": "removed",
                         "reason": "platform_removed", "at": t(11.5), "crawl_id": 3,
                         "probe_id": 1}],
        "post_versions": [{"platform": "weibo", "post_id": str(k), "version": 1,
                           "content_hash": f"h{k}", "changed": json.dumps({"text": f"第{k}条微博"},
                                                                           ensure_ascii=False),
                           "seen_at": t(0), "crawl_id": 1, "page_id": 1}
                          for k in (100, 101, 102, 103)],
        "account_events": [{"platform": "weibo", "account_id": "1001", "state": "active",
                            "at": t(0), "crawl_id": 1}],
        "tombstones": [{"crawl_id": 2, "page_id": 2, "platform": "weibo", "post_id": "99",
                        "via_post_id": "103", "reason": "platform_removed",
                        "message": CENSORED, "seen_at": t(10)}],
    }
    for table, table_rows in extra.items():
        for row in table_rows:
            db.execute(f"INSERT INTO {table} ({', '.join(row)}) "
                       f"VALUES ({', '.join('?' * len(row))})", list(row.values()))
    db.conn.commit()
    return {**rows, **extra}


# Realistic data for each earlier version, written with that version's columns.
def seed_v3(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Version 2's rows with what version 3 added: each post's creation interval."""
    rows = seed_v2(db)
    for row in rows["posts"]:
        row.update(created_earliest=t(-61), created_latest=t(-60))
        db.execute("UPDATE posts SET created_earliest = ?, created_latest = ? WHERE post_id = ?",
                   [row["created_earliest"], row["created_latest"], row["post_id"]])
    db.conn.commit()
    return rows


def seed_v4(db: sqlite_utils.Database) -> dict[str, list[dict]]:
    """Version 3's rows carried through the real v4 migration (platforms, posts.extra,
    watchlist_members), copied as version 4 holds them."""
    old, migrations = sqlite_utils.Database(memory=True), schema.MIGRATIONS
    with pytest.MonkeyPatch.context() as m:
        for version in (3, 4):
            m.setattr(schema, "MIGRATIONS", migrations[:version])
            m.setattr(schema, "SCHEMA_VERSION", version)
            schema.migrate(old)
            if version == 3:
                tables = list(seed_v3(old))
    rows = {}
    for table in [*tables, "platforms", "watchlist_members"]:
        rows[table] = list(old.query(f"SELECT * FROM {table} ORDER BY rowid"))
        for row in rows[table]:
            db.execute(f"INSERT INTO {table} ({', '.join(row)}) "
                       f"VALUES ({', '.join('?' * len(row))})", list(row.values()))
    db.conn.commit()
    return rows


SEEDS: dict[int, Callable[[sqlite_utils.Database], dict[str, list[dict]]]] = {
    1: seed_v1, 2: seed_v2, 3: seed_v3, 4: seed_v4}

# Values that a migration from an earlier version gives the columns it adds to old rows.
ADDED_DEFAULTS: dict[int, dict[str, dict[str, object]]] = {
    2: {"probes": {"purpose": "classify", "warc_file": None},
        "accounts": {"state": "active"}, "candidates": {"cause": "window"},
        "removals": {"probes": 1, "confirmed_at": None}, "sightings": {"page_id": None}},
}


# Columns a later migration moved (platform-only fields into posts.extra): where each went.
MOVED: dict[int, dict[str, dict[str, tuple[str, str]]]] = {
    4: {"posts": {"bid": ("extra", "bid"), "source": ("extra", "source")}},
}


def moved_to(version: int, table: str, column: str) -> tuple[str, str] | None:
    """Where a column of `version`'s rows is after every later migration, if one moved it."""
    for later in range(version + 1, schema.SCHEMA_VERSION + 1):
        if column in MOVED.get(later, {}).get(table, {}):
            return MOVED[later][table][column]
    return None


def stored_value(after: dict, version: int, table: str, column: str) -> object:
    """A seeded column's value as the migrated corpus holds it (in its new place if moved)."""
    place = moved_to(version, table, column)
    if place is None:
        return after[column]
    holder, key = place
    return json.loads(after[holder] or "{}").get(key)


def corpus_at(version: int, data_dir, monkeypatch) -> dict[str, list[dict]]:
    """A corpus made by the first `version` migrations, through the real `migrate`."""
    data_dir.mkdir()
    db = sqlite_utils.Database(data_dir / DB_NAME)
    with monkeypatch.context() as m:
        m.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:version])
        m.setattr(schema, "SCHEMA_VERSION", version)
        schema.migrate(db)
    assert schema.schema_version(db) == version
    rows = SEEDS[version](db)
    db.close()
    return rows


@pytest.mark.parametrize("version", range(1, 3))
def test_creation_times_before_v3_become_intervals_that_hold_every_form(version, tmp_path,
                                                                       monkeypatch):
    """Before v3 only created_at was kept: the latest time for relative forms, the earliest for
    coarse dates; the back-filled interval holds the truth for either."""
    corpus_at(version, tmp_path / "data", monkeypatch)
    corpus = Corpus(tmp_path / "data", create=False)
    try:
        for row in corpus.db.query("SELECT * FROM posts"):
            assert row["created_at"] == t(-60) and row["first_seen_at"] == t(0)
            # [created_at - 1 h, min(created_at + 1 day, first sighting)]
            assert (row["created_earliest"], row["created_latest"]) == (t(-120), t(0))
    finally:
        corpus.close()


def test_v3_gives_old_accounts_the_watchlist_their_pages_were_fetched_for(tmp_path, monkeypatch):
    corpus_at(2, tmp_path / "data", monkeypatch)
    db = sqlite_utils.Database(tmp_path / "data" / DB_NAME)
    db.execute("UPDATE accounts SET watchlist = NULL")     # as the v2 store left them
    db.conn.commit()
    db.close()
    corpus = Corpus(tmp_path / "data", create=False)
    try:
        assert [r["watchlist"] for r in corpus.db.query("SELECT watchlist FROM accounts")] == ["w"]
    finally:
        corpus.close()


def test_every_earlier_version_has_a_seed():
    assert set(SEEDS) == set(range(1, schema.SCHEMA_VERSION))


@pytest.mark.parametrize("version", range(1, schema.SCHEMA_VERSION))
def test_an_old_corpus_opens_migrated_with_its_data(version, tmp_path, monkeypatch):
    seeded = corpus_at(version, tmp_path / "data", monkeypatch)
    corpus = Corpus(tmp_path / "data", create=False)
    try:
        assert schema.schema_version(corpus.db) == schema.SCHEMA_VERSION
        for table, rows in seeded.items():
            stored = list(corpus.db.query(f"SELECT * FROM {table} ORDER BY rowid"))
            assert len(stored) == len(rows), table
            for before, after in zip(rows, stored, strict=True):
                assert {k: stored_value(after, version, table, k) for k in before} == before, \
                    table
                for later in range(version + 1, schema.SCHEMA_VERSION + 1):
                    defaults = ADDED_DEFAULTS.get(later, {}).get(table, {})
                    assert {k: after[k] for k in defaults} == defaults, table
        assert corpus.db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert corpus.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # The only platform old corpora held gets its declaration, and each watchlist its
        # members, from the recorded plans.
        declared = dict(corpus.db.execute("SELECT platform, watch FROM platforms").fetchall())
        assert declared == {"weibo": "listing"}
        assert corpus.db.execute(
            "SELECT platform, watchlist, kind, member_id, first_crawl_id, last_crawl_id "
            "FROM watchlist_members").fetchall() == [("weibo", "w", "account", "1001", 1, 3)]
    finally:
        corpus.close()


def test_the_recorded_weibo_declaration_is_the_adapters():
    from memoryhole.crawlers.platforms import ADAPTERS

    assert json.loads(schema._WEIBO_DECLARATION) == ADAPTERS["weibo"].declaration()


@pytest.mark.parametrize("version", range(1, schema.SCHEMA_VERSION))
def test_a_migrated_corpus_takes_a_crawl_cycle(version, tmp_path, monkeypatch):
    corpus_at(version, tmp_path / "data", monkeypatch)
    corpus = Corpus(tmp_path / "data", create=False)
    try:
        plan = {**PLAN, "reprobe": {"confirm_after": 3600.0, "recheck_after": [86400.0]}}
        when = T0 + timedelta(minutes=20)
        crawl = corpus.start_crawl("timeline", "weibo", plan)
        # 104 is new, 100 and 103 are seen again, 101 has vanished (102 stays removed).
        corpus.record_pages(crawl, [page(1, [post(104), post(103), post(100)], when)])
        corpus.finish_crawl(crawl, "finished", {})
        diff = diff_timeline(corpus.db, crawl)
        assert diff.new_candidates == 1 and diff.restored == 0
        probes = corpus.start_crawl("probe", "weibo", plan)
        corpus.record_probes(probes, [probe("101", when + timedelta(minutes=1), "removed",
                                            "author_deleted", DELETED)])
        corpus.finish_crawl(probes, "finished", {})
        assert resolve_probes(corpus.db, probes).removed == 1
        removals = {r["post_id"]: r for r in corpus.db.query("SELECT * FROM removals")}
        assert removals["102"]["reason"] == "platform_removed"          # the migrated one
        assert removals["101"]["reason"] == "author_deleted"            # the new one
        assert removals["101"]["last_seen_at"] == t(10)                 # from the old sightings
        assert removals["101"]["next_probe_purpose"] == "confirm"
        assert corpus.db.execute("SELECT COUNT(*) FROM post_versions WHERE post_id = '104'"
                                 ).fetchone()[0] == 1
        assert corpus.db.execute("SELECT MAX(id) FROM crawls").fetchone()[0] == 5
    finally:
        corpus.close()


def test_a_corpus_from_a_newer_memoryhole_is_refused_with_a_clear_message(tmp_path):
    Corpus(tmp_path / "data").close()
    db = sqlite_utils.Database(tmp_path / "data" / DB_NAME)
    db.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    db.close()
    newer = schema.SCHEMA_VERSION + 1
    message = (f"{tmp_path / 'data' / DB_NAME}: corpus schema version {newer} is newer than "
               f"this memoryhole ({schema.SCHEMA_VERSION}); upgrade memoryhole")
    with pytest.raises(CorpusError) as raised:
        Corpus(tmp_path / "data", create=False)
    assert str(raised.value) == message
    result = memoryhole("export", "removals", "--data", str(tmp_path / "data"), check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"Error: {message}"]


@pytest.mark.parametrize("broken", [
    "ALTER TABLE posts ADD COLUMN half_done TEXT;\nSELECT no_such_function();",
    lambda db: (db.execute("ALTER TABLE posts ADD COLUMN half_done TEXT"),
                db.execute("SELECT no_such_function()")),
], ids=["sql", "function"])
def test_a_failing_migration_leaves_the_corpus_as_it_was(broken, tmp_path, monkeypatch):
    Corpus(tmp_path / "data").close()
    migrations = [*schema.MIGRATIONS, broken]
    monkeypatch.setattr(schema, "MIGRATIONS", migrations)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(migrations))
    with pytest.raises(Exception, match="no_such_function"):
        Corpus(tmp_path / "data", create=False)
    db = sqlite_utils.Database(tmp_path / "data" / DB_NAME)
    assert schema.schema_version(db) == schema.SCHEMA_VERSION - 1
    assert "half_done" not in db["posts"].columns_dict
    db.close()
