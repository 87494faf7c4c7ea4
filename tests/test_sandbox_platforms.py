"""The simulated WeChat and Telegram pages: scenario sections, pages against the ground truth,
pagination, redirects, faults. (The parsers' view of them: test_wechat_parse, test_telegram_parse.)"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from e2e import QUIET_WEIBO

from memoryhole.sandbox import ManualClock, SandboxServer, ScenarioError, load_scenario
from memoryhole.sandbox.wechat import ACCOUNT_ACTIONS, ARTICLE_ACTIONS

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
BASE = {"seed": 4, "start": T0.isoformat(), "duration": 0, "faults": {"rate": 0},
        **QUIET_WEIBO}


def fetch(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.read(), response.url
    except urllib.error.HTTPError as error:
        return error.code, error.read(), url


@pytest.fixture
def server():
    scenario = load_scenario({
        **BASE,
        "wechat": {"accounts": 3, "articles": 10, "removals": {"share": 0.5},
                   "restore": {"share": 0.5},
                   "events": [{"at": "30s", "do": "migrate", "account": 2}]},
        "telegram": {"channels": 2, "posts": 50, "delete": {"share": 0.2},
                     "edits": {"share": 0.2}},
    })
    with SandboxServer(scenario, clock=ManualClock(T0)) as running:
        yield running


@pytest.mark.parametrize("section, problem", [
    ({"wechat": {"articels": 3}}, "wechat.articels"),
    ({"wechat": {"events": [{"at": "1m", "do": "vanish"}]}}, "wechat.events[0].do"),
    ({"telegram": {"channels": 0}}, "telegram.channels"),
    ({"telegram": {"events": [{"do": "delete", "channel": "nope"}]}}, "telegram.events[0].channel"),
])
def test_scenario_sections_are_checked(section, problem):
    with pytest.raises(ScenarioError, match=re.escape(problem)):
        load_scenario({**BASE, **section})


def test_without_sections_there_are_no_other_platforms():
    with SandboxServer(load_scenario(BASE), clock=ManualClock(T0)) as server:
        assert server.wechat is None and server.telegram is None
        assert fetch(server.url + "/wechat/s/abcdefgh")[0] == 404


def test_wechat_pages_say_what_the_truth_says_at_every_moment(server):
    for minute in (0, 1, 2, 3, 4):
        now = T0 + timedelta(minutes=minute)
        server.clock.set(now)
        for article in server.wechat.truth(now):
            status, body, _ = fetch(f"{server.url}/wechat/{article['item_id']}")
            assert status == 200
            page = body.decode("utf-8")
            if article["removed_at"] and not article["restored_at"]:
                assert 'id="js_content"' not in page and article["message"] in page
            else:
                assert 'id="js_content"' in page and article["title"] in page


def test_wechat_every_removal_kind_is_served(server):
    world = server.wechat
    for i, action in enumerate((*ARTICLE_ACTIONS, "migrating")):
        if action in ARTICLE_ACTIONS:
            world.schedule(T0 + timedelta(hours=1), action, article=i)
        else:
            world.schedule(T0 + timedelta(hours=1), action, account=1)
    truth = world.truth(T0 + timedelta(hours=2))
    causes = {a["cause"] for a in truth}
    messages = {a["message"] for a in truth}
    assert {c for c, _ in ARTICLE_ACTIONS.values()} <= causes
    assert {w for _, w in ARTICLE_ACTIONS.values()} <= messages
    assert ACCOUNT_ACTIONS["migrate"][1] in messages and ACCOUNT_ACTIONS["migrating"][1] in messages


def test_wechat_faults_are_its_own_pages(server):
    article = server.wechat.articles[0].item_id
    server.inject_fault("captcha", "/wechat/", 1)
    server.inject_fault("login_wall", "/wechat/", 1)
    assert "环境异常".encode() in fetch(f"{server.url}/wechat/{article}")[1]
    assert "访问过于频繁".encode() in fetch(f"{server.url}/wechat/{article}")[1]


def test_telegram_pages_list_every_visible_post_once_newest_pages_first(server):
    for minute in (0, 2, 4):
        now = T0 + timedelta(minutes=minute)
        server.clock.set(now)
        truth = server.telegram.truth(now)["posts"]
        for channel in ("mhchannel1", "mhchannel2"):
            expected = [p["number"] for p in truth if p["channel"] == channel
                        and not p["removed_at"]]
            seen, url = [], f"{server.url}/telegram/s/{channel}"
            while True:
                _, body, _ = fetch(url)
                page = body.decode("utf-8")
                numbers = [int(n) for n in re.findall(rf'data-post="{channel}/(\d+)"', page)]
                assert numbers == sorted(numbers) and len(numbers) <= 20   # oldest to newest
                seen = numbers + seen
                more = re.search(r'data-before="(\d+)"', page)
                if not more:
                    break
                url = f"{server.url}/telegram/s/{channel}?before={more[1]}"
            assert seen == sorted(expected)
            deleted = [p for p in truth if p["channel"] == channel and p["removed_at"]]
            for post in deleted[:3]:
                body = fetch(f"{server.url}/telegram/{post['post_id']}?embed=1")[1]
                assert b"tgme_widget_message_error" in body and b"Post not found" in body


def test_telegram_a_hidden_preview_redirects_away_from_s(server):
    server.telegram.schedule(T0 + timedelta(minutes=1), "hide_preview", "mhchannel1")
    assert "/s/" in fetch(f"{server.url}/telegram/s/mhchannel1")[2]
    server.clock.set(T0 + timedelta(minutes=2))
    status, body, final = fetch(f"{server.url}/telegram/s/mhchannel1")
    assert status == 200 and final.endswith("/telegram/mhchannel1")
    assert b"tgme_channel_history" not in body


def test_the_same_seed_gives_the_same_worlds():
    scenario = {**BASE, "wechat": {}, "telegram": {}}
    with SandboxServer(load_scenario(scenario), clock=ManualClock(T0)) as a, \
            SandboxServer(load_scenario(scenario), clock=ManualClock(T0)) as b:
        later = T0 + timedelta(hours=1)
        assert a.wechat.truth(later) == b.wechat.truth(later)
        assert a.telegram.truth(later) == b.telegram.truth(later)
