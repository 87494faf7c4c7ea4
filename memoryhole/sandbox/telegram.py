"""Simulated Telegram public channels (t.me web preview), served under `/telegram`.

- `/telegram/s/<channel>`: the newest 20 visible posts, listed oldest to newest, in a
  `section.tgme_channel_history`; each `div.tgme_widget_message[data-post="<channel>/<id>"]` with
  `a.tgme_widget_message_date > time[datetime]` and `div.tgme_widget_message_text`. When older
  posts exist, `a.tme_messages_more[data-before=<oldest id shown>]` leads to
  `/telegram/s/<channel>?before=<id>`: the 20 visible posts with ids below it.
- A channel whose preview is off redirects (302) to `/telegram/<channel>`, a page without posts.
- `/telegram/<channel>/<id>?embed=1`: the post alone, or `div.tgme_widget_message_error` with
  `Post not found` once it is deleted (or never was).
- Deleted posts leave the list (ids are never reused); an edit changes the text in place.
- `delete_channel`: the preview redirects and every post's embed says `Post not found`.

Scenario section `telegram:` (all keys optional; absent = no Telegram):

    channels: 3                # channel names mhchannel1, mhchannel2, …
    posts: 30                  # posts per channel before start, ids 1…posts
    posts_per_hour: 0          # new posts per channel during `duration`
    delete: {share: 0.1, delay: {min: 30s, max: 3m}}
    edits: {share: 0.05, delay: {min: 30s, max: 3m}}
    events: [{at: 2m, do: delete|edit|post|hide_preview|show_preview|delete_channel, channel: <name>,
              nth: <0 = newest at start> | post: <id>, text: <new text>, count: <posts>}]

Faults: `captcha` and `login_wall` answer HTTP 429 (Telegram's flood wait), `truncated` cuts the
page in half; HTTP faults as everywhere.
"""

from __future__ import annotations

import bisect
import html
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import text as textgen
from .render import iso
from .scenario import DelayRange, Share, _Reader

PREFIX = "/telegram"
PAGE_SIZE = 20
NOT_FOUND = "Post not found"
ACTIONS = ("delete", "edit", "post", "hide_preview", "show_preview", "delete_channel")


@dataclass(frozen=True)
class TelegramEventSpec:
    at: float
    do: str
    channel: str
    nth: int | None = None
    post: int | None = None
    text: str | None = None
    count: int = 1


@dataclass(frozen=True)
class TelegramSpec:
    channels: int = 3
    posts: int = 30
    posts_per_hour: float = 0.0
    delete: Share = Share(0.1, DelayRange(30.0, 180.0))
    edits: Share = Share(0.05, DelayRange(30.0, 180.0))
    events: tuple[TelegramEventSpec, ...] = ()

    @property
    def channel_names(self) -> list[str]:
        return [f"mhchannel{i + 1}" for i in range(self.channels)]


def telegram_spec(data: Any, label: str) -> TelegramSpec | None:
    """The `telegram:` section of a scenario, checked (ScenarioError names the field)."""
    if data is None:
        return None
    r, d = _Reader(label), TelegramSpec()
    top = r.section(data, "telegram", ("channels", "posts", "posts_per_hour", "delete", "edits",
                                       "events"))
    spec = TelegramSpec(
        channels=r.integer(top, "channels", "telegram.channels", d.channels, low=1),
        posts=r.integer(top, "posts", "telegram.posts", d.posts, low=1),
        posts_per_hour=r.number(top, "posts_per_hour", "telegram.posts_per_hour",
                                d.posts_per_hour),
        delete=r.share_spec(top.get("delete"), "telegram.delete", d.delete),
        edits=r.share_spec(top.get("edits"), "telegram.edits", d.edits))
    events = top.get("events") or []
    if not isinstance(events, list):
        raise r.fail("telegram.events", f"must be a list of events, got {events!r}")
    parsed = []
    for i, raw in enumerate(events):
        name = f"telegram.events[{i}]"
        e = r.section(raw, name, ("at", "do", "channel", "nth", "post", "text", "count"))
        if e.get("do") not in ACTIONS:
            raise r.fail(f"{name}.do", f"must be one of {', '.join(ACTIONS)}")
        if e.get("channel") not in spec.channel_names:
            raise r.fail(f"{name}.channel", f"must be one of {', '.join(spec.channel_names)}")
        parsed.append(TelegramEventSpec(
            at=r.duration(e, "at", f"{name}.at", 0.0, negative_ok=True), do=e["do"],
            channel=e["channel"], nth=e.get("nth"), post=e.get("post"), text=e.get("text"),
            count=r.integer(e, "count", f"{name}.count", 1, low=1)))
    return TelegramSpec(**{**spec.__dict__, "events": tuple(parsed)})


@dataclass(eq=False)
class ChannelPost:
    channel: str
    number: int
    created_at: datetime
    text: str
    deleted_at: datetime | None = None
    edits: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def post_id(self) -> str:
        return f"{self.channel}/{self.number}"

    def text_at(self, at: datetime) -> str:
        current = self.text
        for moment, text in self.edits:
            if moment <= at:
                current = text
        return current

    def visible(self, at: datetime) -> bool:
        return self.created_at <= at and (self.deleted_at is None or at < self.deleted_at)


@dataclass(eq=False)
class Channel:
    name: str
    title: str
    posts: list[ChannelPost] = field(default_factory=list)           # by number
    preview_off: list[tuple[datetime, bool]] = field(default_factory=list)  # (at, off)

    def hidden(self, at: datetime) -> bool:
        off = False
        for moment, state in self.preview_off:
            if moment <= at:
                off = state
        return off


def _paragraph(rng: random.Random) -> str:
    vocab = textgen.vocabulary()
    return "\n".join(textgen._sentence(rng, vocab) for _ in range(rng.randint(1, 3)))


class TelegramWorld:
    """Every channel's history, computed once; pages at time t are a pure function of t."""

    def __init__(self, spec: TelegramSpec, start: datetime, duration: float, seed: int) -> None:
        self.spec, self.start = spec, start
        rng = random.Random(f"{seed}:telegram")
        self.channels: dict[str, Channel] = {}
        for name in spec.channel_names:
            channel = Channel(name, textgen.screen_name(rng))
            moments = sorted(start - timedelta(seconds=rng.uniform(60, 3 * 86400))
                             for _ in range(spec.posts))
            if spec.posts_per_hour > 0:
                t = start
                while True:
                    t += timedelta(seconds=rng.expovariate(spec.posts_per_hour / 3600))
                    if t > start + timedelta(seconds=duration):
                        break
                    moments.append(t)
            for moment in moments:
                channel.posts.append(ChannelPost(name, len(channel.posts) + 1,
                                                 moment.replace(microsecond=0), _paragraph(rng)))
            self.channels[name] = channel
        fates = random.Random(f"{seed}:telegram:fates")
        for channel in self.channels.values():
            for post in channel.posts:
                base = max(post.created_at, start)
                if fates.random() < spec.delete.share:
                    post.deleted_at = base + timedelta(seconds=fates.uniform(
                        spec.delete.delay.min, spec.delete.delay.max))
                if fates.random() < spec.edits.share:
                    at = base + timedelta(seconds=fates.uniform(spec.edits.delay.min,
                                                                spec.edits.delay.max))
                    post.edits.append((at, post.text + "\n（更新）" + _paragraph(fates)))
        for event in spec.events:
            self.schedule(start + timedelta(seconds=event.at), event.do, event.channel,
                          nth=event.nth, post=event.post, text=event.text, count=event.count)

    def newest_first(self, channel: str, at: datetime | None = None) -> list[ChannelPost]:
        at = at or self.start
        return sorted((p for p in self.channels[channel].posts if p.created_at <= at),
                      key=lambda p: p.number, reverse=True)

    def schedule(self, at: datetime, do: str, channel: str, *, nth: int | None = None,
                 post: int | None = None, text: str | None = None, count: int = 1) -> list[str]:
        """Add an event; returns the post ids it touches (new ones for `post`)."""
        if channel not in self.channels:
            raise ValueError(f"telegram: no channel {channel!r}")
        target = self.channels[channel]
        if do == "post":
            made = []
            for i in range(count):
                moment = (at + timedelta(seconds=i)).replace(microsecond=0)
                new = ChannelPost(channel, len(target.posts) + 1, moment,
                                  text or _paragraph(random.Random(f"{channel}:{moment}")))
                target.posts.append(new)
                made.append(new.post_id)
            return made
        if do in ("hide_preview", "show_preview", "delete_channel"):
            bisect.insort(target.preview_off, (at, do != "show_preview"), key=lambda e: e[0])
            if do != "delete_channel":
                return []
            for post in target.posts:
                post.deleted_at = at if post.deleted_at is None else min(post.deleted_at, at)
            return [p.post_id for p in target.posts]
        if post is not None:
            found = next((p for p in target.posts if p.number == post), None)
        else:
            listed = self.newest_first(channel)
            found = listed[nth or 0] if (nth or 0) < len(listed) else None
        if found is None:
            raise ValueError(f"telegram: {channel} has no post {post if post else nth}")
        if do == "delete":
            found.deleted_at = at if found.deleted_at is None else min(found.deleted_at, at)
        elif do == "edit":
            bisect.insort(found.edits, (at, text or found.text + "\n（更新）"), key=lambda e: e[0])
        else:
            raise ValueError(f"telegram: unknown action {do!r}")
        return [found.post_id]

    # ----------------------------------------------------------------- pages

    def listing(self, channel: str, before: int | None, at: datetime) -> tuple[int, bytes, str]:
        """(status, body, Location) of a preview page."""
        found = self.channels.get(channel.lower())
        if found is None or found.hidden(at):
            return 302, b"", f"{PREFIX}/{channel}"
        visible = [p for p in found.posts if p.visible(at)
                   and (before is None or p.number < before)]
        shown = visible[-PAGE_SIZE:]
        more = ""
        if len(visible) > len(shown):
            oldest = shown[0].number
            more = (f'<a href="/s/{found.name}?before={oldest}" class="tme_messages_more '
                    f'js-messages_more" data-before="{oldest}"></a>')
        messages = "".join(_message(found, p, at) for p in shown)
        return 200, _document(
            f"@{found.name}", f'<section class="tgme_channel_history js-message_history">'
                              f'{more}{messages}</section>'), ""

    def channel_page(self, channel: str) -> tuple[int, bytes]:
        found = self.channels.get(channel.lower())
        title = html.escape(found.title if found else channel)
        return 200, _document(title, f'<div class="tgme_page"><div class="tgme_page_title">'
                                     f'{title}</div></div>')

    def embed(self, channel: str, number: int, at: datetime) -> bytes:
        found = self.channels.get(channel.lower())
        post = next((p for p in found.posts if p.number == number), None) if found else None
        if found is None or post is None or not post.visible(at):
            inner = f'<div class="tgme_widget_message_error">{NOT_FOUND}</div>'
        else:
            inner = _message(found, post, at)
        return _document("Telegram Widget", inner, body_class="widget_frame_base emoji_image")

    def truth(self, at: datetime) -> dict[str, Any]:
        channels, posts = [], []
        for channel in self.channels.values():
            channels.append({"channel": channel.name, "title": channel.title,
                             "preview_off": [{"at": iso(m), "off": s}
                                             for m, s in channel.preview_off if m <= at]})
            for post in channel.posts:
                if post.created_at > at:
                    continue
                removed = post.deleted_at is not None and post.deleted_at <= at
                posts.append({
                    "post_id": post.post_id, "channel": channel.name, "number": post.number,
                    "created_at": iso(post.created_at), "text": post.text_at(at),
                    "original_text": post.text,
                    "edits": [{"at": iso(m), "text": t} for m, t in post.edits if m <= at],
                    "removed_at": iso(post.deleted_at) if removed else None,
                    "cause": "removed_unattributed" if removed else None,
                    "message": NOT_FOUND if removed else None, "restored_at": None})
        return {"channels": channels, "posts": posts}


def _message(channel: Channel, post: ChannelPost, at: datetime) -> str:
    text = "<br/>".join(html.escape(line) for line in post.text_at(at).split("\n"))
    edited = any(m <= at for m, _ in post.edits)
    return (
        f'<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        f'<div class="tgme_widget_message text_not_supported_wrap js-widget_message" '
        f'data-post="{post.post_id}" data-view="x">'
        f'<div class="tgme_widget_message_bubble">'
        f'<div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_'
        f'owner_name" href="https://t.me/{channel.name}"><span dir="auto">'
        f'{html.escape(channel.title)}</span></a></div>'
        f'<div class="tgme_widget_message_text js-message_text" dir="auto">{text}</div>'
        f'<div class="tgme_widget_message_footer compact js-message_footer">'
        f'<div class="tgme_widget_message_info short js-message_info">'
        f'<span class="tgme_widget_message_views">{100 + post.number * 7}</span>'
        f'<span class="tgme_widget_message_meta">{"edited " if edited else ""}'
        f'<a class="tgme_widget_message_date" href="https://t.me/{post.post_id}">'
        f'<time datetime="{post.created_at.isoformat()}" class="time">'
        f'{post.created_at:%H:%M}</time></a></span></div></div></div></div></div>')


def _document(title: str, inner: str, body_class: str = "widget_frame_base") -> bytes:
    return (f'<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"><title>{title}</title></head>'
            f'<body class="{body_class}"><main class="tgme_main">{inner}</main></body>\n'
            f'</html>\n').encode()
