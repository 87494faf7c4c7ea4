"""Item watches, through the platform-neutral core: a platform with no listing (an `ItemAdapter`)
whose plan names items and a probe schedule. A probe that says gone is a removal through the same
candidates, removals, evidence and re-probes as a listing's; a probe that fails is nothing; an
item's first visible probe is its first sighting. The adapter here is a stand-in made by the test
(the real ones, WeChat's among them, have their own end-to-end tests)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from memoryhole.analysis.outcomes import UndeclaredPlatform, build_post_outcomes
from memoryhole.corpus.differ import resolve_probes
from memoryhole.corpus.store import Corpus, ProbeObservation
from memoryhole.crawlers.plan import PlanError, ScheduleStep, plan_from_dict, probe_interval
from memoryhole.crawlers.platforms import (
    ADAPTERS,
    ExtraColumn,
    ItemAdapter,
    PostRecord,
    ProbeResult,
    timestamp_order_key,
)
from memoryhole.crawlers.spiders import probe_spider, timeline_spider
from memoryhole.crawlers.spiders.probe import due_items

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
GONE = "this item was removed for a violation"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class ItemSite(ItemAdapter):
    """Items at /item/<id>; an answer says `live <title>` or `gone <words>`."""

    name = "itemsite"
    default_base_url = "https://items.example"
    order_key = "timestamp"
    versioned_fields = ("text", "title")
    created_at_resolution = ((None, 1.0),)
    extra_columns = (ExtraColumn("title", "The item's title.", release="free"),)

    def item_id(self, ref: str) -> str:
        ident = ref.rsplit("/item/", 1)[-1]
        if not ident.isalnum():
            raise ValueError("an item is /item/<letters and digits>")
        return ident

    def probe_url(self, base_url: str, post_id: str) -> str:
        return f"{base_url}/item/{post_id}"

    def parse_probe(self, status: int, body: bytes, fetched_at: datetime) -> ProbeResult:
        words = body.decode()
        if status != 200:
            return ProbeResult("failed", failure="server_error")
        if words.startswith("gone "):
            return ProbeResult("removed", reason="platform_removed", message=words[5:])
        if words.startswith("live "):
            return ProbeResult("visible", post=item("from-page", title=words[5:]))
        return ProbeResult("failed", failure="unexpected_answer")


@pytest.fixture(autouse=True)
def itemsite(monkeypatch):
    monkeypatch.setitem(ADAPTERS, "itemsite", ItemSite)
    return ItemSite


def item(post_id: str, title: str = "t", text: str = "body", created: datetime = T0
         ) -> PostRecord:
    return PostRecord(platform="itemsite", post_id=post_id, account_id="pub1",
                      order_key=timestamp_order_key(created), created_at=created, text=text,
                      extra={"title": title})


def watch(post_id: str, when: datetime, outcome: str, post: PostRecord | None = None,
          reason: str | None = None, message: str | None = None, failure: str | None = None,
          purpose: str = "watch") -> ProbeObservation:
    return ProbeObservation(
        platform="itemsite", post_id=post_id, account_id=post.account_id if post else None,
        url=f"https://items.example/item/{post_id}", requested_at=when,
        probed_at=when + timedelta(seconds=2), http_status=200, outcome=outcome, reason=reason,
        message=message, failure=failure, headers={}, body=b"answer", purpose=purpose,
        post=post)


PLAN = {"platform": "itemsite", "watchlists": [
    {"name": "news", "items": ["https://items.example/item/a1", "b2"], "every": "10m",
     "schedule": [{"until": "1d", "every": "1h"}, {"every": "1d"}]},
    {"name": "also", "items": ["a1"], "every": "10m"}],
    "reprobe": {"confirm_after": "1h", "recheck_after": ["1d"]}}


class Items:
    """A corpus of the stand-in platform, probed the way the scheduler does."""

    def __init__(self, tmp_path) -> None:
        self.corpus = Corpus(tmp_path)
        self.plan = plan_from_dict(PLAN)

    def probes(self, observations: list[ProbeObservation]):
        crawl = self.corpus.start_crawl("probe", "itemsite", self.plan.as_record(),
                                        declaration=ItemSite.declaration(),
                                        members=self.plan.members())
        self.corpus.record_probes(crawl, observations)
        self.corpus.finish_crawl(crawl, "finished", {})
        return self.corpus.write(lambda: resolve_probes(self.corpus.db, crawl))

    def rows(self, sql: str, *args) -> list[tuple]:
        return self.corpus.db.execute(sql, args).fetchall()


@pytest.fixture
def items(tmp_path):
    built = Items(tmp_path / "data")
    yield built
    built.corpus.close()


def test_a_plan_names_items_by_url_or_id_with_a_schedule(tmp_path):
    (tmp_path / "items.txt").write_text("# watched\nhttps://items.example/item/c3\n\nd4  # x\n",
                                        encoding="utf-8")
    plan = plan_from_dict({**PLAN, "watchlists": [
        *PLAN["watchlists"], {"name": "file", "items_file": "items.txt"}]}, base_dir=tmp_path)
    news, also, listed = plan.watchlists
    assert news.items == ("a1", "b2") and news.accounts == ()
    assert news.schedule == (ScheduleStep(3600.0, 86400.0), ScheduleStep(86400.0))
    assert also.schedule == news.schedule            # the default: dense first day, then daily
    assert listed.items == ("c3", "d4")
    assert plan.members() == [("news", "item", "a1"), ("news", "item", "b2"),
                              ("also", "item", "a1"), ("file", "item", "c3"),
                              ("file", "item", "d4")]
    # The recorded plan reads back the same (reparse reads it).
    assert plan_from_dict(json.loads(json.dumps(plan.as_record()))).watchlists == plan.watchlists
    assert probe_interval(news.schedule, 3600.0) == 3600.0
    assert probe_interval(news.schedule, 2 * 86400.0) == 86400.0


@pytest.mark.parametrize("watchlist, words", [
    ({"name": "x", "accounts": [1001]}, "has no listing to page through"),
    ({"name": "x", "items": ["a b"]}, "is not a itemsite item"),
    ({"name": "x", "items": []}, "list at least one item"),
    ({"name": "x", "items": ["a1"], "schedule": [{"every": "1d"}, {"until": "1d", "every": "1h"}]},
     "steps go from young to old"),
])
def test_an_item_plan_that_cannot_work_is_refused(watchlist, words):
    with pytest.raises(PlanError, match=words):
        plan_from_dict({"platform": "itemsite", "watchlists": [watchlist]})


def test_a_listing_plan_cannot_name_items():
    with pytest.raises(PlanError, match="watched through its listings"):
        plan_from_dict({"platform": "weibo", "watchlists": [
            {"name": "x", "accounts": [1001], "items": ["5001"]}]})


def test_an_item_platform_gets_a_probe_spider_and_no_listing_spider():
    spider = probe_spider("itemsite")
    assert spider.name == "itemsite_probe" and spider.platform == "itemsite"
    with pytest.raises(KeyError, match="item watches"):
        timeline_spider("itemsite")


def test_first_visible_probe_is_the_first_sighting_and_a_gone_probe_a_removal(items):
    first = item("a1", title="first title")
    items.probes([watch("a1", at(0), "visible", first)])
    assert items.rows("SELECT post_id, account_id, text, extra, first_seen_at FROM posts") == [
        ("a1", "pub1", "body", '{"title":"first title"}', "2026-11-24T06:00:00.000000Z")]
    assert items.rows("SELECT page, post_id FROM sightings") == [(0, "a1")]
    assert items.rows("SELECT event FROM post_events") == [("first_seen",)]
    # A new title is a new version (the adapter versions its extra `title`).
    items.probes([watch("a1", at(60), "visible", item("a1", title="second title"))])
    assert items.rows("SELECT version, changed FROM post_versions ORDER BY version") == [
        (1, '{"text": "body", "title": "first title"}'), (2, '{"title": "second title"}')]
    # A probe that fails is nothing: no candidate, no removal.
    failed = items.probes([watch("a1", at(120), "failed", failure="captcha")])
    assert failed.watch_failed == 1 and failed.removed == 0
    assert items.rows("SELECT COUNT(*) FROM candidates") == [(0,)]
    # A probe that says gone: a removal at once, with the probe as evidence and the interval
    # from the last visible probe to this answer.
    gone = items.probes([watch("a1", at(180), "removed", reason="platform_removed",
                               message=GONE)])
    assert gone.removed == 1 and gone.watched == 1
    [removal] = items.corpus.db.query("SELECT * FROM removals")
    assert (removal["reason"], removal["message"], removal["account_id"]) == (
        "platform_removed", GONE, "pub1")
    assert removal["last_seen_at"] == "2026-11-24T07:00:00.000000Z"
    assert removal["first_missing_at"] == "2026-11-24T09:00:02.000000Z"
    assert items.rows("SELECT outcome FROM probes WHERE id = ?", removal["probe_id"]) == [
        ("removed",)]
    assert items.rows("SELECT cause FROM candidates") == [("item_probe",)]
    # The removed item's text stays readable.
    assert items.rows("SELECT text FROM posts WHERE post_id = 'a1'") == [("body",)]
    # The same re-probes as a listing's: confirmed, then restored.
    items.probes([watch("a1", at(250), "removed", reason="platform_removed", message=GONE,
                        purpose="confirm")])
    items.probes([watch("a1", at(60 * 25), "visible", first, purpose="recheck")])
    assert [e for (e,) in items.rows("SELECT event FROM post_events ORDER BY id")] == [
        "first_seen", "missing", "removed", "confirmed", "restored"]


def test_an_item_gone_at_its_first_probe_was_never_seen_intact(items):
    items.probes([watch("b2", at(0), "removed", reason="author_deleted", message="deleted")])
    [removal] = items.corpus.db.query("SELECT * FROM removals")
    assert removal["last_seen_at"] is None and removal["account_id"] == ""
    assert items.rows("SELECT COUNT(*) FROM posts") == [(0,)]


def test_items_are_due_on_the_schedule_dense_first_then_sparse(items, monkeypatch):
    old = T0 - timedelta(days=3)
    items.probes([watch("a1", at(0), "visible", item("a1")),
                  watch("b2", at(0), "visible", item("b2", created=old))])

    def due(minutes: float) -> list[str]:
        monkeypatch.setenv("MEMORYHOLE_NOW", at(minutes).isoformat())
        return [row["post_id"] for row in due_items(items.corpus, items.plan)]

    assert due(30) == []                 # a1 young (hourly), b2 three days old (daily)
    assert due(61) == ["a1"]
    items.probes([watch("a1", at(61), "failed", failure="rate_limited")])
    assert due(62) == ["a1"]             # a failed probe is nothing: still due
    assert due(24 * 60 + 1) == ["a1", "b2"]
    items.probes([watch("b2", at(70), "removed", reason="platform_removed", message=GONE)])
    assert due(3 * 24 * 60) == ["a1"]    # removed: the re-probe policy asks, not the schedule


def test_analysis_takes_resolution_from_the_declaration_and_refuses_a_platform_without(items):
    items.probes([watch("a1", at(0), "visible", item("a1"))])
    build_post_outcomes(items.corpus.db)
    assert items.rows("SELECT platform, created_resolution_s FROM temp.post_outcomes") == [
        ("itemsite", 1.0)]
    items.corpus.db.execute("DELETE FROM platforms")
    with pytest.raises(UndeclaredPlatform, match="'itemsite'"):
        build_post_outcomes(items.corpus.db)


def test_watchlist_membership_is_many_to_many(items):
    items.probes([])
    items.probes([])
    assert items.rows("SELECT watchlist, kind, member_id, first_crawl_id, last_crawl_id "
                      "FROM watchlist_members ORDER BY watchlist, member_id") == [
        ("also", "item", "a1", 1, 2), ("news", "item", "a1", 1, 2), ("news", "item", "b2", 1, 2)]


def test_the_probe_spider_asks_due_items_and_hands_their_sighting_to_the_store(items,
                                                                              monkeypatch):
    from scrapy.http import HtmlResponse, Request

    monkeypatch.setenv("MEMORYHOLE_NOW", at(0).isoformat())
    spider = probe_spider("itemsite")(plan=items.plan, data=str(items.corpus.data_dir))

    async def requests() -> list:
        return [r async for r in spider.start()]

    import asyncio

    asked = asyncio.run(requests())
    assert [(r.url, r.meta["purpose"]) for r in asked] == [
        ("https://items.example/item/a1", "watch"), ("https://items.example/item/b2", "watch")]

    def answer(request: Request, status: int, body: str) -> list:
        response = HtmlResponse(request.url, status=status, body=body.encode(), request=request)
        return list(spider.parse_probe(response))

    [seen] = answer(asked[0], 200, "live 标题")
    assert (seen.post_id, seen.purpose, seen.outcome, seen.account_id) == (
        "a1", "watch", "visible", "pub1")
    assert seen.post.extra == {"title": "标题"} and seen.body == "live 标题".encode()
    [gone] = answer(asked[1], 200, "gone removed for a violation")
    assert (gone.outcome, gone.reason, gone.post) == ("removed", "platform_removed", None)
    items.probes([seen, gone])
    assert items.rows("SELECT post_id FROM posts") == [("a1",)]   # the plan's id, not the page's
    assert items.rows("SELECT post_id, reason FROM removals") == [("b2", "platform_removed")]


def test_an_item_cycle_that_got_no_answer_says_it_fetched_nothing():
    from memoryhole.corpus.differ import ProbeResolution
    from memoryhole.crawlers.scheduler import CycleReport

    def cycle(watched: int, failed: int) -> CycleReport:
        return CycleReport(1, probe_crawl_id=1, resolution=ProbeResolution(
            probed=0, removed=0, visible=0, still_open=0, watched=watched, watch_failed=failed))

    assert cycle(0, 2).fetched_nothing
    assert not cycle(1, 1).fetched_nothing
    assert not cycle(0, 0).fetched_nothing     # nothing was due: not a failure
