"""Bilibili videos through api.bilibili.com: uploaders as a listing watch, and named videos.

One adapter, both kinds of watchlist (`item_watch`):

- `accounts:` uploaders (mids): their videos, newest first, from
  `x/space/wbi/arc/search?mid=<mid>&pn=<page>&ps=30&order=pubdate` (`data.list.vlist[]`,
  `data.page`); a video absent from the part of the listing a crawl covered is probed;
- `items:` videos (`BV…` ids or bilibili.com/video/BV… URLs), probed on the plan's schedule.

Both probe `x/web-interface/view?bvid=<BV…>`: `{"code", "message", "data"}`. Code 0 with
`data.state` 0 is a sighting (title, uploader, duration, publish time, description kept as the
item's versioned fields); code 0 with another state, or a video-specific code (-404, 62xxx), is a
removal whose reason bilibili_messages.yaml gives (an uncatalogued state or 62xxx code: `unknown`,
message kept); -412, -352, -799, -403 and every other generic code (negative, or unknown
positive outside 62xxx) are failures.

Verified (shared/platform-facts.md; yt-dlp's extractor/bilibili.py): the view endpoint and its
codes and states; the listing endpoint, its WBI signature (`wts`, `w_rid` = md5 of the sorted
query plus a mixin key from `x/web-interface/nav`), `data.list.vlist[].bvid`, `data.page.ps`/
`count`, and codes -352, -401 and HTTP 412 on it; `owner.mid`/`owner.name`, `title`, `desc`,
`pubdate`, `duration` of a video (the same object as the web page's `videoData`).
Assumed, not verified from real answers: the listing's `created`, `length` (`mm:ss` or
`h:mm:ss`), `author`, `mid` and `description` fields (they appear in third-party recorded examples
of the answer, not in yt-dlp: a listed video without `created` or `mid` makes the page a
failure); that an uploader whose listing is empty answers code 0 with an empty vlist, and one
that does not exist (any more) -404 (the listing ends; each video's probe decides).
Not built: the WBI signature. The adapter never fetches, and the signature needs the nav
answer's keys: the listing URL goes unsigned, so the live API may answer -352 (a failure, never
a removal) until the access layer signs requests.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

from .. import failures
from .base import (
    ExtraColumn,
    ListingAdapter,
    PostRecord,
    ProbeResult,
    Signatures,
    TimelinePage,
    load_signatures,
    timestamp_order_key,
)

PLATFORM = "bilibili"
REQUEST_BLOCKED = "request_blocked"
RISK_CONTROL = "risk_control"
OWN_FAILURES = {
    REQUEST_BLOCKED: "Bilibili blocked the request (code -412, HTTP 412): back off; says nothing "
                     "about the video",
    RISK_CONTROL: "Bilibili's risk control rejected the request (code -352: a missing or stale "
                  "WBI signature or fingerprint)",
}
PAGE_SIZE = 30
MESSAGE_LIMIT = 500

_BVID = re.compile(r"(?<![A-Za-z0-9])(BV1[1-9A-HJ-NP-Za-km-z]{9})(?![A-Za-z0-9])")
_LENGTH = re.compile(r"^(?:(\d{1,4}):)?(\d{1,4}):(\d{1,2})$")


@cache
def signatures() -> Signatures:
    """Bilibili's answers as shipped in bilibili_messages.yaml."""
    return load_signatures(__package__, "bilibili_messages.yaml",
                           frozenset((*failures.FAILURES, *OWN_FAILURES)))


def video_id(ref: str) -> str:
    """The BV id in a video URL or id; ValueError for anything else."""
    found = _BVID.search(ref.strip())
    if not found:
        raise ValueError(f"not a Bilibili video (BV1 and 9 more characters, or a "
                         f"bilibili.com/video/BV… URL): {ref!r}"[:200])
    return found[1]


def uploader_id(ref: str) -> str:
    """An uploader's mid (digits, as space.bilibili.com/<mid> shows it); ValueError else."""
    if not re.fullmatch(r"[0-9]{1,19}", ref.strip()):
        raise ValueError(f"not a Bilibili uploader's mid (digits, as in "
                         f"space.bilibili.com/<mid>): {ref!r}"[:200])
    return ref.strip()


def view_url(base_url: str, post_id: str) -> str:
    return f"{base_url.rstrip('/')}/x/web-interface/view?bvid={post_id}"


def listing_url(base_url: str, mid: str, page: int) -> str:
    query = {"mid": mid, "pn": page, "ps": PAGE_SIZE, "order": "pubdate"}
    return f"{base_url.rstrip('/')}/x/space/wbi/arc/search?{urlencode(query)}"


def _status_failure(status: int) -> str | None:
    """The failure an HTTP status means on Bilibili (412: blocked), None for 200."""
    return REQUEST_BLOCKED if status == 412 else failures.failure_for_status(status)


def _answer(status: int, body: bytes) -> tuple[dict[str, Any] | None, int | None, str | None]:
    """(payload, code, failure): the JSON envelope, or the failure that it is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        failure = failures.TRUNCATED_BODY if body.lstrip()[:1] == b"{" else \
            failures.UNPARSEABLE_BODY
        return None, None, failure
    if not isinstance(payload, dict):
        return None, None, failures.UNPARSEABLE_BODY
    code = payload.get("code")
    if isinstance(code, bool) or not isinstance(code, int):
        return payload, None, failures.UNPARSEABLE_BODY
    return payload, code, None


def _words(payload: dict[str, Any]) -> str:
    message = payload.get("message")
    return str(message).strip()[:MESSAGE_LIMIT] if isinstance(message, str | int) else ""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _time(value: Any) -> datetime | None:
    seconds = _int(value)
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _length(value: Any) -> int | None:
    """Seconds of a listing's `length` ("04:05", "1:02:03") or of a number."""
    number = _int(value)
    if number is not None:
        return number if number >= 0 else None
    found = _LENGTH.match(str(value or "").strip())
    if not found:
        return None
    hours, minutes, seconds = (int(found[1] or 0), int(found[2]), int(found[3]))
    return hours * 3600 + minutes * 60 + seconds


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def video_record(platform: str, bvid: str, mid: Any, name: Any, title: Any, description: Any,
                 published: datetime | None, duration: int | None, aid: Any) -> PostRecord:
    return PostRecord(
        platform=platform, post_id=bvid, account_id=str(_int(mid) or ""),
        order_key=timestamp_order_key(published) if published else 0, created_at=published,
        text=_text(description), screen_name=_text(name) or None,
        url=f"https://www.bilibili.com/video/{bvid}",
        extra={"title": _text(title), "duration": duration, "aid": _int(aid)})


def parse_view(platform: str, status: int, body: bytes) -> ProbeResult:
    """Read an `x/web-interface/view` answer. Pure."""
    payload, code, failure = _answer(status, body)
    if payload is None or code is None:
        http = _status_failure(status) if status != 200 else None
        return ProbeResult("failed", failure=http or failure, detail=f"HTTP {status}")
    sigs, key = signatures(), f"code={code}"
    if sig := sigs.exact("not_observations", key):
        return ProbeResult("failed", failure=sig.failure, detail=f"{key} {_words(payload)}")
    if status != 200:   # an HTTP error with a JSON body: still the server's trouble
        return ProbeResult("failed", failure=_status_failure(status),
                           detail=f"HTTP {status} {key}")
    if code != 0:
        sig = sigs.exact("post_messages", key)
        if sig is None and not 62000 <= code < 63000:
            # Generic codes (-400, -500, -503 …) speak of the request, not of the video.
            return ProbeResult("failed", failure=failures.UNEXPECTED_ANSWER,
                               detail=f"{key} {_words(payload)}")
        return ProbeResult("removed", reason=sig.reason if sig and sig.reason else "unknown",
                           message=f"{key} {_words(payload)}".strip())
    data = payload.get("data")
    bvid = data.get("bvid") if isinstance(data, dict) else None
    state = _int(data.get("state")) if isinstance(data, dict) else None
    if not isinstance(bvid, str) or not _BVID.fullmatch(bvid) or state is None:
        return ProbeResult("failed", failure=failures.UNEXPECTED_ANSWER,
                           detail="code 0 without a video's bvid and state")
    assert isinstance(data, dict)
    if state != 0:
        sig = sigs.exact("video_states", f"state={state}")
        return ProbeResult("removed", reason=sig.reason if sig and sig.reason else "unknown",
                           message=f"state={state}")
    owner = data.get("owner") if isinstance(data.get("owner"), dict) else {}
    return ProbeResult("visible", post=video_record(
        platform, bvid, owner.get("mid"), owner.get("name"), data.get("title"), data.get("desc"),
        _time(data.get("pubdate")), _length(data.get("duration")), data.get("aid")))


def parse_listing(platform: str, status: int, body: bytes) -> TimelinePage:
    """Read an uploader's listing page. Pure."""
    payload, code, failure = _answer(status, body)
    if payload is None or code is None:
        http = _status_failure(status) if status != 200 else None
        return TimelinePage("failed", failure=http or failure, detail=f"HTTP {status}")
    key = f"code={code}"
    if sig := signatures().exact("not_observations", key):
        return TimelinePage("failed", failure=sig.failure, detail=f"{key} {_words(payload)}")
    if status == 200 and signatures().exact("listing_end", key):
        return TimelinePage("end", detail=f"{key} {_words(payload)}")
    if status != 200 or code != 0:
        return TimelinePage("failed", failure=_status_failure(status)
                            or failures.UNEXPECTED_ANSWER, detail=f"HTTP {status} {key}")
    data = payload.get("data")
    listing = data.get("list") if isinstance(data, dict) else None
    vlist = listing.get("vlist") if isinstance(listing, dict) else None
    if vlist is None and isinstance(listing, dict):
        vlist = []          # an uploader with nothing to show
    if not isinstance(vlist, list):
        return TimelinePage("failed", failure=failures.UNPARSEABLE_BODY,
                            detail="code 0 without data.list.vlist")
    posts = []
    for entry in vlist:
        bvid = entry.get("bvid") if isinstance(entry, dict) else None
        if not isinstance(bvid, str) or not _BVID.fullmatch(bvid):
            return TimelinePage("failed", failure=failures.UNPARSEABLE_BODY,
                                detail="a listed video without a bvid")
        created = _time(entry.get("created"))
        if created is None or not _int(entry.get("mid")):
            # The window logic needs each video's uploader and time: a listing without them
            # (fields assumed, not verified) is no observation rather than a guess.
            return TimelinePage("failed", failure=failures.UNPARSEABLE_BODY,
                                detail=f"listed video {bvid} without a created time or mid")
        posts.append(video_record(platform, bvid, entry.get("mid"), entry.get("author"),
                                  entry.get("title"), entry.get("description"), created,
                                  _length(entry.get("length")), entry.get("aid")))
    if not posts:
        return TimelinePage("end", detail="an empty video list")
    newest_first = sorted({p.post_id: p for p in posts}.values(), key=lambda p: p.order_key,
                          reverse=True)
    return TimelinePage("posts", posts=tuple(newest_first))


class BilibiliAdapter(ListingAdapter):
    """Bilibili uploaders (a listing watch) and named videos (see the module docstring)."""

    name = PLATFORM
    default_base_url = "https://api.bilibili.com"
    watch = "listing"
    item_watch = True            # a video can be watched alone: `items:` watchlists
    order_key = "timestamp"      # publish time: av numbers are not assigned in time order
    versioned_fields = ("title", "text", "screen_name", "duration")  # description is the text
    created_at_resolution = ((None, 1.0),)    # unix seconds
    extra_columns = (
        ExtraColumn("title", "The video's title.", release="text"),
        ExtraColumn("duration", "The video's length in seconds.", release="keep"),
        ExtraColumn("aid", "The video's numeric id (av number): another id of the same video.",
                    release="drop", post_alias=True),
    )
    status_failures = {412: REQUEST_BLOCKED}
    failure_descriptions = OWN_FAILURES
    messages_file = "bilibili_messages.yaml"

    def item_id(self, ref: str) -> str:
        return video_id(ref)

    def timeline_url(self, base_url: str, account_id: str, page: int,
                     cursor: str | None = None, by_cursor: bool = False) -> str:
        return listing_url(base_url, uploader_id(account_id), page)

    def parse_timeline(self, status: int, body: bytes, fetched_at: datetime) -> TimelinePage:
        return parse_listing(self.name, status, body)

    def probe_url(self, base_url: str, post_id: str) -> str:
        return view_url(base_url, post_id)

    def parse_probe(self, status: int, body: bytes, fetched_at: datetime) -> ProbeResult:
        return parse_view(self.name, status, body)
