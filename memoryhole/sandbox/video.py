"""Simulated video platforms: Bilibili (under `/bilibili`) and Youku (under `/youku`).

Bilibili: uploaders with videos published before the scenario starts. `x/web-interface/view?bvid=`
answers as platform-facts says: code 0 with `data.state` (0 open; -2, -3, -4, -5, -100 and others
when the video is returned, locked or deleted), or a code instead of the video (-404, 62002,
62004, 62012, -403 for a video that needs a login). `x/space/wbi/arc/search?mid=&pn=&ps=` lists
an uploader's open videos newest first (`data.list.vlist`, `data.page`); it does not check the WBI
signature. Failures: `refuse(code, n)` answers the next n requests with -412 (HTTP 412), -352 or
-799; the server's `captcha` fault answers -352, `login_wall` -799.

Youku: videos; `ups/get.json?vid=` answers `data.video`, or `data.error` {code, note} for a video
that cannot be played (copyright/region, private, password, deleted with assumed words, an
uncatalogued code). The server's `captcha` fault answers an HTML page, `login_wall` code -6001.

Scenario sections (all keys optional; absent = no such platform):

    bilibili: {uploaders: 2, videos: 6,    # videos per uploader
               removals: {share: 0.3, delay: {min: 30s, max: 3m}},  # random fates, drawn evenly
               restore: {share: 0.0, delay: {min: 20s, max: 1m}}}   # share of removed restored
    youku: {videos: 6, removals: {...}, restore: {...}}

Tests also schedule changes: `world.schedule(at, action, video)`; the truth (`truth(at)`) has
every video's history with the cause and the message a correct parser records.
"""

from __future__ import annotations

import bisect
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from . import text as textgen
from .render import iso
from .scenario import DelayRange, Share, _Reader

BILIBILI, YOUKU = "/bilibili/", "/youku/"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

# action: (cause, code, state, message words). Code 0 answers with the state; the message a
# parser records is `code=N words` for a code, `state=N` for a state (bilibili.py).
BILIBILI_ACTIONS: dict[str, tuple[str | None, int, int, str]] = {
    "returned": ("platform_removed", 0, -2, ""),
    "police": ("platform_removed", 0, -3, ""),
    "duplicate": ("platform_removed", 0, -4, ""),
    "admin": ("platform_removed", 0, -5, ""),
    "delete": ("author_deleted", 0, -100, ""),
    "odd_state": ("unknown", 0, -7, ""),          # a state nobody catalogued
    "gone": ("removed_unattributed", -404, 0, "啥都木有"),
    "hidden": ("removed_unattributed", 62002, 0, "稿件不可见"),
    "review": ("restricted", 62004, 0, "稿件审核中"),
    "uploader_only": ("restricted", 62012, 0, "仅UP主自己可见"),
    "odd_code": ("unknown", 62099, 0, "未知状态"),
    # Needs a login: hidden from the public listing, and no probe can tell its fate.
    "login": (None, -403, 0, "访问权限不足"),
}
REFUSALS = {-412: (412, "请求被拦截"), -352: (200, "风控校验失败"), -799: (200, "请求过于频繁，请稍后再试")}

# action: (cause, code, note)
YOUKU_ACTIONS: dict[str, tuple[str, int, str]] = {
    "copyright": ("restricted", -2002, "因版权原因无法观看此视频"),
    "private": ("restricted", -2003, "该视频被设为私密"),
    "password": ("restricted", -202, "该视频已加密，请输入密码"),
    "delete": ("unknown", -2004, "该视频已被删除"),       # deletion words: unconfirmed
    "odd": ("unknown", -3001, "视频状态异常"),
}


@dataclass(frozen=True)
class VideoSpec:
    uploaders: int = 1
    videos: int = 6
    removals: Share = Share(0.0, DelayRange(30.0, 180.0))
    restore: Share = Share(0.0, DelayRange(20.0, 60.0))


def video_specs(data: Any, label: str) -> tuple[VideoSpec | None, VideoSpec | None]:
    """The `bilibili:` and `youku:` sections of a scenario, checked."""
    r, out, d = _Reader(label), [], VideoSpec()
    for name, keys in (("bilibili", ("uploaders", "videos", "removals", "restore")),
                       ("youku", ("videos", "removals", "restore"))):
        raw = (data or {}).get(name)
        if raw is None:
            out.append(None)
            continue
        top = r.section(raw, name, keys)
        out.append(VideoSpec(
            uploaders=r.integer(top, "uploaders", f"{name}.uploaders", d.uploaders, low=1),
            videos=r.integer(top, "videos", f"{name}.videos", d.videos, low=1),
            removals=r.share_spec(top.get("removals"), f"{name}.removals", d.removals),
            restore=r.share_spec(top.get("restore"), f"{name}.restore", d.restore)))
    return out[0], out[1]


@dataclass(eq=False)
class Video:
    video_id: str
    uploader: int
    uploader_name: str
    title: str
    description: str
    duration: int
    published_at: datetime
    aid: int = 0
    # (at, seq, action or None for restore)
    events: list[tuple[datetime, int, str | None]] = field(default_factory=list)

    def action(self, at: datetime) -> str | None:
        i = bisect.bisect_right([(e[0], e[1]) for e in self.events], (at, float("inf")))
        return self.events[i - 1][2] if i else None


class _VideoWorld:
    actions: dict[str, tuple]

    def __init__(self) -> None:
        self.videos: list[Video] = []
        self._seq = 0

    def draw_fates(self, spec: VideoSpec, start: datetime, seed: str,
                   actions: tuple[str, ...]) -> None:
        """Random removals (an action drawn evenly) and restorations, as the spec's shares say."""
        fates = random.Random(seed)
        for video in self.videos:
            if fates.random() >= spec.removals.share:
                continue
            at = start + timedelta(seconds=fates.uniform(spec.removals.delay.min,
                                                         spec.removals.delay.max))
            self.schedule(at, fates.choice(actions), video.video_id)
            if fates.random() < spec.restore.share:
                self.schedule(at + timedelta(seconds=fates.uniform(
                    spec.restore.delay.min, spec.restore.delay.max)), "restore", video.video_id)

    def video(self, ref: int | str) -> Video:
        if isinstance(ref, int) and 0 <= ref < len(self.videos):
            return self.videos[ref]
        for video in self.videos:
            if ref == video.video_id:
                return video
        raise ValueError(f"no video {ref!r}")

    def schedule(self, at: datetime, action: str, video: int | str) -> None:
        """From `at` on, `video` answers as `action` says ("restore": open again)."""
        if action != "restore" and action not in self.actions:
            raise ValueError(f"unknown action {action!r}; use restore or "
                             f"{', '.join(self.actions)}")
        self._seq += 1
        bisect.insort(self.video(video).events, (at, self._seq,
                                                 None if action == "restore" else action),
                      key=lambda e: (e[0], e[1]))

    def _message(self, action: str) -> str:
        raise NotImplementedError

    def truth(self, at: datetime) -> dict[str, Any]:
        """{"posts": [...]}: every video with each episode that hid it (removed_at, cause,
        message, restored_at), oldest first; a hiding that is no removal (a login wall) is
        left out."""
        posts = []
        for video in self.videos:
            history: list[dict[str, Any]] = []
            hidden = False
            for moment, _, action in video.events:
                if moment > at:
                    break
                cause = self.actions[action][0] if action else None
                if cause is not None and not hidden:
                    history.append({"removed_at": iso(moment), "cause": cause,
                                    "message": self._message(action), "restored_at": None})
                    hidden = True
                elif action is None and hidden:
                    history[-1]["restored_at"] = iso(moment)
                    hidden = False
            latest = history[-1] if history else {}
            posts.append({
                "post_id": video.video_id, "account_id": str(video.uploader),
                "title": video.title, "text": video.description,
                "published_at": iso(video.published_at),
                "removed_at": latest.get("removed_at"), "cause": latest.get("cause"),
                "message": latest.get("message"), "restored_at": latest.get("restored_at"),
                "history": history})
        return {"posts": posts}


class BilibiliWorld(_VideoWorld):
    actions = BILIBILI_ACTIONS

    def __init__(self, spec: VideoSpec, start: datetime, seed: int) -> None:
        super().__init__()
        rng = random.Random(f"{seed}:bilibili")
        self.refusals: list[int] = []
        self.uploaders = [10_000_000 + 7919 * k for k in range(spec.uploaders)]
        vocab = textgen.vocabulary()
        for mid in self.uploaders:
            name = textgen.screen_name(rng)
            for _ in range(spec.videos):
                bvid = "BV1" + "".join(rng.choice(_BASE58) for _ in range(9))
                self.videos.append(Video(
                    video_id=bvid, uploader=mid, uploader_name=name,
                    title=textgen._sentence(rng, vocab).rstrip("。！？…")[:40],
                    description=textgen._sentence(rng, vocab),
                    duration=rng.randint(15, 3 * 3600),
                    published_at=(start - timedelta(seconds=rng.uniform(600, 30 * 86400))
                                  ).replace(microsecond=0),
                    aid=rng.randint(10**8, 10**10)))
        self.draw_fates(spec, start, f"{seed}:bilibili:fates", tuple(BILIBILI_ACTIONS))

    def refuse(self, code: int, count: int = 1) -> None:
        """Answer the next `count` requests with `code` (-412, -352, -799)."""
        if code not in REFUSALS:
            raise ValueError(f"refuse: use one of {sorted(REFUSALS)}")
        self.refusals.extend([code] * count)

    def _message(self, action: str) -> str:
        _, code, state, words = BILIBILI_ACTIONS[action]
        return f"state={state}" if code == 0 else f"code={code} {words}"

    def answer(self, path: str, query: str, at: datetime, fault: str | None = None
               ) -> tuple[int, bytes]:
        if fault in ("captcha", "login_wall"):
            return _refusal(-352 if fault == "captcha" else -799)
        if self.refusals:
            return _refusal(self.refusals.pop(0))
        q = {k: v[0] for k, v in parse_qs(query).items()}
        if path == "/x/web-interface/view":
            return 200, self.view(q.get("bvid", ""), at)
        if path == "/x/space/wbi/arc/search":
            return 200, self.listing(q.get("mid", ""), q.get("pn", "1"), q.get("ps", "30"), at)
        return 404, _dumps({"code": -404, "message": "啥都木有", "ttl": 1})

    def view(self, bvid: str, at: datetime) -> bytes:
        try:
            video = self.video(bvid)
        except ValueError:
            return _dumps({"code": -400, "message": "请求错误", "ttl": 1})
        action = video.action(at)
        _, code, state, words = BILIBILI_ACTIONS[action] if action else (None, 0, 0, "")
        if code != 0:
            return _dumps({"code": code, "message": words, "ttl": 1})
        return _dumps({"code": 0, "message": "0", "ttl": 1, "data": {
            "bvid": video.video_id, "aid": video.aid, "videos": 1, "tid": 21, "tname": "日常",
            "copyright": 1, "title": video.title, "pubdate": int(video.published_at.timestamp()),
            "ctime": int(video.published_at.timestamp()) - 600, "desc": video.description,
            "state": state, "duration": video.duration,
            "owner": {"mid": video.uploader, "name": video.uploader_name, "face": ""},
            "stat": {"aid": video.aid, "view": 100, "like": 7}}})

    def listing(self, mid: str, pn: str, ps: str, at: datetime) -> bytes:
        page = int(pn) if pn.isdigit() and int(pn) > 0 else 1
        size = min(int(ps), 50) if ps.isdigit() and int(ps) > 0 else 30
        videos = sorted((v for v in self.videos if str(v.uploader) == mid and
                         v.action(at) is None), key=lambda v: v.published_at, reverse=True)
        chunk = videos[(page - 1) * size: page * size]
        return _dumps({"code": 0, "message": "0", "ttl": 1, "data": {
            "list": {"tlist": {}, "vlist": [{
                "aid": v.aid, "bvid": v.video_id, "title": v.title, "description": v.description,
                "author": v.uploader_name, "mid": v.uploader,
                "created": int(v.published_at.timestamp()),
                "length": f"{v.duration // 60:02d}:{v.duration % 60:02d}", "play": 100,
                "comment": 3} for v in chunk]},
            "page": {"pn": page, "ps": size, "count": len(videos)}}})


class YoukuWorld(_VideoWorld):
    actions = YOUKU_ACTIONS

    def __init__(self, spec: VideoSpec, start: datetime, seed: int) -> None:
        super().__init__()
        rng = random.Random(f"{seed}:youku")
        vocab = textgen.vocabulary()
        for k in range(spec.videos):
            vid = "XN" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                            "0123456789") for _ in range(10))
            self.videos.append(Video(
                video_id=vid, uploader=800_000_000 + k % 2, uploader_name=textgen.screen_name(rng),
                title=textgen._sentence(rng, vocab).rstrip("。！？…")[:40], description="",
                duration=rng.randint(15, 7200),
                published_at=(start - timedelta(days=rng.uniform(1, 90))).replace(microsecond=0)))
        self.draw_fates(spec, start, f"{seed}:youku:fates", tuple(YOUKU_ACTIONS))

    def _message(self, action: str) -> str:
        return YOUKU_ACTIONS[action][2]

    def answer(self, path: str, query: str, at: datetime, fault: str | None = None
               ) -> tuple[int, bytes]:
        if fault == "captcha":
            return 200, ("<!DOCTYPE html><html><body><div id='nc'>请拖动滑块完成验证</div>"
                         "</body></html>").encode()
        if fault == "login_wall":
            return 200, _dumps({"e": {"code": 0}, "data": {"error": {
                "code": -6001, "note": "客户端无权播放"}}})
        if path != "/ups/get.json":
            return 404, b"<html><body>404</body></html>"
        vid = parse_qs(query).get("vid", [""])[0]
        try:
            video = self.video(vid)
        except ValueError:
            return 200, _dumps({"data": {"error": {"code": -6004, "note": "视频不存在"}}})
        action = video.action(at)
        if action:
            _, code, note = YOUKU_ACTIONS[action]
            return 200, _dumps({"e": {"code": 0, "desc": ""},
                                "data": {"id": 0, "error": {"code": code, "note": note}}})
        return 200, _dumps({"e": {"code": 0, "desc": ""}, "data": {
            "id": 0, "video": {"title": video.title, "seconds": f"{video.duration}.00",
                               "encodeid": video.video_id, "username": video.uploader_name,
                               "userid": video.uploader, "logo": ""},
            "stream": []}})


def _refusal(code: int) -> tuple[int, bytes]:
    status, words = REFUSALS[code]
    return status, _dumps({"code": code, "message": words, "ttl": 1})


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
