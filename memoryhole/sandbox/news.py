"""A simulated news site with an RSS feed, and simulated Toutiao pages, served under `/news` and
`/toutiao`.

News (`news:` scenario section: articles, later, later_within, feed_size, removals and edits as
{share, delay}): articles in sections (`/news/<section>/<yyyymmdd>/<n>.html`),
published before and during the scenario; the feed (`/news/feed.xml`, RSS 2.0) lists the
`feed_size` newest live articles, so older ones roll off without being removed. An article page
has navigation and a "related" box that changes every minute around the same main text. Fates:
`gone404`, `gone410`, `redirect_home` (301 to `/news/`), `redirect_section` (302 to
`/news/<section>/`), `soft404` (HTTP 200 page saying 页面不存在), `edit` (a new body: a new
version, not a removal), `restore`. Faults: `captcha` answers a verification page (请完成安全验证),
`login_wall` a rate-limit page, `truncated` half the answer; HTTP faults as everywhere.

Toutiao (`toutiao:` section): items `/toutiao/article|w|video/<id>/` whose data is in
`<script id="RENDER_DATA">` (URL-encoded JSON: a video's at `data.initialVideo`, an article's
and a micro-post's at `data`). `POST /toutiao/ttwid/union/register/` sets a `ttwid` cookie; with
`require_ttwid` an item page asked without one is a verification page (验证码). Fates: `gone`
(a page saying 该内容暂时无法查看 and no item data), `gone404` (HTTP 404), `edit`, `restore`.

Both know their truth (`/_sandbox/truth` under `news` and `toutiao`): every removal episode
(removed_at, cause, message, restored_at) and every version of the text.
"""

from __future__ import annotations

import bisect
import html
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from . import text as textgen
from .render import iso
from .scenario import DelayRange, Share, _Reader

NEWS, TOUTIAO = "/news", "/toutiao"
SECTIONS = ("world", "china", "business")
SOFT404_PAGE_TITLE = "页面不存在 - 模拟新闻网"
SOFT404_HEADING = "页面不存在"
NEWS_VERIFY_WORDS = "请完成安全验证"
NEWS_RATE_WORDS = "访问过于频繁"
TOUTIAO_GONE_WORDS = "该内容暂时无法查看"
TOUTIAO_VERIFY_WORDS = "请完成下列验证后继续 验证码"
NEWS_ACTIONS = ("gone404", "gone410", "redirect_home", "redirect_section", "soft404", "edit",
                "restore")
TOUTIAO_ACTIONS = ("gone", "gone404", "edit", "restore")


@dataclass(frozen=True)
class NewsSpec:
    articles: int = 12            # published over the day before the start
    later: int = 0                # published during the first `later_within` of the scenario
    later_within: float = 3600.0
    feed_size: int = 8
    # Random fates (a fate drawn evenly from the removals; an edit), after a delay from the
    # start or from publication, whichever is later.
    removals: Share = Share(0.0, DelayRange(600.0, 7200.0))
    edits: Share = Share(0.0, DelayRange(600.0, 7200.0))


@dataclass(frozen=True)
class ToutiaoSpec:
    articles: int = 4
    posts: int = 2                # micro-posts (/w/)
    videos: int = 2
    require_ttwid: bool = True


def news_spec(data: Any, label: str) -> NewsSpec | None:
    if data is None:
        return None
    r, d = _Reader(label), NewsSpec()
    top = r.section(data, "news", ("articles", "later", "later_within", "feed_size",
                                   "removals", "edits"))
    return NewsSpec(articles=r.integer(top, "articles", "news.articles", d.articles, low=1),
                    later=r.integer(top, "later", "news.later", d.later),
                    later_within=r.duration(top, "later_within", "news.later_within",
                                            d.later_within),
                    feed_size=r.integer(top, "feed_size", "news.feed_size", d.feed_size, low=1),
                    removals=r.share_spec(top.get("removals"), "news.removals", d.removals),
                    edits=r.share_spec(top.get("edits"), "news.edits", d.edits))


def toutiao_spec(data: Any, label: str) -> ToutiaoSpec | None:
    if data is None:
        return None
    r, d = _Reader(label), ToutiaoSpec()
    top = r.section(data, "toutiao", ("articles", "posts", "videos", "require_ttwid"))
    require = top.get("require_ttwid", d.require_ttwid)
    if not isinstance(require, bool):
        raise r.fail("toutiao.require_ttwid", "must be true or false")
    return ToutiaoSpec(articles=r.integer(top, "articles", "toutiao.articles", d.articles),
                       posts=r.integer(top, "posts", "toutiao.posts", d.posts),
                       videos=r.integer(top, "videos", "toutiao.videos", d.videos),
                       require_ttwid=require)


# --- one item's history --------------------------------------------------------------------


@dataclass(eq=False)
class Item:
    """An article or a Toutiao item: its bodies over time and its fates."""

    key: str                      # the path under the platform's prefix
    title: str
    published_at: datetime
    bodies: list[tuple[datetime, tuple[str, ...]]]     # (from, paragraphs), oldest first
    # (at, seq, action): removals, restores; edits are in `bodies`
    fates: list[tuple[datetime, int, str]] = field(default_factory=list)
    section: str = ""
    kind: str = "article"
    author: str = ""
    author_id: str = ""

    def body(self, at: datetime) -> tuple[str, ...]:
        i = bisect.bisect_right([b[0] for b in self.bodies], at)
        return self.bodies[max(i - 1, 0)][1]

    def fate(self, at: datetime) -> str | None:
        """The removal in force at `at` (None: live)."""
        i = bisect.bisect_right([(f[0], f[1]) for f in self.fates], (at, float("inf")))
        if i == 0:
            return None
        action = self.fates[i - 1][2]
        return None if action == "restore" else action


def _history(item: Item, at: datetime, cause_of) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = []
    last = None
    for moment, _, _ in item.fates:
        if moment > at:
            break
        now = item.fate(moment)
        if now == last:
            continue
        if now is None:
            history[-1]["restored_at"] = iso(moment)
        else:
            cause, message = cause_of(item, now)
            history.append({"removed_at": iso(moment), "cause": cause, "message": message,
                            "restored_at": None})
        last = now
    return history


class _Schedules:
    _seq = 0

    def _add(self, item: Item, at: datetime, do: str, body: tuple[str, ...] | None) -> None:
        _Schedules._seq += 1
        if do == "edit":
            rng = random.Random(f"edit:{item.key}:{iso(at)}")
            new = body or tuple(textgen._sentence(rng, textgen.vocabulary())
                                for _ in range(rng.randint(2, 4)))
            bisect.insort(item.bodies, (at, new), key=lambda b: b[0])
        else:
            bisect.insort(item.fates, (at, _Schedules._seq, do), key=lambda f: (f[0], f[1]))


# --- the news site -------------------------------------------------------------------------


class NewsWorld(_Schedules):
    """Articles, a feed and their fates; every answer is a pure function of the time."""

    def __init__(self, spec: NewsSpec, start: datetime, seed: int) -> None:
        self.spec, self.start = spec, start
        self.base = "http://127.0.0.1" + NEWS   # set to the server's URL when it binds
        rng = random.Random(f"{seed}:news")
        self.articles: list[Item] = []
        for n in range(spec.articles + spec.later):
            if n < spec.articles:
                published = start - timedelta(seconds=rng.uniform(600, 86400))
            else:
                published = start + timedelta(seconds=rng.uniform(1, spec.later_within))
            published = published.replace(microsecond=0)
            section = SECTIONS[n % len(SECTIONS)]
            vocab = textgen.vocabulary()
            self.articles.append(Item(
                key=f"/{section}/{published:%Y%m%d}/{100001 + n}.html",
                title=textgen._sentence(rng, vocab).rstrip("。！？…"), published_at=published,
                bodies=[(published, tuple(textgen._sentence(rng, vocab)
                                          for _ in range(rng.randint(3, 6))))],
                section=section))
        self.articles.sort(key=lambda a: a.published_at)
        fates = random.Random(f"{seed}:news:fates")
        removals = [a for a in NEWS_ACTIONS if a not in ("edit", "restore")]
        for item in self.articles:
            since = max(item.published_at, start)
            if fates.random() < spec.removals.share:
                self._add(item, since + timedelta(seconds=fates.uniform(
                    spec.removals.delay.min, spec.removals.delay.max)),
                    fates.choice(removals), None)
            if fates.random() < spec.edits.share:
                self._add(item, since + timedelta(seconds=fates.uniform(
                    spec.edits.delay.min, spec.edits.delay.max)), "edit", None)

    def url(self, item: Item) -> str:
        return self.base + item.key

    def article(self, ref: int | str) -> Item:
        if isinstance(ref, int):
            return self.articles[ref]
        for item in self.articles:
            if ref in (item.key, self.url(item)):
                return item
        raise ValueError(f"news: no article {ref!r}")

    def schedule(self, at: datetime, do: str, article: int | str,
                 body: tuple[str, ...] | None = None) -> None:
        if do not in NEWS_ACTIONS:
            raise ValueError(f"news: unknown action {do!r}; use one of {', '.join(NEWS_ACTIONS)}")
        self._add(self.article(article), at, do, body)

    def cause(self, item: Item, fate: str) -> tuple[str, str]:
        """(reason, message) the crawler should record for a fate."""
        return {
            "gone404": ("removed_unattributed", "HTTP 404"),
            "gone410": ("removed_unattributed", "HTTP 410"),
            "redirect_home": ("removed_unattributed", f"redirected to {self.base}/"),
            "redirect_section": ("removed_unattributed",
                                 f"redirected to {self.base}/{item.section}/"),
            "soft404": ("unknown", f"{SOFT404_PAGE_TITLE} {SOFT404_HEADING}"),
        }[fate]

    # ----------------------------------------------------------------- pages

    def feed(self, at: datetime) -> bytes:
        live = [a for a in self.articles if a.published_at <= at and a.fate(at) is None]
        newest = sorted(live, key=lambda a: a.published_at, reverse=True)[:self.spec.feed_size]
        e = html.escape
        items = "".join(
            f"<item><title>{e(a.title)}</title><link>{e(self.url(a))}</link>"
            f"<guid isPermaLink=\"true\">{e(self.url(a))}</guid>"
            f"<pubDate>{format_datetime(a.published_at, usegmt=True)}</pubDate>"
            f"<description>{e('<p>' + a.body(at)[0][:60] + '</p>')}</description></item>\n"
            for a in newest)
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
                f"<title>模拟新闻网</title><link>{e(self.base)}/</link>"
                f"<description>要闻</description>\n{items}</channel></rss>\n").encode()

    def page(self, path: str, at: datetime) -> tuple[int, bytes, str]:
        """(status, body, Location) of a path under /news."""
        if path in ("", "/"):
            return 200, site_page("模拟新闻网", "首页", [a.title for a in self.articles[-5:]]), ""
        if path == "/feed.xml":
            return 200, self.feed(at), ""
        if path.strip("/") in SECTIONS:
            return 200, site_page(f"{path.strip('/')} - 模拟新闻网", path.strip("/"), []), ""
        item = next((a for a in self.articles if a.key == path), None)
        if item is None or item.published_at > at:
            return 404, site_page("404 Not Found", "Not Found", []), ""
        fate = item.fate(at)
        if fate in ("gone404", "gone410"):
            return int(fate[4:]), site_page("Not Found", "Not Found", []), ""
        if fate == "redirect_home":
            return 301, b"", f"{self.base}/"
        if fate == "redirect_section":
            return 302, b"", f"{self.base}/{item.section}/"
        if fate == "soft404":
            return 200, site_page(SOFT404_PAGE_TITLE, SOFT404_HEADING,
                                   ["您访问的页面不存在或已被删除。"]), ""
        return 200, article_page(item, at), ""

    def truth(self, at: datetime) -> list[dict[str, Any]]:
        out = []
        for item in self.articles:
            history = _history(item, at, self.cause)
            latest = history[-1] if history else {}
            out.append({
                "item_id": self.url(item), "url": self.url(item), "section": item.section,
                "title": item.title, "published_at": iso(item.published_at),
                "versions": [{"from": iso(max(t, item.published_at)), "text": "\n".join(b)}
                             for t, b in item.bodies if t <= at],
                "removed_at": latest.get("removed_at"), "cause": latest.get("cause"),
                "message": latest.get("message"), "restored_at": latest.get("restored_at"),
                "history": history})
        return out


def site_page(title: str, heading: str, lines: list[str]) -> bytes:
    e = html.escape
    body = "".join(f"<p>{e(line)}</p>" for line in lines)
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{e(title)}</title></head>'
            f'<body><header><nav><a href="/news/">首页</a> <a href="/news/world/">国际</a> '
            f'<a href="/news/china/">国内</a></nav></header><main><h1>{e(heading)}</h1>{body}'
            f"</main><footer>© 模拟新闻网</footer></body></html>\n").encode()


def article_page(item: Item, at: datetime) -> bytes:
    e = html.escape
    paragraphs = "".join(f"<p>{e(p)}</p>" for p in item.body(at))
    minute = int(at.timestamp() // 60)   # the related box changes around the same article
    related = "".join(f'<li><a href="/news/world/{minute + k}.html">相关阅读 {minute + k}</a></li>'
                      for k in range(3))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{e(item.title)} - 模拟新闻网</title>
<meta property="og:title" content="{e(item.title)}">
<meta property="article:published_time" content="{iso(item.published_at)}"></head>
<body><header><nav><a href="/news/">首页</a> <a href="/news/{item.section}/">{item.section}</a>
</nav></header>
<main><article><h1>{e(item.title)}</h1>
<div class="byline">模拟新闻网 {item.published_at:%Y-%m-%d %H:%M}</div>
<div class="article-body">{paragraphs}</div></article>
<aside><h3>相关阅读</h3><ul>{related}</ul><div class="views">阅读 {minute % 997}</div></aside>
</main><footer>© 模拟新闻网 版权所有</footer></body></html>
""".encode()


def news_verification_page() -> bytes:
    return site_page("安全验证", NEWS_VERIFY_WORDS, ["请拖动滑块完成验证。"])


def news_rate_limit_page() -> bytes:
    return site_page("提示", NEWS_RATE_WORDS, ["请稍后再试。"])


# --- Toutiao -------------------------------------------------------------------------------


class ToutiaoWorld(_Schedules):
    """Toutiao items and their fates; pages are pure functions of the time."""

    def __init__(self, spec: ToutiaoSpec, start: datetime, seed: int) -> None:
        self.spec, self.start = spec, start
        self.ttwids: set[str] = set()
        rng = random.Random(f"{seed}:toutiao")
        vocab = textgen.vocabulary()
        self.items: list[Item] = []
        kinds = ["article"] * spec.articles + ["w"] * spec.posts + ["video"] * spec.videos
        for kind in kinds:
            published = (start - timedelta(seconds=rng.uniform(600, 86400))).replace(
                microsecond=0)
            ident = 7_400_000_000_000_000_000 + rng.getrandbits(40)
            body = tuple(textgen._sentence(rng, vocab) for _ in range(rng.randint(1, 4)))
            self.items.append(Item(
                key=f"/{kind}/{ident}/", kind=kind, published_at=published,
                title="" if kind == "w" else textgen._sentence(rng, vocab).rstrip("。！？…"),
                bodies=[(published, body)], author=textgen.screen_name(rng),
                author_id=f"MS4wLjABAAAA{rng.getrandbits(64):016x}"))

    def item_id(self, item: Item) -> str:
        return item.key.strip("/")

    def item(self, ref: int | str) -> Item:
        if isinstance(ref, int):
            return self.items[ref]
        for item in self.items:
            if ref in (item.key, self.item_id(item)):
                return item
        raise ValueError(f"toutiao: no item {ref!r}")

    def schedule(self, at: datetime, do: str, item: int | str,
                 body: tuple[str, ...] | None = None) -> None:
        if do not in TOUTIAO_ACTIONS:
            raise ValueError(f"toutiao: unknown action {do!r}; use one of "
                             f"{', '.join(TOUTIAO_ACTIONS)}")
        self._add(self.item(item), at, do, body)

    def cause(self, item: Item, fate: str) -> tuple[str, str]:
        if fate == "gone404":
            return "unknown", "HTTP 404"
        return "unknown", f"{TOUTIAO_GONE_WORDS} 返回首页"

    def register(self) -> tuple[int, bytes, str]:
        """The ttwid register answer: JSON, and the cookie in Set-Cookie."""
        value = f"1%7C{len(self.ttwids) + 1:04d}simulated%7C{int(self.start.timestamp())}"
        self.ttwids.add(value)
        cookie = f"ttwid={value}; Path=/; Domain=.toutiao.com; Max-Age=31536000; HttpOnly"
        return 200, json.dumps({"status_code": 0, "message": "success"}).encode(), cookie

    def page(self, path: str, cookie: str, at: datetime) -> tuple[int, bytes]:
        item = next((i for i in self.items if i.key == path.rstrip("/") + "/"), None)
        if item is None:
            return 404, b"<html><body>404</body></html>\n"
        sent = {p.split("=", 1)[0].strip(): p.split("=", 1)[-1].strip()
                for p in cookie.split(";") if "=" in p}
        if self.spec.require_ttwid and sent.get("ttwid") not in self.ttwids:
            return 200, toutiao_page(TOUTIAO_VERIFY_WORDS, None)
        fate = item.fate(at)
        if fate == "gone404":
            return 404, b"<html><body>404</body></html>\n"
        if fate == "gone":
            return 200, toutiao_page(f"{TOUTIAO_GONE_WORDS} 返回首页", {"data": {}})
        paragraphs = item.body(at)
        user = {"name": item.author, "userId": item.author_id}
        publish = int(item.published_at.timestamp())
        if item.kind == "video":
            data = {"data": {"initialVideo": {"title": item.title, "publishTime": publish,
                                              "userInfo": user, "content": "\n".join(paragraphs),
                                              "playCount": int(at.timestamp()) % 1000}}}
        else:
            content = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
            data = {"data": {"title": item.title, "content": content, "publishTime": publish,
                             "mediaUser" if item.kind == "article" else "userInfo": user,
                             "itemId": item.key.strip("/").split("/")[1]}}
        return 200, toutiao_page(item.title, data)

    def truth(self, at: datetime) -> list[dict[str, Any]]:
        out = []
        for item in self.items:
            history = _history(item, at, self.cause)
            latest = history[-1] if history else {}
            out.append({
                "item_id": self.item_id(item), "kind": item.kind, "title": item.title,
                "published_at": iso(item.published_at),
                "versions": [{"from": iso(t), "text": "\n".join(b)} for t, b in item.bodies
                             if t <= at],
                "removed_at": latest.get("removed_at"), "cause": latest.get("cause"),
                "message": latest.get("message"), "restored_at": latest.get("restored_at"),
                "history": history})
        return out


def toutiao_page(words: str, data: dict[str, Any] | None) -> bytes:
    """Toutiao's page: a server-rendered shell whose data is URL-encoded JSON in RENDER_DATA."""
    script = "" if data is None else (
        '<script id="RENDER_DATA" type="application/json">'
        f"{quote(json.dumps(data, ensure_ascii=False), safe='')}</script>")
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>今日头条</title></head>'
            f'<body><div id="root"><div class="main">{html.escape(words)}</div></div>{script}'
            f"</body></html>\n").encode()
