"""Getting through the gate, end to end: the simulated platform demands visitor cookies (a first
visit is redirected to the visitor page, an expired cookie gets 432), rate-limits each session
with 418 / 432 / captcha / empty pages and Retry-After; the real pipeline, on a driven clock,
must keep recall >= 99% with no false removal, through visitor sessions and cool-downs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sandbox_worlds import merged

WORLD = {
    "seed": 5, "start": "2026-01-05T01:00:00Z", "duration": "50m",
    "accounts": {"count": 10, "first_uid": 5864320101, "pinned_share": 0.2, "initial_posts": 20,
                 "posts_per_hour": 4},
    "sensitive_share": 0.3, "long_share": 0.05,
    "author_delete": {"share": 0.05, "delay": {"min": "2m", "max": "40m"}},
    "censor": {"share": 0.6, "delay": [["5m", 0.0], ["30m", 0.5], ["50m", 1.0]]},
    "restore": {"share": 0.1, "delay": {"min": "10m", "max": "20m"}},
    "suspend": {"accounts": 1, "at": "20m"},
    "faults": {"rate": 0.0},
    "gate": {"without_cookie": "redirect", "when_expired": "http_432", "visitor_expires": "4m",
             "rate_limit": {"requests": 25, "window": "5s", "ban": "0.3s",
                            "answers": ["http_418", "captcha", "empty", "http_432"]}},
}
# Tiny cool-downs (the platform's bans last 0.3 s here), no pacing: a CI-sized campaign.
ACCESS = {"visitor": True, "pace": {"min": "0s", "max": "0s"},
          "cooldown": {"base": "0.2s", "max": "2s", "jitter": 0.2, "retries": 8}}


# Each campaign runs in its own process: Twisted's reactor cannot start twice in one.
RUN = """
import json, sys, time
from memoryhole.corpus.store import Corpus
from memoryhole.validation import validate
world, access, cycles, data, reparse = json.loads(sys.argv[1])
TABLES = ("pages", "probes", "sightings", "candidates", "removals", "fetch_failures")


def reparsed(data):
    from memoryhole.crawlers.reparse import reparse
    report = reparse(data, data + "-reparsed")
    again = Corpus(data + "-reparsed", create=False)
    return {"unrequested": report.unrequested, "unanswered": report.unanswered,
            "tables": {t: again.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                       for t in TABLES}}


began = time.monotonic()
run = validate(world, data, cycles=cycles, every=300, pages=2, plan_extra={"access": access})
corpus = Corpus(data, create=False)
stats = [json.loads(r[0] or "{}") for r in corpus.db.execute("SELECT stats_json FROM crawls")]
print(json.dumps({
    "recall": run.card.recall, "precision": run.card.precision,
    "observable": run.card.observable, "detected": run.card.detected,
    "false_removals": len(run.card.false_removals), "gate": run.gate,
    "cooldowns": [dict(r) for r in corpus.db.query("SELECT * FROM cooldowns")],
    "visitors": sum(s.get("memoryhole/visitor_sessions", 0) for s in stats),
    "failures": dict(corpus.db.execute(
        "SELECT failure, COUNT(*) FROM fetch_failures GROUP BY failure").fetchall()),
    "seconds": round(time.monotonic() - began, 1),
    "tables": {t: corpus.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES},
    "reparsed": reparsed(data) if reparse else None}))
"""


def campaign(tmp_path, monkeypatch, world=WORLD, access=ACCESS, cycles=8,
             reparse=False) -> dict:
    monkeypatch.delenv("MEMORYHOLE_COOLDOWNS", raising=False)   # the suite turns them off
    done = subprocess.run(
        [sys.executable, "-c", RUN, json.dumps([world, access, cycles, str(tmp_path / "data"), reparse])],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\ngate campaign: { {k: v for k, v in result.items() if k != 'cooldowns'} }, "
          f"cool-downs {len(result['cooldowns'])}")
    return result


def test_a_campaign_through_expiring_visitor_cookies_and_bans_keeps_recall(tmp_path,
                                                                           monkeypatch):
    run = campaign(tmp_path, monkeypatch, reparse=True)
    gate, cooldowns = run["gate"], run["cooldowns"]
    # The gate was really there: first visits redirected, cookies expired, sessions banned.
    assert gate["no_cookie"] > 0 and gate["expired"] > 0 and gate["blocked"] > 0
    assert run["visitors"] >= 2 and gate["visitors_issued"] == run["visitors"]
    assert cooldowns and {c["cause"] for c in cooldowns} <= {
        "anti_crawler", "captcha", "user_agent_refused"}
    assert all(c["session"].startswith("visitor-") for c in cooldowns)
    assert all(c["started_at"] < c["until"] for c in cooldowns)
    assert run["failures"].get("anti_crawler", 0) > 0
    # ... and measurement did not suffer.
    assert run["observable"] >= 40
    assert run["false_removals"] == 0 and run["precision"] == 1.0
    assert run["recall"] >= 0.99
    # The archive replays the same corpus: redirects to the visitor page, answers set aside
    # during cool-downs and blocked requests asked again are matched as the crawl made them.
    assert run["reparsed"] == {"unrequested": 0, "unanswered": 0, "tables": run["tables"]}


def test_without_cool_downs_and_visitor_sessions_the_gate_wins(tmp_path, monkeypatch):
    """The same world, with visitor sessions off: every answer is the visitor page, nothing is
    measured (and nothing is falsely removed). Shows the campaign above needed the sessions."""
    access = {**ACCESS, "visitor": False}
    run = campaign(tmp_path, monkeypatch, access=access, cycles=2)
    assert run["visitors"] == 0 and run["gate"].get("visitors_issued", 0) == 0
    assert run["gate"]["no_cookie"] > 0
    assert run["detected"] == 0 and run["false_removals"] == 0


@pytest.mark.long
def test_a_longer_campaign_with_bans_that_answer_empty_pages(tmp_path, monkeypatch):
    world = merged(WORLD, {"accounts": {"count": 30}, "duration": "100m",
                           "gate": {"rate_limit": {"requests": 15, "answers":
                                                   ["captcha", "empty", "http_418", "empty"]}}})
    run = campaign(tmp_path, monkeypatch, world=world, cycles=20)
    assert run["cooldowns"] and run["visitors"] >= 4
    assert run["false_removals"] == 0 and run["recall"] >= 0.99


def test_the_plan_names_cookies_and_never_repeats_a_value(tmp_path):
    from memoryhole.crawlers.plan import PlanError, load_plan, plan_from_dict

    base = {"platform": "weibo", "watchlists": [{"name": "w", "accounts": [1001]}]}
    (tmp_path / "plan.yaml").write_text(json.dumps(
        {**base, "access": {"cookies": {"file": "cookies.txt"}}}))
    plan = load_plan(tmp_path / "plan.yaml")
    assert plan.access.cookies.file == str((tmp_path / "cookies.txt").resolve())
    assert plan.access.visitor is True          # Weibo hands out visitor sessions
    assert plan.as_record()["access"]["cookies"] == {"file": plan.access.cookies.file,
                                                     "env": None}
    again = plan_from_dict(json.loads(json.dumps(plan.as_record())))   # as reparse reads it
    assert again.access == plan.access
    for pasted in ({"cookies": "SUB=_2A25secret"}, {"cookies": {"env": "SUB=_2A25secret"}},
                   {"cookies": {"file": "SUB=_2A25secret; SUBP=x"}},
                   {"cookies": {"SUB=_2A25secret": None}}):   # YAML `cookies: {SUB=...}`
        with pytest.raises(PlanError) as error:
            plan_from_dict({**base, "access": pasted})
        assert "_2A25secret" not in str(error.value) and "not shown" in str(error.value)
    with pytest.raises(PlanError, match="one of file or env"):
        plan_from_dict({**base, "access": {"cookies": {"file": "a", "env": "B"}}})
    with pytest.raises(PlanError, match="telegram has no visitor sessions"):
        plan_from_dict({"platform": "telegram", "watchlists": [{"name": "w", "accounts": ["c"]}],
                        "access": {"visitor": True}})
    with pytest.raises(PlanError, match="max must not be below base"):
        plan_from_dict({**base, "access": {"cooldown": {"base": "1h", "max": "1m"}}})


def test_retry_after_in_seconds_or_as_a_date():
    from datetime import UTC, datetime

    from memoryhole.crawlers.cooldown import retry_after
    from scrapy.http import Response

    def answer(value):
        return Response("http://x/", status=418, headers={"Retry-After": value})

    assert retry_after(answer("120")) == 120.0
    now = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    assert retry_after(answer("Mon, 05 Jan 2026 01:02:00 GMT"), now) == 120.0
    assert retry_after(answer("soon")) is None
    assert retry_after(Response("http://x/", status=418)) is None


def test_a_scenario_gate_is_checked_and_off_by_default():
    from memoryhole.sandbox import ScenarioError, load_scenario

    assert load_scenario({}).gate is None
    gate = load_scenario({"gate": {"without_cookie": "empty", "visitor_expires": "2m",
                                   "rate_limit": {"requests": 3}}}).gate
    assert (gate.without_cookie, gate.visitor_expires, gate.rate_limit.requests) == (
        "empty", 120.0, 3)
    with pytest.raises(ScenarioError, match="gate.without_cookie"):
        load_scenario({"gate": {"without_cookie": "teapot"}})
    with pytest.raises(ScenarioError, match="gate.rate_limit.answers"):
        load_scenario({"gate": {"rate_limit": {"answers": ["http_200"]}}})


@pytest.mark.long
def test_without_cool_downs_long_bans_cost_recall(tmp_path, monkeypatch):
    """418 bans of 1.5 s: retried at once (cool-downs off) the blocked requests use up their
    retries inside the ban (measured: recall 82% and 92% in two runs, 144-216 blocked answers);
    with cool-downs that honour Retry-After nothing is lost (100%, 5-12 blocked answers)."""
    world = merged(WORLD, {"gate": {"rate_limit": {"ban": "1.5s", "answers": ["http_418"]}}})
    off = campaign(tmp_path / "off", monkeypatch, world=world,
                   access={**ACCESS, "cooldown": {"base": "0s"}})
    on = campaign(tmp_path / "on", monkeypatch, world=world)
    assert off["cooldowns"] == [] and off["recall"] < 0.99
    assert on["cooldowns"] and on["recall"] >= 0.99
    assert on["gate"]["blocked"] < off["gate"]["blocked"]
    assert off["false_removals"] == on["false_removals"] == 0


def test_ignoring_robots_txt_is_said_once(tmp_path, caplog):
    from memoryhole.crawlers.plan import plan_from_dict
    from memoryhole.crawlers.spiders import TIMELINE_SPIDERS
    from scrapy.crawler import Crawler
    from scrapy.settings import Settings

    plan = plan_from_dict({"platform": "weibo", "name": f"robots-{tmp_path.name}",
                           "watchlists": [{"name": "w", "accounts": [1001]}],
                           "politeness": {"obey_robots_txt": False}})
    spider_cls = TIMELINE_SPIDERS["weibo"]
    for _ in range(2):
        spider_cls.from_crawler(Crawler(spider_cls, Settings()), plan=plan, data=str(tmp_path))
    said = [r for r in caplog.records if "not to obey robots.txt" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "WARNING"


def test_the_weibo_visitor_flow_as_public_clients_run_it():
    """The steps yt-dlp takes (crawlers/sessions.py names the sources), on their own: which
    redirects mean "visitor cookies needed", the genvisitor POST, the incarnate URL made from
    its JSONP answer, and SUB/SUBP from the answer's Set-Cookie headers."""
    from urllib.parse import parse_qs, urlsplit

    from memoryhole.crawlers.sessions import WeiboVisitorFlow
    from scrapy.http import Response

    flow = WeiboVisitorFlow()
    assert flow.is_visitor_page("https://passport.weibo.com/visitor/visitor?entry=miniblog"
                                "&a=enter&url=https%3A%2F%2Fm.weibo.cn%2F")
    assert not flow.is_visitor_page("https://m.weibo.cn/status/4189191225395228")
    assert not flow.is_visitor_page("https://passport.weibo.com/signin/login")
    assert flow.passport("https://m.weibo.cn") == "https://passport.weibo.com"
    assert flow.passport("http://127.0.0.1:8765") == "http://127.0.0.1:8765"
    first = flow.genvisitor("https://passport.weibo.com")
    assert (first.method, first.url) == ("POST", "https://passport.weibo.com/visitor/genvisitor")
    assert parse_qs(first.body.decode())["cb"] == ["gen_callback"]
    answer = (b'window.gen_callback && gen_callback({"retcode":20000000,"msg":"succ",'
              b'"data":{"tid":"abc=","new_tid":false,"confidence":95}});')
    second = flow.incarnate("https://passport.weibo.com", answer)
    query = parse_qs(urlsplit(second.url).query)
    assert {k: query[k] for k in ("a", "t", "w", "c", "cb", "from")} == {
        "a": ["incarnate"], "t": ["abc="], "w": ["2"], "c": ["095"], "cb": ["cross_domain"],
        "from": ["weibo"]}
    done = Response(second.url, headers=[("Set-Cookie", "SUB=_2A25x; path=/; domain=.weibo.com"),
                                         ("Set-Cookie", "SUBP=0033W; path=/")],
                    body=b'window.cross_domain && cross_domain({"retcode":20000000});')
    assert [(c.name, c.value) for c in flow.session_cookies(done)] == [
        ("SUB", "_2A25x"), ("SUBP", "0033W")]
    with pytest.raises(ValueError):
        flow.session_cookies(Response(second.url, body=b'cross_domain({"retcode":20003000})'))


def test_a_crawl_told_to_stop_does_not_wait_out_a_cool_down():
    """A request held for an hours-long cool-down is given up as soon as the crawl stops
    (SIGINT/SIGTERM stop the engine), instead of keeping the process for hours."""
    import asyncio
    import time
    from types import SimpleNamespace

    from memoryhole.crawlers.cooldown import CooldownMiddleware, HostState
    from memoryhole.crawlers.plan import plan_from_dict
    from scrapy import Request
    from scrapy.exceptions import IgnoreRequest

    plan = plan_from_dict({"platform": "weibo", "watchlists": [{"name": "w", "accounts": [1]}],
                           "access": {"cooldown": {"hold": "1d"}}})   # held, however long
    engine = SimpleNamespace(running=True)
    middleware = CooldownMiddleware(SimpleNamespace(engine=engine), plan)
    middleware.hosts = {"cooling.example:80": HostState(until=time.monotonic() + 3 * 3600)}

    async def stop_soon():
        await asyncio.sleep(0.3)
        engine.running = False

    async def held():
        stopper = asyncio.ensure_future(stop_soon())
        began = time.monotonic()
        with pytest.raises(IgnoreRequest, match="stopped while cooling.example:80"):
            await middleware.process_request(Request("http://cooling.example:80/x"))
        await stopper
        return time.monotonic() - began

    assert asyncio.run(held()) < 3


def test_a_cool_down_longer_than_the_hold_is_not_waited_for_by_the_crawl():
    """A host banned for hours does not hold the crawl (and with it the campaign's tick, and
    its other platforms): the request is not sent, a `cooling_down` failure; a short cool-down
    is waited out."""
    import asyncio
    import time
    from types import SimpleNamespace

    from memoryhole.crawlers import failures
    from memoryhole.crawlers.cooldown import CooldownMiddleware, HostState
    from memoryhole.crawlers.plan import plan_from_dict
    from scrapy import Request
    from scrapy.exceptions import IgnoreRequest

    plan = plan_from_dict({"platform": "weibo", "watchlists": [{"name": "w", "accounts": [1]}]})
    assert plan.access.cooldown.hold == 300.0
    middleware = CooldownMiddleware(SimpleNamespace(engine=SimpleNamespace(running=True)), plan)
    middleware.hosts = {"banned.example:80": HostState(until=time.monotonic() + 3 * 3600),
                        "resting.example:80": HostState(until=time.monotonic() + 0.3)}

    async def ask(url: str) -> float:
        began = time.monotonic()
        await middleware.process_request(Request(url))
        return time.monotonic() - began

    with pytest.raises(IgnoreRequest) as raised:
        asyncio.run(ask("http://banned.example:80/x"))
    assert failures.failure_for_exception(raised.value) == failures.COOLING_DOWN
    assert 0.25 < asyncio.run(ask("http://resting.example:80/x")) < 3
