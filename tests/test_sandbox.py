"""The simulated platform's world: ids, times, timelines, probes, ground truth, scenarios.

Expected platform words are written out here on purpose (copied from shared/platform-facts.md),
not imported from the sandbox, so a typo in the sandbox's table fails a test.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sandbox_worlds import START, quiet_world

from memoryhole.sandbox import (
    DEFAULT_SCENARIO_PATH,
    ManualClock,
    Scenario,
    ScenarioError,
    World,
    load_scenario,
)
from memoryhole.sandbox.ids import bid_to_mid, mid_to_bid
from memoryhole.sandbox.render import absolute_created_at, relative_created_at


def mids(envelope: dict[str, Any]) -> list[str]:
    out = []
    for card in envelope["data"]["cards"]:
        if card["card_type"] == 11:
            card = card["card_group"][0]
        out.append(card["mblog"]["mid"])
    return out


# ----------------------------------------------------------------------------- ids and times


def test_bid_matches_known_real_pairs_and_round_trips() -> None:
    assert mid_to_bid(3501756485200075) == "z0JH2lOMb"
    assert mid_to_bid("4607741009594608") == "K3fnuEfZK"
    assert bid_to_mid("z0JH2lOMb") == 3501756485200075
    assert bid_to_mid("K3fnuEfZK") == 4607741009594608
    assert mid_to_bid(4900000000000001) == "N00000001"  # zero-padded middle groups
    rng = random.Random(1)
    for _ in range(500):
        mid = rng.randrange(10**15, 10**16)
        assert bid_to_mid(mid_to_bid(mid)) == mid
    with pytest.raises(ValueError):
        bid_to_mid("abc!")


def test_relative_created_at_forms() -> None:
    now = START  # 2024-05-01 12:00 Beijing
    assert relative_created_at(now - timedelta(seconds=59), now) == "刚刚"
    assert relative_created_at(now - timedelta(minutes=5, seconds=30), now) == "5分钟前"
    assert relative_created_at(now - timedelta(hours=3, minutes=59), now) == "3小时前"
    assert relative_created_at(now - timedelta(hours=23, minutes=59), now) == "23小时前"
    assert relative_created_at(now - timedelta(hours=26), now) == "昨天 10:00"
    assert relative_created_at(datetime(2024, 3, 2, 1, 0, tzinfo=UTC), now) == "03-02"
    assert relative_created_at(datetime(2023, 12, 31, 15, 0, tzinfo=UTC), now) == "2023-12-31"
    # Across Beijing midnight, under 24 h is still "N小时前"; two calendar days back is a date.
    just_after_midnight = datetime(2024, 4, 30, 16, 30, tzinfo=UTC)  # 05-01 00:30 Beijing
    assert relative_created_at(just_after_midnight - timedelta(hours=2), just_after_midnight) == ("2小时前")
    assert relative_created_at(datetime(2024, 4, 28, 15, 0, tzinfo=UTC), just_after_midnight) == ("04-28")
    # New year in Beijing (2023-12-31 16:30 UTC) already counts as 2024.
    assert (
        relative_created_at(
            datetime(2023, 12, 29, 16, 30, tzinfo=UTC), datetime(2023, 12, 31, 16, 30, tzinfo=UTC)
        )
        == "2023-12-30"
    )


def test_absolute_created_at_matches_detail_format() -> None:
    assert absolute_created_at(datetime(2020, 11, 21, 2, 0, tzinfo=UTC)) == ("Sat Nov 21 10:00:00 +0800 2020")


def test_timeline_created_at_is_relative_to_request_time() -> None:
    world = quiet_world(accounts={"count": 1, "initial_posts": 0})
    now = START + timedelta(minutes=3)
    made = {}
    for label, created in [
        ("2023", datetime(2023, 6, 1, 0, 0, tzinfo=UTC)),
        ("this year", datetime(2024, 2, 10, 3, 0, tzinfo=UTC)),
        ("yesterday", now - timedelta(hours=30)),
        ("hours", now - timedelta(hours=2, minutes=5)),
        ("minutes", now - timedelta(minutes=7)),
        ("just now", now - timedelta(seconds=20)),
    ]:
        (made[label],) = world.schedule(created, "post", account_id="5864320101")
    cards = world.timeline("5864320101", 1, now)["data"]["cards"]
    shown = {c["mblog"]["mid"]: c["mblog"]["created_at"] for c in cards}
    assert shown[made["just now"]] == "刚刚"
    assert shown[made["minutes"]] == "7分钟前"
    assert shown[made["hours"]] == "2小时前"
    assert shown[made["yesterday"]] == "昨天 06:03"  # now-30h = 04-30 06:03 Beijing
    assert shown[made["this year"]] == "02-10"
    assert shown[made["2023"]] == "2023-06-01"


# ----------------------------------------------------------------------------- timelines


def test_envelope_shape_and_ten_per_page_newest_first() -> None:
    world = quiet_world()
    env = world.timeline("5864320101", 1, START)
    assert env["ok"] == 1
    info = env["data"]["cardlistInfo"]
    assert info == {**info, "containerid": "1076035864320101", "total": 25, "page": 2}
    cards = env["data"]["cards"]
    assert len(cards) == 10
    first = cards[0]
    mblog = first["mblog"]
    assert first["card_type"] == 9
    assert first["itemid"] == f"1076035864320101_-_{mblog['mid']}"
    assert first["scheme"] == (
        f"https://m.weibo.cn/status/{mblog['bid']}?mblogid={mblog['bid']}&luicode=10000011&lfid=1076035864320101"
    )
    assert mblog["bid"] == mid_to_bid(mblog["mid"])
    assert mblog["id"] == int(mblog["mid"]) and mblog["idstr"] == mblog["mid"]
    assert len(mblog["mid"]) == 16
    assert mblog["user"]["id"] == 5864320101 and isinstance(mblog["user"]["screen_name"], str)
    for key in ("reposts_count", "comments_count", "attitudes_count", "pic_num", "textLength"):
        assert isinstance(mblog[key], int), key
    assert mblog["visible"] == {"type": 0, "list_id": 0} and mblog["edit_count"] == 0
    assert mblog["isLongText"] is False
    page1, page2, page3 = (mids(world.timeline("5864320101", n, START)) for n in (1, 2, 3))
    assert len(page2) == 10 and len(page3) == 5
    everything = page1 + page2 + page3
    assert everything == sorted(everything, key=int, reverse=True)
    assert everything == world.account_posts("5864320101", START)


def test_mids_follow_creation_time_across_accounts() -> None:
    world = quiet_world(accounts={"count": 4, "posts_per_hour": 600})
    truth = world.truth(START + timedelta(hours=1))["posts"]
    ordered = sorted(truth, key=lambda p: int(p["post_id"]))
    assert [p["created_at"] for p in ordered] == sorted(p["created_at"] for p in truth)
    assert len({p["post_id"] for p in truth}) == len(truth) > 100
    assert all(int(p["post_id"]) > 4_900_000_000_000_000 for p in truth)


def test_pinned_post_comes_first_once() -> None:
    world = quiet_world(accounts={"pinned_share": 1.0})
    env = world.timeline("5864320102", 1, START)
    cards = env["data"]["cards"]
    assert len(cards) == 11  # the pinned post does not take one of the 10 slots
    top = cards[0]["mblog"]
    assert top["isTop"] == 1 and top["title"]["text"] == "置顶"
    rest = [c["mblog"] for c in cards[1:]] + [
        c["mblog"] for n in (2, 3) for c in world.timeline("5864320102", n, START)["data"]["cards"]
    ]
    assert top["mid"] not in {m["mid"] for m in rest}
    assert int(top["mid"]) < int(rest[0]["mid"])  # out of date order
    assert all("isTop" not in m for m in rest)
    assert len(rest) + 1 == 25


def test_restricted_post_keeps_its_slot_so_pages_do_not_shift() -> None:
    world = quiet_world()
    before1 = mids(world.timeline("5864320101", 1, START))
    before2 = mids(world.timeline("5864320101", 2, START))
    world.schedule(START + timedelta(seconds=30), "restrict", post_id=before1[3])
    world.schedule(START + timedelta(seconds=30), "restrict_halfyear", post_id=before1[6])
    later = START + timedelta(minutes=1)
    after1 = mids(world.timeline("5864320101", 1, later))
    assert len(after1) == 8
    assert after1 == [m for m in before1 if m not in (before1[3], before1[6])]
    assert mids(world.timeline("5864320101", 2, later)) == before2
    assert world.timeline("5864320101", 1, later)["data"]["cardlistInfo"]["total"] == 23


def test_removed_post_leaves_the_list_and_pages_shift() -> None:
    world = quiet_world()
    before = mids(world.timeline("5864320101", 1, START)) + mids(world.timeline("5864320101", 2, START))
    world.schedule(START + timedelta(seconds=5), "author_delete", post_id=before[0])
    after = mids(world.timeline("5864320101", 1, START + timedelta(seconds=6)))
    assert after == before[1:11]


def test_past_the_end_and_unknown_accounts_say_nothing_here() -> None:
    world = quiet_world()
    empty = {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}
    assert world.timeline("5864320101", 4, START) == empty
    assert world.timeline("9999", 1, START) == empty


def test_long_posts_are_cut_in_lists_and_whole_in_detail() -> None:
    world = quiet_world(long_share=1.0)
    mblog = world.timeline("5864320101", 1, START)["data"]["cards"][0]["mblog"]
    assert mblog["isLongText"] is True
    assert mblog["text"].endswith(f'...<a href="/status/{mblog["id"]}">全文</a>')
    detail = world.status(mblog["mid"], START)
    assert detail["ok"] == 1
    full = detail["data"]
    assert full["isLongText"] is False and "全文" not in full["text"]
    assert len(full["text"]) > 140 and full["textLength"] > 280
    assert full["created_at"].endswith("+0800 " + full["created_at"][-4:])


def test_card_groups_wrap_a_post_card() -> None:
    world = quiet_world(card_group_share=1.0)
    cards = world.timeline("5864320101", 1, START)["data"]["cards"]
    assert {c["card_type"] for c in cards} == {11}
    assert all(c["card_group"][0]["card_type"] == 9 for c in cards)


# ----------------------------------------------------------------------------- probes

COMPLAINTS = "该微博因被多人投诉，根据《微博社区公约》，已被删除。"
RULES = "该微博因违反《微博社区公约》的相关规定，已被删除"


@pytest.mark.parametrize(
    ("action", "message", "cause", "words"),
    [
        ("author_delete", None, "author_deleted", "抱歉，此微博已被作者删除。"),
        ("censor_complaints", None, "platform_removed", COMPLAINTS),
        ("censor_rules", None, "platform_removed", RULES),
        ("remove_unattributed", None, "removed_unattributed", "抱歉，此微博已被删除。"),
        ("remove_unattributed", "该微博不存在", "removed_unattributed", "该微博不存在"),
        ("restrict", None, "restricted", "抱歉，由于作者设置，你暂时没有这条微博的查看权限哦。"),
        ("restrict_halfyear", None, "restricted", "抱歉，作者已设置仅展示半年内微博，此微博已不可见。"),
        ("unknown", None, "unknown", "此微博暂时无法查看（代码 7731）"),
    ],
)
def test_probe_words_for_each_post_cause(action: str, message: str | None, cause: str, words: str) -> None:
    world = quiet_world()
    post_id = world.account_posts("5864320101", START)[2]
    world.schedule(START + timedelta(seconds=60), action, post_id=post_id, message=message)
    assert world.status(post_id, START + timedelta(seconds=59))["ok"] == 1
    answer = world.status(post_id, START + timedelta(seconds=60))
    assert answer == {"ok": 0, "errno": "20101", "msg": words}
    truth = {p["post_id"]: p for p in world.truth(START + timedelta(seconds=61))["posts"]}
    assert truth[post_id]["cause"] == cause and truth[post_id]["message"] == words
    assert truth[post_id]["removed_at"] == "2024-05-01T04:01:00.000000Z"


@pytest.mark.parametrize(
    ("action", "cause", "state", "words"),
    [
        (
            "suspend",
            "account_suspended",
            "suspended",
            "该账号因被投诉违反法律法规和《微博社区公约》的相关规定，现已无法查看。",
        ),
        ("close", "account_closed", "closed", "该账号因用户自行申请关闭，现已无法查看。"),
        ("lock", "account_locked", "locked", "该账号行为异常，存在安全风险，用户验证之前暂时不能查看。"),
    ],
)
def test_account_states_hide_timeline_and_posts(action: str, cause: str, state: str, words: str) -> None:
    world = quiet_world()
    posts = world.account_posts("5864320102", START)
    world.schedule(START + timedelta(seconds=10), "author_delete", post_id=posts[0])
    world.schedule(START + timedelta(seconds=90), action, account_id="5864320102")
    before, after = START + timedelta(seconds=89), START + timedelta(seconds=90)
    assert world.timeline("5864320102", 1, before)["ok"] == 1
    assert world.timeline("5864320102", 1, after) == {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}
    assert world.status(posts[1], after) == {"ok": 0, "errno": "20101", "msg": words}
    # Removed before the account changed state: the post keeps its own words.
    assert world.status(posts[0], after)["msg"] == "抱歉，此微博已被作者删除。"
    truth = world.truth(after)
    by_id = {p["post_id"]: p for p in truth["posts"]}
    assert by_id[posts[1]]["cause"] == cause
    assert by_id[posts[1]]["removed_at"] == "2024-05-01T04:01:30.000000Z"
    assert by_id[posts[0]]["cause"] == "author_deleted"
    account = {a["account_id"]: a for a in truth["accounts"]}["5864320102"]
    assert account["state"] == state and account["state_changed_at"] == "2024-05-01T04:01:30.000000Z"
    # Other accounts are untouched.
    assert world.timeline("5864320101", 1, after)["ok"] == 1


def test_unsuspend_restores_the_accounts_posts() -> None:
    world = quiet_world()
    post_id = world.account_posts("5864320103", START)[0]
    world.schedule(START + timedelta(seconds=30), "suspend", account_id="5864320103")
    world.schedule(START + timedelta(seconds=90), "unsuspend", account_id="5864320103")
    assert world.status(post_id, START + timedelta(seconds=60))["ok"] == 0
    assert world.status(post_id, START + timedelta(seconds=90))["ok"] == 1
    truth = {p["post_id"]: p for p in world.truth(START + timedelta(minutes=2))["posts"]}[post_id]
    assert truth["cause"] == "account_suspended"
    assert truth["removed_at"] == "2024-05-01T04:00:30.000000Z"
    assert truth["restored_at"] == "2024-05-01T04:01:30.000000Z"


def test_unknown_ids_and_bids() -> None:
    world = quiet_world()
    assert world.status("4900000000000000", START) == {"ok": 0, "errno": "20101", "msg": "该微博不存在"}
    post_id = world.account_posts("5864320101", START)[0]
    assert world.status(mid_to_bid(post_id), START)["data"]["mid"] == post_id


# ----------------------------------------------------------------------------- truth and events


def test_truth_only_shows_the_past() -> None:
    world = quiet_world(accounts={"posts_per_hour": 120})
    old = world.account_posts("5864320101", START)[0]
    world.schedule(START + timedelta(minutes=2), "censor_rules", post_id=old)
    at = START + timedelta(minutes=1)
    truth = world.truth(at)
    assert truth["now"] == "2024-05-01T04:01:00.000000Z"
    assert all(p["created_at"] <= truth["now"] for p in truth["posts"])
    later = world.truth(START + timedelta(minutes=3))
    assert len(later["posts"]) > len(truth["posts"])  # new posts appeared in between
    entry = {p["post_id"]: p for p in truth["posts"]}[old]
    assert entry == {**entry, "removed_at": None, "restored_at": None, "cause": None, "message": None}
    entry = {p["post_id"]: p for p in later["posts"]}[old]
    assert entry["cause"] == "platform_removed" and entry["message"] == RULES
    assert {a["state"] for a in truth["accounts"]} == {"active"}


def test_scenario_event_author_delete_after_one_minute() -> None:
    world = quiet_world(
        events=[{"at": "1m", "do": "author_delete", "post": {"account": "5864320101", "nth": 0}}])
    newest = world.account_posts("5864320101", START)[0]
    assert world.status(newest, START + timedelta(seconds=59))["ok"] == 1
    assert newest in mids(world.timeline("5864320101", 1, START + timedelta(seconds=59)))
    assert world.status(newest, START + timedelta(seconds=60))["msg"] == "抱歉，此微博已被作者删除。"
    assert newest not in mids(world.timeline("5864320101", 1, START + timedelta(seconds=60)))


def test_scenario_event_creates_posts_one_second_apart() -> None:
    world = quiet_world(
        events=[{"at": "30s", "do": "post", "account": "5864320102", "count": 15, "sensitive": True}]
    )
    before = world.account_posts("5864320102", START + timedelta(seconds=29))
    after = world.account_posts("5864320102", START + timedelta(seconds=45))
    assert len(after) - len(before) == 15
    truth = {p["post_id"]: p for p in world.truth(START + timedelta(seconds=45))["posts"]}
    created = sorted(truth[m]["created_at"] for m in after[:15])
    assert created[0] == "2024-05-01T04:00:30.000000Z" and created[-1] == "2024-05-01T04:00:44.000000Z"
    text = world.status(after[0], START + timedelta(seconds=45))["data"]["text"]
    assert any(term in text for term in Scenario().sensitive_terms)


def test_restoration_brings_a_censored_post_back() -> None:
    world = quiet_world()
    post_id = world.account_posts("5864320101", START)[1]
    world.schedule(START + timedelta(seconds=20), "censor_complaints", post_id=post_id)
    world.schedule(START + timedelta(seconds=50), "restore", post_id=post_id)
    assert world.status(post_id, START + timedelta(seconds=30))["msg"] == COMPLAINTS
    assert post_id not in mids(world.timeline("5864320101", 1, START + timedelta(seconds=30)))
    assert world.status(post_id, START + timedelta(seconds=50))["ok"] == 1
    assert post_id in mids(world.timeline("5864320101", 1, START + timedelta(seconds=50)))
    entry = {p["post_id"]: p for p in world.truth(START + timedelta(minutes=1))["posts"]}[post_id]
    assert entry["removed_at"] == "2024-05-01T04:00:20.000000Z"
    assert entry["restored_at"] == "2024-05-01T04:00:50.000000Z"
    assert entry["cause"] == "platform_removed" and entry["message"] == COMPLAINTS


def test_latest_of_several_removals_is_reported() -> None:
    world = quiet_world()
    post_id = world.account_posts("5864320101", START)[0]
    world.schedule(START + timedelta(seconds=10), "restrict", post_id=post_id)
    world.schedule(START + timedelta(seconds=20), "restore", post_id=post_id)
    world.schedule(START + timedelta(seconds=40), "author_delete", post_id=post_id)
    entry = {p["post_id"]: p for p in world.truth(START + timedelta(minutes=1))["posts"]}[post_id]
    assert (entry["cause"], entry["removed_at"], entry["restored_at"]) == (
        "author_deleted",
        "2024-05-01T04:00:40.000000Z",
        None,
    )


def test_same_seed_same_world_and_different_seed_differs() -> None:
    scenario = load_scenario({"seed": 11, "accounts": {"count": 8}, "unknown": {"share": 0.05}})
    end = START + timedelta(minutes=10)
    a, b = World(scenario, START), World(scenario, START)
    assert a.truth(end) == b.truth(end)
    assert a.timeline("5864320103", 1, end) == b.timeline("5864320103", 1, end)
    assert any(p["removed_at"] for p in a.truth(end)["posts"])
    other = World(load_scenario({"seed": 12, "accounts": {"count": 8}}), START)
    assert other.truth(end) != a.truth(end)


def test_explicit_events_do_not_change_generated_history() -> None:
    base = {"seed": 5, "accounts": {"count": 6}, "restrict": {"share": 0.05}}
    plain = World(load_scenario(base), START)
    extra = World(
        load_scenario(
            {
                **base,
                "events": [
                    {"at": "10s", "do": "post", "account": "5864320101", "count": 3},
                    {"at": "20s", "do": "lock", "account": "5864320106"},
                ],
            }
        ),
        START,
    )
    end = START + timedelta(minutes=10)
    keep = {p["post_id"]: p for p in plain.truth(end)["posts"] if p["account_id"] != "5864320106"}
    changed = {p["post_id"]: p for p in extra.truth(end)["posts"] if p["account_id"] != "5864320106"}
    assert len(changed) == len(keep) + 3
    assert all(changed[k] == v for k, v in keep.items())


def test_random_history_contains_every_cause_in_the_demo() -> None:
    scenario = load_scenario(None)
    world = World(scenario, START)
    truth = world.truth(START + timedelta(minutes=10))
    causes = {p["cause"] for p in truth["posts"] if p["removed_at"]}
    assert causes == {
        "author_deleted",
        "platform_removed",
        "removed_unattributed",
        "restricted",
        "account_suspended",
        "account_closed",
        "account_locked",
        "unknown",
    }
    assert any(p["restored_at"] for p in truth["posts"])
    assert sum(1 for a in truth["accounts"] if a["state"] != "active") == 3
    # Most removals during the run hit what a 2-page crawler sees: new posts or the 20 newest.
    visible_to_crawler = {m for uid in scenario.account_ids for m in world.account_posts(uid, START)[:20]}
    start_iso = "2024-05-01T04:00:00.000000Z"
    during = [p for p in truth["posts"] if p["removed_at"] and p["removed_at"] >= start_iso]
    seen = [p for p in during if p["post_id"] in visible_to_crawler or p["created_at"] >= start_iso]
    assert len(during) > 60 and len(seen) / len(during) > 0.8


def test_demo_timeline_has_short_pages() -> None:
    world = World(load_scenario(DEFAULT_SCENARIO_PATH), START)
    sizes = [len(mids(world.timeline(uid, 2, START))) for uid in world.scenario.account_ids]
    assert any(7 <= n <= 9 for n in sizes) and 10 in sizes


# ----------------------------------------------------------------------------- scenarios and clock


def test_scenario_defaults_and_durations() -> None:
    scenario = load_scenario({"duration": "2h", "author_delete": {"delay": {"min": "90s", "max": "5m"}}})
    assert scenario.duration == 7200.0
    assert (scenario.author_delete.delay.min, scenario.author_delete.delay.max) == (90.0, 300.0)
    assert scenario.accounts.count == 50 and scenario.account_ids[0] == "5864320101"
    assert scenario.censor.delay[1] == (1800.0, 0.3)
    demo = load_scenario(None)
    assert demo.source == "demo.yaml" and demo.faults.rate == pytest.approx(0.02)


@pytest.mark.parametrize("source", [{}, None], ids=["defaults", "demo"])
def test_ids_are_as_long_as_weibos(source) -> None:
    """Uids of 10 digits and mids of 16, as Weibo's: a count in a demo's release (1035 rows) is
    never an account id, and the release's leak scan meets ids shaped like real ones."""
    scenario = load_scenario(source)
    world = World(scenario, START)
    assert all(len(uid) == 10 for uid in scenario.account_ids + scenario.outside_account_ids)
    assert all(len(str(mid)) == 16 for mid in world.posts)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"censor": {"share": 1.5}}, "scenario: censor.share must be between 0 and 1, got 1.5"),
        ({"censr": {}}, "scenario: censr is not a known key"),
        ({"duration": "3 minutes"}, "scenario: duration must be a duration like 90s"),
        ({"faults": {"kinds": ["http_999"]}}, "scenario: faults.kinds has 'http_999'"),
        ({"events": [{"at": "1m", "do": "vanish"}]}, "scenario: events[0].do must be one of"),
        (
            {"events": [{"at": "1m", "do": "suspend", "account": "77"}]},
            "scenario: events[0].account '77' is not one of the scenario's accounts (5864320101..5864320150)",
        ),
        (
            {"censor": {"delay": [["5m", 0.0], ["1h", 0.5]]}},
            "scenario: censor.delay must end at cumulative share 1.0",
        ),
    ],
)
def test_invalid_scenarios_name_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(data)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_scenario_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("censor:\n  share: 1.5\n", encoding="utf-8")
    with pytest.raises(
        ScenarioError,
        match=r"^scenario.yaml: censor.share must be between 0 and 1, "
        r"got 1.5$",
    ):
        load_scenario(path)
    path.write_text("seed: 9\nstart: 2024-05-01T04:00:00Z\n", encoding="utf-8")
    scenario = load_scenario(str(path))
    assert scenario.seed == 9 and scenario.start == START


def test_manual_clock() -> None:
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.advance(90) == START + timedelta(seconds=90)
    clock.set(START - timedelta(days=1))
    assert clock.now() == START - timedelta(days=1)
    with pytest.raises(ValueError):
        ManualClock(datetime(2024, 1, 1))
