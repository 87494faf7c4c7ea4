"""Sessions: the cookies a crawl shows the platform, and how it gets them.

Three kinds of session, one at a time per crawl (labels are what logs and the corpus show; a
cookie value never appears in a log, the corpus, a WARC request record or a release):

- `cookie:<VAR>` / `cookie-file:<name>`: the researcher's own cookies (plan `access.cookies`),
  read when the crawl starts from a Netscape cookies.txt (as browsers export it: only cookies
  whose domain matches the platform's host are sent) or a file holding one `Cookie:` header line,
  or from an environment variable holding such a line. They cannot be renewed here: when the
  platform refuses them the crawl says so once and keeps going through cool-downs.
- `visitor-<n>`: a visitor session, where the platform hands one to anonymous clients (the
  adapter's `visitor_flow`; plan `access.visitor`, on by default there). It is fetched when the
  platform asks for it — it redirects to its visitor page, answers 432, or `ok: -100` — and
  fetched anew each time it asks again (the cookies expire after minutes).
- `anonymous`: no cookies.

The Weibo visitor flow follows what public clients do; it cannot be tested against the real site
here (the simulated platform, memoryhole/sandbox/gate.py, serves the same exchange on 127.0.0.1):
- yt-dlp, yt_dlp/extractor/weibo.py (`WeiboBaseIE._update_visitor_cookies`,
  `_weibo_download_json`): an answer that lands on passport.weibo.com means "visitor cookies
  needed"; POST `https://passport.weibo.com/visitor/genvisitor` with `cb=gen_callback` and a
  browser fingerprint `fp`, read `tid`/`confidence` from the JSONP answer, then GET
  `visitor/visitor?a=incarnate&t=<tid>&w=2&c=<confidence, 3 digits>&cb=cross_domain&from=weibo`,
  which sets the `SUB`/`SUBP` cookies; then ask the original URL again.
- RSSHub, lib/routes/weibo/utils.ts (`getCookies`, `tryWithCookies`): renews visitor cookies
  when the API answers HTTP 432 or `ok: -100`, one renewal at a time, with a rest between
  renewals; researcher-supplied cookies are never renewed ("Cookies expired. Please update").
Unconfirmed here: RSSHub's comment says m.weibo.cn redirects to visitor.passport.weibo.cn
(yt-dlp's URLs are passport.weibo.com), and for which domain the real incarnate answer sets
SUB (weibo.com or weibo.cn); the flow asks the host the redirect names and sends the SUB/SUBP it
is given to the plan's host.
Against a mirror or the simulated platform (a `base_url` other than the platform's own) the
visitor paths are asked on `base_url`'s host, unless the platform's redirect names another.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK

from .plan import CookieSource

log = logging.getLogger(__name__)

SESSION = "memoryhole_session"          # request meta: the label of the session it was sent on
FLOW_STEP = "memoryhole_visitor_flow"   # request meta: a step of the visitor flow itself
REVISITS = "memoryhole_visitor_redirects"   # request meta: times sent back by the visitor page
MAX_REVISITS = 3
# A spider's signal: an answer meant the platform is blocking us (crawlers/cooldown.py listens
# too). Arguments: request, response, failure (the failure's name).
gate_blocked = object()

REDACTED = "<redacted by memoryhole>"
# Request and response headers whose values are secrets: never archived, stored or logged.
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "set-cookie2", "authorization",
                            "proxy-authorization"})


class SessionError(ValueError):
    """The researcher's cookies cannot be read; the message names the file or variable (never a
    value) and the fix."""


# --- the researcher's cookies ----------------------------------------------------------------


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str
    domain: str | None = None     # None: the platform's host (a header line names no domain)


def parse_cookie_line(text: str) -> list[Cookie]:
    """`Cookie: a=1; b=2` (or `a=1; b=2`) as cookies for the platform's host."""
    line = text.strip()
    if line.lower().startswith("cookie:"):
        line = line[len("cookie:"):]
    cookies = []
    for part in line.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name.strip():
            cookies.append(Cookie(name.strip(), value.strip()))
    return cookies


def parse_cookies_txt(text: str) -> list[Cookie]:
    """Netscape cookies.txt (domain, subdomains, path, secure, expiry, name, value; tab-separated;
    `#HttpOnly_` before the domain of http-only cookies, other `#` lines comments)."""
    cookies = []
    for line in text.splitlines():
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_"):]
        elif line.startswith("#") or not line.strip():
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) == 7 and fields[5]:
            cookies.append(Cookie(fields[5], fields[6], fields[0].lower()))
    return cookies


def read_cookies(source: CookieSource) -> list[Cookie]:
    """The cookies a plan's `access.cookies` names; SessionError when there are none."""
    if source.env:
        text = os.environ.get(source.env)
        if not text or not text.strip():
            raise SessionError(f"access.cookies.env: the environment variable {source.env} is "
                               "not set or empty; export it with the Cookie header line")
        where = f"the environment variable {source.env}"
    else:
        path = Path(source.file or "")
        try:
            text = path.read_text("utf-8-sig")
        except FileNotFoundError:
            raise SessionError(f"access.cookies.file: {path} does not exist; export cookies.txt "
                               "from a browser logged in to the platform") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SessionError(f"access.cookies.file: {path} cannot be read as text "
                               f"({type(exc).__name__})") from None
        where = str(path)
    netscape = any("\t" in line for line in text.splitlines() if not line.startswith("# "))
    cookies = parse_cookies_txt(text) if netscape else parse_cookie_line(
        next((line for line in text.splitlines() if line.strip()), ""))
    if not cookies:
        raise SessionError(f"access.cookies: no cookie found in {where}; give a Netscape "
                           "cookies.txt or one line `Cookie: SUB=...`")
    return cookies


def researcher_cookies(plan: Any) -> list[Cookie]:
    """The plan's `access.cookies`, read and checked for the plan's host (SessionError, naming
    the file or variable, when there are none for it). `memoryhole crawl` calls it before the
    first cycle, so a missing file stops the command at once."""
    source = plan.access.cookies
    cookies = read_cookies(source)
    host = urlsplit(plan.base_url).hostname or ""
    if cookie_header(cookies, host) is None:
        raise SessionError(f"access.cookies ({source.label}): no cookie for {host}; export the "
                           "cookies of the platform's own site (a weibo.com cookie does not "
                           "work on m.weibo.cn)")
    return cookies


def domain_matches(domain: str | None, host: str) -> bool:
    """Whether a cookie of `domain` goes to `host` (as browsers decide; None: the plan's host)."""
    if domain is None:
        return True
    domain = domain.lstrip(".")
    return host == domain or host.endswith("." + domain)


def cookie_header(cookies: Iterable[Cookie], host: str) -> str | None:
    pairs = [f"{c.name}={c.value}" for c in cookies if domain_matches(c.domain, host)]
    return "; ".join(pairs) or None


# --- redaction -------------------------------------------------------------------------------


def redact_value(name: str, value: str) -> str:
    """A secret header's value with every cookie value (or the credential) replaced; cookie
    names and attributes (expiry, domain) stay, as evidence of what the exchange carried."""
    lower = name.lower()
    if lower == "cookie":
        return "; ".join(f"{part.split('=', 1)[0].strip()}={REDACTED}"
                         for part in value.split(";") if part.strip())
    if lower.startswith("set-cookie"):
        first, _, attributes = value.partition(";")
        cookie = f"{first.split('=', 1)[0].strip()}={REDACTED}"
        return f"{cookie};{attributes}" if attributes else cookie
    return REDACTED


def redact_headers(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Header pairs with the values of SECRET_HEADERS redacted (crawlers/middlewares.py applies
    it to every WARC request and response record)."""
    return [(name, redact_value(name, value) if name.lower() in SECRET_HEADERS else value)
            for name, value in pairs]


# --- the Weibo visitor flow ------------------------------------------------------------------

_JSONP = re.compile(r"^[^(]*\((.*)\)\s*;?\s*$", re.DOTALL)


def jsonp(body: bytes) -> dict[str, Any]:
    """The object inside `window.cb && cb({...});`, or the body itself when it is plain JSON."""
    text = body.decode("utf-8", errors="replace").strip()
    found = _JSONP.match(text)
    value = json.loads(found[1] if found else text)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


@dataclass(frozen=True)
class WeiboVisitorFlow:
    """passport.weibo.com's visitor cookies (sources: the module docstring)."""

    real_platform: str = "https://m.weibo.cn"
    real_passport: str = "https://passport.weibo.com"
    # yt-dlp's fingerprint: what a first visit by a desktop browser sends.
    fingerprint: str = ('{"os":"2","browser":"Gecko57,0,0,0","fonts":"undefined",'
                        '"screenInfo":"1440*900*24","plugins":""}')
    cookies: tuple[str, ...] = ("SUB", "SUBP")

    def passport(self, base_url: str, redirect: str | None = None) -> str:
        """Where the visitor pages are: the redirect's host, the real passport for the real
        platform, else the plan's own host (a mirror, the simulated platform)."""
        if redirect:
            parts = urlsplit(redirect)
            if parts.scheme and parts.netloc:
                return f"{parts.scheme}://{parts.netloc}"
        if base_url.rstrip("/") == self.real_platform:
            return self.real_passport
        parts = urlsplit(base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @staticmethod
    def is_visitor_page(location: str) -> bool:
        """A redirect to the visitor page (`passport.weibo.com/visitor/visitor?...`)."""
        parts = urlsplit(location)
        return parts.path.rstrip("/").endswith("/visitor/visitor") or (
            "passport." in parts.netloc and "visitor" in parts.netloc + parts.path)

    def genvisitor(self, passport: str) -> Request:
        return Request(f"{passport}/visitor/genvisitor", method="POST",
                       body=urlencode({"cb": "gen_callback", "fp": self.fingerprint}),
                       headers={"Content-Type": "application/x-www-form-urlencoded",
                                "Referer": f"{passport}/visitor/visitor?entry=miniblog"},
                       callback=NO_CALLBACK, dont_filter=True, meta={FLOW_STEP: "genvisitor"})

    @staticmethod
    def incarnate(passport: str, answer: bytes) -> Request:
        data = jsonp(answer).get("data") or {}
        tid = str(data["tid"])
        query = {"a": "incarnate", "t": tid, "w": 3 if data.get("new_tid") else 2,
                 "c": f"{int(data.get('confidence', 100)):03d}", "cb": "cross_domain",
                 "from": "weibo", "_rand": f"{random.random():.16f}"}
        return Request(f"{passport}/visitor/visitor?{urlencode(query)}", callback=NO_CALLBACK,
                       dont_filter=True, meta={FLOW_STEP: "incarnate"})

    def session_cookies(self, response: Response) -> list[Cookie]:
        """SUB and SUBP from the incarnate answer's Set-Cookie headers (or its JSONP data)."""
        found: dict[str, str] = {}
        for raw in response.headers.getlist("Set-Cookie"):
            try:
                jar = SimpleCookie(raw.decode("latin-1"))
            except CookieError:
                continue
            found.update({k: m.value for k, m in jar.items() if k in self.cookies})
        if not found:
            try:
                data = jsonp(response.body).get("data") or {}
            except ValueError:
                data = {}
            found = {name: str(data[name.lower()]) for name in self.cookies
                     if data.get(name.lower())}
        if "SUB" not in found:
            raise ValueError("the visitor page gave no SUB cookie")
        return [Cookie(name, value) for name, value in found.items()]


FLOWS: dict[str, WeiboVisitorFlow] = {"weibo": WeiboVisitorFlow()}


# --- the crawl's session ---------------------------------------------------------------------


@dataclass
class Session:
    label: str
    cookies: list[Cookie] = field(default_factory=list)
    kind: str = "anonymous"        # anonymous | cookie | visitor

    def header(self, host: str) -> str | None:
        return cookie_header(self.cookies, host)


# The visitor session in use, by platform and host, process-wide: the crawls of a campaign (one
# process) share it until the platform asks for a new one. (session, visitors fetched so far)
VISITOR_SESSIONS: dict[tuple[str, str], tuple[Session, int]] = {}


class SessionMiddleware:
    """Downloader middleware: puts the session's cookies on every request to the platform's
    host, fetches a visitor session when the platform asks for one, and sends back to be asked
    again a request the platform redirected to its visitor page.

    Its process_response runs after WARC archiving (so a redirect to the visitor page is kept
    as evidence) and again when a corpus is reparsed, where it only decides from the archived
    answer. Statistics: `memoryhole/visitor_sessions` (fetched), `memoryhole/visitor_failed`.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        spider = crawler.spider
        plan = getattr(spider, "plan", None)
        if plan is None:
            raise NotConfigured("not a plan spider")
        self.plan = plan
        self.host = urlsplit(plan.base_url).hostname or ""
        adapter = getattr(spider, "adapter", None)
        flow_name = getattr(adapter, "visitor_flow", None)
        self.flow = FLOWS.get(flow_name) if plan.access.visitor and flow_name else None
        self.key = (plan.platform, urlsplit(plan.base_url).netloc)
        self.session, self.visitors = VISITOR_SESSIONS.get(self.key, (Session("anonymous"), 0))
        if self.flow is None:
            self.session = Session("anonymous")
        self.loaded = False
        self.wanted = False             # the platform asked for a (new) visitor session
        self.redirect: str | None = None
        self.warned: set[str] = set()
        self.lock = asyncio.Lock()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SessionMiddleware:
        middleware = cls(crawler)
        crawler.signals.connect(middleware.blocked, signal=gate_blocked)
        return middleware

    # Requests --------------------------------------------------------------------------------

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if FLOW_STEP in request.meta or request.callback is NO_CALLBACK:
            return   # the visitor flow's own requests, robots.txt
        host = urlsplit(request.url).hostname or ""
        if not self.loaded:
            self._load()
        if self.flow is not None and self.wanted:
            async with self.lock:
                if self.wanted:
                    await self._visit()
        if self.session.kind != "anonymous" and host == self.host:
            request.meta[SESSION] = self.session.label
            header = self.session.header(host)
            if header:
                request.headers["Cookie"] = header
            else:
                request.headers.pop("Cookie", None)

    def _load(self) -> None:
        self.loaded = True
        source = self.plan.access.cookies
        if source is None:
            return
        try:
            cookies = researcher_cookies(self.plan)
        except SessionError as exc:
            # `memoryhole crawl` checked them before starting: gone since (a file deleted
            # mid-campaign). Said loudly; the platform's refusals are recorded as failures.
            log.error("%s; crawling without the researcher's cookies", exc)
            return
        self.session = Session(source.label, cookies, "cookie")
        log.info("sending the researcher's cookies (%s) to %s", source.label, self.host)

    async def _visit(self) -> None:
        """The visitor flow, one step after another, through Scrapy's own downloader (proxies,
        user agent, cool-downs and WARC archiving apply)."""
        assert self.flow is not None
        self.wanted = False
        passport = self.flow.passport(self.plan.base_url, self.redirect)
        stats = self.crawler.stats
        try:
            answer = await self.crawler.engine.download_async(self.flow.genvisitor(passport))
            if answer.status != 200:
                raise ValueError(f"genvisitor answered HTTP {answer.status}")
            answer = await self.crawler.engine.download_async(
                self.flow.incarnate(passport, answer.body))
            if answer.status != 200:
                raise ValueError(f"incarnate answered HTTP {answer.status}")
            cookies = self.flow.session_cookies(answer)
        except Exception as exc:   # a visitor session that failed is no reason to stop: go on
            stats.inc_value("memoryhole/visitor_failed")
            log.warning("could not get a visitor session from %s (%s); going on without one",
                        passport, f"{type(exc).__name__}: {exc}"[:200])
            return
        self.visitors += 1
        self.session = Session(f"visitor-{self.visitors}", cookies, "visitor")
        VISITOR_SESSIONS[self.key] = (self.session, self.visitors)
        stats.inc_value("memoryhole/visitor_sessions")
        log.info("visitor session %s from %s", self.session.label, passport)

    # Answers ---------------------------------------------------------------------------------

    def process_response(self, request: Request, response: Response,
                         spider: Any = None) -> Request | Response:
        if self.flow is None or FLOW_STEP in request.meta:
            return response
        location = response.headers.get("Location")
        if response.status not in (301, 302, 303, 307, 308) or not location:
            return response
        location = location.decode("latin-1")
        if not self.flow.is_visitor_page(location) or request.meta.get(REVISITS, 0) >= (
                MAX_REVISITS):
            return response
        # The platform wants a visitor session first: get one, then ask again.
        self._want(request, location)
        again = request.replace(dont_filter=True)
        again.meta[REVISITS] = request.meta.get(REVISITS, 0) + 1
        again.headers.pop("Cookie", None)
        return again

    def blocked(self, request: Request, response: Response | None, failure: str) -> None:
        """The spider's gate_blocked signal: a 432 or `ok: -100` asks for a new visitor session;
        the researcher's own cookies cannot be renewed, so that is said once."""
        if failure not in ("user_agent_refused", "captcha", "login_wall"):
            return
        if self.session.kind == "cookie":
            if self.session.label not in self.warned:
                self.warned.add(self.session.label)
                log.warning("%s refused the researcher's cookies (%s: %s); they may have "
                            "expired: export fresh ones", self.host, self.session.label, failure)
            return
        if self.flow is not None:
            self._want(request, None)

    def _want(self, request: Request, redirect: str | None) -> None:
        # Only the session the answer was given to is stale; a newer one is kept.
        if request.meta.get(SESSION, "anonymous") == self.session.label:
            self.wanted = True
            if redirect:
                self.redirect = redirect
