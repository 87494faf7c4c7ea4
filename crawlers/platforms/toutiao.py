"""Toutiao (今日头条) articles, micro-posts and videos by their pages: an item watch.

Items are `article/<id>`, `w/<id>` (micro-posts) and `video/<id>`, probed at
`www.toutiao.com/<kind>/<id>/`. A page's data is in `<script id="RENDER_DATA">`, URL-encoded
JSON. Pages want a `ttwid` visitor cookie: with the plan option `ttwid: register` a crawl first
asks `ttwid.bytedance.com/ttwid/union/register/` for one (a POST of JSON; the cookie comes back
in Set-Cookie) and sends it with every probe (`Cookie: ttwid=…`).

Verified against shared/platform-facts.md ("Toutiao"): the three page paths, RENDER_DATA as
URL-encoded JSON, that a ttwid cookie is needed and where it comes from. From public code, not
verified here (no real page recorded): the register request's body `{"aid": 24, "needFid":
false, "region": "cn", "service": "www.toutiao.com", "union": true}` (yt-dlp's ToutiaoIE, 2025),
and a video's data at `data.initialVideo` with `title`, `publishTime` (unix seconds) and
`userInfo.name`/`userInfo.userId` (same source). Assumed: an article's and a micro-post's data
at `data` with `title`, `content` (HTML), `publishTime` and `mediaUser`/`userInfo`; every word
in toutiao_messages.yaml. What a deleted or violating item returns is unconfirmed: a page that
says so in words the file lists, or HTTP 404, is a removal with reason `unknown` and the raw page
kept as evidence; a page with neither the item's data nor any listed words is a failure
(`unexpected_answer`), never a removal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from .. import failures
from .base import ExtraColumn, ItemAdapter, PostRecord, ProbeResult, SessionRequest, Signatures
from .html_pages import MALFORMED_HTML, PageProblem, block_text, read_page, visible_text

PLATFORM = "toutiao"
KINDS = ("article", "w", "video")
TTWID_REGISTER_URL = "https://ttwid.bytedance.com/ttwid/union/register/"
# The register request's body as yt-dlp's ToutiaoIE sends it (unverified here).
TTWID_REGISTER_BODY = {"aid": 24, "needFid": False, "region": "cn",
                       "service": "www.toutiao.com", "union": True}
MESSAGE_LIMIT = 2000
_ITEM = re.compile(r"/(article|w|video)/([0-9]{6,25})/?$")
_TTWID = re.compile(r"(?:^|[;,]\s*)ttwid=([^;,\s]+)")


@cache
def signatures() -> Signatures:
    """Toutiao's words as shipped in toutiao_messages.yaml."""
    return ToutiaoAdapter().signatures()


def toutiao_item_id(ref: str) -> str:
    """`<kind>/<id>` from a page URL (host ignored), a `<kind>/<id>` or a bare id (an
    article); ValueError else."""
    text = ref.strip()
    if text.isdigit() and 6 <= len(text) <= 25:
        return f"article/{text}"
    path = urlsplit(text if "//" in text else "//x/" + text.lstrip("/")).path
    found = _ITEM.search(path.rstrip("/") + "/") or _ITEM.search(path)
    if not found:
        raise ValueError("give a page URL (toutiao.com/article|w|video/<digits>/) or its id")
    return f"{found[1]}/{found[2]}"


def _render_data(page: Any) -> dict[str, Any] | None:
    raw = page.css("script#RENDER_DATA::text").get()
    if raw is None:
        return None
    try:
        data = json.loads(unquote(raw.strip()))
    except (ValueError, RecursionError):
        raise PageProblem(failures.UNPARSEABLE_BODY, "RENDER_DATA is not URL-encoded JSON") \
            from None
    return data if isinstance(data, dict) else None


def _item(data: dict[str, Any]) -> dict[str, Any] | None:
    """The item inside RENDER_DATA: a video's `data.initialVideo`, else `data` itself when it
    carries a title or content."""
    inner = data.get("data")
    if not isinstance(inner, dict):
        return None
    video = inner.get("initialVideo")
    if isinstance(video, dict) and (video.get("title") or video.get("publishTime")):
        return video
    if inner.get("title") or inner.get("content"):
        return inner
    return None


def _html_text(fragment: str) -> str:
    if "<" not in fragment:
        return fragment.strip()
    try:
        page = read_page(200, f"<html><body>{fragment}</body></html>".encode())
    except (PageProblem, *MALFORMED_HTML):
        return re.sub(r"<[^>]+>", " ", fragment).strip()
    body = page.css("body")
    return block_text(body[0]) if body else ""


def parse_page(status: int, body: bytes) -> ProbeResult:
    """Read an item page. Pure."""
    if status == 404:   # unconfirmed as Toutiao's answer for a removed item: `unknown`
        return ProbeResult("removed", reason="unknown", message="HTTP 404")
    try:
        page = read_page(status, body)
        data = _render_data(page)
        words = visible_text(page)
    except PageProblem as problem:
        return ProbeResult("failed", failure=problem.failure, detail=problem.detail)
    except MALFORMED_HTML as exc:
        return ProbeResult("failed", failure=failures.UNPARSEABLE_BODY, detail=repr(exc)[:200])
    item = _item(data) if data else None
    sigs = signatures()
    if item is None:
        if sig := sigs.match("not_observations", words):
            return ProbeResult("failed", failure=sig.failure, detail=words[:500])
        if sig := sigs.match("post_messages", words):
            return ProbeResult("removed", reason=sig.reason or "unknown",
                               message=words[:MESSAGE_LIMIT])
        return ProbeResult("failed", failure=failures.UNEXPECTED_ANSWER,
                           detail=("no item in RENDER_DATA: " + words)[:500])
    try:
        published = datetime.fromtimestamp(int(item["publishTime"]), UTC) \
            if item.get("publishTime") else None
        user = item.get("userInfo") or item.get("mediaUser") or {}
        if not isinstance(user, dict):
            user = {}
        title = " ".join(str(item.get("title") or "").split())
        text = _html_text(str(item.get("content") or item.get("abstract") or ""))
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        return ProbeResult("failed", failure=failures.UNPARSEABLE_BODY, detail=repr(exc)[:200])
    post = PostRecord(
        platform=PLATFORM, post_id="",
        account_id=str(user.get("userId") or user.get("id") or user.get("user_id") or ""),
        order_key=int(published.timestamp() * 1000) if published else 0,
        created_at=published, text=text or title, screen_name=str(user.get("name") or "")
        or None, extra={"title": title or None})
    return ProbeResult("visible", post=post)


def ttwid_cookie(headers: Mapping[str, list[str]]) -> str | None:
    """The ttwid value a register answer sets (Set-Cookie), or None."""
    for name, values in headers.items():
        if name.lower() != "set-cookie":
            continue
        for value in values:
            found = _TTWID.search(value)
            if found:
                return found[1]
    return None


class ToutiaoAdapter(ItemAdapter):
    """Toutiao pages: an item watch (see the module docstring)."""

    name = PLATFORM
    default_base_url = "https://www.toutiao.com"
    watch = "item"
    order_key = "timestamp"                 # publishTime: ids are not known to be time-ordered
    versioned_fields = ("title", "text")
    created_at_resolution = ((None, 1.0),)  # publishTime is unix seconds
    extra_columns = (ExtraColumn("title", "The item's title (RENDER_DATA).", release="text"),)
    messages_file = "toutiao_messages.yaml"
    plan_options: ClassVar[Mapping[str, str]] = {
        "ttwid": "`register`: ask ttwid.bytedance.com for a visitor cookie before probing "
                 "(`off`, the default: send none)",
        "ttwid_register_url": "where to ask (default: ttwid.bytedance.com's register URL)",
    }

    def item_id(self, ref: str) -> str:
        return toutiao_item_id(ref)

    def probe_url(self, base_url: str, post_id: str) -> str:
        return f"{base_url.rstrip('/')}/{post_id}/"

    def parse_probe(self, status: int, body: bytes, fetched_at: datetime) -> ProbeResult:
        return parse_page(status, body)

    def check_options(self, options: Mapping[str, Any]) -> None:
        super().check_options(options)
        if options.get("ttwid", "off") not in ("register", "off"):
            raise ValueError("ttwid: use register or off")
        url = options.get("ttwid_register_url")
        if url is not None and not re.match(r"^https?://[^/\s]+", str(url)):
            raise ValueError("ttwid_register_url: an http(s) URL")

    def session_request(self, base_url: str, options: Mapping[str, Any]) -> SessionRequest | None:
        if options.get("ttwid", "off") != "register":
            return None
        return SessionRequest(
            url=str(options.get("ttwid_register_url") or TTWID_REGISTER_URL), method="POST",
            headers={"Content-Type": "application/json"},
            body=json.dumps(TTWID_REGISTER_BODY, separators=(",", ":")).encode())

    def parse_session(self, status: int, headers: Mapping[str, list[str]],
                      body: bytes) -> dict[str, str] | None:
        if status != 200:
            return None
        value = ttwid_cookie(headers)
        return {"ttwid": value} if value else None
