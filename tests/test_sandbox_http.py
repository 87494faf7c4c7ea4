"""The simulated platform over real HTTP: routes, faults, the back door. Time is a ManualClock."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memoryhole.sandbox import ManualClock, SandboxServer, SystemClock, load_scenario

START = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)

QUIET: dict[str, Any] = {
    "seed": 3,
    "start": "2024-05-01T04:00:00Z",
    "accounts": {"count": 3, "pinned_share": 0, "initial_posts": 25, "posts_per_hour": 0},
    "sensitive_share": 0,
    "card_group_share": 0,
    "author_delete": {"share": 0},
    "censor": {"share": 0},
    "restrict": {"share": 0, "initial_share": 0},
    "restore": {"share": 0},
    "suspend": {"accounts": 0},
    "faults": {"rate": 0, "slow_seconds": 0.2},
}
TIMELINE = "/api/container/getIndex?type=uid&value=5864320101&containerid=1076035864320101&page=1"


def fetch(
    url: str, method: str = "GET", body: dict[str, Any] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def get_json(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    status, headers, raw = fetch(url, method, body)
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    return status, json.loads(raw.decode("utf-8"))


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(load_scenario(QUIET), clock=ManualClock(START)) as srv:
        yield srv


def test_timeline_and_probe_over_http(server: SandboxServer) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}" and server.port > 0
    status, headers, raw = fetch(server.url + TIMELINE)
    assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(headers["Content-Length"]) == len(raw)
    assert "\\u" not in raw.decode("utf-8")  # ensure_ascii=False: Chinese is sent as UTF-8
    page = json.loads(raw)
    cards = page["data"]["cards"]
    assert page["ok"] == 1 and len(cards) == 10
    mid = cards[0]["mblog"]["mid"]
    status, detail = get_json(f"{server.url}/statuses/show?id={mid}")
    assert status == 200 and detail["ok"] == 1 and detail["data"]["mid"] == mid
    # The other container id works too, and page 2 continues the list.
    _, alt = get_json(server.url + TIMELINE.replace("1076035864320101", "2304135864320101"))
    assert [c["mblog"]["mid"] for c in alt["data"]["cards"]] == [c["mblog"]["mid"] for c in cards]
    _, page2 = get_json(server.url + TIMELINE.replace("page=1", "page=2"))
    assert int(page2["data"]["cards"][0]["mblog"]["mid"]) < int(cards[-1]["mblog"]["mid"])
    _, end = get_json(server.url + TIMELINE.replace("page=1", "page=9"))
    assert end == {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}


def test_clock_drives_answers(server: SandboxServer) -> None:
    mid = server.world.account_posts("5864320101", START)[0]
    server.world.schedule(START + timedelta(minutes=1), "author_delete", post_id=mid)
    assert get_json(f"{server.url}/statuses/show?id={mid}")[1]["ok"] == 1
    status, now = get_json(server.url + "/_sandbox/clock", "POST", {"advance": 60})
    assert status == 200 and now == {"now": "2024-05-01T04:01:00.000000Z"}
    assert get_json(server.url + "/_sandbox/clock")[1] == now
    _, gone = get_json(f"{server.url}/statuses/show?id={mid}")
    assert gone == {"ok": 0, "errno": "20101", "msg": "抱歉，此微博已被作者删除。"}
    _, truth = get_json(server.url + "/_sandbox/truth")
    assert truth["now"] == now["now"]
    entry = {p["post_id"]: p for p in truth["posts"]}[mid]
    assert entry["cause"] == "author_deleted" and entry["removed_at"] == now["now"]
    get_json(server.url + "/_sandbox/clock", "POST", {"now": "2024-05-01T04:00:30Z"})
    assert get_json(f"{server.url}/statuses/show?id={mid}")[1]["ok"] == 1  # replaying the past


def test_clock_cannot_move_on_the_system_clock() -> None:
    with SandboxServer(load_scenario(QUIET), clock=SystemClock()) as srv:
        status, body = get_json(srv.url + "/_sandbox/clock", "POST", {"advance": 5})
    assert status == 409 and body["ok"] == 0


def test_events_endpoint_schedules(server: SandboxServer) -> None:
    status, body = get_json(
        server.url + "/_sandbox/events", "POST",
        {"in": "10s", "do": "post", "account_id": "5864320102", "count": 2}
    )
    assert status == 200 and len(body["post_ids"]) == 2
    status, body = get_json(
        server.url + "/_sandbox/events", "POST", {"in": 5, "do": "vanish", "account_id": "5864320102"}
    )
    assert status == 400 and "vanish" in body["error"]


def test_unknown_paths_are_json_404(server: SandboxServer) -> None:
    status, body = get_json(server.url + "/nothing/here")
    assert status == 404 and body["ok"] == 0
    assert get_json(server.url + "/_sandbox/nothing")[0] == 404


@pytest.mark.parametrize(
    ("kind", "code"),
    [("http_500", 500), ("http_502", 502), ("http_418", 418), ("http_432", 432), ("http_403", 403)],
)
def test_status_faults(server: SandboxServer, kind: str, code: int) -> None:
    server.inject_fault(kind, "containerid=1076035864320101")
    assert fetch(server.url + TIMELINE)[0] == code
    assert fetch(server.url + TIMELINE)[0] == 200  # consumed


def test_captcha_and_login_wall(server: SandboxServer) -> None:
    server.inject_fault("captcha")
    server.inject_fault("login_wall")
    assert get_json(server.url + TIMELINE) == (
        200,
        {"ok": -100, "errno": "-100", "msg": "", "url": "https://m.weibo.cn/captcha?scene=limit&referer=/"},
    )
    assert get_json(server.url + TIMELINE) == (200, {"ok": 0, "message": "前方有点拥堵，请登录后使用"})
    assert get_json(server.url + TIMELINE)[1]["ok"] == 1


def test_truncated_body(server: SandboxServer) -> None:
    _, _, whole = fetch(server.url + TIMELINE)
    server.inject_fault("truncated", "/api/container")
    status, headers, cut = fetch(server.url + TIMELINE)
    assert status == 200 and int(headers["Content-Length"]) == len(cut)
    assert whole.startswith(cut) and 0.4 < len(cut) / len(whole) < 0.6
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut)


def test_slow_fault_answers_normally_after_a_delay(server: SandboxServer) -> None:
    server.inject_fault("slow")
    began = time.monotonic()
    status, body = get_json(server.url + TIMELINE)
    assert time.monotonic() - began >= 0.2
    assert status == 200 and body["ok"] == 1


def test_injected_faults_over_http_match_count_and_clear(server: SandboxServer) -> None:
    status, body = get_json(
        server.url + "/_sandbox/faults",
        "POST",
        {"kind": "http_418", "path_contains": "/statuses/show", "count": -1},
    )
    assert status == 200 and body["faults"][0]["remaining"] == -1
    for _ in range(3):
        assert fetch(server.url + "/statuses/show?id=1")[0] == 418
    assert fetch(server.url + TIMELINE)[0] == 200  # other paths are not matched
    assert get_json(server.url + "/_sandbox/truth")[0] == 200  # never on the back door
    assert get_json(server.url + "/_sandbox/faults", "DELETE")[1] == {"ok": 1, "cleared": 1}
    assert fetch(server.url + "/statuses/show?id=1")[0] == 200
    assert get_json(server.url + "/_sandbox/faults", "POST", {"kind": "nope"})[0] == 400


def _fault_pattern(rate: float, seed: int) -> list[int]:
    scenario = load_scenario({**QUIET, "seed": seed, "faults": {"rate": rate, "kinds": ["http_500"]}})
    with SandboxServer(scenario, clock=ManualClock(START)) as srv:
        codes = [fetch(srv.url + TIMELINE.replace("page=1", f"page={n % 3 + 1}"))[0] for n in range(30)]
        assert fetch(srv.url + "/_sandbox/truth")[0] == 200
        assert srv.stats["fault:http_500"] == codes.count(500)
    return codes


def test_random_faults_are_reproducible_and_retries_can_succeed() -> None:
    first, again = _fault_pattern(0.3, 3), _fault_pattern(0.3, 3)
    assert first == again and 500 in first and 200 in first
    assert _fault_pattern(0.3, 4) != first
    assert set(_fault_pattern(1.0, 3)) == {500}


def test_blocking_serve_stops_from_another_thread() -> None:
    srv = SandboxServer(load_scenario(QUIET), clock=ManualClock(START))
    runner = threading.Thread(target=srv.serve_forever)
    runner.start()
    assert get_json(srv.url + "/_sandbox/clock")[1] == {"now": "2024-05-01T04:00:00.000000Z"}
    srv.stop()
    runner.join(timeout=2)
    assert not runner.is_alive()
    with pytest.raises(OSError):
        fetch(srv.url + "/_sandbox/clock")
