"""The HTML platforms' parsers (WeChat articles, Telegram previews) fuzzed with hypothesis: random
bytes, pages built from the platforms' own elements and words, real fixtures truncated or mutated
byte-wise, any HTTP status, any final URL. A parser must never raise; a failure carries a known
name; and a fuzzed answer never becomes a removal unless it has the platform's "not visible"
shape with words (WeChat: no #js_content, and catalogued words or WeChat's message page;
Telegram: the embed's error box), its reason the catalogued one or `unknown` (rule 1).

CI runs FUZZ_EXAMPLES examples per parser; `pytest -m long` runs LONG_EXAMPLES.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fuzz_mutations import mutated
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from memoryhole.crawlers.platforms import PostRecord, ProbeResult, TimelinePage, adapter_for
from memoryhole.crawlers.platforms.base import failure_names
from memoryhole.crawlers.platforms.html_pages import visible_text
from parsel import Selector

FUZZ_EXAMPLES = 300
LONG_EXAMPLES = 10_000
FIXTURES = Path(__file__).parent / "fixtures"
CI = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(CI, max_examples=LONG_EXAMPLES, derandomize=False)

wechat, telegram = adapter_for("wechat"), adapter_for("telegram")
WECHAT_SIGS, TELEGRAM_SIGS = wechat.signatures(), telegram.signatures()
WORDS = sorted({s.words for sigs in (WECHAT_SIGS, TELEGRAM_SIGS)
                for table in sigs.tables.values() for s in table})
BODIES = {p: p.read_bytes() for p in sorted(FIXTURES.glob("wechat/*.body"))
          + sorted(FIXTURES.glob("telegram/*.body"))}

words = st.one_of(st.sampled_from(WORDS), st.text(max_size=20), st.just(""),
                  st.builds(lambda a, w, b: a + w + b, st.text(max_size=4),
                            st.sampled_from(WORDS), st.text(max_size=4)))
escaped = words.map(html.escape)
attr = st.one_of(st.sampled_from(["mhchannel1/7", "MHChannel1/0", "x/1", "a/b", "", "mhchannel1/",
                                  "mhchannel1/" + "9" * 30, "абв/5", "mh_1/12"]),
                 st.text(max_size=12)).map(lambda v: html.escape(v, quote=True))
datetimes = st.one_of(st.sampled_from(["2026-11-24T01:00:00+00:00", "2026-11-24T01:00:00",
                                       "2026-02-31T00:00:00", "", "x", "9999-12-31T23:59:59-23:59"]),
                      st.text(max_size=10)).map(lambda v: html.escape(v, quote=True))
cts = st.one_of(st.integers(-10, 2**70).map(str), st.text(max_size=6)).map(
    lambda v: html.escape(v, quote=True))

wechat_fragments = st.one_of(
    st.builds('<div id="js_content"><p>{}</p></div>'.format, escaped),
    st.builds('<div class="weui-msg"><h2 class="weui-msg__title">{}</h2></div>'.format, escaped),
    st.builds('<h1 id="activity-name">{}</h1>'.format, escaped),
    st.builds('<a id="js_name">{}</a>'.format, escaped),
    st.builds('<script>var ct = "{}"; var biz = "{}"; var nickname = htmlDecode("{}");</script>'
              .format, cts, st.text("MzA3=+/", max_size=12), escaped),
    st.builds("<p>{}</p>".format, escaped), st.just("<script>var page_rumor = 1;</script>"),
    st.just("<div><span><p>"),
)
telegram_fragments = st.one_of(
    st.builds('<div class="tgme_widget_message" data-post="{}"><div class="tgme_widget_message_'
              'text">{}</div><a class="tgme_widget_message_date"><time datetime="{}">x</time></a>'
              '</div>'.format, attr, escaped, datetimes),
    st.builds('<div class="tgme_widget_message_error">{}</div>'.format, escaped),
    st.builds('<a class="tme_messages_more" data-before="{}"></a>'.format, attr),
    st.just('<section class="tgme_channel_history">'), st.just("</section>"),
    st.builds('<a class="tgme_widget_message_reply"><div class="tgme_widget_message_text">{}'
              '</div></a>'.format, escaped),
)


def document(parts: list[str], close: bool) -> bytes:
    return ("<!DOCTYPE html><html><head></head><body>" + "".join(parts)
            + ("</body></html>" if close else "")).encode("utf-8")


pages = st.one_of(
    st.builds(document, st.lists(wechat_fragments, max_size=6), st.booleans()),
    st.builds(document, st.lists(telegram_fragments, max_size=8), st.booleans()),
)


bodies = st.one_of(
    st.binary(max_size=512), pages, mutated(BODIES.values()),
    st.sampled_from(sorted(BODIES.values())).flatmap(
        lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),
    st.sampled_from(sorted(BODIES.values())),
    st.just(b"<div>" * 3000 + b"</html>"), st.just(b"\x00" * 100 + b"</html>"),
)
statuses = st.integers(0, 9).flatmap(lambda k: st.just(200) if k < 6 else st.sampled_from(
    [301, 302, 403, 404, 429, 500, 502]) if k < 8 else st.integers(0, 999))
urls = st.one_of(st.none(), st.sampled_from([
    "https://t.me/s/mhchannel1", "https://t.me/mhchannel1", "https://t.me/mhchannel1/5?embed=1",
    "https://mp.weixin.qq.com/s/abcdefABCDEF123", "http://127.0.0.1:1/wechat/s?__biz=MzA=&mid=1"
    "&idx=1&sn=ab", "not a url", ""]))
fetch_times = st.datetimes(min_value=datetime(2009, 8, 14), max_value=datetime(2100, 1, 1),
                           timezones=st.just(UTC))


def _page(body: bytes) -> Selector | None:
    try:
        return Selector(text=body.decode("utf-8", "replace").replace("\x00", ""), type="html")
    except Exception:   # noqa: BLE001 - what lxml cannot read cannot have said anything
        return None


def check_post(post: PostRecord | None, platform: str) -> None:
    assert isinstance(post, PostRecord) and post.platform == platform
    assert isinstance(post.text, str) and isinstance(post.order_key, int)
    assert 0 <= post.order_key < 2**63
    assert post.created_at is None or post.created_at.tzinfo is not None
    if platform == "telegram":
        channel, number = post.post_id.split("/")
        assert int(number) == post.order_key and channel == post.account_id


def check_failed(result, status: int, adapter) -> None:
    if status != 200:
        assert result.outcome == "failed"
    if result.outcome == "failed":
        assert result.failure in failure_names(type(adapter))
        assert getattr(result, "reason", None) is None


def check_wechat_probe(result: ProbeResult, status: int, body: bytes) -> None:
    assert isinstance(result, ProbeResult) and result.outcome in ("visible", "removed", "failed")
    check_failed(result, status, wechat)
    page = _page(body)
    if result.outcome == "visible":
        check_post(result.post, "wechat")
        assert page is not None and page.css("#js_content")
    if result.outcome == "removed":
        assert result.message, "a removal without the platform's words"
        assert page is not None and not page.css("#js_content")
        text = visible_text(page)
        assert result.message == text[:len(result.message)]
        assert not WECHAT_SIGS.match("not_observations", text)
        sig = WECHAT_SIGS.match("post_messages", text) or \
            WECHAT_SIGS.match("account_messages", text)
        assert result.reason == (sig.reason if sig else "unknown")
        assert sig is not None or page.css(".weui-msg"), "unknown words outside a message page"


def check_telegram_probe(result: ProbeResult, status: int, body: bytes) -> None:
    assert isinstance(result, ProbeResult) and result.outcome in ("visible", "removed", "failed")
    check_failed(result, status, telegram)
    page = _page(body)
    if result.outcome == "visible":
        check_post(result.post, "telegram")
    if result.outcome == "removed":
        assert result.message and page is not None
        boxes = page.css("div.tgme_widget_message_error")
        assert boxes, "a removal without the embed's error box"
        sig = TELEGRAM_SIGS.match("post_messages", result.message)
        assert result.reason == (sig.reason if sig else "unknown")


def check_telegram_listing(result: TimelinePage, status: int, body: bytes) -> None:
    assert isinstance(result, TimelinePage) and result.outcome in ("posts", "end", "failed")
    check_failed(result, status, telegram)
    if result.outcome == "posts":
        assert result.posts
        keys = [p.order_key for p in result.posts]
        assert keys == sorted(set(keys), reverse=True)   # newest first, no duplicates
        for post in result.posts:
            check_post(post, "telegram")
        assert result.next_cursor is None or result.next_cursor.isdigit()


CASES = {"wechat.parse_probe": (wechat.parse_probe, check_wechat_probe),
         "telegram.parse_probe": (telegram.parse_probe, check_telegram_probe),
         "telegram.parse_timeline": (telegram.parse_timeline, check_telegram_listing)}


def fuzz_one(case: str, status: int, body: bytes, fetched_at: datetime, url: str | None) -> None:
    parser, check = CASES[case]
    result = parser(status, body, fetched_at, url)
    check(result, status, body)
    event(result.outcome)


@pytest.mark.parametrize("case", sorted(CASES))
@CI
@given(status=statuses, body=bodies, fetched_at=fetch_times, url=urls)
def test_html_parser_fuzz(case, status, body, fetched_at, url):
    fuzz_one(case, status, body, fetched_at, url)


@pytest.mark.parametrize("case", sorted(CASES))
@CI
@given(body=pages, fetched_at=fetch_times, url=urls)
def test_html_page_fuzz(case, body, fetched_at, url):
    """Pages of the platforms' own elements: the paths where articles and posts are read."""
    fuzz_one(case, 200, body, fetched_at, url)


@pytest.mark.long
@pytest.mark.parametrize("case", sorted(CASES))
@LONG
@given(status=statuses, body=st.one_of(bodies, pages), fetched_at=fetch_times, url=urls)
def test_html_parser_fuzz_long(case, status, body, fetched_at, url):
    fuzz_one(case, status, body, fetched_at, url)
