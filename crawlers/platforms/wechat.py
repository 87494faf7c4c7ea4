"""WeChat public-account articles (mp.weixin.qq.com/s…): an item watch.

No public listing of an account's articles exists, so a watchlist names articles by URL and each
is probed on a schedule: the live page (`#js_content`) is a sighting with its text kept, a page of
the platform's words without `#js_content` is a removal, anything else is a named failure.

Item ids are the article's URL relative to the platform (`s/<token>` for short links,
`s?__biz=…&mid=…&idx=…&sn=…` for long ones, query in that order), so the probe URL is the base
URL plus the id. The order key is the publish time (`var ct`, unix seconds): WeChat has no
time-ordered public id.

Verified against shared/platform-facts.md (WeChat section): the live page's selectors and JS
variables, and every word in wechat_messages.yaml with its order. Assumed (not in the facts):
that a removal page is a WeUI message page (`.weui-msg`), which is what lets words nobody
catalogued count as `unknown` rather than as a failure; and that a whole page ends with `</html>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from urllib.parse import parse_qs, quote, urlsplit

from parsel import Selector

from .. import failures
from .base import ExtraColumn, ItemAdapter, PostRecord, ProbeResult, Signatures
from .html_pages import MALFORMED_HTML, PageProblem, block_text, first, read_page, visible_text

PLATFORM = "wechat"
LINK_EXPIRED = "link_expired"   # a temporary article link expired: ask the permanent URL
OWN_FAILURES = (LINK_EXPIRED,)
LONG_FORM_KEYS = ("__biz", "mid", "idx", "sn")
MESSAGE_LIMIT = 2000            # characters of a removal page's words kept as its message

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{4,200}$")
_VALUE = re.compile(r"^[A-Za-z0-9_=+/.%-]{1,200}$")
_CT = re.compile(r"""\bvar\s+ct\s*=\s*["']?(\d{1,12})["']?""")
_BIZ = re.compile(r"""\bvar\s+biz\s*=\s*["']([A-Za-z0-9_=+/-]{1,100})["']""")
_TITLE = re.compile(r"""\bvar\s+msg_title\s*=\s*["']([^"'\n]{1,500})["']""")
_NICKNAME = re.compile(r"""\bvar\s+nickname\s*=\s*(?:htmlDecode\()?\s*["']([^"'\n]{1,200})["']""")


@cache
def signatures() -> Signatures:
    """WeChat's words as shipped in wechat_messages.yaml."""
    return WechatAdapter().signatures()


def article_id(url: str) -> str:
    """The item id of an article URL (host ignored) or of an id; ValueError for anything else."""
    ref = url.strip()
    if ref.startswith(("s/", "s?")):
        ref = "/" + ref
    elif "://" not in ref and not ref.startswith("/"):
        ref = "//" + ref          # mp.weixin.qq.com/s/… without a scheme
    parts = urlsplit(ref)
    # The last `s` segment: mirrors and the sandbox serve the platform under a path prefix.
    segments = parts.path.rstrip("/").split("/")
    if len(segments) >= 2 and segments[-2] == "s":
        token = segments[-1]
        if _TOKEN.match(token):
            return f"s/{token}"
    elif segments[-1] == "s":
        query = parse_qs(parts.query)
        values = [query.get(key, [""])[0] for key in LONG_FORM_KEYS]
        if all(values) and all(_VALUE.match(v) for v in values):
            return "s?" + "&".join(f"{k}={quote(v, safe='=')}"
                                   for k, v in zip(LONG_FORM_KEYS, values, strict=True))
    raise ValueError(f"not a WeChat article URL (mp.weixin.qq.com/s/<token> or "
                     f"/s?__biz=…&mid=…&idx=…&sn=…): {url!r}"[:300])


def article_url(base_url: str, item_id: str) -> str:
    return f"{base_url.rstrip('/')}/{item_id}"


def biz_of(item_id: str) -> str | None:
    """The account (__biz) a long-form id names; short links name none."""
    if item_id.startswith("s?"):
        return parse_qs(item_id[2:]).get("__biz", [None])[0]
    return None


@dataclass(frozen=True)
class Article:
    """A live article as its page showed it."""

    item_id: str | None
    title: str
    account_name: str | None
    biz: str | None
    published_at: datetime | None
    text: str
    rumor: bool        # the page carries the `page_rumor` marker: labelled a rumour, still there


@dataclass(frozen=True)
class ArticleAnswer:
    """What one article page said: `visible` (with the article), `removed` (reason and the
    page's words) or `failed` (not an observation, with the failure's name)."""

    outcome: str
    article: Article | None = None
    reason: str | None = None
    message: str | None = None
    failure: str | None = None
    detail: str | None = None


def _published(value: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value else None
    except (ValueError, OverflowError, OSError):
        return None


def _script_value(pattern: re.Pattern[str], scripts: str) -> str | None:
    found = pattern.search(scripts)
    return found[1].strip() if found else None


def _article(page: Selector, item_id: str | None) -> Article:
    scripts = "\n".join(page.xpath("//script/text()").getall())
    title = block_text(first(page, "#activity-name", ".rich_media_title")) or \
        _script_value(_TITLE, scripts) or ""
    name = block_text(first(page, "#js_name", ".profile_nickname")) or \
        _script_value(_NICKNAME, scripts)
    biz = _script_value(_BIZ, scripts) or (biz_of(item_id) if item_id else None)
    return Article(
        item_id=item_id, title=" ".join(title.split()), account_name=name or None, biz=biz or None,
        published_at=_published(_script_value(_CT, scripts)),
        text=block_text(page.css("#js_content")[0]),
        rumor=bool(page.css("#page_rumor, .page_rumor")) or "page_rumor" in scripts)


def parse_article(status: int, body: bytes, fetched_at: datetime,
                  url: str | None = None) -> ArticleAnswer:
    """Read an article page. Pure: no I/O, no clock (`fetched_at` is not needed: `ct` is
    absolute). `url`, when given, names the item (and its __biz for short pages)."""
    try:
        item_id = article_id(url) if url else None
    except ValueError:
        item_id = None
    try:
        page = read_page(status, body)
        if page.css("#js_content"):
            return ArticleAnswer("visible", article=_article(page, item_id))
        words = visible_text(page)
        is_message_page = bool(page.css(".weui-msg"))
    except PageProblem as problem:
        return ArticleAnswer("failed", failure=problem.failure, detail=problem.detail)
    except MALFORMED_HTML as exc:
        return ArticleAnswer("failed", failure=failures.UNPARSEABLE_BODY, detail=repr(exc)[:200])
    sigs = signatures()
    if sig := sigs.match("not_observations", words):
        return ArticleAnswer("failed", failure=sig.failure, detail=words[:MESSAGE_LIMIT])
    sig = sigs.match("post_messages", words) or sigs.match("account_messages", words)
    if sig is None and not (is_message_page and words):
        # No article and none of the platform's words, not even on its message page: nothing
        # says the article is gone.
        return ArticleAnswer("failed", failure=failures.UNEXPECTED_ANSWER,
                             detail=(words or "a page without #js_content or words")[:500])
    reason = sig.reason if sig and sig.reason else "unknown"
    return ArticleAnswer("removed", reason=reason, message=words[:MESSAGE_LIMIT])


class WechatAdapter(ItemAdapter):
    """WeChat articles: an item watch (see the module docstring)."""

    name = PLATFORM
    default_base_url = "https://mp.weixin.qq.com"
    watch = "item"
    order_key = "timestamp"              # `var ct`, in epoch milliseconds: no time-ordered id
    versioned_fields = ("title", "text")
    created_at_resolution = ((None, 1.0),)   # `ct` is unix seconds, absolute
    extra_columns = (
        ExtraColumn("title", "The article's title (#activity-name).", release="text"),
        ExtraColumn("rumor", "The page carries WeChat's rumour label (page_rumor): the article "
                    "is still there, marked.", release="keep"),
    )
    failure_descriptions = {
        LINK_EXPIRED: "WeChat says the temporary article link expired (链接已过期): not a "
                      "removal; watch the permanent URL",
    }
    messages_file = "wechat_messages.yaml"

    def item_id(self, ref: str) -> str:
        return article_id(ref)

    def probe_url(self, base_url: str, post_id: str) -> str:
        return article_url(base_url, post_id)

    def parse_probe(self, status: int, body: bytes, fetched_at: datetime,
                    url: str | None = None) -> ProbeResult:
        answer = parse_article(status, body, fetched_at, url)
        if answer.outcome != "visible" or answer.article is None:
            return ProbeResult(answer.outcome, reason=answer.reason, message=answer.message,  # type: ignore[arg-type]
                               failure=answer.failure, detail=answer.detail)
        return ProbeResult("visible", post=article_record(answer.article))


def article_record(article: Article) -> PostRecord:
    """An article as the contract's PostRecord (post_id '' when the page's URL was not given:
    the probe knows which item it asked about)."""
    published = article.published_at
    return PostRecord(
        platform=PLATFORM, post_id=article.item_id or "", account_id=article.biz or "",
        order_key=int(published.timestamp() * 1000) if published else 0,
        created_at=published, text=article.text, screen_name=article.account_name,
        url=article_url(WechatAdapter.default_base_url, article.item_id) if article.item_id
        else None,
        extra={"title": article.title, "rumor": article.rumor})
