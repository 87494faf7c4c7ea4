"""Every platform parser fuzzed with hypothesis: random bytes, JSON-ish answers built from the
platform's own keys and words, real fixtures truncated, mutated byte-wise or with a subtree
replaced; any HTTP status; any fetch time. A parser must never raise, and a fuzzed answer never
becomes a removal unless it carries the platform's words in the platform's "not visible" shape
(rule 1: a failed fetch is not a removal).

CI runs FUZZ_EXAMPLES examples per parser (seconds); `pytest -m long` runs LONG_EXAMPLES with
fresh randomness.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fuzz_mutations import mutated
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from memoryhole.corpus.reasons import REASONS
from memoryhole.crawlers import failures
from memoryhole.crawlers.platforms import (
    ADAPTERS,
    LongTextResult,
    PostRecord,
    ProbeResult,
    ProfileResult,
    TimelinePage,
    adapter_for,
)
from memoryhole.crawlers.platforms.weibo import ACCOUNT_STATES, html_to_text, signatures

FUZZ_EXAMPLES = 300
LONG_EXAMPLES = 10_000
FIXTURES = Path(__file__).parent / "fixtures"
INT64 = 2**63 - 1

CI = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(CI, max_examples=LONG_EXAMPLES, derandomize=False)

# --- what a platform might send ----------------------------------------------------------------

SIGS = signatures()
WORDS = sorted({s.words for table in (SIGS.not_observations, SIGS.timeline_end,
                                      SIGS.post_messages, SIGS.account_messages) for s in table})
KEYS = ["ok", "msg", "message", "errno", "url", "data", "cards", "card_type", "card_group",
        "mblog", "mid", "id", "idstr", "bid", "text", "user", "screen_name", "created_at",
        "deleted", "state", "visible", "retweeted_status", "isTop", "title", "edit_count",
        "isLongText", "source", "cardlistInfo", "since_id", "userInfo", "longTextContent"]
DATES = ["刚刚", "5分钟前", "3小时前", "昨天 10:00", "今天 25:61", "13-45", "02-30", "2026-02-31",
         "Sat Nov 21 10:00:00 +0800 2020", "9" * 40 + "分钟前", "9" * 30 + "小时前"]
FIXTURE_BODIES = {p.name: p.read_bytes() for p in sorted(FIXTURES.glob("*/*.body"))}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-2, 10),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(WORDS), st.sampled_from(DATES),
    st.builds(lambda w, a, b: a + w + b, st.sampled_from(WORDS), st.text(max_size=5),
              st.text(max_size=5)),
    st.sampled_from(["1", "0", "-100", "5079548542000000", "9" * 25, "-5", " 12 ", "1e5"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner,
                                            max_size=6)),
    max_leaves=40)


def dumped(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8")


@st.composite
def replaced_subtree(draw) -> bytes:
    """A real JSON fixture with one value somewhere inside replaced by anything."""
    name = draw(st.sampled_from([n for n, b in FIXTURE_BODIES.items() if b[:1] == b"{"]))
    try:
        doc = json.loads(FIXTURE_BODIES[name])
    except ValueError:
        return FIXTURE_BODIES[name]
    node, path = doc, []
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        path.append((node, key))
        node = node[key]
    new = draw(json_values)
    if path:
        parent, key = path[-1]
        parent[key] = new
    else:
        doc = new
    return dumped(doc, draw(st.booleans()))


words = st.one_of(st.sampled_from(WORDS), st.text(max_size=20), st.just(""))
# Mostly plausible values (so that whole pages get through), sometimes not.
ids = st.integers(0, 9).flatmap(lambda k: st.integers(1, INT64) if k < 8 else st.one_of(
    st.integers(INT64, 2**64), st.sampled_from(["5079548542000000", "0", "x", "", "-1"])))
counts = st.integers(0, 9).flatmap(lambda k: st.integers(0, 20) if k < 8 else json_values)
mblogs = st.recursive(
    st.fixed_dictionaries(
        {"mid": ids, "text": words, "created_at": st.sampled_from(DATES) | st.text(max_size=12)},
        optional={"user": st.fixed_dictionaries({"id": ids, "screen_name": words}),
                  "edit_count": counts, "isTop": st.booleans() | json_values,
                  "deleted": st.sampled_from(["1", "0"]), "state": st.sampled_from([7, 8, 0]),
                  "bid": st.text(max_size=9), "isLongText": st.booleans()}),
    lambda inner: st.builds(lambda post, original: {**post, "retweeted_status": original},
                            inner, inner),
    max_leaves=3)
timeline_pages = st.fixed_dictionaries({
    "ok": st.sampled_from([1, 1, 1, "1", 0]),
    "data": st.fixed_dictionaries({"cards": st.lists(st.one_of(
        st.fixed_dictionaries({"card_type": st.sampled_from([9, 9, 11]), "mblog": mblogs}),
        st.fixed_dictionaries({"card_type": st.just(11), "card_group": st.lists(
            st.fixed_dictionaries({"card_type": st.just(9), "mblog": mblogs}), max_size=3)})),
        max_size=5)}, optional={"cardlistInfo": st.fixed_dictionaries({"since_id": json_values})}),
}).flatmap(lambda page: st.booleans().map(lambda ascii_only: dumped(page, ascii_only)))

ok_values = st.sampled_from([0, 1, -100, "0", "1", None, 2, True])
# The shapes of real answers with fuzzed values: they reach the parsers' success paths.
answer_shapes = st.one_of(
    st.fixed_dictionaries({"ok": ok_values, "msg": words}),
    st.fixed_dictionaries({"ok": ok_values, "data": mblogs}),
    st.fixed_dictionaries({"ok": ok_values, "message": words, "data": json_values}),
    st.fixed_dictionaries({"ok": ok_values, "data": st.fixed_dictionaries(
        {"userInfo": json_values})}),
    st.fixed_dictionaries({"ok": ok_values, "data": st.fixed_dictionaries(
        {"longTextContent": json_values})}),
    st.fixed_dictionaries({"ok": ok_values, "data": st.fixed_dictionaries(
        {"deleted": st.sampled_from(["1", "0", 1]), "state": st.sampled_from([7, 8, None]),
         "user": st.none(), "text": words, "mid": st.sampled_from(["5079548542000000", "x"])})}),
).flatmap(lambda answer: st.booleans().map(lambda ascii_only: dumped(answer, ascii_only)))

truncated_fixture = st.sampled_from(sorted(FIXTURE_BODIES.values())).flatmap(
    lambda body: st.integers(0, len(body)).map(lambda n: body[:n]))

bodies = st.one_of(
    st.binary(max_size=512),
    answer_shapes,
    timeline_pages,
    st.builds(dumped, json_values, st.booleans()),
    replaced_subtree(),
    mutated(FIXTURE_BODIES.values()),
    truncated_fixture,
    st.sampled_from(sorted(FIXTURE_BODIES.values())),
    st.just(b"[" * 100_000), st.just(b'{"a":' * 50_000),
)
# Mostly 200 (where the parsers have most to read), then the platform's refusals, then anything.
statuses = st.integers(0, 9).flatmap(lambda k: st.just(200) if k < 6 else st.sampled_from(
    [301, 403, 404, 418, 429, 432, 500, 502]) if k < 8 else st.integers(0, 999))
fetch_times = st.datetimes(min_value=datetime(2009, 8, 14), max_value=datetime(2100, 1, 1),
                           timezones=st.just(UTC))

# --- what a parser may answer --------------------------------------------------------------------


def platform_words(message: str) -> tuple[str | None, bool]:
    """(reason of the catalogued words in `message`, or None; whether there are words at all)."""
    sig = SIGS.match(SIGS.post_messages, message) or SIGS.match(SIGS.account_messages, message)
    return (sig.reason if sig else None), bool(message.strip())


def payload_of(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8", errors="replace").strip())
    except (ValueError, RecursionError):
        return None


def said_not_visible(body: bytes, message: str) -> bool:
    """Whether the answer has the platform's "not visible" shape carrying `message`: `ok: 0`
    with those words, or `ok: 1` with a tombstone post whose text holds them."""
    payload = payload_of(body)
    if not isinstance(payload, dict):
        return False
    words = str(payload.get("msg") or payload.get("message") or "").strip()
    if str(payload.get("ok")) == "0" and words == message:
        return True
    data = payload.get("data")
    return (str(payload.get("ok")) == "1" and isinstance(data, dict)
            and message in html_to_text(str(data.get("text", ""))))


def check_post(post: PostRecord) -> None:
    assert isinstance(post, PostRecord)
    assert post.post_id.isdigit() and 0 <= post.order_key <= INT64 and str(post.order_key) == \
        post.post_id.lstrip("0") or post.post_id == "0"
    assert isinstance(post.text, str) and isinstance(post.pinned, bool)
    assert post.edit_count is None or 0 <= post.edit_count <= INT64
    for inner in (post.repost_of,):
        if inner is not None:
            check_post(inner)
    if post.original_tombstone is not None:
        assert post.original_tombstone.reason in REASONS


def check_removal(result: ProbeResult | LongTextResult, body: bytes) -> None:
    assert result.message, "a removal without the platform's words"
    reason, _ = platform_words(result.message)
    assert result.reason == (reason or "unknown")
    assert said_not_visible(body, result.message), "a removal from an answer that did not say so"


def check_failed(result: Any, status: int) -> None:
    if status != 200:
        assert result.outcome == "failed" and result.failure in failures.names()
    if result.outcome == "failed":
        assert result.failure in failures.names()
        assert getattr(result, "reason", None) is None


def check_timeline(result: TimelinePage, status: int, body: bytes) -> None:
    assert isinstance(result, TimelinePage) and result.outcome in ("posts", "end", "failed")
    check_failed(result, status)
    if result.outcome == "end":   # the platform's words for "nothing more", or a page of no posts
        payload = payload_of(body)
        words = str(payload.get("msg") or payload.get("message") or "")
        cards = payload.get("data", {}).get("cards") if isinstance(payload.get("data"), dict) \
            else None
        assert SIGS.match(SIGS.timeline_end, words) or (
            str(payload.get("ok")) == "1" and isinstance(cards, list)
            and all(isinstance(c, dict) for c in cards))
    if result.outcome == "posts":
        assert result.posts
        for post in result.posts:
            check_post(post)


def check_probe(result: ProbeResult, status: int, body: bytes) -> None:
    assert isinstance(result, ProbeResult) and result.outcome in ("visible", "removed", "failed")
    check_failed(result, status)
    if result.outcome == "visible":
        check_post(result.post)
    if result.outcome == "removed":
        check_removal(result, body)


def check_profile(result: ProfileResult, status: int, body: bytes) -> None:
    assert isinstance(result, ProfileResult) and result.outcome in ("exists", "gone", "failed")
    check_failed(result, status)
    if result.outcome == "gone":
        sig = SIGS.match(SIGS.account_messages, result.message or "")
        assert sig is not None and result.reason == sig.reason
        assert result.state == ACCOUNT_STATES[sig.reason]


def check_long_text(result: LongTextResult, status: int, body: bytes) -> None:
    assert isinstance(result, LongTextResult) and result.outcome in ("ok", "removed", "failed")
    check_failed(result, status)
    if result.outcome == "ok":
        assert isinstance(result.text, str)
    if result.outcome == "removed":
        check_removal(result, body)


PARSERS = {"parse_timeline": check_timeline, "parse_probe": check_probe,
           "parse_profile": check_profile, "parse_long_text": check_long_text}
# The JSON platforms; the HTML ones (WeChat, Telegram) are fuzzed in test_fuzz_html_parsers.py,
# the video platforms (their own answer shapes) in test_fuzz_video_parsers.py, news and Toutiao
# (feeds and article pages: a 404 there is a removal) in test_news_parse.py.
HTML_PLATFORMS = {"wechat", "telegram"}
VIDEO_PLATFORMS = {"bilibili", "youku"}
FEED_PLATFORMS = {"news", "toutiao"}
CASES = [(platform, name) for platform in sorted(set(ADAPTERS) - HTML_PLATFORMS - VIDEO_PLATFORMS
                                                 - FEED_PLATFORMS)
         for name in PARSERS]


def fuzz_one(platform: str, name: str, status: int, body: bytes, fetched_at: datetime) -> None:
    parser = getattr(adapter_for(platform), name)
    try:
        result = parser(status, body, fetched_at)
    except NotImplementedError:   # an optional capability the platform does not have
        return
    PARSERS[name](result, status, body)
    event(result.outcome)   # --hypothesis-show-statistics: how often each outcome was reached


@pytest.mark.parametrize("platform, name", CASES)
@CI
@given(status=statuses, body=bodies, fetched_at=fetch_times)
def test_parser_fuzz(platform, name, status, body, fetched_at):
    fuzz_one(platform, name, status, body, fetched_at)


@pytest.mark.long
@pytest.mark.parametrize("platform, name", CASES)
@LONG
@given(status=statuses, body=bodies, fetched_at=fetch_times)
def test_parser_fuzz_long(platform, name, status, body, fetched_at):
    fuzz_one(platform, name, status, body, fetched_at)


@CI
@given(body=timeline_pages, fetched_at=fetch_times)
def test_timeline_page_fuzz(body, fetched_at):
    """Pages of the real envelope with fuzzed posts: the path where posts are read."""
    fuzz_one("weibo", "parse_timeline", 200, body, fetched_at)


@pytest.mark.long
@LONG
@given(body=timeline_pages, fetched_at=fetch_times)
def test_timeline_page_fuzz_long(body, fetched_at):
    fuzz_one("weibo", "parse_timeline", 200, body, fetched_at)


probe_posts = st.builds(lambda post, ok: {"ok": ok, "data": post}, mblogs,
                        st.sampled_from([1, 1, "1", 0])).flatmap(
    lambda answer: st.booleans().map(lambda ascii_only: dumped(answer, ascii_only)))


@CI
@given(body=probe_posts, fetched_at=fetch_times)
def test_probe_post_fuzz(body, fetched_at):
    """Probe answers carrying a fuzzed post (or tombstone): the visible and tombstone paths."""
    fuzz_one("weibo", "parse_probe", 200, body, fetched_at)


@pytest.mark.long
@LONG
@given(body=probe_posts, fetched_at=fetch_times)
def test_probe_post_fuzz_long(body, fetched_at):
    fuzz_one("weibo", "parse_probe", 200, body, fetched_at)


# --- the defects the fuzzing found, as plain regression tests ------------------------------------

weibo = adapter_for("weibo")
AT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
POST = {"mid": "5079548542000000", "text": "x", "user": {"id": 1001, "screen_name": "a"},
        "created_at": "刚刚"}


def page_of(*mblogs: Any, **data: Any) -> bytes:
    cards = [{"card_type": 9, "mblog": m} for m in mblogs]
    return json.dumps({"ok": 1, "data": {"cards": cards, **data}}, allow_nan=True).encode()


@pytest.mark.parametrize("body", [
    b'{"ok": 1, "data": [1]}', b'{"ok": 1, "data": "x"}', page_of({**POST, "user": [1]}),
    page_of({**POST, "edit_count": math.inf}), page_of(POST, cardlistInfo=[1]),
    json.dumps({"ok": 1, "data": {"cards": [1, "x"]}}).encode(),
    json.dumps({"ok": 1, "data": {"cards": [{"card_type": 11, "card_group": [7]}]}}).encode(),
    json.dumps({"ok": 1, "data": {"cards": [{"card_type": 9, "mblog": POST, "title": "x"}]}}
               ).encode(),
    page_of({**POST, "created_at": "9" * 40 + "分钟前"}), b"[" * 100_000,
])
def test_odd_timeline_answers_are_failures_or_pages_not_exceptions(body):
    result = weibo.parse_timeline(200, body, AT)
    assert result.outcome in ("posts", "failed")


@pytest.mark.parametrize("created_at", ["13-45", "02-30", "2026-02-31", "今天 25:61",
                                        "9" * 40 + "分钟前"])
def test_an_odd_date_leaves_the_post_undated_not_the_page_failed(created_at):
    result = weibo.parse_timeline(200, page_of({**POST, "created_at": created_at}), AT)
    assert result.outcome == "posts" and result.posts[0].created_at is None


@pytest.mark.parametrize("mid", ["9" * 25, "-5", " 12 ", "1e5", 1.5, True])
def test_a_post_id_must_be_a_platform_id(mid):
    result = weibo.parse_timeline(200, page_of({**POST, "mid": mid}), AT)
    assert result.outcome == "failed" and result.failure == failures.UNPARSEABLE_BODY


@pytest.mark.parametrize("body", [
    {"ok": 1, "data": [1], "msg": "抱歉，此微博已被作者删除。"},     # ok=1 without a post
    {"msg": "抱歉，此微博已被作者删除。"},                            # no ok at all
    {"ok": "banana", "msg": "该微博不存在"},
    {"ok": 1, "data": {"deleted": "1", "state": 7}},               # a tombstone without words
])
def test_only_a_not_visible_answer_is_a_removal(body):
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert weibo.parse_probe(200, raw, AT).outcome == "failed"
    assert weibo.parse_long_text(200, raw, AT).outcome == "failed"


@pytest.mark.parametrize("body", [b'{"ok": 1, "data": [1]}', b'{"ok": 0, "data": 5}'])
def test_odd_profile_answers_are_failures(body):
    assert weibo.parse_profile(200, body, AT).outcome == "failed"
