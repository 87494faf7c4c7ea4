"""The news (feed + article) and Toutiao parsers, their plans and what their declarations say.

Feeds and article pages here are small hand-written documents in the shapes feedparser and news
sites use (RSS 2.0, Atom 1.0); the simulated site's pages (memoryhole/sandbox/news.py) are read
too. No page here was recorded from a real site: what news.py and toutiao.py take as confirmed
comes from shared/platform-facts.md, and every word in their messages files is unconfirmed.
"""

from __future__ import annotations

import asyncio
import html
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from memoryhole.analysis.publish import build_metadata, make_datasette, prepare
from memoryhole.corpus.store import Corpus
from memoryhole.crawlers.plan import PlanError, plan_from_dict
from memoryhole.crawlers.platforms import ADAPTERS, adapter_for
from memoryhole.crawlers.platforms.base import PostRecord, failure_names
from memoryhole.crawlers.platforms.news import parse_article, parse_feed
from memoryhole.crawlers.platforms.toutiao import parse_page, toutiao_item_id, ttwid_cookie
from memoryhole.crawlers.platforms.weibo import WeiboAdapter

from memoryhole.sandbox.news import article_page, site_page, toutiao_page

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
PLATFORMS = Path(__file__).resolve().parents[1] / "crawlers" / "platforms"
ARTICLE = "https://www.example.com/world/2026/11/24/1001.html"

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>要闻</title><link>https://www.example.com/</link>
<item><title>第一篇</title><link>https://www.example.com/world/2026/11/24/1001.html#top</link>
<pubDate>Tue, 24 Nov 2026 01:00:00 GMT</pubDate><description>&lt;p&gt;导语&lt;/p&gt;</description></item>
<item><title>第二篇</title><link>https://www.example.com/china/2026/11/24/1002.html</link>
<pubDate>Tue, 24 Nov 2026 01:30:00 +0800</pubDate></item>
<item><title>没有链接</title><pubDate>Tue, 24 Nov 2026 01:40:00 GMT</pubDate></item>
</channel></rss>
"""
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Site</title><id>urn:x</id>
<updated>2026-11-24T01:00:00Z</updated>
<entry><title>One</title><link href="https://news.example.org/a/1"/><id>urn:1</id>
<published>2026-11-24T00:59:59Z</published><updated>2026-11-24T01:00:00Z</updated></entry>
</feed>
"""


def article_html(body: str, related: str = "相关 1") -> bytes:
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n"))
    return (f"<!DOCTYPE html><html><head><title>标题 - 某报</title></head><body><header><nav>"
            f"<a href='/'>首页</a></nav></header><article><h1>标题</h1>{paragraphs}</article>"
            f"<aside><h3>相关阅读</h3><ul><li>{related}</li></ul></aside><footer>版权所有"
            f"</footer></body></html>").encode()


# --- feeds ----------------------------------------------------------------------------------


def test_an_rss_feed_lists_its_articles_newest_first_by_their_urls():
    page = parse_feed(200, RSS.encode(), AT)
    assert page.outcome == "posts"
    assert [p.post_id for p in page.posts] == [
        "https://www.example.com/world/2026/11/24/1001.html",     # 01:00 UTC, fragment dropped
        "https://www.example.com/china/2026/11/24/1002.html"]     # 01:30 +0800 = 17:30 the day before
    first = page.posts[0]
    assert first.created_at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert first.text == "第一篇\n导语" and first.account_id == ""
    # A feed shows no versioned content: its sighting neither makes nor replaces a version.
    assert set(first.versioned(ADAPTERS["news"].versioned_fields).values()) == {None}


def test_an_atom_feed_is_read_too():
    [entry] = parse_feed(200, ATOM.encode(), AT).posts
    assert entry.post_id == "https://news.example.org/a/1"
    assert entry.created_at == datetime(2026, 11, 24, 0, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(("status", "body", "failure"), [
    (503, RSS.encode(), "server_error"),
    (429, b"", "rate_limited"),
    (200, RSS.encode()[: len(RSS) // 2], "truncated_body"),
    (200, b"", "unparseable_body"),
    (200, site_page("安全验证", "请完成安全验证", []), "captcha"),
    (200, site_page("首页", "欢迎", []), "unexpected_answer"),
])
def test_a_feed_that_is_not_whole_or_not_a_feed_is_a_failure(status, body, failure):
    page = parse_feed(status, body, AT)
    assert (page.outcome, page.failure) == ("failed", failure)


# --- articles -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
def test_gone_statuses_are_removals_without_attribution(status):
    result = parse_article(status, b"<html><body>Not Found</body></html>", ARTICLE, ARTICLE)
    assert (result.outcome, result.reason, result.message) == (
        "removed", "removed_unattributed", f"HTTP {status}")


@pytest.mark.parametrize("final", [
    "https://www.example.com/", "https://example.com/index.html", "https://www.example.com/world/",
    "https://www.example.com/world/2026/"])
def test_a_redirect_home_or_to_a_section_is_a_removal(final):
    result = parse_article(200, site_page("首页", "首页", ["今日要闻"]), final, ARTICLE)
    assert (result.outcome, result.reason) == ("removed", "removed_unattributed")
    assert result.message == f"redirected to {final}"


@pytest.mark.parametrize("final", [
    "https://www.example.com/world/2026/11/24/1001-new-slug.html",   # the article moved
    "https://other.example.net/",                                     # another site's home
])
def test_other_redirects_are_read_as_the_page_they_lead_to(final):
    result = parse_article(200, article_html("第一段。\n第二段。"), final, ARTICLE)
    assert result.outcome == "visible"


@pytest.mark.parametrize("final", ["https://www.example.com/login", "https://example.com/passport/",
                                   "https://www.example.com/subscribe?next=/world/"])
def test_a_redirect_to_sign_in_is_a_failure_not_a_removal(final):
    result = parse_article(200, site_page("登录", "登录", []), final, ARTICLE)
    assert (result.outcome, result.failure) == ("failed", "login_wall")


@pytest.mark.parametrize(("status", "body", "failure"), [
    (500, b"", "server_error"),
    (403, b"", "ip_limited"),
    (200, article_html("第一段。")[:80], "truncated_body"),
    (200, site_page("安全验证", "请完成安全验证", ["拖动滑块"]), "captcha"),
])
def test_failures_are_never_removals(status, body, failure):
    result = parse_article(status, body, ARTICLE, ARTICLE)
    assert (result.outcome, result.failure) == ("failed", failure)


def test_a_page_that_says_it_is_gone_is_unknown_with_its_words():
    page = site_page("页面不存在 - 某报", "页面不存在", ["您访问的页面不存在或已被删除。"])
    result = parse_article(200, page, ARTICLE, ARTICLE)
    assert (result.outcome, result.reason) == ("removed", "unknown")
    assert result.message == "页面不存在 - 某报 页面不存在"


def test_words_inside_a_live_articles_body_are_not_a_removal():
    result = parse_article(200, article_html("记者发现，该页面不存在于任何目录。\n第二段。"),
                           ARTICLE, ARTICLE)
    assert result.outcome == "visible"


def test_the_version_is_the_main_text_not_the_html_around_it():
    one = parse_article(200, article_html("第一段。\n第二段。", "相关 1"), ARTICLE, ARTICLE)
    two = parse_article(200, article_html("第一段。\n第二段。", "完全不同的相关 2"), ARTICLE,
                        ARTICLE)
    edited = parse_article(200, article_html("第一段。\n改过的第二段。"), ARTICLE, ARTICLE)
    fields = ADAPTERS["news"].versioned_fields
    assert one.post.versioned(fields) == two.post.versioned(fields)
    assert one.post.versioned(fields) != edited.post.versioned(fields)
    assert one.post.extra["body"].endswith("第一段。\n第二段。")


def test_a_page_without_main_text_or_words_is_a_failure():
    result = parse_article(200, b"<html><body></body></html>", ARTICLE, ARTICLE)
    assert (result.outcome, result.failure) == ("failed", "unexpected_answer")


def test_the_simulated_sites_article_is_read_as_its_paragraphs():
    from memoryhole.sandbox.news import Item
    item = Item(key="/world/20261124/1.html", title="标题", published_at=AT,
                bodies=[(AT, ("第一段话。", "第二段话。"))], section="world")
    result = parse_article(200, article_page(item, AT), ARTICLE, ARTICLE)
    assert result.post.extra == {"headline": "标题", "body": "第一段话。\n第二段话。"}


# --- Toutiao --------------------------------------------------------------------------------


@pytest.mark.parametrize(("ref", "item"), [
    ("https://www.toutiao.com/article/7312345678901234567/", "article/7312345678901234567"),
    ("https://www.toutiao.com/w/7312345678901234568/?wid=1", "w/7312345678901234568"),
    ("www.toutiao.com/video/7505382061495176511", "video/7505382061495176511"),
    ("7312345678901234567", "article/7312345678901234567"),
    ("article/7312345678901234567", "article/7312345678901234567"),
])
def test_toutiao_item_ids(ref, item):
    assert toutiao_item_id(ref) == item
    assert toutiao_item_id(item) == item   # idempotent


def test_toutiao_refuses_what_is_not_an_item():
    with pytest.raises(ValueError, match="toutiao.com/article"):
        toutiao_item_id("https://www.toutiao.com/c/user/123/")


def test_a_toutiao_video_is_read_from_render_data_initial_video():
    data = {"data": {"initialVideo": {"title": "标题", "publishTime": 1747483344,
                                      "userInfo": {"name": "极目新闻", "userId": "MS4w"}}}}
    result = parse_page(200, toutiao_page("标题", data))
    post = result.post
    assert result.outcome == "visible"
    assert (post.extra["title"], post.screen_name, post.account_id) == ("标题", "极目新闻", "MS4w")
    assert post.created_at == datetime.fromtimestamp(1747483344, UTC)


def test_a_toutiao_article_is_read_from_render_data():
    data = {"data": {"title": "文章", "content": "<p>一</p><p>二</p>", "publishTime": 1,
                     "mediaUser": {"name": "号", "id": 7}}}
    post = parse_page(200, toutiao_page("文章", data)).post
    assert (post.text, post.account_id, post.screen_name) == ("一\n二", "7", "号")


def test_toutiao_removals_are_unknown_and_what_says_nothing_is_a_failure():
    gone = parse_page(200, toutiao_page("该内容暂时无法查看 返回首页", {"data": {}}))
    assert (gone.outcome, gone.reason, gone.message) == (
        "removed", "unknown", "该内容暂时无法查看 返回首页")
    assert (parse_page(404, b"").outcome, parse_page(404, b"").reason) == ("removed", "unknown")
    silent = parse_page(200, toutiao_page("", {"data": {}}))
    assert (silent.outcome, silent.failure) == ("failed", "unexpected_answer")
    verify = parse_page(200, toutiao_page("请完成下列验证后继续 验证码", None))
    assert (verify.outcome, verify.failure) == ("failed", "captcha")
    bad = parse_page(200, b'<html><body><script id="RENDER_DATA">%7Bnot json</script>'
                          b"</body></html>")
    assert (bad.outcome, bad.failure) == ("failed", "unparseable_body")
    assert parse_page(502, b"").failure == "server_error"


def test_ttwid_session_only_when_the_plan_asks_and_its_cookie_is_read():
    toutiao = adapter_for("toutiao")
    assert toutiao.session_request("https://www.toutiao.com", {}) is None
    request = toutiao.session_request("https://www.toutiao.com", {"ttwid": "register"})
    assert request.url == "https://ttwid.bytedance.com/ttwid/union/register/"
    assert request.method == "POST" and json.loads(request.body)["service"] == "www.toutiao.com"
    headers = {"Set-Cookie": ["ttwid=1%7Cabc%7C17; Path=/; Domain=.toutiao.com; HttpOnly"]}
    assert ttwid_cookie(headers) == "1%7Cabc%7C17"
    assert toutiao.parse_session(200, headers, b"{}") == {"ttwid": "1%7Cabc%7C17"}
    assert toutiao.parse_session(200, {}, b"{}") is None
    assert toutiao.parse_session(503, headers, b"") is None


def test_render_data_is_url_encoded_json():
    raw = quote(json.dumps({"data": {"title": "t", "content": "c"}}), safe="")
    page = f'<html><body><script id="RENDER_DATA">{raw}</script></body></html>'.encode()
    assert parse_page(200, page).post.extra["title"] == "t"


# --- plans, declarations, Datasette, the store ----------------------------------------------


def plan(**changes) -> dict:
    base = {"platform": "news", "watchlists": [
        {"name": "w", "accounts": ["https://www.example.com/rss.xml"], "pages": 1}]}
    base.update(changes)
    return base


def test_a_news_plan_names_feeds_by_url_one_page_each():
    made = plan_from_dict(plan())
    assert made.watchlists[0].accounts == ("https://www.example.com/rss.xml",)
    with pytest.raises(PlanError, match=r"accounts\[0\].*not a news account"):
        plan_from_dict(plan(watchlists=[{"name": "w", "accounts": ["1001"]}]))
    with pytest.raises(PlanError, match="pages: .*at most 1"):
        plan_from_dict(plan(watchlists=[{"name": "w", "pages": 2,
                                         "accounts": ["https://www.example.com/rss.xml"]}]))
    scheduled = plan_from_dict(plan(watchlists=[{
        "name": "w", "accounts": ["https://www.example.com/rss.xml"],
        "probe_schedule": [{"until": "1d", "every": "1h"}, {"every": "1d"}]}]))
    assert [s.every for s in scheduled.watchlists[0].probe_schedule] == [3600.0, 86400.0]
    # A recorded plan reads back the same (reparse).
    assert plan_from_dict(json.loads(json.dumps(scheduled.as_record()))).watchlists == \
        scheduled.watchlists


def test_weibo_account_ids_are_still_checked():
    with pytest.raises(PlanError, match="not a weibo account"):
        plan_from_dict({"platform": "weibo", "watchlists": [
            {"name": "w", "accounts": ["https://x/"]}]})


def test_platform_options_are_the_platforms_own():
    made = plan_from_dict({"platform": "toutiao", "options": {"ttwid": "register"},
                           "watchlists": [{"name": "w", "items": ["7312345678901234567"]}]})
    assert made.options == {"ttwid": "register"} and made.as_record()["options"] == made.options
    with pytest.raises(PlanError, match="options.ttwid: use register or off"):
        plan_from_dict({"platform": "toutiao", "options": {"ttwid": "yes"},
                        "watchlists": [{"name": "w", "items": ["7312345678901234567"]}]})
    with pytest.raises(PlanError, match="options.ttwid: not an option of weibo"):
        plan_from_dict({"platform": "weibo", "options": {"ttwid": "register"},
                        "watchlists": [{"name": "w", "accounts": [1001]}]})


def test_unconfirmed_words_classify_unknown_and_datasette_says_so(tmp_path):
    for name in ("news", "toutiao"):
        raw = yaml.safe_load((PLATFORMS / f"{name}_messages.yaml").read_text("utf-8"))
        rows = [r for v in raw.values() if isinstance(v, list) for r in v]
        assert rows and all(r.get("unconfirmed") for r in rows), name
        assert all(r["reason"] == "unknown" for r in rows if "reason" in r), name
    corpus = Corpus(tmp_path / "data")
    corpus.record_platform("toutiao", ADAPTERS["toutiao"].declaration())
    corpus.close()
    tables = build_metadata(tmp_path / "data" / "corpus.db")["databases"]["corpus"]["tables"]
    message = tables["removals"]["columns"]["message"]
    assert "UNCONFIRMED" in message and '"该内容暂时无法查看"' in message
    assert "unconfirmed_words" not in WeiboAdapter.declaration()
    # The real Datasette shows it on the removals page.
    prepare(tmp_path / "data")
    ds = make_datasette(tmp_path / "data")

    async def fetch():
        return await ds.client.get("/corpus/removals")
    page = asyncio.run(fetch())
    assert page.status_code == 200 and "UNCONFIRMED" in page.text
    assert html.escape('"该内容暂时无法查看"') in page.text or "该内容暂时无法查看" in page.text


def test_a_sighting_that_shows_no_content_makes_no_version(tmp_path):
    from memoryhole.corpus.store import PageObservation

    corpus = Corpus(tmp_path / "data")
    corpus.record_platform("news", ADAPTERS["news"].declaration())

    def sight(crawl: int, extra: dict, text: str, at: datetime) -> None:
        post = PostRecord(platform="news", post_id=ARTICLE, account_id="feed", order_key=1,
                          created_at=AT, text=text, extra=extra)
        corpus.record_pages(crawl, [PageObservation(
            platform="news", account_id="feed", watchlist="w", page=1, url="u",
            requested_at=at, fetched_at=at, http_status=200, outcome="posts", failure=None,
            posts=(post,), cursor=None)])

    crawl = corpus.start_crawl("timeline", "news", {"watchlists": []})
    sight(crawl, {"feed_title": "t"}, "teaser", AT)              # the feed: v0, no version row
    sight(crawl, {"headline": "h", "body": "b1"}, "b1", AT)       # the page: v1
    sight(crawl, {"feed_title": "t2"}, "teaser 2", AT)           # the feed again: nothing new
    sight(crawl, {"headline": "h", "body": "b2"}, "b2", AT)       # an edit: v2
    rows = corpus.db.execute("SELECT version FROM post_versions ORDER BY version").fetchall()
    text = corpus.db.execute("SELECT text, version FROM posts").fetchone()
    corpus.close()
    assert [r[0] for r in rows] == [1, 2] and tuple(text) == ("b2", 2)


# --- fuzzed answers: never raise, never a removal without the platform's shape --------------

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NEWS_WORDS = sorted({s.words for t in adapter_for("news").signatures().tables.values() for s in t})
TOUTIAO_WORDS = sorted({s.words for t in adapter_for("toutiao").signatures().tables.values()
                        for s in t})
fragments = st.one_of(
    st.sampled_from(NEWS_WORDS + TOUTIAO_WORDS).map(lambda w: f"<h1>{w}</h1>"),
    st.text(max_size=30).map(lambda t: f"<p>{html.escape(t)}</p>"),
    st.sampled_from(["<article>", "</article>", "<item><link>https://a.b/c</link></item>",
                     "<rss version='2.0'><channel>", "</channel></rss>",
                     '<script id="RENDER_DATA">%7B%22data%22%3A%7B%7D%7D</script>',
                     '<script id="RENDER_DATA">%7B%22data%22%3A%7B%22title%22%3A1%2C'
                     '%22publishTime%22%3A%22x%22%7D%7D</script>', "<div><p>"]))
answers = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda parts, close: ("<html><body>" + "".join(parts)
                                    + ("</body></html>" if close else "")).encode(),
              st.lists(fragments, max_size=8), st.booleans()),
    st.just(RSS.encode()).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])))
statuses = st.sampled_from([200, 200, 200, 301, 403, 404, 410, 418, 429, 500, 503])
NAMES = set(failure_names(type(adapter_for("news")))) | set(
    failure_names(type(adapter_for("toutiao"))))


@FUZZ
@given(status=statuses, body=answers, redirected=st.booleans())
def test_fuzzed_news_answers(status, body, redirected):
    page = parse_feed(status, body, AT)
    assert page.outcome in ("posts", "failed") and (page.outcome != "failed"
                                                   or page.failure in NAMES)
    final = "https://www.example.com/" if redirected else ARTICLE
    result = parse_article(status, body, final, ARTICLE)
    assert result.outcome in ("visible", "removed", "failed")
    if result.outcome == "failed":
        assert result.failure in NAMES
    if result.outcome == "removed":
        said = status in (404, 410) or redirected or any(w in body.decode("utf-8", "replace")
                                                         for w in NEWS_WORDS)
        assert said and result.reason in ("removed_unattributed", "unknown")


@FUZZ
@given(status=statuses, body=answers)
def test_fuzzed_toutiao_answers(status, body):
    result = parse_page(status, body)
    assert result.outcome in ("visible", "removed", "failed")
    if result.outcome == "failed":
        assert result.failure in NAMES
    if result.outcome == "removed":
        assert result.reason == "unknown"
        assert status == 404 or any(w in body.decode("utf-8", "replace") for w in TOUTIAO_WORDS)
