"""News sites through their RSS or Atom feeds: a listing watch (the feed) whose articles are
probed by their own URL.

A watchlist's accounts are feed URLs: a news site's own feeds, or any platform through a feed
service the researcher runs (RSSHub's `/toutiao/user/<token>` and the like). A feed is one page
(`max_pages = 1`); each entry is a sighting of the article its link names (the article's URL is
its id, so the probe is the article itself). Feeds roll over: an entry that left the feed is
never missing by itself. An entry absent from the part of the feed a crawl covered (its window,
over publication times) becomes a candidate, and only the article's own answer decides. With a
`probe_schedule:` on the watchlist, every article the feed ever showed is also probed on it: a
changed main text is a new version, and removals after the entry rolled off are seen too.

An article's answer:
- 404 or 410, or a redirect to the site's home or a section page (a path of at most one
  segment, on the same site): removed, `removed_unattributed` (the site says the article is
  gone, not who removed it), the message naming the status or the redirect;
- words of news_messages.yaml in the page's title and headings (or, when the page has no main
  text, anywhere in it): the reason the file gives (`unknown` for words no recorded page
  confirms); verification and rate-limit pages are failures, never removals;
- 5xx, 403, 429, timeouts, cut pages, a redirect to a sign-in, subscription or verification
  path: failures, never removals;
- else the article, its main text extracted by trafilatura (navigation, related links and
  counters are not content, so a page whose HTML changes around the same text is no new
  version). A page without extractable main text is a failure (`unexpected_answer`).

Verified against shared/platform-facts.md ("News sites and feeds"): feeds list items; a removed
article answers 404/410 or redirects home or to a section; some keep the URL and replace the
body. Assumed: which redirect counts as "a section page" (at most one path segment); the
removal and verification words in news_messages.yaml (none recorded from a real site:
unconfirmed, so `unknown`); that an entry's date is its publication time to the second.
Parsing is feedparser's (RSS 0.9x/1.0/2.0, Atom 0.3/1.0); extraction is trafilatura's, whose
version a crawl records with the software (a new extractor can make versions: reparse to check).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from .. import failures
from .base import (
    ExtraColumn,
    ListingAdapter,
    PostRecord,
    ProbeResult,
    Signatures,
    TimelinePage,
    timestamp_order_key,
)
from .html_pages import MALFORMED_HTML, PageProblem, block_text, read_page, visible_text

PLATFORM = "news"
MESSAGE_LIMIT = 2000
GONE_STATUSES = (404, 410)
_FEED_ENDS = re.compile(rb"</(?:rss|feed|rdf:RDF|RDF)>\s*$", re.IGNORECASE)
_LOGIN = re.compile(r"(?i)(?:^|/)(?:log-?in|sign-?in|signon|passport|account|auth|captcha|"
                    r"verify|verification|sso|subscribe|paywall)(?:$|[/._-])")
_HOME_PAGES = frozenset({"", "index.html", "index.htm", "index.shtml", "index.php",
                         "default.html", "default.aspx"})


@cache
def signatures() -> Signatures:
    """News sites' words as shipped in news_messages.yaml."""
    return NewsAdapter().signatures()


def web_url(ref: str) -> str:
    """An http(s) URL without its fragment, scheme and host lower-cased; ValueError else."""
    text = ref.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or \
            any(c.isspace() for c in text):
        raise ValueError("give an http(s) URL")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/",
                       parts.query, ""))


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, OSError, TypeError):
                continue
    return None


def _html_text(fragment: str) -> str:
    """The visible text of an HTML fragment (a feed's summary)."""
    if "<" not in fragment:
        return " ".join(fragment.split())
    try:
        page = read_page(200, f"<html><body>{fragment}</body></html>".encode())
    except (PageProblem, *MALFORMED_HTML):
        return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())
    return visible_text(page)


def parse_feed(status: int, body: bytes, fetched_at: datetime) -> TimelinePage:
    """Read a feed. Pure. Entries newest first; an entry without a link is skipped (nothing to
    probe), one without a date is ordered at the fetch (assumed: rare in news feeds)."""
    import feedparser  # imported here: the module is only needed by feed watches

    if failure := failures.failure_for_status(status):
        return TimelinePage("failed", failure=failure, detail=f"HTTP {status}")
    if not body.strip():
        return TimelinePage("failed", failure=failures.UNPARSEABLE_BODY, detail="empty body")
    feed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    if not feed.get("version"):
        # Not a feed: a verification page, a login wall, an error page or half a feed.
        words = _page_words(body)
        sig = signatures().match("not_observations", words)
        if sig:
            return TimelinePage("failed", failure=sig.failure, detail=words[:500])
        kind = failures.TRUNCATED_BODY if body.lstrip()[:5] in (b"<?xml", b"<rss ", b"<feed") \
            else failures.UNEXPECTED_ANSWER
        return TimelinePage("failed", failure=kind, detail=(words or "not a feed")[:500])
    if feed.get("bozo") and not _FEED_ENDS.search(body.rstrip()):
        # Ill-formed and not whole: a feed cut short would hide entries that are still there.
        return TimelinePage("failed", failure=failures.TRUNCATED_BODY,
                            detail=f"{feed.get('bozo_exception')!r}"[:300])
    posts: dict[str, PostRecord] = {}
    for entry in feed.get("entries", []):
        link = entry.get("link") or (entry.get("id") if str(entry.get("id", "")).startswith(
            ("http://", "https://")) else None)
        try:
            url = web_url(str(link or ""))
        except ValueError:
            continue
        published = _entry_time(entry)
        title = " ".join(str(entry.get("title") or "").split())
        summary = _html_text(str(entry.get("summary") or ""))
        posts.setdefault(url, PostRecord(
            platform=PLATFORM, post_id=url, account_id="", created_at=published,
            order_key=timestamp_order_key(published or fetched_at),
            text="\n".join(t for t in (title, summary) if t), url=url,
            screen_name=" ".join(str(feed.feed.get("title") or "").split()) or None,
            # The feed shows the article's headline, not its body: no versioned field is set,
            # so this sighting neither makes a version nor replaces what a probe read.
            extra={"feed_title": title or None}))
    ordered = sorted(posts.values(), key=lambda p: p.order_key, reverse=True)
    return TimelinePage("posts", posts=tuple(ordered))


def _page_words(body: bytes) -> str:
    try:
        return visible_text(read_page(200, body))
    except (PageProblem, *MALFORMED_HTML):
        return " ".join(body[:2000].decode("utf-8", errors="replace").split())


def _is_home_or_section(url: str, asked_url: str) -> bool:
    """A redirect from the article to its site's home page or a section page, on the same site
    (www. or not): a path of at most one segment (`/`, `/index.html`, `/world/`), or a folder
    above the article's own path (`/news/world/` for `/news/world/2026/1.html`)."""
    got, asked = urlsplit(url), urlsplit(asked_url)
    site = got.netloc.lower().removeprefix("www.")
    if site != asked.netloc.lower().removeprefix("www.") or got.query:
        return False
    segments = [s for s in got.path.split("/") if s]
    if segments and segments[-1].lower() in _HOME_PAGES:
        segments = segments[:-1]
    if len(segments) == 0 or (len(segments) == 1 and "." not in segments[0]):
        return True
    above = [s for s in asked.path.split("/") if s][:-1]
    return len(segments) < len(above) + 1 and above[:len(segments)] == segments


@dataclass(frozen=True)
class ArticlePage:
    headline: str
    body: str


def extract_article(page_html: str, page: Any) -> ArticlePage | None:
    """The article's headline (og:title, else the first h1, else <title>) and main text
    (trafilatura), or None without main text. `page` is the page's parsel Selector."""
    import trafilatura  # imported here: it loads its models on first use

    text = trafilatura.extract(page_html, include_comments=False, include_tables=True,
                               include_images=False, include_links=False, deduplicate=False,
                               favor_precision=True, with_metadata=False)
    if not text or not text.strip():
        return None
    h1 = page.css("h1")
    headline = (page.css('meta[property="og:title"]::attr(content)').get()
                or (block_text(h1[0]) if h1 else "") or page.css("title::text").get() or "")
    return ArticlePage(headline=" ".join(headline.split()), body=text.strip())


def parse_article(status: int, body: bytes, url: str, asked_url: str) -> ProbeResult:
    """Read an article's answer (see the module docstring). Pure."""
    if status in GONE_STATUSES:
        return ProbeResult("removed", reason="removed_unattributed", message=f"HTTP {status}")
    try:
        page = read_page(status, body)
        words = visible_text(page)
        prominent = " ".join([*page.css("title::text").getall(),
                              *(block_text(h) for h in page.css("h1, h2, h3"))])
    except PageProblem as problem:
        return ProbeResult("failed", failure=problem.failure, detail=problem.detail)
    except MALFORMED_HTML as exc:
        return ProbeResult("failed", failure=failures.UNPARSEABLE_BODY, detail=repr(exc)[:200])
    sigs = signatures()
    if sig := sigs.match("not_observations", words):
        return ProbeResult("failed", failure=sig.failure, detail=words[:500])
    if url != asked_url and _LOGIN.search(urlsplit(url).path):
        # Sent to sign in or to verify (a paywall, a bot check): not an observation.
        return ProbeResult("failed", failure=failures.LOGIN_WALL, detail=f"redirected to {url}")
    if url != asked_url and _is_home_or_section(url, asked_url):
        return ProbeResult("removed", reason="removed_unattributed",
                           message=f"redirected to {url}"[:MESSAGE_LIMIT])
    if sig := sigs.match("post_messages", prominent):
        return ProbeResult("removed", reason=sig.reason or "unknown",
                           message=prominent[:MESSAGE_LIMIT])
    article = extract_article(body.decode("utf-8", errors="replace"), page)
    if article is None:
        if sig := sigs.match("post_messages", words):
            return ProbeResult("removed", reason=sig.reason or "unknown",
                               message=words[:MESSAGE_LIMIT])
        return ProbeResult("failed", failure=failures.UNEXPECTED_ANSWER,
                           detail=("no main text: " + words)[:500])
    post = PostRecord(
        platform=PLATFORM, post_id=asked_url, account_id="", order_key=0, created_at=None,
        text=article.body, url=url,
        extra={"headline": article.headline or None, "body": article.body})
    return ProbeResult("visible", post=post)


class NewsAdapter(ListingAdapter):
    """News sites through their feeds (see the module docstring). base_url is not used: feeds
    and articles are named by their own URLs."""

    name = PLATFORM
    default_base_url = "https://rsshub.app"
    watch = "listing"
    max_pages: ClassVar[int | None] = 1
    order_key = "timestamp"               # an entry's publication time: feeds have no ordered id
    # The article's headline and main text as its page shows them: a feed's sighting sets
    # neither (it shows a headline and a teaser), a probe sets both.
    versioned_fields = ("headline", "body")
    created_at_resolution = ((None, 1.0),)   # RFC 822 / RFC 3339 dates, to the second
    extra_columns = (
        ExtraColumn("feed_title", "The entry's title as the feed shows it.", release="text"),
        ExtraColumn("headline", "The article's title as its page shows it (trafilatura).",
                    release="text"),
        ExtraColumn("body", "The article's main text as its page shows it (trafilatura): "
                    "what a version compares.", release="text"),
    )
    messages_file = "news_messages.yaml"

    def account_id(self, ref: str) -> str:
        return web_url(ref)

    def timeline_url(self, base_url: str, account_id: str, page: int,
                     cursor: str | None = None, by_cursor: bool = False) -> str:
        if page != 1:
            raise ValueError("a feed is one page: use pages: 1")
        return account_id

    def parse_timeline(self, status: int, body: bytes, fetched_at: datetime) -> TimelinePage:
        page = parse_feed(status, body, fetched_at)
        return page

    def probe_url(self, base_url: str, post_id: str) -> str:
        return post_id

    def parse_probe(self, status: int, body: bytes, fetched_at: datetime) -> ProbeResult:
        """Without the URLs a redirect cannot be told: only a reparse of old evidence asks."""
        return parse_article(status, body, "", "")

    def parse_probe_response(self, status: int, body: bytes, fetched_at: datetime, *,
                             url: str, asked_url: str) -> ProbeResult:
        return parse_article(status, body, url, asked_url)
