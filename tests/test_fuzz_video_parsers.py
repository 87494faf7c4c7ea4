"""The Bilibili and Youku parsers fuzzed with hypothesis: random bytes, answers in the platforms'
envelopes with fuzzed codes, states and fields, their fixtures cut or mutated byte-wise; any HTTP
status. A parser never raises, and an answer is a removal only when it says so in the platform's
shape: Bilibili's video-specific code (-404, 62xxx) or code 0 with a state other than 0, Youku's
`data.error`; the reason is then the signature file's (or `unknown`), never a guess.

CI runs FUZZ_EXAMPLES examples per parser; `pytest -m long` runs LONG_EXAMPLES.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fuzz_mutations import mutated
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from memoryhole.crawlers import failures
from memoryhole.crawlers.platforms import PostRecord, ProbeResult, TimelinePage, adapter_for

FUZZ_EXAMPLES = 300
LONG_EXAMPLES = 10_000
FIXTURES = Path(__file__).parent / "fixtures"
BODIES = {p: sorted(q.read_bytes() for q in (FIXTURES / p).glob("*.body"))
          for p in ("bilibili", "youku")}
AT = datetime(2026, 11, 30, tzinfo=UTC)

CI = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(CI, max_examples=LONG_EXAMPLES, derandomize=False)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(
                        [0, -2, -3, -4, -5, -100, -404, 62002, 62004, 62012, 62099, -412, -352,
                         -799, -403, "0", "-4", "BV1vb411879C", "02:18", "1:02:03", "99:99",
                         "因版权原因无法观看此视频", "该视频被设为私密", "已删除", -6001, -202]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=20)


def mostly(plausible: st.SearchStrategy, k: int = 8) -> st.SearchStrategy:
    """`plausible` k times in 10 (so whole answers reach the parsers' success paths), else
    anything."""
    return st.integers(0, 9).flatmap(lambda n: plausible if n < k else values)


codes = mostly(st.sampled_from([0, 0, 0, 0, -404, 62002, 62004, 62012, 62099, -412, -352, -799,
                                -403, -401, -101, -400, -500, 1]))
states = mostly(st.sampled_from([0, 0, 0, -2, -3, -4, -5, -100, -1, -40, 1, "0", "-4"]))
bvids = mostly(st.sampled_from(["BV1vb411879C", "BV1cV411x7fj", "BV1xV411x7aa"]), 9)
video = st.fixed_dictionaries({"bvid": bvids, "state": states}, optional={
    "title": values, "desc": values, "pubdate": values, "duration": values, "aid": values,
    "owner": st.one_of(values, st.fixed_dictionaries({"mid": values, "name": values}))})
vlist_entry = st.fixed_dictionaries({"bvid": bvids}, optional={
    "created": values, "length": values, "author": values, "mid": values, "title": values,
    "description": values})
bilibili_answers = st.fixed_dictionaries({"code": codes, "message": values},
                                         optional={"data": video})
listing_answers = st.fixed_dictionaries({"code": mostly(st.sampled_from([0, 0, 0, -404]), 7), "data": mostly(
    st.fixed_dictionaries({"list": mostly(st.fixed_dictionaries(
        {"vlist": mostly(st.lists(vlist_entry, max_size=4))}))}))})
youku_answers = st.fixed_dictionaries({"data": st.one_of(values, st.fixed_dictionaries({}, optional={
    "error": st.one_of(values, st.fixed_dictionaries({}, optional={
        "code": codes, "note": st.one_of(values, st.sampled_from(
            ["因版权原因无法观看此视频", "该视频被设为私密", "该视频已被删除", ""]))})),
    "video": mostly(st.fixed_dictionaries({"title": mostly(st.text(max_size=8))}, optional={
        "seconds": values, "userid": values, "username": values, "encodeid": values}))}))})


def bodies(platform: str, answers: st.SearchStrategy) -> st.SearchStrategy[bytes]:
    fixtures = BODIES[platform]
    dumped = answers.map(lambda a: json.dumps(a, ensure_ascii=False).encode())
    others = st.one_of(
        st.binary(max_size=256),
        mutated(fixtures),
        st.sampled_from(fixtures).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),
        st.sampled_from(fixtures),
        st.just(b"[" * 50_000))
    return st.integers(0, 9).flatmap(lambda n: dumped if n < 5 else others)


statuses = st.integers(0, 9).flatmap(lambda k: st.just(200) if k < 7 else st.sampled_from(
    [403, 404, 412, 429, 500, 502]) if k < 9 else st.integers(0, 999))


def payload(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def check_common(result: ProbeResult | TimelinePage, status: int) -> None:
    event(result.outcome)   # --hypothesis-show-statistics: how often each outcome was reached
    if status != 200:
        assert result.outcome == "failed"
    if result.outcome == "failed":
        assert result.failure in failures.names()
        assert getattr(result, "reason", None) is None


def check_bilibili_probe(platform: str, status: int, body: bytes) -> None:
    adapter = adapter_for(platform)
    result = adapter.parse_probe(status, body, AT)
    assert isinstance(result, ProbeResult) and result.outcome in ("visible", "removed", "failed")
    check_common(result, status)
    answer = payload(body)
    if result.outcome == "removed":
        code = answer["code"]
        if code == 0:
            state = answer["data"]["state"]
            key = f"state={int(state)}"
            assert result.message == key and int(state) != 0
            sig = adapter.signatures().exact("video_states", key)
        else:
            key = f"code={code}"
            assert result.message.startswith(key) and (code == -404 or 62000 <= code < 63000)
            sig = adapter.signatures().exact("post_messages", key)
        assert result.reason == (sig.reason if sig else "unknown")
    if result.outcome == "visible":
        post = result.post
        assert isinstance(post, PostRecord) and post.post_id == answer["data"]["bvid"]
        assert answer["code"] == 0 and int(answer["data"]["state"]) == 0
        assert post.order_key >= 0 and isinstance(post.text, str)
        duration = post.extra["duration"]
        assert duration is None or (isinstance(duration, int) and duration >= 0)


def check_bilibili_listing(status: int, body: bytes) -> None:
    page = adapter_for("bilibili").parse_timeline(status, body, AT)
    assert isinstance(page, TimelinePage) and page.outcome in ("posts", "end", "failed")
    check_common(page, status)
    if page.outcome == "posts":
        assert payload(body)["code"] == 0
    if page.outcome == "end":   # an empty list, or the listing's end words (-404)
        assert payload(body)["code"] in (0, -404)
    for post in page.posts:
        assert post.post_id.startswith("BV1") and post.order_key > 0
        assert post.account_id.isdigit() and int(post.account_id) > 0


def check_youku_probe(status: int, body: bytes) -> None:
    adapter = adapter_for("youku")
    result = adapter.parse_probe(status, body, AT)
    assert isinstance(result, ProbeResult) and result.outcome in ("visible", "removed", "failed")
    check_common(result, status)
    if result.outcome == "removed":
        error = payload(body)["data"]["error"]
        assert isinstance(error, dict) and result.message
        assert result.message in (str(error.get("note", "")).strip(), f"code={error.get('code')}"
                                  ) or result.message.startswith("code=")
        note = error.get("note") if isinstance(error.get("note"), str) else ""
        sig = adapter.signatures().match("post_messages", note)
        if result.reason not in ("unknown", "restricted"):
            pytest.fail(f"a reason no Youku entry gives: {result.reason}")
        if sig and sig.reason == "restricted":
            assert result.reason == "restricted"
    if result.outcome == "visible":
        assert isinstance(payload(body)["data"]["video"]["title"], str)


@CI
@given(platform=st.just("bilibili"), status=statuses,
       body=bodies("bilibili", bilibili_answers))
def test_bilibili_probe_fuzz(platform, status, body):
    check_bilibili_probe(platform, status, body)


@CI
@given(status=statuses, body=bodies("bilibili", listing_answers))
def test_bilibili_listing_fuzz(status, body):
    check_bilibili_listing(status, body)


@CI
@given(status=statuses, body=bodies("youku", youku_answers))
def test_youku_probe_fuzz(status, body):
    check_youku_probe(status, body)


@pytest.mark.long
@LONG
@given(platform=st.just("bilibili"), status=statuses,
       body=bodies("bilibili", bilibili_answers))
def test_bilibili_probe_fuzz_long(platform, status, body):
    check_bilibili_probe(platform, status, body)


@pytest.mark.long
@LONG
@given(status=statuses, body=bodies("bilibili", listing_answers))
def test_bilibili_listing_fuzz_long(status, body):
    check_bilibili_listing(status, body)


@pytest.mark.long
@LONG
@given(status=statuses, body=bodies("youku", youku_answers))
def test_youku_fuzz_long(status, body):
    check_youku_probe(status, body)
