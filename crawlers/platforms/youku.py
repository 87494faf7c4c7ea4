"""Youku videos through ups.youku.com/ups/get.json: an item watch.

Youku has no public listing the watch can page through, so the plan names videos (`X…` ids or
v.youku.com/v_show/id_<id>.html URLs) and each is probed on its schedule:
`ups/get.json?vid=<id>&ccode=0564&client_ip=192.168.1.1` answers `{"data": {...}}`. A playable
video is `data.video` (title, uploader, duration kept as the item's versioned fields); a video
that cannot be played is `data.error` with `code` and `note`, classified by youku_messages.yaml
(codes exactly, then the note's words; anything uncatalogued: `unknown`, note kept).

Verified (shared/platform-facts.md; yt-dlp's extractor/youku.py): the endpoint and its `vid`,
`ccode`, `client_ip`, `utid` parameters; `data.error.code`/`note`; the notes
`因版权原因无法观看此视频` and `该视频被设为私密`; codes -6004, -6001 (bad ccode), -4001, -202
(password); `data.video.title`, `seconds`, `username`, `userid`.
Assumed or unconfirmed: `data.video.description` as the item's text (empty when absent);
the words for a deleted video (classified `unknown`); what -6004 and -4001 mean (`unknown`);
where an answer says when the video was published (not read: a Youku item has no creation
time); that an answer with neither `data.video` nor `data.error` is no
observation. Not built: the `utid` parameter (yt-dlp takes it from the ETag of
log.mmstat.com/eg.js, a fetch the adapter cannot make): the live API may refuse without it,
which is recorded as a failure, never a removal.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Any

from .. import failures
from .base import ExtraColumn, ItemAdapter, PostRecord, ProbeResult, Signatures, load_signatures

PLATFORM = "youku"
CLIENT_REFUSED = "client_refused"
OWN_FAILURES = {
    CLIENT_REFUSED: "Youku refused the client (code -6001, bad ccode): says nothing about the "
                    "video",
}
CCODE = "0564"            # the client code yt-dlp sends
MESSAGE_LIMIT = 500

_ID = re.compile(r"^[A-Za-z0-9]{6,40}={0,2}$")
_IN_URL = re.compile(r"(?:/v_show/id_|/player\.php/sid/|video\.tudou\.com/v/|^youku:)"
                     r"([A-Za-z0-9]{6,40}={0,2})")


@cache
def signatures() -> Signatures:
    """Youku's words as shipped in youku_messages.yaml."""
    return load_signatures(__package__, "youku_messages.yaml",
                           frozenset((*failures.FAILURES, *OWN_FAILURES)))


def video_id(ref: str) -> str:
    """The vid of a Youku video URL or id; ValueError for anything else."""
    text = ref.strip()
    found = _IN_URL.search(text)
    if found:
        return found[1]
    if _ID.match(text) and text.startswith("X"):
        return text
    raise ValueError(f"not a Youku video (an X… id or v.youku.com/v_show/id_<id>.html): "
                     f"{ref!r}"[:200])


def ups_url(base_url: str, post_id: str) -> str:
    return f"{base_url.rstrip('/')}/ups/get.json?vid={post_id}&ccode={CCODE}&client_ip=192.168.1.1"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 2**53:
        return int(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return int(number) if number == number and abs(number) < 2**53 else None
    return None


def _text(value: Any) -> str:
    return value.strip()[:MESSAGE_LIMIT] if isinstance(value, str) else ""


def parse_ups(status: int, body: bytes, vid: str | None = None) -> ProbeResult:
    """Read a `ups/get.json` answer. Pure. `vid` names the item when the caller knows it."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        if status != 200:
            return ProbeResult("failed", failure=failures.failure_for_status(status),
                               detail=f"HTTP {status}")
        failure = failures.TRUNCATED_BODY if body.lstrip()[:1] == b"{" else \
            failures.UNPARSEABLE_BODY
        return ProbeResult("failed", failure=failure)
    data = payload.get("data") if isinstance(payload, dict) else None
    if status != 200 or not isinstance(data, dict):
        return ProbeResult("failed", failure=failures.failure_for_status(status)
                           or failures.UNPARSEABLE_BODY, detail=f"HTTP {status}")
    sigs = signatures()
    error = data.get("error")
    if isinstance(error, dict):
        code = _int(error.get("code"))
        note = _text(error.get("note"))
        key = f"code={code}" if code is not None else ""
        message = note or key
        if sig := sigs.exact("not_observations", key):
            return ProbeResult("failed", failure=sig.failure, detail=f"{key} {note}".strip())
        if not message:
            return ProbeResult("failed", failure=failures.UNEXPECTED_ANSWER,
                               detail="data.error without a code or a note")
        sig = sigs.exact("error_codes", key) or sigs.match("post_messages", note)
        return ProbeResult("removed", reason=sig.reason if sig and sig.reason else "unknown",
                           message=message)
    video = data.get("video")
    title = video.get("title") if isinstance(video, dict) else None
    if not isinstance(video, dict) or not isinstance(title, str):
        return ProbeResult("failed", failure=failures.UNEXPECTED_ANSWER,
                           detail="neither data.video nor data.error")
    seconds = _int(video.get("seconds"))
    own_id = video.get("encodeid")
    post_id = vid or (own_id if isinstance(own_id, str) and _ID.match(own_id) else "")
    return ProbeResult("visible", post=PostRecord(
        platform=PLATFORM, post_id=post_id, account_id=str(_int(video.get("userid")) or ""),
        order_key=0, created_at=None, text=_text(video.get("description")),
        screen_name=_text(video.get("username")) or None,
        url=f"https://v.youku.com/v_show/id_{post_id}.html" if post_id else None,
        extra={"title": title, "duration": seconds if seconds is None or seconds >= 0 else None}))


class YoukuAdapter(ItemAdapter):
    """Youku videos: an item watch (see the module docstring)."""

    name = PLATFORM
    default_base_url = "https://ups.youku.com"
    watch = "item"
    order_key = "timestamp"       # no publish time is read: every order key is 0
    versioned_fields = ("title", "text", "screen_name", "duration")
    # No creation time is read (created_at is None); the rule says so if one ever is.
    created_at_resolution = ((None, 1.0),)
    extra_columns = (
        ExtraColumn("title", "The video's title.", release="text"),
        ExtraColumn("duration", "The video's length in seconds.", release="keep"),
    )
    failure_descriptions = OWN_FAILURES
    messages_file = "youku_messages.yaml"

    def item_id(self, ref: str) -> str:
        return video_id(ref)

    def probe_url(self, base_url: str, post_id: str) -> str:
        return ups_url(base_url, post_id)

    def parse_probe(self, status: int, body: bytes, fetched_at: datetime) -> ProbeResult:
        return parse_ups(status, body)
