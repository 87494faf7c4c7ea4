"""Telegram public channels through their web preview (t.me/s/<channel>): a listing watch.

A channel's preview lists its posts oldest to newest, about 20 a page; older pages come from
`?before=<id>` (the page's `a.tme_messages_more[data-before]`). A channel without a public preview
redirects away from `/s/`. One post is probed through its embed, `t.me/<channel>/<id>?embed=1`,
which shows `div.tgme_widget_message_error` ("Post not found") for a deleted or missing post.

Ids: a post is `<channel>/<id>` (the `data-post` attribute, channel lower-cased: usernames are
case-insensitive); the channel's numeric id orders its posts (ids grow with time within a
channel), and is the order key. Edits are new versions of the text.

Verified against shared/platform-facts.md (Telegram section): the selectors above, the listing
order, `data-before`, the redirect, the embed URL and its error div. Inferred there, not confirmed:
that a deleted post is simply absent from `/s/` pages (the window logic relies on it, and the
embed probe decides). Assumed (not in the facts): a preview page carries
`.tgme_channel_history` (so an empty page is told from some other page) and the channel page
the redirect leads to carries `.tgme_page` (so the redirect is seen without the final URL), the
reply quote
(`a.tgme_widget_message_reply`) holds the replied-to post's text and is not this post's text,
and a whole page ends with `</html>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from urllib.parse import urlsplit

from parsel import Selector

from .. import failures
from .base import ListingAdapter, PostRecord, ProbeResult, Signatures, TimelinePage
from .html_pages import MALFORMED_HTML, PageProblem, block_text, read_page

PLATFORM = "telegram"
_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,63}$")
_DATA_POST = re.compile(r"^([A-Za-z][A-Za-z0-9_]{2,63})/([0-9]{1,15})$")
_TEXT = ("./descendant::div[contains(concat(' ', normalize-space(@class), ' '), "
         "' tgme_widget_message_text ') and not(ancestor::a[contains(@class, "
         "'tgme_widget_message_reply')])][1]")


@cache
def signatures() -> Signatures:
    """Telegram's words as shipped in telegram_messages.yaml."""
    return TelegramAdapter().signatures()


def channel_name(value: str) -> str:
    """A channel's username, lower-cased, from `name`, `@name` or a t.me URL; ValueError else."""
    text = value.strip()
    if "/" in text:
        path = [p for p in urlsplit(text if "//" in text else "//" + text).path.split("/") if p]
        text = path[1] if path[:1] == ["s"] and len(path) > 1 else (path[0] if path else "")
    text = text.lstrip("@")
    if not _CHANNEL.match(text):
        raise ValueError(f"not a Telegram channel name: {value!r}"[:200])
    return text.lower()


def listing_url(base_url: str, channel: str, before: str | None = None) -> str:
    url = f"{base_url.rstrip('/')}/s/{channel}"
    return f"{url}?before={before}" if before else url


def embed_url(base_url: str, post_id: str) -> str:
    """`post_id` is `<channel>/<id>`."""
    return f"{base_url.rstrip('/')}/{post_id}?embed=1"


@dataclass(frozen=True)
class ChannelPost:
    post_id: str          # <channel>/<id>
    channel: str
    number: int           # the id within the channel: the order key
    published_at: datetime | None
    text: str
    author: str | None    # the channel's title as the post shows it


@dataclass(frozen=True)
class ListingAnswer:
    """One preview page: `posts` (newest first), `end` (a preview with no posts left, or no
    public preview at all) or `failed`. `next_cursor` is the page's `data-before`."""

    outcome: str
    posts: tuple[ChannelPost, ...] = ()
    next_cursor: str | None = None
    failure: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class EmbedAnswer:
    outcome: str                 # visible | removed | failed
    post: ChannelPost | None = None
    reason: str | None = None
    message: str | None = None
    failure: str | None = None
    detail: str | None = None


def _time(value: str | None) -> datetime | None:
    """`time[datetime]` in UTC; None for what is no time (a time at the calendar's edge whose
    offset carries it past year 1 or 9999 included)."""
    try:
        moment = datetime.fromisoformat(value.strip()) if value else None
        if moment is None:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, TypeError, OverflowError):
        return None


def _post(node: Selector) -> ChannelPost | None:
    """One `div.tgme_widget_message`, or None when its data-post is no `<channel>/<id>`."""
    found = _DATA_POST.match(node.attrib.get("data-post", "").strip())
    if not found:
        return None
    channel, number = found[1].lower(), int(found[2])
    texts = node.xpath(_TEXT)
    author = block_text(node.css(".tgme_widget_message_owner_name")[0]) \
        if node.css(".tgme_widget_message_owner_name") else None
    return ChannelPost(
        post_id=f"{channel}/{number}", channel=channel, number=number,
        published_at=_time(node.css("a.tgme_widget_message_date time::attr(datetime)").get()
                           or node.css("time::attr(datetime)").get()),
        text=block_text(texts[0]) if texts else "", author=author or None)


def parse_listing(status: int, body: bytes, fetched_at: datetime,
                  url: str | None = None) -> ListingAnswer:
    """Read a channel preview page. Pure. `url` is where the answer came from after redirects:
    a channel without a public preview sends the reader away from `/s/`."""
    if url is not None and status == 200 and "/s/" not in urlsplit(url).path:
        return ListingAnswer("end", detail=f"no public preview: redirected to {url}"[:300])
    try:
        page = read_page(status, body)
        nodes = page.css("div.tgme_widget_message[data-post]")
        posts = [p for p in (_post(n) for n in nodes) if p is not None]
        is_preview = bool(page.css(".tgme_channel_history"))
        # Where a channel without a public preview sends the reader (t.me/<channel>).
        is_channel_page = bool(page.css(".tgme_page"))
        before = page.css("a.tme_messages_more[data-before]::attr(data-before)").get()
    except PageProblem as problem:
        return ListingAnswer("failed", failure=problem.failure, detail=problem.detail)
    except MALFORMED_HTML as exc:
        return ListingAnswer("failed", failure=failures.UNPARSEABLE_BODY, detail=repr(exc)[:200])
    if nodes and not posts:
        return ListingAnswer("failed", failure=failures.UNPARSEABLE_BODY,
                             detail="messages without a <channel>/<id> data-post")
    if not posts:
        if is_preview:
            return ListingAnswer("end", detail="a preview page without posts")
        if is_channel_page:   # the redirect's target, when the caller could not give the URL
            return ListingAnswer("end", detail="no public preview: a channel page, not /s/")
        return ListingAnswer("failed", failure=failures.UNEXPECTED_ANSWER,
                             detail="neither posts nor a channel preview")
    newest_first = tuple(sorted({p.post_id: p for p in posts}.values(),
                                key=lambda p: p.number, reverse=True))
    cursor = before.strip() if before and before.strip().isdigit() else None
    return ListingAnswer("posts", posts=newest_first, next_cursor=cursor)


def parse_embed(status: int, body: bytes, fetched_at: datetime,
                url: str | None = None) -> EmbedAnswer:
    """Read a single post's embed page. Pure."""
    try:
        page = read_page(status, body)
        error = page.css("div.tgme_widget_message_error")
        words = block_text(error[0]).replace("\n", " ") if error else ""
        node = page.css("div.tgme_widget_message[data-post]")
        post = _post(node[0]) if node and not error else None
    except PageProblem as problem:
        return EmbedAnswer("failed", failure=problem.failure, detail=problem.detail)
    except MALFORMED_HTML as exc:
        return EmbedAnswer("failed", failure=failures.UNPARSEABLE_BODY, detail=repr(exc)[:200])
    if error:
        if not words:
            return EmbedAnswer("failed", failure=failures.UNEXPECTED_ANSWER,
                               detail="an error box without words")
        sigs = signatures()
        if sig := sigs.match("not_observations", words):
            return EmbedAnswer("failed", failure=sig.failure, detail=words)
        sig = sigs.match("post_messages", words)
        return EmbedAnswer("removed", reason=sig.reason if sig else "unknown", message=words)
    if post is not None:
        return EmbedAnswer("visible", post=post)
    return EmbedAnswer("failed", failure=failures.UNEXPECTED_ANSWER,
                       detail="neither a post nor an error box")


class TelegramAdapter(ListingAdapter):
    """Telegram channels: a listing watch (see the module docstring). Pages go by cursor only
    (`before`): plans say `pagination: cursor`."""

    name = PLATFORM
    default_base_url = "https://t.me"
    watch = "listing"
    order_key = "id"                       # message ids grow with time within a channel
    versioned_fields = ("text",)           # an edit changes the text: a new version
    created_at_resolution = ((None, 1.0),)  # time[datetime] is ISO 8601 to the second
    messages_file = "telegram_messages.yaml"

    def timeline_url(self, base_url: str, account_id: str, page: int,
                     cursor: str | None = None, by_cursor: bool = False) -> str:
        if page > 1 and not cursor:
            raise ValueError("Telegram's preview pages only by `before`: page "
                             f"{page} needs the cursor of page {page - 1} (pagination: cursor)")
        return listing_url(base_url, channel_name(account_id), cursor)

    def probe_url(self, base_url: str, post_id: str) -> str:
        return embed_url(base_url, post_id)

    def parse_timeline(self, status: int, body: bytes, fetched_at: datetime,
                       url: str | None = None) -> TimelinePage:
        answer = parse_listing(status, body, fetched_at, url)
        return TimelinePage(answer.outcome, posts=tuple(post_record(p) for p in answer.posts),  # type: ignore[arg-type]
                            failure=answer.failure, detail=answer.detail,
                            next_cursor=answer.next_cursor)

    def parse_probe(self, status: int, body: bytes, fetched_at: datetime,
                    url: str | None = None) -> ProbeResult:
        answer = parse_embed(status, body, fetched_at, url)
        return ProbeResult(answer.outcome, reason=answer.reason, message=answer.message,  # type: ignore[arg-type]
                           failure=answer.failure, detail=answer.detail,
                           post=post_record(answer.post) if answer.post else None)


def post_record(post: ChannelPost) -> PostRecord:
    return PostRecord(
        platform=PLATFORM, post_id=post.post_id, account_id=post.channel, order_key=post.number,
        created_at=post.published_at, text=post.text, screen_name=post.author,
        url=f"https://t.me/{post.post_id}")
