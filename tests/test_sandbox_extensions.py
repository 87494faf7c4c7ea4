"""The simulated platform's newer behaviours: reposts and tombstones, edits, the long-text endpoint,
since_id pagination, profiles, empty-timeline glitches, scale and the random fault rate.

Expected platform words are written out here on purpose (copied from shared/platform-facts.md).
Time is a ManualClock or an explicit instant; nothing sleeps.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from sandbox_worlds import QUIET, START, merged, quiet_world

from memoryhole.sandbox import DEFAULT_SCENARIO_PATH, ManualClock, SandboxServer, World, load_scenario
from memoryhole.sandbox.scenario import ScenarioError

HELP = '查看帮助：<a href="https://kefu.weibo.com/faqdetail?id=19164">网页链接</a>'
NOTHING_HERE = {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}
AUTHOR = "抱歉，此微博已被作者删除。"
COMPLAINTS = "该微博因被多人投诉，根据《微博社区公约》，已被删除。"
RULES = "该微博因违反《微博社区公约》的相关规定，已被删除"
PRIVACY = "抱歉，由于作者设置，你暂时没有这条微博的查看权限哦。"
HALF_YEAR = "抱歉，作者已设置仅展示半年内微博，此微博已不可见。"
SUSPENDED_LAW = "该账号因被投诉违反法律法规和《微博社区公约》的相关规定，现已无法查看。"



def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def mblogs(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for card in envelope["data"]["cards"]:
        if card["card_type"] == 11:
            card = card["card_group"][0]
        out.append(card["mblog"])
    return out


def mids(envelope: dict[str, Any]) -> list[str]:
    return [m["mid"] for m in mblogs(envelope)]


def truth_of(world: World, moment: datetime) -> dict[str, dict[str, Any]]:
    return {p["post_id"]: p for p in world.truth(moment)["posts"]}


# ----------------------------------------------------------------------------- defaults


def test_new_behaviours_are_off_by_default() -> None:
    scenario = load_scenario({})
    assert scenario.reposts.share == 0 and scenario.outside_account_ids == []
    assert scenario.edits.share == 0 and scenario.glitches.share == 0
    world = World(load_scenario(merged(QUIET, {"accounts": {"posts_per_hour": 60}})), START)
    truth = world.truth(at(180))
    assert truth["outside_accounts"] == []
    assert {a["account_id"] for a in truth["accounts"]} == {"5864320101", "5864320102", "5864320103"}
    assert all(a["watched"] and a["glitches"] == [] for a in truth["accounts"])
    for post in truth["posts"]:
        assert post["repost_of"] is None and post["edits"] == [] and post["watched"] is True
        assert post["text"] == post["original_text"] and post["text"]
    assert all("retweeted_status" not in m for m in mblogs(world.timeline("5864320101", 1, at(180))))


def test_demo_turns_the_new_behaviours_on_at_modest_rates() -> None:
    demo = load_scenario(DEFAULT_SCENARIO_PATH)
    assert 0 < demo.reposts.share <= 0.1 and len(demo.outside_account_ids) == 5
    assert 0 < demo.edits.share <= 0.05 and 0 < demo.glitches.share <= 0.05
    truth = World(demo, START).truth(at(180))
    assert any(p["repost_of"] for p in truth["posts"])
    assert any(p["edits"] for p in truth["posts"])
    assert any(a["glitches"] for a in truth["accounts"])


# ----------------------------------------------------------------------------- reposts


def test_generated_reposts_point_to_older_originals_of_other_accounts() -> None:
    world = quiet_world(reposts={"share": 0.3}, accounts={"count": 6, "posts_per_hour": 60})
    truth = world.truth(at(180))
    posts = {p["post_id"]: p for p in truth["posts"]}
    assert [a["account_id"] for a in truth["outside_accounts"]] == [
        str(uid) for uid in range(7210450101, 7210450106)]
    assert all(a["watched"] is False for a in truth["outside_accounts"])
    assert {a["account_id"] for a in truth["accounts"]} == {str(u) for u in range(5864320101, 5864320107)}
    reposts = [p for p in posts.values() if p["repost_of"]]
    assert 0.2 < len(reposts) / sum(p["watched"] for p in posts.values()) < 0.4
    outside = 0
    for repost in reposts:
        original = posts[repost["repost_of"]]
        assert repost["watched"] and original["repost_of"] is None
        assert original["account_id"] != repost["account_id"]
        assert original["created_at"] < repost["created_at"]
        outside += not original["watched"]
    assert 0.3 < outside / len(reposts) < 0.7  # about half come from the unwatched pool
    # Outside accounts only post originals, and never show up as reposters.
    assert not any(p["repost_of"] for p in posts.values() if not p["watched"])
    texts = Counter(p["text"] == "转发微博" for p in reposts)
    assert texts[True] > 0 and texts[False] > 0
    # Timelines carry the original inside the repost.
    repost = reposts[-1]
    detail = world.status(repost["post_id"], at(180))["data"]
    assert detail["retweeted_status"]["mid"] == repost["repost_of"]
    assert detail["pic_num"] == 0 and "pics" not in detail


def test_outside_posts_are_censored_like_any_post() -> None:
    world = quiet_world(
        reposts={"share": 0.3},
        sensitive_share=0.5,
        censor={"share": 1.0, "delay": [["1s", 0.0], ["60s", 1.0]]},
        accounts={"posts_per_hour": 60},
    )
    truth = world.truth(at(180))["posts"]
    removed_outside = [p for p in truth if not p["watched"] and p["removed_at"]]
    assert removed_outside and {p["cause"] for p in removed_outside} <= {
        "platform_removed",
        "removed_unattributed",
    }


def repost_world(**over: Any) -> tuple[World, str, str]:
    """5864320101 reposts 7210450101's newest post at 10 s; returns (world, repost mid, original mid)."""
    world = quiet_world(
        reposts={"outside_accounts": 2},
        events=[{"at": "10s", "do": "repost", "account": "5864320101",
                 "post": {"account": "7210450101", "nth": 0}}],
        **over,
    )
    original = world.account_posts("7210450101", START)[0]
    repost = world.account_posts("5864320101", at(10))[0]
    return world, repost, original


def test_repost_carries_the_whole_original_while_it_is_visible() -> None:
    world, repost, original = repost_world()
    truth = truth_of(world, at(30))
    assert truth[repost]["repost_of"] == original and truth[repost]["text"] == "转发微博"
    assert truth[repost]["created_at"] == "2024-05-01T04:00:10.000000Z"
    listed = mblogs(world.timeline("5864320101", 1, at(30)))[0]
    assert listed["mid"] == repost and listed["text"] == "转发微博"
    inner = listed["retweeted_status"]
    # the original as its own list shows it
    assert inner == mblogs(world.timeline("7210450101", 1, at(30)))[0]
    assert inner["user"]["id"] == 7210450101 and inner["mid"] == original
    detail = world.status(repost, at(30))["data"]
    assert detail["retweeted_status"] == world.status(original, at(30))["data"]
    assert detail["retweeted_status"]["created_at"].endswith("+0800 " + detail["created_at"][-4:])


def tombstone(mid: str, words: str, **flags: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "deleted" in flags:
        out["deleted"] = flags["deleted"]
    out["user"] = None
    if "state" in flags:
        out["state"] = flags["state"]
    return {**out, "visible": {"type": 0}, "text": words + HELP, "id": int(mid), "mid": mid, "idstr": mid}


@pytest.mark.parametrize(
    ("action", "words", "flags"),
    [
        ("author_delete", AUTHOR, {"deleted": "1", "state": 7}),
        ("censor_complaints", COMPLAINTS, {"deleted": "1", "state": 8}),
        ("censor_rules", RULES, {"deleted": "1", "state": 8}),
        ("remove_unattributed", "抱歉，此微博已被删除。", {"deleted": "1"}),
        ("unknown", "此微博暂时无法查看（代码 7731）", {"deleted": "1"}),
        ("restrict", PRIVACY, {}),
        ("restrict_halfyear", HALF_YEAR, {}),
        ("suspend", SUSPENDED_LAW, {}),
    ],
)
def test_removed_original_becomes_a_tombstone_in_the_repost(
    action: str, words: str, flags: dict[str, Any]
) -> None:
    world, repost, original = repost_world()
    if action == "suspend":
        world.schedule(at(60), "suspend", account_id="7210450101")
    else:
        world.schedule(at(60), action, post_id=original)
    expected = tombstone(original, words, **flags)
    for moment in (at(60), at(120)):
        shown = world.status(repost, moment)
        assert shown["ok"] == 1 and shown["data"]["mid"] == repost  # the repost stays visible
        assert shown["data"]["retweeted_status"] == expected
        listed = mblogs(world.timeline("5864320101", 1, moment))[0]
        assert listed["mid"] == repost and listed["retweeted_status"] == expected
    assert world.status(original, at(60)) == {"ok": 0, "errno": "20101", "msg": words}
    assert "retweeted_status" in world.status(repost, at(59))["data"]
    assert world.status(repost, at(59))["data"]["retweeted_status"]["mid"] == original
    assert "deleted" not in world.status(repost, at(59))["data"]["retweeted_status"]
    truth = truth_of(world, at(120))
    assert truth[original]["removed_at"] == "2024-05-01T04:01:00.000000Z"
    assert truth[original]["message"] == words and truth[original]["watched"] is False
    assert truth[repost]["removed_at"] is None


def test_restored_original_comes_back_inside_the_repost() -> None:
    world, repost, original = repost_world()
    world.schedule(at(60), "censor_rules", post_id=original)
    world.schedule(at(90), "restore", post_id=original)
    assert world.status(repost, at(70))["data"]["retweeted_status"]["deleted"] == "1"
    back = world.status(repost, at(90))["data"]["retweeted_status"]
    assert back == world.status(original, at(90))["data"]


def test_repost_by_schedule_and_its_limits() -> None:
    world = quiet_world()
    original = world.account_posts("5864320102", START)[3]
    (repost,) = world.schedule(at(5), "repost", account_id="5864320101", post_id=original,
                               text="说得对[doge]")
    detail = world.status(repost, at(6))["data"]
    assert detail["text"] == "说得对[doge]" and detail["retweeted_status"]["user"]["id"] == 5864320102
    with pytest.raises(ValueError, match="itself a repost"):
        world.schedule(at(7), "repost", account_id="5864320103", post_id=repost)
    with pytest.raises(ValueError, match="does not exist yet"):
        world.schedule(at(7), "repost", account_id="5864320103", post_id=repost_later(world))
    with pytest.raises(ValueError, match="post_id"):
        world.schedule(at(7), "repost", account_id="5864320103")


def repost_later(world: World) -> str:
    (mid,) = world.schedule(at(100), "post", account_id="5864320102")
    return mid


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"accounts": {"count": 10}, "reposts": {"share": 0.1, "outside_first_uid": 5864320105}},
            "scenario: reposts.outside_first_uid makes outside uids 5864320105..5864320109 overlap",
        ),
        ({"reposts": {"share": 2}}, "scenario: reposts.share must be between 0 and 1"),
        (
            {"events": [{"at": "1m", "do": "suspend", "account": "5864320101", "text": "x"}]},
            "scenario: events[0].text is only used by edit and repost",
        ),
        (
            {"events": [{"at": "1m", "do": "edit", "post": "4900000000000001", "for": "1m"}]},
            "scenario: events[0].for is only used by glitch_empty",
        ),
        (
            {"events": [{"at": "1m", "do": "glitch_empty", "account": "5864320101", "for": "0s"}]},
            "scenario: events[0].for must be longer than 0",
        ),
        (
            {"events": [{"at": "1m", "do": "repost", "account": "5864320101"}]},
            "scenario: events[0].post must name a post",
        ),
        (
            {"events": [{"at": "1m", "do": "repost", "account": "5864320101",
                         "post": {"account": "7210450101"}}]},
            "scenario: events[0].post.account '7210450101' is not one of the scenario's accounts",
        ),
        ({"glitches": {"share": 0.1, "duration": "-5s"}}, "scenario: glitches.duration must not be negative"),
    ],
)
def test_invalid_new_keys_name_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(data)
    assert str(err.value).startswith(message), str(err.value)


# ----------------------------------------------------------------------------- edits


def test_edit_event_changes_the_text_and_keeps_the_mid() -> None:
    new_text = "更正：时间是下午三点，不是上午。<b>"
    world = quiet_world(
        events=[{"at": "1m", "do": "edit", "post": {"account": "5864320101", "nth": 0}, "text": new_text}]
    )
    mid = world.account_posts("5864320101", START)[0]
    before = world.status(mid, at(59))["data"]
    assert before["edit_count"] == 0 and "edit_at" not in before
    after = world.status(mid, at(60))["data"]
    assert after["mid"] == mid and after["id"] == before["id"] and after["created_at"] == before["created_at"]
    assert after["text"] == "更正：时间是下午三点，不是上午。&lt;b&gt;"
    assert after["edit_count"] == 1 and after["edit_at"] == "Wed May 01 12:01:00 +0800 2024"
    listed = mblogs(world.timeline("5864320101", 1, at(60)))[0]
    assert listed["mid"] == mid and listed["text"] == after["text"] and listed["edit_count"] == 1
    assert world.extend(mid, at(60))["data"]["longTextContent"] == after["text"]
    # Another edit, by schedule, without text: the current text plus a sentence.
    world.schedule(at(90), "edit", post_id=mid)
    again = world.status(mid, at(90))["data"]
    assert again["edit_count"] == 2 and again["edit_at"] == "Wed May 01 12:01:30 +0800 2024"
    assert again["text"].startswith(after["text"]) and len(again["text"]) > len(after["text"])
    truth = truth_of(world, at(120))[mid]
    assert truth["original_text"] == truth_of(world, at(59))[mid]["text"] != new_text
    assert truth["edits"][0] == {"at": "2024-05-01T04:01:00.000000Z", "text": new_text}
    assert truth["edits"][1]["at"] == "2024-05-01T04:01:30.000000Z"
    assert truth["edits"][1]["text"].startswith(new_text) and truth["text"] == truth["edits"][1]["text"]
    assert truth_of(world, at(75))[mid]["edits"] == truth["edits"][:1]  # truth only shows the past
    # Keys the truth had before are unchanged.
    assert truth["removed_at"] is None and truth["cause"] is None


def test_generated_edits_follow_the_share_and_delay() -> None:
    world = quiet_world(
        edits={"share": 1.0, "delay": {"min": "10s", "max": "20s"}},
        author_delete={"share": 0.2, "delay": {"min": "1s", "max": "5s"}},
    )
    truth = world.truth(at(30))["posts"]
    edited = [p for p in truth if p["edits"]]
    deleted = [p for p in truth if p["removed_at"]]
    assert deleted and edited and len(edited) + len(deleted) == len(truth)  # no edit after removal
    for post in edited:
        (edit,) = post["edits"]
        assert "2024-05-01T04:00:10" <= edit["at"] <= "2024-05-01T04:00:20.000000Z"
        assert edit["text"].startswith(post["original_text"]) and post["text"] == edit["text"]
    assert all(not p["edits"] for p in world.truth(at(9))["posts"])


def test_edits_do_not_disturb_the_rest_of_the_world() -> None:
    base = {"seed": 5, "accounts": {"count": 6}, "restrict": {"share": 0.05}}
    plain = World(load_scenario(base), START).truth(at(600))["posts"]
    edited = World(load_scenario({**base, "edits": {"share": 0.5}}), START).truth(at(600))["posts"]
    keys = ("post_id", "created_at", "removed_at", "restored_at", "cause", "message", "original_text")
    assert [{k: p[k] for k in keys} for p in plain] == [{k: p[k] for k in keys} for p in edited]
    assert any(p["edits"] for p in edited)


# ----------------------------------------------------------------------------- long posts


def test_extend_gives_the_whole_text_of_a_long_post() -> None:
    world = quiet_world(long_share=1.0)
    listed = mblogs(world.timeline("5864320101", 1, START))[0]
    mid = listed["mid"]
    assert listed["isLongText"] is True and listed["text"].endswith(f'...<a href="/status/{mid}">全文</a>')
    detail = world.status(mid, START)["data"]
    extended = world.extend(mid, START)
    assert extended == {
        "ok": 1,
        "data": {
            "ok": 1,
            "longTextContent": detail["text"],
            "reposts_count": detail["reposts_count"],
            "comments_count": detail["comments_count"],
            "attitudes_count": detail["attitudes_count"],
        },
    }
    assert detail["isLongText"] is False and "全文" not in extended["data"]["longTextContent"]
    truth = truth_of(world, START)[mid]
    assert truth["long_text"] is True and len(truth["text"]) > 140
    listed_plain = re.sub(r"<[^>]*>", "", listed["text"].split("...<a")[0])
    assert truth["text"].startswith(listed_plain[:20])
    # Short posts answer too; the bid works; not visible = the /statuses/show answer.
    short = quiet_world().account_posts("5864320101", START)[0]
    assert quiet_world().extend(short, START)["data"]["longTextContent"]
    assert world.extend(detail["bid"], START) == extended
    world.schedule(at(10), "author_delete", post_id=mid)
    gone = {"ok": 0, "errno": "20101", "msg": AUTHOR}
    assert world.extend(mid, at(10)) == world.status(mid, at(10)) == gone
    assert world.extend("4900000000000000", START) == {"ok": 0, "errno": "20101", "msg": "该微博不存在"}


# ----------------------------------------------------------------------------- since_id


def test_since_id_walks_the_newer_container_strictly_older_each_time() -> None:
    world = quiet_world(accounts={"pinned_share": 1.0})
    first = world.timeline("5864320101", 1, START, "2304135864320101")
    info = first["data"]["cardlistInfo"]
    assert "page" not in info and info["containerid"] == "2304135864320101"
    assert mblogs(first)[0]["isTop"] == 1  # the pinned post leads the first page only
    pages, since = [mids(first)[1:]], info["since_id"]
    assert since == int(mids(first)[-1])  # since_id = the mid of the page's last (oldest) post
    while True:
        env = world.timeline("5864320101", 1, START, "2304135864320101", since_id=since)
        if env["ok"] != 1:
            assert env == NOTHING_HERE
            break
        assert all(int(m) < since for m in mids(env)) and "isTop" not in mblogs(env)[0]
        pages.append(mids(env))
        since = env["data"]["cardlistInfo"]["since_id"]
        assert "page" not in env["data"]["cardlistInfo"]
    assert [len(p) for p in pages] == [10, 10, 4]
    everything = [m for p in pages for m in p]
    pinned = mids(first)[0]
    assert everything == [m for m in world.account_posts("5864320101", START) if m != pinned]
    # The newer container ignores `page`; the old one keeps it, unless since_id is given.
    assert world.timeline("5864320101", 3, START, "2304135864320101") == first
    old = world.timeline("5864320101", 2, START, "1076035864320101")["data"]["cardlistInfo"]
    assert old["page"] == 3 and "since_id" not in old
    cursor = world.timeline("5864320101", 1, START, "1076035864320101", since_id=info["since_id"])
    assert mids(cursor) == pages[1] and "page" not in cursor["data"]["cardlistInfo"]


def test_cursor_pages_do_not_shift_when_posts_are_removed() -> None:
    world = quiet_world()
    first = world.timeline("5864320101", 1, START, "2304135864320101")
    since = first["data"]["cardlistInfo"]["since_id"]
    second_before = mids(world.timeline("5864320101", 1, START, "2304135864320101", since_id=since))
    page2_before = mids(world.timeline("5864320101", 2, START))
    world.schedule(at(10), "author_delete", post_id=mids(first)[0])
    world.schedule(at(10), "restrict", post_id=second_before[0])
    # page=2 shifts by one post; the cursor page keeps its place (the restricted post keeps its slot).
    assert mids(world.timeline("5864320101", 2, at(20))) == page2_before[1:] + [
        world.account_posts("5864320101", START)[20]
    ]
    assert mids(world.timeline("5864320101", 1, at(20), "2304135864320101",
                               since_id=since)) == second_before[1:]
    # A page whose last slot is restricted (not shown) still points past it.
    every = world.account_posts("5864320101", START)
    env = world.timeline("5864320101", 1, at(20), "2304135864320101", since_id=int(every[0]))
    assert mids(env) == every[1:10] and env["data"]["cardlistInfo"]["since_id"] == int(every[10])


# ----------------------------------------------------------------------------- profiles and glitches


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("suspend", SUSPENDED_LAW),
        ("close", "该账号因用户自行申请关闭，现已无法查看。"),
        ("lock", "该账号行为异常，存在安全风险，用户验证之前暂时不能查看。"),
    ],
)
def test_profile_is_user_info_or_the_accounts_words(action: str, words: str) -> None:
    world = quiet_world()
    profile = world.profile("5864320102", START)
    assert profile["ok"] == 1 and set(profile["data"]) >= {"userInfo", "tabsInfo"}
    user = profile["data"]["userInfo"]
    assert user["id"] == 5864320102 and isinstance(user["screen_name"], str) and user["screen_name"]
    assert user["statuses_count"] == 25
    tabs = profile["data"]["tabsInfo"]["tabs"]
    assert {"tab_type": "weibo", "containerid": "1076035864320102"}.items() <= tabs[1].items()
    world.schedule(at(30), action, account_id="5864320102")
    assert world.profile("5864320102", at(30)) == {"ok": 0, "msg": words}
    assert world.profile("5864320101", at(30))["ok"] == 1
    assert world.profile("9999", START) == NOTHING_HERE


def test_other_account_message_variants_reach_the_profile() -> None:
    words = "该账号内容存在风险，用户验证之前暂时不能查看。"
    world = quiet_world(events=[{"at": "5s", "do": "lock", "account": "5864320103", "message": words}])
    assert world.profile("5864320103", at(5)) == {"ok": 0, "msg": words}


def test_glitch_empties_the_timeline_while_everything_is_fine() -> None:
    world = quiet_world(events=[{"at": "1m", "do": "glitch_empty", "account": "5864320103", "for": "2m"}])
    posts = world.account_posts("5864320103", START)
    normal = world.timeline("5864320103", 1, at(59))
    assert normal["ok"] == 1
    for moment in (at(60), at(120), at(179)):
        assert world.timeline("5864320103", 1, moment) == NOTHING_HERE
        assert world.timeline("5864320103", 2, moment) == NOTHING_HERE
        assert world.timeline("5864320103", 1, moment, "2304135864320103") == NOTHING_HERE
        assert world.profile("5864320103", moment)["ok"] == 1  # the profile is fine
        assert world.status(posts[0], moment)["ok"] == 1  # and so are the posts
        assert world.extend(posts[5], moment)["ok"] == 1
        assert world.timeline("5864320102", 1, moment)["ok"] == 1  # other accounts are untouched
    assert mids(world.timeline("5864320103", 1, at(180))) == mids(normal)
    truth = world.truth(at(200))
    assert not any(p["removed_at"] for p in truth["posts"])
    account = {a["account_id"]: a for a in truth["accounts"]}["5864320103"]
    assert account["state"] == "active"
    assert account["glitches"] == [
        {"from": "2024-05-01T04:01:00.000000Z", "until": "2024-05-01T04:03:00.000000Z"}
    ]
    assert {a["account_id"]: a for a in world.truth(at(30))["accounts"]}["5864320103"]["glitches"] == []
    world.schedule(at(300), "glitch_empty", account_id="5864320101", duration=timedelta(seconds=30))
    assert world.timeline("5864320101", 1, at(329)) == NOTHING_HERE
    assert world.timeline("5864320101", 1, at(330))["ok"] == 1


def test_random_glitches_hit_the_share_of_accounts_within_the_run() -> None:
    world = quiet_world(accounts={"count": 40}, glitches={"share": 0.25, "duration": "30s"})
    accounts = world.truth(at(400))["accounts"]
    hit = [a for a in accounts if a["glitches"]]
    assert 5 <= len(hit) <= 15
    for account in hit:
        (glitch,) = account["glitches"]
        begin = datetime.fromisoformat(glitch["from"].replace("Z", "+00:00"))
        until = datetime.fromisoformat(glitch["until"].replace("Z", "+00:00"))
        assert START <= begin < at(180) and until - begin == timedelta(seconds=30)
        assert world.timeline(account["account_id"], 1, begin) == NOTHING_HERE
        assert world.timeline(account["account_id"], 1, until)["ok"] == 1


# ----------------------------------------------------------------------------- over HTTP


def get(conn: http.client.HTTPConnection, target: str) -> tuple[int, bytes]:
    conn.request("GET", target)
    response = conn.getresponse()
    return response.status, response.read()


def test_new_paths_over_http() -> None:
    scenario = load_scenario(merged(QUIET, {"long_share": 1.0, "accounts": {"pinned_share": 0}}))
    clock = ManualClock(START)
    with SandboxServer(scenario, clock=clock) as server:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        timeline = "/api/container/getIndex?type=uid&value=5864320101&containerid=2304135864320101"
        status, raw = get(conn, timeline)
        first = json.loads(raw)
        since = first["data"]["cardlistInfo"]["since_id"]
        status, raw = get(
            conn, f"{timeline}&since_id={since}"
        )
        second = json.loads(raw)
        assert status == 200 and mids(second) == server.world.account_posts("5864320101", START)[10:20]
        suffixed = "/api/container/getIndex?containerid=2304135864320101_-_WEIBO_SECOND_PROFILE_WEIBO"
        assert mids(json.loads(get(conn, f"{suffixed}&since_id={since}")[1])) == mids(second)
        mid = mids(first)[0]
        status, raw = get(conn, f"/statuses/extend?id={mid}")
        extended = json.loads(raw)
        assert status == 200 and extended["ok"] == 1 and extended["data"]["ok"] == 1
        assert extended == server.world.extend(mid, START)
        status, raw = get(conn, "/api/container/getIndex?type=uid&value=5864320102")
        assert json.loads(raw)["data"]["userInfo"]["id"] == 5864320102
        # Injected faults hit the new path like the others.
        server.inject_fault("http_418", "/statuses/extend")
        assert get(conn, f"/statuses/extend?id={mid}")[0] == 418
        assert get(conn, f"/statuses/extend?id={mid}")[0] == 200
        # Events over the back door: a glitch and an edit.
        body = json.dumps({"in": "0s", "do": "glitch_empty", "account_id": "5864320102", "for": "1m"})
        conn.request("POST", "/_sandbox/events", body=body)
        assert json.loads(conn.getresponse().read())["ok"] == 1
        emptied = get(conn, "/api/container/getIndex?containerid=1076035864320102")[1]
        assert json.loads(emptied) == NOTHING_HERE
        body = json.dumps({"in": 0, "do": "edit", "post_id": mid, "text": "改过了"})
        conn.request("POST", "/_sandbox/events", body=body)
        assert json.loads(conn.getresponse().read())["ok"] == 1
        clock.advance(1)
        detail = json.loads(get(conn, f"/statuses/show?id={mid}")[1])["data"]
        assert detail["text"] == "改过了" and detail["edit_count"] == 1
        server.world.schedule(clock.now(), "suspend", account_id="5864320103")
        profile = json.loads(get(conn, "/api/container/getIndex?type=uid&value=5864320103")[1])
        assert profile == {"ok": 0, "msg": SUSPENDED_LAW}
        conn.close()


def is_fault(status: int, raw: bytes) -> bool:
    if status != 200:
        return True
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError:
        return True  # truncated
    return payload.get("ok") == -100 or "message" in payload  # captcha, login wall


def test_fault_rate_is_about_the_scenario_rate_on_every_platform_path() -> None:
    scenario = load_scenario(
        merged(QUIET, {"seed": 21, "faults": {"rate": 0.1}, "accounts": {"count": 5}, "long_share": 0.2})
    )
    with SandboxServer(scenario, clock=ManualClock(START)) as server:
        world = server.world
        posts = [m for uid in scenario.account_ids for m in world.account_posts(uid, START)]
        targets = {
            "getIndex": [
                f"/api/container/getIndex?type=uid&value={u}&containerid=107603{u}&page={p}"
                for u in scenario.account_ids
                for p in (1, 2, 3)
            ],
            "show": [f"/statuses/show?id={m}" for m in posts],
            "extend": [f"/statuses/extend?id={m}" for m in posts],
        }
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        faults: Counter[str] = Counter()
        n = 600
        for path, urls in targets.items():
            for i in range(n):  # each URL asked several times: retries get fresh draws
                status, raw = get(conn, urls[i % len(urls)])
                faults[path] += is_fault(status, raw)
        conn.close()
        counted = sum(v for k, v in server.stats.items() if k.startswith("fault:"))
    assert counted == sum(faults.values())
    assert 0.08 <= sum(faults.values()) / (3 * n) <= 0.12
    for path in targets:
        assert 0.06 <= faults[path] / n <= 0.14, (path, faults)


# ----------------------------------------------------------------------------- scale


def test_a_big_world_builds_and_answers_pages_in_milliseconds() -> None:
    scenario = load_scenario(
        {
            "seed": 1,
            "start": "2024-05-01T04:00:00Z",
            "accounts": {"count": 200, "initial_posts": 60, "posts_per_hour": 0},
            "reposts": {"share": 0.05},
            "edits": {"share": 0.05},
            "glitches": {"share": 0.02},
        }
    )
    began = time.perf_counter()
    world = World(scenario, START)
    built = time.perf_counter() - began
    assert len(world.posts) >= 12_000
    moment = at(120)
    began = time.perf_counter()
    for uid in scenario.account_ids:
        for page in (1, 2, 3):
            world.timeline(uid, page, moment)
    per_page = (time.perf_counter() - began) / (3 * len(scenario.account_ids))
    # Accounts whose timeline answers at that moment (a glitch empties one for a while).
    answering = [uid for uid in scenario.account_ids
                 if world.timeline(uid, 1, moment, f"230413{uid}")["ok"] == 1][:50]
    assert len(answering) == 50
    began = time.perf_counter()
    for uid in answering:
        since = world.timeline(uid, 1, moment, f"230413{uid}")["data"]["cardlistInfo"]["since_id"]
        world.timeline(uid, 1, moment, f"230413{uid}", since_id=since)
    per_cursor = (time.perf_counter() - began) / 100
    # Measured ~1 s and ~0.3 ms; the bounds leave room for slow machines.
    assert built < 30 and per_page < 0.025 and per_cursor < 0.025, (built, per_page, per_cursor)
