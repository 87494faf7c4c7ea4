"""What a platform declares reaches the generic stages through the corpus, not through code that
names the platform: failure names, extra post fields (stored, described in Datasette, released by
their declared policy), and the registry's spiders."""

from __future__ import annotations

import json

from memoryhole.analysis.publish import build_metadata
from memoryhole.corpus.deid import Identity, Pseudonymiser, Redactor
from memoryhole.corpus.store import Corpus
from memoryhole.crawlers import failures
from memoryhole.crawlers.platforms import ADAPTERS, adapter_for
from memoryhole.crawlers.spiders import PROBE_SPIDERS, TIMELINE_SPIDERS
from memoryhole.release import Transformer, column_policy, extra_declarations

KEY = b"k" * 32


def test_weibo_statuses_are_weibos_and_other_platforms_do_not_inherit_them():
    weibo = adapter_for("weibo")
    assert weibo.failure_for_status(418) == "anti_crawler"
    assert weibo.failure_for_status(432) == "user_agent_refused"
    assert failures.failure_for_status(418) == failures.UNEXPECTED_STATUS
    assert "anti_crawler" not in failures.FAILURES and "anti_crawler" in failures.names()
    assert weibo.failure_for_status(503) == failures.SERVER_ERROR


def test_every_registered_platform_gets_spiders_named_after_it():
    for name, adapter in ADAPTERS.items():
        assert PROBE_SPIDERS[name].name == f"{name}_probe"
        if adapter.watch == "listing":
            assert TIMELINE_SPIDERS[name].name == f"{name}_timeline"
        assert adapter.created_at_resolution, name       # required: analysis needs it


def weibo_corpus(tmp_path) -> Corpus:
    corpus = Corpus(tmp_path / "data")
    corpus.record_platform("weibo", ADAPTERS["weibo"].declaration())
    corpus.db.execute(
        "INSERT INTO posts (platform, post_id, account_id, order_key, text, first_seen_at, "
        "last_seen_at, extra) VALUES ('weibo', '5076757400000001', '1001', 1, 'x', 't', 't', ?)",
        [json.dumps({"bid": "OcX8p4Mzu", "source": "iPhone 客户端", "undeclared": "??"})])
    corpus.db.conn.commit()
    return corpus


def test_extra_fields_are_released_by_their_declared_policy(tmp_path):
    corpus = weibo_corpus(tmp_path)
    try:
        declared = extra_declarations(corpus.db.conn)
        assert declared["weibo"] == {"bid": ("drop", True), "source": ("free", False)}
        assert column_policy("extra") == "extra"
        redactor = Redactor(Pseudonymiser(KEY), [Identity("weibo", "1001", ("甲",), False)])
        transformer = Transformer(redactor, True, {}, "weibo", declared)
        [(extra,)] = corpus.db.execute("SELECT extra FROM posts").fetchall()
        released = json.loads(transformer._value("extra", extra, "weibo", "1001"))
        # bid: never published (it is the post id); undeclared: dropped; source: redacted text.
        assert released == {"source": "iPhone 客户端"}
        # Without a declaration nothing of it is published.
        assert Transformer(redactor, True, {}, "weibo", {})._value(
            "extra", extra, "weibo", "1001") is None
    finally:
        corpus.close()


def test_datasette_describes_each_platforms_extra_fields(tmp_path):
    corpus = weibo_corpus(tmp_path)
    corpus.close()
    tables = build_metadata(tmp_path / "data" / "corpus.db")["databases"]["corpus"]["tables"]
    described = tables["posts"]["columns"]["extra"]
    assert "weibo: bid (Weibo's short post id" in described and "source (" in described
    assert "platforms" in tables and "watchlist_members" in tables
