"""A local HTTP server that answers like m.weibo.cn, from a precomputed `World`, plus a back door.

Platform paths (what a crawler sees):

- `GET /api/container/getIndex?type=uid&value=<uid>&containerid=107603<uid>&page=<n>`: one page of
  an account's timeline. Page 1 starts with the pinned post (`isTop: 1`, `title.text` 置顶),
  which does not use one of the page's 10 slots; `cardlistInfo.page` is the next page.
- `...&containerid=230413<uid>[_-_…]` (or any request with `&since_id=<mid>`): cursor pages.
  `cardlistInfo` has `since_id` (the mid of the page's last slot) and no `page`; `since_id=X`
  answers the 10 slots strictly older than X; past the end `这里还没有内容`. `page` is ignored.
- Without a containerid (`?type=uid&value=<uid>`): the profile, `{"ok": 1, "data": {"userInfo":
  {...}, "tabsInfo": {...}}}`, or `{"ok": 0, "msg": <the account's words>}` while it is
  suspended/closed/locked.
  A small share of posts (`card_group_share`) always arrive wrapped in a `card_type: 11` card
  whose `card_group` holds the usual `card_type: 9` card: a crawler must unwrap them. Reposts
  carry `retweeted_status` (the original, or its tombstone once it is gone; see world.py).
- `GET /statuses/show?id=<mid or bid>`: one post in full (`isLongText` false), or `ok: 0` with
  the platform's words.
- `GET /statuses/extend?id=<mid or bid>`: `{"ok": 1, "data": {"ok": 1, "longTextContent": <whole
  text as HTML>, "reposts_count", "comments_count", "attitudes_count"}}`, or the same not-visible
  answer as /statuses/show.

Other platforms, when the scenario has their sections: WeChat under `/wechat/`, Telegram under
`/telegram/`, a news site with its RSS feed under `/news/` and Toutiao under `/toutiao/`
(including `POST /toutiao/ttwid/union/register/`, which sets a `ttwid` cookie); see wechat.py,
telegram.py and news.py.

Faults (never on `/_sandbox/*`): random ones from the scenario (`faults.rate`), decided from
(seed, path+query, how many times that exact URL was asked before), so a retry of the same URL
may succeed and runs are reproducible; injected ones (`inject_fault`, `POST /_sandbox/faults`)
take precedence and each matching request consumes one. HTTP-status faults carry a short HTML
body (or none, for 418/432), like the real front-end servers.

Back door (`/_sandbox/...`): `GET truth`, `GET|POST clock` (POST only with a ManualClock, else
409), `GET|POST|DELETE faults`, `POST events` (`World.schedule` over HTTP; `at` ISO time or `in`
a duration from now; `do`, `post_id`, `account_id`, `nth`, `count`, `message`, `sensitive`, `text`
for edit/repost, `for` a duration for glitch_empty). Requests are not logged unless
`log_requests=True`.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .clock import Clock, ManualClock, SystemClock
from .gate import GATED_PATHS, Gate
from .messages import CAPTCHA_URL, LOGIN_WALL
from .news import (
    NEWS,
    TOUTIAO,
    NewsWorld,
    ToutiaoWorld,
    news_rate_limit_page,
    news_verification_page,
)
from .render import iso
from .scenario import FAULT_KINDS, Scenario, ScenarioError, load_scenario, parse_duration
from .search import PREFIX as SEARCH_PREFIX
from .search import SearchWorld
from .telegram import TelegramWorld
from .video import BILIBILI, YOUKU, BilibiliWorld, YoukuWorld
from .wechat import WechatWorld, rate_limit_page, verification_page
from .world import CONTAINER_PREFIXES, CURSOR_PREFIX, World, nothing_here

JSON_TYPE = "application/json; charset=utf-8"
WECHAT, TELEGRAM = "/wechat/", "/telegram/"   # the other platforms' pages live under these
HTML_TYPE = "text/html; charset=utf-8"
_BUG_HTML = b"<html><body>sandbox bug</body></html>"
_NO_PLATFORM_HTML = b"<html><body>no such platform in this scenario</body></html>"

_STATUS_FAULTS: dict[str, tuple[int, bytes]] = {
    "http_500": (
        500,
        b"<html><head><title>500 Internal Server Error</title></head><body>"
        b"<center><h1>500 Internal Server Error</h1></center><hr><center>nginx</center>"
        b"</body></html>",
    ),
    "http_502": (
        502,
        b"<html><head><title>502 Bad Gateway</title></head><body><center>"
        b"<h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
    ),
    "http_403": (
        403,
        b"<html><head><title>403 Forbidden</title></head><body><center>"
        b"<h1>403 Forbidden</h1></center><hr><center>nginx</center></body></html>",
    ),
    "http_418": (418, b""),
    "http_432": (432, b""),
}


@dataclass
class InjectedFault:
    """A fault waiting for requests whose path+query contains `path_contains` (-1 = unlimited)."""

    kind: str
    path_contains: str = ""
    remaining: int = 1


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _parse_time(value: Any) -> datetime:
    """ISO 8601 text as an aware UTC datetime; a time without an offset is taken as UTC."""
    moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    sandbox: SandboxServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out separately: no 40 ms keep-alive stalls
    server_version = "nginx"
    sys_version = ""
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.sandbox.log_requests:
            sys.stderr.write(f"sandbox {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.server.sandbox._handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.server.sandbox._handle(self, "POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self.server.sandbox._handle(self, "DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self.server.sandbox._handle(self, "PUT")


class SandboxServer:
    """The simulated m.weibo.cn: bind at construction, serve with `start()` or `serve_forever()`."""

    def __init__(
        self,
        scenario: Scenario | str | Path | dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        *,
        log_requests: bool = False,
    ) -> None:
        self.scenario = load_scenario(scenario)
        self.clock: Clock = clock or SystemClock()
        start = self.scenario.start or self.clock.now()
        self.world = World(self.scenario, start)
        self.wechat = WechatWorld(self.scenario.wechat, start, self.scenario.seed) \
            if self.scenario.wechat else None
        self.telegram = TelegramWorld(self.scenario.telegram, start, self.scenario.duration,
                                      self.scenario.seed) if self.scenario.telegram else None
        self.search = SearchWorld(self.scenario.weibo_search, start, self.scenario.seed) \
            if self.scenario.weibo_search else None
        self.news = NewsWorld(self.scenario.news, start, self.scenario.seed) \
            if self.scenario.news else None
        self.toutiao = ToutiaoWorld(self.scenario.toutiao, start, self.scenario.seed) \
            if self.scenario.toutiao else None
        self.bilibili = BilibiliWorld(self.scenario.bilibili, start, self.scenario.seed) \
            if self.scenario.bilibili else None
        self.youku = YoukuWorld(self.scenario.youku, start, self.scenario.seed) \
            if self.scenario.youku else None
        self.gate = Gate(self.scenario.gate, self.scenario.seed) if self.scenario.gate else None
        self.log_requests = log_requests
        self.stats: Counter[str] = Counter()
        self._faults: list[InjectedFault] = []
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._serving = threading.Event()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.sandbox = self
        if self.news is not None:
            self.news.base = self.url + NEWS

    # ----------------------------------------------------------------- lifecycle

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321 (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        """Serve from a daemon thread; returns self."""
        if self._thread is None and not self._stopped:
            self._thread = threading.Thread(
                target=self._run, kwargs={"poll_interval": 0.05}, name="sandbox", daemon=True
            )
            self._serving.set()  # before the thread runs: stop() must then call shutdown()
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted or `stop()`ped from another thread."""
        self._serving.set()
        try:
            self._run()
        finally:
            self.stop()

    def _run(self, poll_interval: float = 0.2) -> None:
        try:
            self._httpd.serve_forever(poll_interval=poll_interval)
        finally:
            self._serving.clear()

    def stop(self) -> None:
        """Stop serving and release the port (idempotent; safe from any other thread)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self._serving.is_set() and threading.current_thread() is not self._thread:
            self._httpd.shutdown()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- faults

    def inject_fault(self, kind: str, path_contains: str = "", count: int = 1) -> None:
        """Make the next `count` requests whose path+query contains `path_contains` fail with
        `kind` (count -1 = until `clear_faults`)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        if count == 0 or count < -1:
            raise ValueError(f"fault count must be positive or -1 (until cleared), got {count}")
        with self._lock:
            self._faults.append(InjectedFault(kind, path_contains, count))

    def clear_faults(self) -> int:
        """Drop every injected fault; returns how many were pending."""
        with self._lock:
            n = len(self._faults)
            self._faults.clear()
            return n

    def pending_faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def _pick_fault(self, target: str) -> str | None:
        with self._lock:
            n = self._seen[target]
            self._seen[target] += 1
            for fault in self._faults:
                if fault.path_contains in target:
                    if fault.remaining > 0:
                        fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault.kind
        spec = self.scenario.faults
        if spec.rate <= 0:
            return None
        digest = hashlib.sha256(f"{self.scenario.seed}\0{target}\0{n}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= spec.rate:
            return None
        return spec.kinds[int.from_bytes(digest[8:16], "big") % len(spec.kinds)]

    # ----------------------------------------------------------------- dispatch

    def _handle(self, handler: _Handler, method: str) -> None:
        if self._stopped:
            handler.close_connection = True
            return
        target = handler.path
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        body = b""
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            body = handler.rfile.read(length)
        with self._lock:
            self.stats["requests"] += 1
        if path.startswith("/_sandbox/"):
            status, payload = self._backdoor(method, path, body)
            self._send(handler, status, _dumps(payload))
            return
        if self.gate is not None and (path.startswith("/visitor/") or path in GATED_PATHS):
            own = f"http://{handler.headers.get('Host') or f'{self.host}:{self.port}'}"
            if path.startswith("/visitor/"):
                answer = self.gate.visitor(method, path, parts.query, self.clock.now())
            else:
                answer = self.gate.check(path, target, handler.headers.get("Cookie"),
                                         self.clock.now(), own)
            if answer is not None:
                self._send(handler, answer[0], answer[1], answer[2], headers=answer[3])
                return
        fault = self._pick_fault(target)
        if fault:
            with self._lock:
                self.stats[f"fault:{fault}"] += 1
        if fault in _STATUS_FAULTS:
            code, html = _STATUS_FAULTS[fault]
            self._send(handler, code, html, HTML_TYPE)
            return
        if path.startswith((WECHAT, TELEGRAM)):
            self._other_platform(handler, path, parts.query, fault)
            return
        if path.startswith(SEARCH_PREFIX + "/") and self.search:
            with self._lock:   # the captcha draw counts the searches of each term
                status, data, location = self.search.page(
                    path[len(SEARCH_PREFIX):], parts.query, self.clock.now(), fault)
            if fault == "truncated":
                data = data[: len(data) // 2]
            self._send(handler, status, data, HTML_TYPE, location=location)
            return
        if path == NEWS or path.startswith((NEWS + "/", TOUTIAO + "/")):
            self._feeds_platform(handler, method, path, fault)
            return
        if path.startswith((BILIBILI, YOUKU)):
            self._video(handler, path, parts.query, fault)
            return
        if fault == "captcha":
            self._send(handler, 200, _dumps({"ok": -100, "errno": "-100", "msg": "", "url": CAPTCHA_URL}))
            return
        if fault == "login_wall":
            self._send(handler, 200, _dumps({"ok": 0, "message": LOGIN_WALL}))
            return
        if fault == "slow":
            time.sleep(self.scenario.faults.slow_seconds)
        try:
            status, payload = self._platform(method, path, query)
        except Exception as err:  # a sandbox bug: answer, and say so loudly
            sys.stderr.write(f"sandbox: error answering {method} {target}: {err!r}\n")
            status, payload = 500, {"ok": 0, "error": f"sandbox bug: {err!r}"}
        data = _dumps(payload)
        if fault == "truncated":
            text = data.decode("utf-8")
            data = text[: len(text) // 2].encode("utf-8")
        self._send(handler, status, data)

    def _produce(self, path: str, fault: str | None, produce: Callable[[], tuple],
                 bug: tuple) -> tuple:
        """A platform world's answer, (status, body, ...) as `produce` makes it, with the
        faults every world shares: `slow` waits first, `truncated` halves the body; a sandbox
        bug answers `bug` (a 500) and says so on stderr."""
        if fault == "slow":
            time.sleep(self.scenario.faults.slow_seconds)
        try:
            status, data, *rest = produce()
        except Exception as err:  # a sandbox bug: answer, and say so loudly
            sys.stderr.write(f"sandbox: error answering {path}: {err!r}\n")
            status, data, *rest = bug
        if fault == "truncated":
            data = data[: len(data) // 2]
        return (status, data, *rest)

    def _other_platform(self, handler: _Handler, path: str, query: str, fault: str | None) -> None:
        """WeChat's and Telegram's HTML pages (see wechat.py, telegram.py), faults included."""
        wechat = path.startswith(WECHAT)
        if fault in ("captcha", "login_wall"):
            if wechat:
                page = verification_page() if fault == "captcha" else rate_limit_page()
                self._send(handler, 200, page, HTML_TYPE)
            else:   # Telegram's flood wait
                self._send(handler, 429, b"Too Many Requests", "text/plain; charset=utf-8")
            return

        def produce() -> tuple[int, bytes, str]:
            now = self.clock.now()
            if wechat and self.wechat:
                return (*self.wechat.page(path[len(WECHAT) - 1:], query, now), "")
            if not wechat and self.telegram:
                return self._telegram(path[len(TELEGRAM) - 1:], query, now)
            return 404, _NO_PLATFORM_HTML, ""
        status, data, location = self._produce(path, fault, produce, (500, _BUG_HTML, ""))
        self._send(handler, status, data, HTML_TYPE, location=location)

    def _feeds_platform(self, handler: _Handler, method: str, path: str,
                        fault: str | None) -> None:
        """The news site and Toutiao (see news.py), faults included."""
        news = path == NEWS or path.startswith(NEWS + "/")
        if fault in ("captcha", "login_wall"):
            page = (news_verification_page() if fault == "captcha" else news_rate_limit_page())
            self._send(handler, 200, page, HTML_TYPE)
            return

        def produce() -> tuple[int, bytes, str, str, str]:   # ..., location, cookie, type
            now = self.clock.now()
            kind = "application/rss+xml; charset=utf-8" if path.endswith(".xml") else HTML_TYPE
            if news and self.news:
                return (*self.news.page(path[len(NEWS):], now), "", kind)
            if not news and self.toutiao and path.rstrip("/").endswith("/ttwid/union/register"):
                status, data, cookie = self.toutiao.register() if method == "POST" else (
                    405, b"{}", "")
                return status, data, "", cookie, JSON_TYPE
            if not news and self.toutiao:
                return (*self.toutiao.page(path[len(TOUTIAO):], handler.headers.get("Cookie")
                                           or "", now), "", "", kind)
            return 404, _NO_PLATFORM_HTML, "", "", kind
        status, data, location, cookie, kind = self._produce(
            path, fault, produce, (500, _BUG_HTML, "", "", HTML_TYPE))
        self._send(handler, status, data, kind, location=location,
                   headers=[("Set-Cookie", cookie)] if cookie else None)

    def _video(self, handler: _Handler, path: str, query: str, fault: str | None) -> None:
        """Bilibili's and Youku's JSON answers (see video.py), faults included."""
        world = self.bilibili if path.startswith(BILIBILI) else self.youku
        prefix = BILIBILI if path.startswith(BILIBILI) else YOUKU

        def produce() -> tuple[int, bytes]:
            if world is None:
                return 404, b'{"code":-404,"message":"no such platform in this scenario"}'
            return world.answer(path[len(prefix) - 1:], query, self.clock.now(), fault)
        status, data = self._produce(path, fault, produce,
                                     (500, b'{"code":-500,"message":"sandbox bug"}'))
        content = HTML_TYPE if data[:1] == b"<" else JSON_TYPE
        self._send(handler, status, data, content)

    def _telegram(self, path: str, query: str, now: datetime) -> tuple[int, bytes, str]:
        assert self.telegram is not None
        q = parse_qs(query)
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[0] == "s":
            raw = _first(q, "before")
            before = int(raw) if raw and raw.isdigit() else None
            status, data, location = self.telegram.listing(parts[1], before, now)
            return status, data, location
        if len(parts) == 2 and parts[1].isdigit():
            return 200, self.telegram.embed(parts[0], int(parts[1]), now), ""
        if len(parts) == 1:
            status, data = self.telegram.channel_page(parts[0])
            return status, data, ""
        return 404, b"<html><body>Not found</body></html>", ""

    @staticmethod
    def _send(handler: _Handler, status: int, data: bytes, content_type: str = JSON_TYPE,
              location: str = "", headers: list[tuple[str, str]] | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        if location:
            handler.send_header("Location", location)
        for name, value in headers or ():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)

    def _platform(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        now = self.clock.now()
        if method == "GET" and path == "/api/container/getIndex":
            return 200, self._get_index(query, now)
        if method == "GET" and path == "/statuses/show":
            return 200, self.world.status(_first(query, "id") or "", now)
        if method == "GET" and path == "/statuses/extend":
            return 200, self.world.extend(_first(query, "id") or "", now)
        return 404, {"ok": 0, "errno": "404", "msg": f"not found: {method} {path}"}

    def _get_index(self, query: dict[str, list[str]], now: datetime) -> dict[str, Any]:
        value = (_first(query, "value") or "").strip()
        containerid = (_first(query, "containerid") or "").strip()
        try:
            page = int(_first(query, "page") or 1)
        except ValueError:
            page = 1
        raw_since = _first(query, "since_id")
        since_id = int(raw_since) if raw_since is not None and raw_since.strip().isdigit() else None
        if containerid:
            prefix, uid = containerid[:6], containerid[6:].split("_-_")[0]
            if prefix not in CONTAINER_PREFIXES or (value and value != uid):
                return nothing_here()
            cursor = "since_id" in query or prefix == CURSOR_PREFIX
            return self.world.timeline(uid, page, now, containerid, since_id=since_id, cursor=cursor)
        if not value:
            return nothing_here()
        return self.world.profile(value, now)

    # ----------------------------------------------------------------- back door

    def _backdoor(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        name = path[len("/_sandbox/") :].strip("/")
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            return 400, {"ok": 0, "error": "request body must be JSON"}
        if not isinstance(data, dict):
            return 400, {"ok": 0, "error": "request body must be a JSON object"}
        try:
            if name == "truth" and method == "GET":
                now = self.clock.now()
                truth = self.world.truth(now)
                if self.wechat:
                    truth["wechat"] = {"articles": self.wechat.truth(now)}
                if self.telegram:
                    truth["telegram"] = self.telegram.truth(now)
                if self.search:
                    truth["weibo_search"] = self.search.truth(now)
                if self.news:
                    truth["news"] = {"articles": self.news.truth(now)}
                if self.toutiao:
                    truth["toutiao"] = {"items": self.toutiao.truth(now)}
                if self.bilibili:
                    truth["bilibili"] = self.bilibili.truth(now)
                if self.youku:
                    truth["youku"] = self.youku.truth(now)
                return 200, truth
            if name == "clock":
                return self._clock_endpoint(method, data)
            if name == "faults":
                return self._faults_endpoint(method, data)
            if name == "events" and method == "POST":
                return self._events_endpoint(data)
        except (ValueError, TypeError) as err:
            return 400, {"ok": 0, "error": str(err)}
        return 404, {"ok": 0, "error": f"no sandbox endpoint {method} {path}"}

    def _clock_endpoint(self, method: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "GET":
            return 200, {"now": iso(self.clock.now())}
        if method != "POST":
            return 404, {"ok": 0, "error": f"no sandbox endpoint {method} /_sandbox/clock"}
        if not isinstance(self.clock, ManualClock):
            return 409, {
                "ok": 0,
                "error": "the sandbox runs on the system clock; start it with a ManualClock to move time",
            }
        if "now" in data:
            self.clock.set(_parse_time(data["now"]))
        elif "advance" in data:
            self.clock.advance(parse_duration(data["advance"], "advance"))
        else:
            return 400, {"ok": 0, "error": 'send {"now": "<ISO time>"} or {"advance": <seconds>}'}
        return 200, {"now": iso(self.clock.now())}

    def _faults_endpoint(self, method: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "GET":
            return 200, {"ok": 1, "faults": self.pending_faults()}
        if method == "DELETE":
            return 200, {"ok": 1, "cleared": self.clear_faults()}
        if method == "POST":
            self.inject_fault(
                str(data.get("kind")), str(data.get("path_contains") or ""), int(data.get("count", 1))
            )
            return 200, {"ok": 1, "faults": self.pending_faults()}
        return 404, {"ok": 0, "error": f"no sandbox endpoint {method} /_sandbox/faults"}

    def _events_endpoint(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "at" in data:
            at = _parse_time(data["at"])
        else:
            at = self.clock.now() + timedelta(seconds=parse_duration(data.get("in", 0), "in"))
        nth = data.get("nth")
        glitch = data.get("for", data.get("duration"))
        post_ids = self.world.schedule(
            at,
            str(data.get("do")),
            post_id=data.get("post_id"),
            account_id=data.get("account_id"),
            count=int(data.get("count", 1)),
            nth=None if nth is None else int(nth),
            message=data.get("message"),
            sensitive=bool(data.get("sensitive", False)),
            text=data.get("text"),
            duration=None if glitch is None else parse_duration(glitch, "for"),
        )
        return 200, {"ok": 1, "at": iso(at), "post_ids": post_ids}


__all__ = ["SandboxServer", "InjectedFault", "ScenarioError"]
