"""The store's fast paths write exactly what the general ones wrote: canonical JSON built
directly, corpus times formatted by isoformat, page rows in one executemany, and re-sightings
that change nothing but when a post was last seen."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from conftest import T0, at, page, post
from memoryhole.corpus import store
from memoryhole.corpus.clock import iso
from memoryhole.corpus.store import Corpus, LongTextObservation, canonical_json
from memoryhole.crawlers.platforms import ADAPTERS, Tombstone


@pytest.mark.parametrize("fields", [
    {}, {"text": "转发微博", "edit_count": 0}, {"b": None, "a": True, "c": False},
    {"text": 'quote " backslash \\ tab \t nul \x00 line\u2028sep 😀', "edit_count": 2**70},
    {"bid": "O4f", "source": "iPhone客户端"}, {"n": -3},
    {"f": 1.5}, {"nested": {"b": 1, "a": [1, "x"]}}, {"list": [None]},   # through the encoder
])
def test_canonical_json_is_the_encoders_text(fields):
    assert canonical_json(fields) == store._CANONICAL.encode(fields)


def test_canonical_json_random_objects():
    rng = random.Random(3)
    alphabet = "ab\"\\\n\x01é中文😀 "
    for _ in range(2000):
        obj = {"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4))):
               rng.choice([None, True, False, rng.randint(-10**20, 10**20),
                           "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))])
               for _ in range(rng.randint(0, 5))}
        assert canonical_json(obj) == json.dumps(obj, ensure_ascii=False, sort_keys=True,
                                                 separators=(",", ":"))


def test_stored_extra_is_the_canonical_json_of_its_values():
    """posts.extra as _extra writes it out: the encoder's text of the fields that are not None."""
    rng = random.Random(4)
    alphabet = "ab\"\\\n\x01é中文😀 "
    for _ in range(2000):
        extra = {"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4))):
                 rng.choice([None, True, rng.randint(-10, 10),
                             "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))])
                 for _ in range(rng.randint(0, 4))}
        present = {k: v for k, v in extra.items() if v is not None}
        expected = json.dumps(present, ensure_ascii=False, sort_keys=True,
                              separators=(",", ":")) if present else None
        assert store._extra(post(1, extra=extra)) == expected


def test_iso_is_the_strftime_text():
    rng = random.Random(5)
    for _ in range(5000):
        moment = datetime(rng.randint(1, 9998), rng.randint(1, 12), rng.randint(1, 28),
                          rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59),
                          rng.choice([0, rng.randint(0, 999_999)]),
                          tzinfo=rng.choice([UTC, timezone(timedelta(hours=8))]))
        assert iso(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _history(rng: random.Random) -> list[list]:
    """Crawls of two accounts whose posts change, one attribute at a time and rarely, in every
    way the posts row records: edits, a creation time learnt late, a repost's original and a
    tombstone, platform fields coming and going, truncated texts, pins."""
    state = {key: post(key, "1001" if key < 100200 else "1002", extra={"bid": f"B{key}"})
             for key in [*range(100100, 100106), *range(100200, 100206)]}
    crawls = []
    for c in range(10):
        when = at(10 * c)
        for key, record in state.items():
            roll = rng.random()
            if roll < 0.08:
                record = replace(record, text=f"post {key} v{c}")
            elif roll < 0.14:
                record = replace(record, edit_count=(record.edit_count or 0) + 1)
            elif roll < 0.26:
                record = replace(record, text_truncated=not record.text_truncated)
            elif roll < 0.34:
                record = replace(record, extra=rng.choice([{}, {"bid": None}, {"bid": f"B{key}"},
                                                           {"bid": f"B{key}", "source": "网页"}]))
            elif roll < 0.40:
                record = replace(record, created_at=T0 - timedelta(hours=key % 5),
                                 created_interval=(T0 - timedelta(hours=key % 5 + 1),
                                                   T0 - timedelta(hours=key % 5)))
            elif roll < 0.46:
                record = replace(record, repost_of=post(key + 50_000, "9"))
            elif roll < 0.50:
                record = replace(record, original_tombstone=Tombstone(
                    post_id=str(key + 60_000), reason="author_deleted", message="已删除"))
            elif roll < 0.55:
                record = replace(record, pinned=not record.pinned)
            state[key] = record
        crawls.append([page(1, [p for p in state.values() if p.account_id == account],
                            when + timedelta(seconds=int(account) % 7), account=account)
                       for account in ("1001", "1002")])
    return crawls


def _tables(corpus: Corpus) -> dict[str, list]:
    return {name: corpus.db.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall()
            for name in ("posts", "post_versions", "post_events", "accounts", "pages",
                         "sightings", "tombstones")}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_re_sightings_write_what_the_full_update_wrote(tmp_path, monkeypatch, seed):
    """The same crawls stored twice, the second time with the shortcut for unchanged posts
    turned off: every table comes out the same, row for row."""
    crawls = _history(random.Random(seed))
    stored = {}
    for name, shortcut in (("fast", True), ("full", False)):
        if not shortcut:
            monkeypatch.setattr(store, "only_seen_again", lambda *args: False)
        corpus = Corpus(tmp_path / name)
        corpus.record_platform("weibo", ADAPTERS["weibo"].declaration())
        for number, pages in enumerate(crawls):
            crawl = corpus.start_crawl("timeline", "weibo", {"watchlists": []})
            corpus.record_pages(crawl, pages[:1])
            corpus.record_pages(crawl, pages[1:])
            if number == 3:   # whole texts had: text_complete set, then kept or reset
                corpus.record_long_texts(crawl, [LongTextObservation(
                    platform="weibo", post_id=str(k), url="http://x/l", fetched_at=at(31),
                    http_status=200, outcome="ok", failure=None, text="whole")
                    for k in (100100, 100101, 100102, 100200, 100201)])
            corpus.finish_crawl(crawl, "finished", {})
        stored[name] = _tables(corpus)
        corpus.close()
    assert stored["fast"] == stored["full"]
    posts = stored["fast"]["posts"]
    assert posts and len(stored["fast"]["sightings"]) > len(posts)


@pytest.mark.parametrize("seed", [5, 6])
def test_stored_hash_shortcut_writes_what_hashing_wrote(tmp_path, monkeypatch, seed):
    """Re-sightings whose text and edit count equal the stored ones take the stored content
    hash instead of hashing again; with that shortcut turned off every table is the same."""
    crawls = _history(random.Random(seed))
    stored = {}
    real = store.shows_stored_content
    for name, shortcut in (("fast", True), ("hashing", False)):
        calls = []
        monkeypatch.setattr(store, "shows_stored_content",
                            lambda *args, calls=calls, shortcut=shortcut:
                            calls.append(real(*args)) or (shortcut and calls[-1]))
        corpus = Corpus(tmp_path / name)
        corpus.record_platform("weibo", ADAPTERS["weibo"].declaration())
        for pages in crawls:
            crawl = corpus.start_crawl("timeline", "weibo", {"watchlists": []})
            corpus.record_pages(crawl, pages)
            corpus.finish_crawl(crawl, "finished", {})
        stored[name] = _tables(corpus)
        corpus.close()
        assert True in calls and False in calls   # the history has both
    assert stored["fast"] == stored["hashing"]
    assert len({row[1:4] for row in stored["fast"]["post_versions"]}) > len(stored["fast"]["posts"])


def test_stored_hash_shortcut_needs_a_stored_hash(tmp_path):
    """A post row without a content hash (as rows written before hashes were) gets one on its
    next sighting, not the missing hash carried forward."""
    corpus = Corpus(tmp_path)
    corpus.record_platform("weibo", ADAPTERS["weibo"].declaration())
    first = corpus.start_crawl("timeline", "weibo", {"watchlists": []})
    corpus.record_pages(first, [page(1, [post(1)], at(0))])
    digest = corpus.db.execute("SELECT content_hash FROM posts").fetchone()[0]
    corpus.db.execute("UPDATE posts SET content_hash = NULL")
    second = corpus.start_crawl("timeline", "weibo", {"watchlists": []})
    corpus.record_pages(second, [page(1, [post(1)], at(10))])
    assert corpus.db.execute("SELECT content_hash, version FROM posts").fetchone() == (digest, 1)


def test_unchanged_re_sighting_moves_last_seen_only(tmp_path, monkeypatch):
    corpus = Corpus(tmp_path)
    corpus.record_platform("weibo", ADAPTERS["weibo"].declaration())
    first = corpus.start_crawl("timeline", "weibo", {"watchlists": []})
    corpus.record_pages(first, [page(1, [post(2), post(1)], at(0))])
    calls = []
    real = store.only_seen_again
    monkeypatch.setattr(store, "only_seen_again",
                        lambda *args: calls.append(real(*args)) or calls[-1])
    second = corpus.start_crawl("timeline", "weibo", {"watchlists": []})
    corpus.record_pages(second, [page(1, [post(2), post(1, text="edited")], at(10))])
    assert calls == [True, False]   # post 2 unchanged; post 1 edited
    rows = corpus.db.execute("SELECT post_id, last_seen_at, last_seen_crawl_id, version, text "
                             "FROM posts ORDER BY post_id").fetchall()
    assert rows == [("1", iso(at(10)), second, 2, "edited"), ("2", iso(at(10)), second, 1, "post 2")]


def test_page_ids_follow_pages_written_by_others(tmp_path):
    """Page ids are assigned as SQLite would (max + 1), also after another writer's pages."""
    corpus = Corpus(tmp_path)
    crawl = corpus.start_crawl("timeline", "weibo", {"watchlists": []})
    corpus.record_pages(crawl, [page(1, [post(3)], at(0)), page(2, [post(2)], at(0))])
    other = Corpus(tmp_path)
    other.record_pages(crawl, [page(1, [post(9, "1009")], at(1), account="1009")])
    other.close()
    corpus.record_pages(crawl, [page(1, [post(7, "1007"), post(6, "1007")], at(2),
                                     account="1007")])
    pages = corpus.db.execute("SELECT id, account_id, page FROM pages ORDER BY id").fetchall()
    assert pages == [(1, "1001", 1), (2, "1001", 2), (3, "1009", 1), (4, "1007", 1)]
    sightings = corpus.db.execute("SELECT post_id, page_id FROM sightings ORDER BY id").fetchall()
    assert sightings == [("3", 1), ("2", 2), ("9", 3), ("7", 4), ("6", 4)]

