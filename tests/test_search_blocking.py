"""Search blocking: the search-page parser on fixtures, the minimization algorithm, the plan's
search section, and block/unblock intervals in the corpus."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from e2e import memoryhole
from hypothesis import given, settings
from hypothesis import strategies as st
from memoryhole.corpus import schema
from memoryhole.corpus import search_blocking as store
from memoryhole.corpus.store import Corpus
from memoryhole.crawlers import failures
from memoryhole.crawlers.minimize import minimal_blocked_substrings, minimize_with
from memoryhole.crawlers.plan import PlanError, SearchPlan, plan_from_dict
from memoryhole.crawlers.platforms.weibo import signatures
from memoryhole.crawlers.platforms.weibo_search import parse_search, search_url
from memoryhole.crawlers.search_campaign import Fetched, Pacing, minimize

FIXTURES = Path(__file__).parent / "fixtures" / "weibo_search"
MANIFEST = yaml.safe_load((FIXTURES / "manifest.yaml").read_text("utf-8"))["fixtures"]
T0 = datetime(2026, 3, 1, tzinfo=UTC)
BLOCKED_PAGE = (FIXTURES / "desktop_blocked.html").read_bytes()
RESULTS_PAGE = (FIXTURES / "desktop_results.html").read_bytes()
CAPTCHA_PAGE = (FIXTURES / "desktop_captcha.html").read_bytes()


# --- the parser ---------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_fixture(entry):
    result = parse_search(200, (FIXTURES / entry["name"]).read_bytes(), entry["endpoint"])
    assert result.outcome == entry["outcome"], result
    for key in ("message", "failure", "result_count", "results_shown"):
        if key in entry:
            assert getattr(result, key) == entry[key], key


@pytest.mark.parametrize(("status", "body", "location", "failure"), [
    (302, b"", "https://passport.weibo.com/visitor/visitor?entry=miniblog", failures.LOGIN_WALL),
    (302, b"", "https://s.weibo.com/elsewhere", failures.UNEXPECTED_STATUS),
    (502, b"<html>502 Bad Gateway</html>", None, failures.SERVER_ERROR),
    (418, b"", None, "anti_crawler"),
    (432, b"", None, "user_agent_refused"),
    (403, BLOCKED_PAGE, None, failures.IP_LIMITED),   # the status wins over the words
    (200, b"", None, failures.UNPARSEABLE_BODY),
    (200, RESULTS_PAGE[:len(RESULTS_PAGE) // 3], None, failures.TRUNCATED_BODY),
    (200, b"<html><body>\xe5\x89\x8d\xe6\x96\xb9\xe6\x9c\x89\xe7\x82\xb9\xe6\x8b\xa5\xe5\xa0"
          b"\xb5\xef\xbc\x8c\xe8\xaf\xb7\xe7\x99\xbb\xe5\xbd\x95\xe5\x90\x8e\xe4\xbd\xbf\xe7"
          b"\x94\xa8</body></html>", None, failures.LOGIN_WALL),
    (200, b"<html><body><p>welcome</p></body></html>", None, failures.UNEXPECTED_ANSWER),
])
def test_answers_that_are_not_observations(status, body, location, failure):
    result = parse_search(status, body, "desktop", location)
    assert (result.outcome, result.failure) == ("failed", failure)


def test_a_captcha_page_that_also_shows_blocked_words_is_still_a_captcha():
    body = CAPTCHA_PAGE.replace(b"</body>", "<p>根据相关法律法规和政策</p></body>".encode())
    assert parse_search(200, body).failure == failures.CAPTCHA


def test_blocked_words_come_from_the_signature_file_and_mobile_ones_stay_unconfirmed():
    sigs = signatures()
    assert [s.words for s in sigs.table("search_blocked")] == ["根据相关法律法规和政策"]
    assert [s.words for s in sigs.table("search_no_results")] == ["抱歉，未找到"]
    mobile = parse_search(200, (FIXTURES / "mobile_blocked.json").read_bytes(), "mobile")
    assert mobile.outcome == "unknown" and "unconfirmed" in mobile.detail


def test_search_urls():
    assert search_url("https://s.weibo.com/", "六四 天安门") == \
        "https://s.weibo.com/weibo?q=%E5%85%AD%E5%9B%9B%20%E5%A4%A9%E5%AE%89%E9%97%A8"
    assert search_url("https://m.weibo.cn", "白纸", "mobile") == (
        "https://m.weibo.cn/api/container/getIndex?containerid=100103type%3D1%26q%3D%E7%99%BD"
        "%E7%BA%B8&page_type=searchall")


# --- the minimization ---------------------------------------------------------------------------


def substring_filter(*keywords: str):
    return lambda text: any(k in text for k in keywords)


@pytest.mark.parametrize(("phrase", "keywords", "expect"), [
    ("我们去天安门广场", ("天安门",), ["天安门"]),
    ("六四天安门事件和法轮功", ("天安门", "法轮功"), ["天安门", "法轮功"]),
    ("法轮功", ("法轮功",), ["法轮功"]),
    ("关于习包子的笑话大全", ("习包子",), ["习包子"]),          # straddles the first cut
    ("今天天气不错", ("天安门",), []),                           # not blocked: one probe
    ("白", ("白",), ["白"]),
])
def test_minimal_substrings(phrase, keywords, expect):
    found, probes = minimize_with(phrase, substring_filter(*keywords))
    assert found == expect
    # Not blocked: the phrase alone; blocked: a few searches per character at most.
    assert probes == 1 if not expect else 1 <= probes <= 3 * len(phrase)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="甲乙丙丁戊己庚辛", max_size=12), st.text(alphabet="子丑寅卯", min_size=1,
       max_size=4), st.text(alphabet="甲乙丙丁戊己庚辛", max_size=12))
def test_one_planted_keyword_is_found_exactly(before, keyword, after):
    """A phrase holding one planted keyword (from letters the filler never uses) reduces to it,
    and no string is asked twice."""
    asked: list[str] = []

    def blocked(text: str) -> bool:
        asked.append(text)
        return keyword in text

    found, probes = minimize_with(before + keyword + after, blocked)
    assert found == [keyword]
    assert probes == len(asked) == len(set(asked))


def test_the_generator_asks_and_returns():
    steps = minimal_blocked_substrings("甲天安门乙")
    asked = [next(steps)]
    try:
        while True:
            asked.append(steps.send("天安门" in asked[-1]))
    except StopIteration as done:
        assert done.value == ["天安门"]
    assert asked[0] == "甲天安门乙"


def fake_platform(keywords: tuple[str, ...], captcha_every: int = 0):
    """A fetch function answering desktop pages; every `captcha_every`-th search a captcha."""
    calls = {"n": 0}

    def fetch(url: str, headers: dict[str, str], timeout: float) -> Fetched:
        if url.endswith("/robots.txt"):
            return Fetched(404, [], b"")
        calls["n"] += 1
        from urllib.parse import parse_qs, urlsplit
        term = parse_qs(urlsplit(url).query)["q"][0]
        if captcha_every and calls["n"] % captcha_every == 0:
            return Fetched(200, [("Content-Type", "text/html")], CAPTCHA_PAGE)
        page = BLOCKED_PAGE if any(k in term for k in keywords) else RESULTS_PAGE
        return Fetched(200, [("Content-Type", "text/html")], page)
    return fetch, calls


def driven_pacing(fetch, start: datetime = T0) -> tuple[Pacing, list[float]]:
    moment = {"now": start}
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        moment["now"] += timedelta(seconds=seconds)
    return Pacing(now=lambda: moment["now"], sleep=sleep, fetch=fetch), slept


def test_minimize_stores_every_probe_and_its_result_with_the_phrase(tmp_path):
    fetch, calls = fake_platform(("天安门",), captcha_every=4)
    pacing, slept = driven_pacing(fetch)
    search = SearchPlan(terms=(), base_url="https://s.weibo.example", delay=15.0,
                        captcha_backoff=600.0)
    result = minimize("我们在天安门广场上", tmp_path, search, pacing=pacing)
    assert (result.status, result.substrings) == ("minimal", ["天安门"])
    corpus = Corpus(tmp_path, create=False)
    try:
        row = corpus.db.execute("SELECT term, status, probes, failed_probes, substrings FROM "
                                "search_minimizations").fetchone()
        assert row == ("我们在天安门广场上", "minimal", result.probes, result.failed_probes,
                       '["天安门"]')
        assert corpus.db.execute("SELECT substring FROM search_minimal_substrings").fetchall() \
            == [("天安门",)]
        tests = corpus.db.execute("SELECT outcome, failure, warc_file FROM search_tests WHERE "
                                  "minimization_id = 1").fetchall()
        assert len(tests) == calls["n"] == result.probes + result.failed_probes
        assert sum(t[1] == "captcha" for t in tests) == result.failed_probes > 0
        assert all(t[2] for t in tests)     # each with its evidence
        # A minimization's steps are not the watched terms' history.
        assert corpus.db.execute("SELECT COUNT(*) FROM search_terms").fetchone()[0] == 0
    finally:
        corpus.close()
    assert slept.count(600.0) == result.failed_probes   # the captcha back-off
    assert all(s <= 15.0 for s in slept if s != 600.0)


def test_a_minimization_that_cannot_get_an_answer_is_incomplete_never_guessed(tmp_path):
    fetch, _ = fake_platform(("天安门",), captcha_every=1)
    pacing, _ = driven_pacing(fetch)
    search = SearchPlan(terms=(), base_url="https://s.weibo.example", retries=2)
    result = minimize("天安门广场", tmp_path, search, pacing=pacing)
    assert (result.status, result.substrings, result.probes) == ("incomplete", [], 0)
    assert result.failed_probes == 3 and result.unanswered == "天安门广场"


# --- the plan -----------------------------------------------------------------------------------


def test_a_search_only_plan_loads_with_its_defaults(tmp_path):
    (tmp_path / "terms.txt").write_text("# words\n天安门\n白纸\n天安门\n", "utf-8")
    plan = plan_from_dict({"platform": "weibo", "search": {
        "terms": ["六四"], "terms_file": "terms.txt", "every": "12h"}}, base_dir=tmp_path)
    assert plan.watchlists == ()
    assert plan.search == SearchPlan(terms=("六四", "天安门", "白纸"), every=43200.0)
    assert (plan.search.delay, plan.search.captcha_backoff) == (15.0, 1800.0)
    again = plan_from_dict(json.loads(json.dumps(plan.as_record())), source="recorded")
    assert again.search == plan.search


@pytest.mark.parametrize(("search", "says"), [
    ({"terms": "天安门"}, "search.terms: got '天安门' (text); use a list of search terms"),
    ({"terms": []}, "search.terms: list at least one term"),
    ({"terms": ["天安门"], "delay": "soon"}, "search.delay"),
    ({"terms": ["天安门"], "endpoint": "app"}, "search.endpoint"),
    ({"terms": ["天安门"], "every": ".inf"}, "search.every"),
    ({"terms": ["天安门"], "pacing": "15s"}, "search.pacing: unknown key; the keys here are"),
])
def test_bad_search_sections_are_one_line_errors(search, says):
    with pytest.raises(PlanError) as error:
        plan_from_dict({"platform": "weibo", "search": search})
    assert says in str(error.value)


def test_a_plan_needs_watchlists_or_a_search_list():
    with pytest.raises(PlanError, match="watchlists: missing"):
        plan_from_dict({"platform": "weibo"})


def test_crawl_points_a_search_only_plan_to_keywords_watch(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"platform": "weibo", "search": {"terms": ["天安门"]}},
                                   allow_unicode=True), "utf-8")
    result = memoryhole("crawl", str(plan), "--data", str(tmp_path / "d"), "--once", check=False)
    assert result.returncode == 1
    assert "memoryhole keywords watch" in result.stderr and "Traceback" not in result.stderr


# --- intervals ----------------------------------------------------------------------------------


def t(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def record(corpus: Corpus, run: int, term: str, hours: float, outcome: str, **extra) -> None:
    store.record_test(corpus, run, store.SearchTest(
        platform="weibo", term=term, purpose="watch", endpoint="desktop", url="u",
        requested_at=t(hours), tested_at=t(hours) + timedelta(seconds=2), outcome=outcome,
        **extra))


def test_blocks_are_intervals_and_failures_move_nothing(tmp_path):
    corpus = Corpus(tmp_path)
    try:
        assert {"search_terms", "search_tests", "search_blocks", "search_minimizations"} <= set(
            corpus.db.table_names())
        assert schema.schema_version(corpus.db) == schema.SCHEMA_VERSION
        run = store.start_run(corpus, "campaign", "weibo", "desktop", "u", {})
        record(corpus, run, "白纸", 0, "results", result_count=10)
        record(corpus, run, "白纸", 6, "no_results")
        record(corpus, run, "白纸", 12, "failed", failure="captcha")       # not an observation
        record(corpus, run, "白纸", 13, "unknown", message="???")          # nor this
        record(corpus, run, "白纸", 18, "blocked", message="根据相关法律法规和政策")
        record(corpus, run, "白纸", 24, "blocked")
        record(corpus, run, "白纸", 30, "failed", failure="server_error")
        record(corpus, run, "白纸", 36, "results")
        record(corpus, run, "白纸", 42, "blocked")
        record(corpus, run, "天安门", 1, "blocked")                        # blocked from its start
        blocks = [dict(r) for r in corpus.db.query(
            "SELECT term, blocked_after, blocked_before, blocked_tests, unblocked_after, "
            "unblocked_before FROM search_blocks ORDER BY id")]
        second = 2 / 3600
        assert blocks == [
            {"term": "白纸", "blocked_after": iso(t(6)), "blocked_before": iso(t(18 + second)),
             "blocked_tests": 2, "unblocked_after": iso(t(24)),
             "unblocked_before": iso(t(36 + second))},
            {"term": "白纸", "blocked_after": iso(t(36)), "blocked_before": iso(t(42 + second)),
             "blocked_tests": 1, "unblocked_after": None, "unblocked_before": None},
            {"term": "天安门", "blocked_after": None, "blocked_before": iso(t(1 + second)),
             "blocked_tests": 1, "unblocked_after": None, "unblocked_before": None}]
        terms = {r["term"]: r for r in corpus.db.query("SELECT * FROM search_terms")}
        assert terms["白纸"]["state"] == "blocked"
        assert (terms["白纸"]["tests"], terms["白纸"]["failed_tests"]) == (6, 2)
    finally:
        corpus.close()


def iso(moment: datetime) -> str:
    from memoryhole.corpus.clock import iso as corpus_iso
    return corpus_iso(moment)


def test_the_readme_search_plan_loads(tmp_path):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    block = readme.split("## Search blocking (Weibo)", 1)[1].split("```yaml", 1)[1].split("```")[0]
    (tmp_path / "plan.yaml").write_text(block, "utf-8")
    (tmp_path / "terms.txt").write_text("习包子\n", "utf-8")
    from memoryhole.crawlers.plan import load_plan

    search = load_plan(tmp_path / "plan.yaml").search
    assert search.terms == ("天安门", "白纸", "四通桥", "习包子")
    assert (search.every, search.delay, search.captcha_backoff) == (86400.0, 15.0, 1800.0)


def test_a_watch_that_gets_no_answer_says_so_in_one_line(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"platform": "weibo", "search": {
        "terms": ["天安门", "白纸"], "base_url": "http://127.0.0.1:9", "delay": "0s",
        "retries": 0, "timeout": "2s"}}, allow_unicode=True), "utf-8")
    result = memoryhole("keywords", "watch", str(plan), "--data", str(tmp_path / "d"), "--once",
                        check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no search got an answer from http://127.0.0.1:9 (connection_error ×2)" in \
        result.stderr


CUT_FIXTURES = [(FIXTURES / e["name"]).read_bytes()[:cut] for e in MANIFEST
                for cut in (10, 200, 10**6)]


@settings(max_examples=300, deadline=None)
@given(st.integers(100, 599), st.binary(max_size=300) | st.sampled_from(CUT_FIXTURES),
       st.sampled_from(["desktop", "mobile"]), st.none() | st.text(max_size=40))
def test_any_answer_parses_without_raising(status, body, endpoint, location):
    """Any status, bytes, endpoint and redirect: an outcome, never an exception; only a 200 can
    be an observation, and a failure always names itself."""
    result = parse_search(status, body, endpoint, location)
    assert result.outcome in ("blocked", "results", "no_results", "unknown", "failed")
    if status != 200:
        assert result.outcome == "failed" and result.failure
    if result.outcome == "failed":
        assert result.failure in failures.names()


@pytest.mark.parametrize("obey", [True, False])
def test_robots_txt_is_obeyed_unless_the_plan_says_otherwise(tmp_path, obey):
    from memoryhole.crawlers.plan import Politeness
    from memoryhole.crawlers.search_campaign import SearchCampaignError

    searched, pages = [], {"/robots.txt": b"User-agent: *\nDisallow: /weibo\n"}

    def fetch(url, headers, timeout):
        path = url.split("s.weibo.example", 1)[1].split("?")[0]
        searched.append(path)
        return Fetched(200, [], pages.get(path, RESULTS_PAGE))
    pacing, _ = driven_pacing(fetch)
    search = SearchPlan(terms=(), base_url="https://s.weibo.example")
    politeness = Politeness(obey_robots_txt=obey)
    if obey:
        with pytest.raises(SearchCampaignError, match="robots.txt disallows /weibo"):
            minimize("天安门", tmp_path, search, politeness, pacing)
        assert searched == ["/robots.txt"]
    else:
        assert minimize("天安门", tmp_path, search, politeness, pacing).status == "not_blocked"
        assert searched == ["/weibo"]


@pytest.mark.parametrize(("args", "says"), [
    (["keywords", "minimize", "  ", "--data", "{d}"], "TERM: give a non-empty phrase"),
    (["keywords", "minimize", "天安门", "--data", "{d}", "--delay", "soon"], "--delay: not a duration"),
    (["keywords", "evidence", "7", "--data", "{d}"], "no corpus here"),
    (["keywords", "watch", "{plan}", "--data", "{d}"], "no search section"),
])
def test_bad_keywords_input_is_one_line(tmp_path, args, says):
    from click.testing import CliRunner

    from memoryhole.cli import cli

    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"platform": "weibo", "watchlists": [
        {"name": "w", "accounts": [1001]}]}), "utf-8")
    argv = [a.format(d=tmp_path / "d", plan=plan) for a in args]
    result = CliRunner().invoke(cli, argv)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and says in lines[0], result.output
