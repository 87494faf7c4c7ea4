"""The simulated platform's gate: what m.weibo.cn does to clients it does not trust.

Off unless a scenario has a `gate:` section (so every other world answers everyone, as before):

    gate:
      without_cookie: redirect     # redirect (to the visitor page, as m.weibo.cn does a first
                                   # visit) | http_432 | empty (`这里还没有内容` on getIndex,
                                   # 432 elsewhere): the answer to a request with no valid cookie
      when_expired: http_432       # the answer to an expired visitor cookie (default: the same)
      visitor_expires: 10m         # visitor cookies last this long on the scenario's clock
      login_cookies: [SUB value]   # SUB values of logged-in accounts: accepted, never expire
      rate_limit:                  # per session (its SUB, or one anonymous session)
        requests: 40               # more than this many within `window` real seconds ...
        window: 10s
        ban: 1s                    # ... bans the session for `ban` real seconds
        answers: [http_418, captcha, http_432]   # what a ban answers, in turn (also `empty`)
        retry_after: true          # say how long in a Retry-After header

Visitor flow, on the server's own host (as passport.weibo.com serves it; sources in
memoryhole/crawlers/sessions.py): `GET /visitor/visitor?a=enter&url=…` the visitor page,
`POST /visitor/genvisitor` → `gen_callback({"retcode":20000000,"data":{"tid":…,"new_tid":true,
"confidence":100}})`, `GET /visitor/visitor?a=incarnate&t=<tid>&…` → `Set-Cookie: SUB=…` and
`SUBP=…` and `cross_domain({"retcode":20000000,"data":{"sub":…,"subp":…}})`.

Rate limits and bans run on real (monotonic) seconds, because a crawler's cool-downs wait real
time; visitor cookies expire on the scenario's clock, which validation runs move by the cadence.
`Gate.stats` counts what the gate did (`no_cookie`, `expired`, `blocked`, `visitors_issued`,
`login_requests`: requests that carried a login cookie).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

GATED_PATHS = ("/api/container/getIndex", "/statuses/show", "/statuses/extend")
WITHOUT_COOKIE = ("redirect", "http_432", "empty")
BAN_ANSWERS = ("http_418", "http_432", "http_403", "captcha", "empty")
CAPTCHA = {"ok": -100, "errno": "-100", "msg": "",
           "url": "https://m.weibo.cn/captcha?scene=limit&referer=/"}
NOTHING_HERE = {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
JS_TYPE = "application/javascript; charset=utf-8"

# (status, body, content type, extra headers)
Answer = tuple[int, bytes, str, list[tuple[str, str]]]


@dataclass(frozen=True)
class RateLimitSpec:
    requests: int = 40
    window: float = 10.0
    ban: float = 1.0
    answers: tuple[str, ...] = ("http_418", "captcha", "http_432")
    retry_after: bool = True


@dataclass(frozen=True)
class GateSpec:
    without_cookie: str = "redirect"
    when_expired: str | None = None
    visitor_expires: float = 600.0
    login_cookies: tuple[str, ...] = ()
    rate_limit: RateLimitSpec | None = None


def gate_spec(data: Any, label: str) -> GateSpec | None:
    """A scenario's `gate:` section, validated (ScenarioError names the field)."""
    from .scenario import _Reader

    if data is None:
        return None
    r = _Reader(label)
    spec = r.section(data, "gate", ("without_cookie", "when_expired", "visitor_expires",
                                    "login_cookies", "rate_limit"))
    answers = {}
    for key, default in (("without_cookie", "redirect"), ("when_expired", None)):
        value = spec.get(key, default)
        if value is not None and value not in WITHOUT_COOKIE:
            raise r.fail(f"gate.{key}", f"must be one of {', '.join(WITHOUT_COOKIE)}, got "
                         f"{value!r}")
        answers[key] = value
    logins = spec.get("login_cookies", [])
    if not isinstance(logins, list) or not all(isinstance(v, str) and v for v in logins):
        raise r.fail("gate.login_cookies", "must be a list of SUB cookie values")
    limit = None
    if spec.get("rate_limit") is not None:
        d = RateLimitSpec()
        rl = r.section(spec["rate_limit"], "gate.rate_limit",
                       ("requests", "window", "ban", "answers", "retry_after"))
        kinds = rl.get("answers", list(d.answers))
        if not isinstance(kinds, list) or not kinds or any(k not in BAN_ANSWERS for k in kinds):
            raise r.fail("gate.rate_limit.answers", f"must be a list from {', '.join(BAN_ANSWERS)}")
        retry_after = rl.get("retry_after", d.retry_after)
        if not isinstance(retry_after, bool):
            raise r.fail("gate.rate_limit.retry_after", "must be true or false")
        limit = RateLimitSpec(
            requests=r.integer(rl, "requests", "gate.rate_limit.requests", d.requests, low=1),
            window=r.duration(rl, "window", "gate.rate_limit.window", d.window),
            ban=r.duration(rl, "ban", "gate.rate_limit.ban", d.ban),
            answers=tuple(kinds), retry_after=retry_after)
    return GateSpec(without_cookie=answers["without_cookie"],
                    when_expired=answers["when_expired"],
                    visitor_expires=r.duration(spec, "visitor_expires", "gate.visitor_expires",
                                               GateSpec.visitor_expires),
                    login_cookies=tuple(logins), rate_limit=limit)


def _json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Gate:
    """The gate's state: visitor tids and cookies issued, and each session's recent requests."""

    def __init__(self, spec: GateSpec, seed: int) -> None:
        self.spec = spec
        self.seed = seed
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._tids: set[str] = set()
        self._visitors: dict[str, datetime] = {}       # SUB -> issued at (scenario clock)
        self._recent: dict[str, deque[float]] = {}     # session -> monotonic request times
        self._banned: dict[str, float] = {}            # session -> monotonic end of the ban
        self._bans = 0
        self._in_ban: Counter[str] = Counter()          # answers given in the current ban

    def _token(self, kind: str) -> str:
        n = self.stats["tokens"]
        self.stats["tokens"] += 1
        return hashlib.sha256(f"{self.seed}\0{kind}\0{n}".encode()).hexdigest()[:32]

    # The visitor pages ---------------------------------------------------------------------

    def visitor(self, method: str, path: str, query: str, now: datetime) -> Answer:
        q = parse_qs(query)
        with self._lock:
            if path == "/visitor/genvisitor" and method == "POST":
                tid = self._token("tid")
                self._tids.add(tid)
                data = {"retcode": 20000000, "msg": "succ",
                        "data": {"tid": tid, "new_tid": True, "confidence": 100}}
                return 200, b"window.gen_callback && gen_callback(" + _json(data) + b");", \
                    JS_TYPE, []
            if path == "/visitor/visitor" and q.get("a") == ["incarnate"]:
                if q.get("t", [""])[0] not in self._tids:
                    body = _json({"retcode": 20003000, "msg": "tid invalid"})
                    return 200, b"window.cross_domain && cross_domain(" + body + b");", \
                        JS_TYPE, []
                self._tids.discard(q["t"][0])
                sub, subp = "_2A25" + self._token("sub"), "0033Wr" + self._token("subp")
                self._visitors[sub] = now
                self.stats["visitors_issued"] += 1
                expires = int(self.spec.visitor_expires)
                body = _json({"retcode": 20000000, "msg": "succ",
                              "data": {"sub": sub, "subp": subp}})
                return 200, b"window.cross_domain && cross_domain(" + body + b");", JS_TYPE, [
                    ("Set-Cookie", f"SUB={sub}; Max-Age={expires}; Path=/; HttpOnly"),
                    ("Set-Cookie", f"SUBP={subp}; Max-Age={expires}; Path=/")]
            if path == "/visitor/visitor":
                page = ("<html><head><title>Sina Visitor System</title></head><body>"
                        "<script>/* genvisitor, then incarnate */</script></body></html>")
                return 200, page.encode("utf-8"), HTML_TYPE, []
        return 404, b"<html><body>not found</body></html>", HTML_TYPE, []

    # Platform paths ------------------------------------------------------------------------

    def check(self, path: str, target: str, cookie: str | None, now: datetime,
              server_url: str) -> Answer | None:
        """The gate's answer to a platform request, or None to let it through."""
        sub = _sub(cookie)
        with self._lock:
            session = None
            if sub is not None and sub in self.spec.login_cookies:
                session = f"login:{self.spec.login_cookies.index(sub)}"
                self.stats["login_requests"] += 1
            elif sub is not None and sub in self._visitors:
                if now - self._visitors[sub] < timedelta(seconds=self.spec.visitor_expires):
                    session = sub
                else:
                    self.stats["expired"] += 1
                    return self._refuse(self.spec.when_expired or self.spec.without_cookie,
                                        path, target, server_url)
            if session is None:
                self.stats["no_cookie"] += 1
                return self._refuse(self.spec.without_cookie, path, target, server_url)
            return self._rate_limited(session, path)

    def _refuse(self, how: str, path: str, target: str, server_url: str) -> Answer:
        if how == "redirect":
            location = (f"{server_url}/visitor/visitor?entry=miniblog&a=enter&url="
                        f"{quote(server_url + target, safe='')}&domain=.weibo.cn")
            return 302, b"", HTML_TYPE, [("Location", location)]
        if how == "empty" and path == "/api/container/getIndex":
            return 200, _json(NOTHING_HERE), JSON_TYPE, []
        return 432, b"", HTML_TYPE, []

    def _rate_limited(self, session: str, path: str) -> Answer | None:
        limit = self.spec.rate_limit
        if limit is None:
            return None
        clock = time.monotonic()
        until = self._banned.get(session, 0.0)
        if clock >= until:
            recent = self._recent.setdefault(session, deque())
            recent.append(clock)
            while recent and recent[0] <= clock - limit.window:
                recent.popleft()
            if len(recent) <= limit.requests:
                return None
            recent.clear()
            until = self._banned[session] = clock + limit.ban
            self._in_ban[session] = 0
        kind = limit.answers[self._bans % len(limit.answers)]
        if self._in_ban[session] == 0 and kind == "empty":
            # A ban opens with an answer a client can recognise; `empty` comes after.
            kind = next((k for k in limit.answers if k != "empty"), "http_418")
        self._in_ban[session] += 1
        self._bans += 1
        self.stats["blocked"] += 1
        headers = [("Retry-After", str(max(1, math.ceil(until - clock))))] if (
            limit.retry_after) else []
        if kind == "captcha":
            return 200, _json(CAPTCHA), JSON_TYPE, headers
        if kind == "empty" and path == "/api/container/getIndex":
            return 200, _json(NOTHING_HERE), JSON_TYPE, headers
        status = {"http_432": 432, "http_403": 403}.get(kind, 418)
        return status, b"", HTML_TYPE, headers


def _sub(cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        jar = SimpleCookie(cookie)
    except CookieError:
        return None
    morsel = jar.get("SUB")
    return morsel.value if morsel is not None else None
