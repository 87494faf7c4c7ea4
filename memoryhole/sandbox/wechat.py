"""Simulated WeChat public-account articles (mp.weixin.qq.com/s…), served under `/wechat`.

Articles are published before the scenario starts by a few public accounts; each is reachable by
its short link (`/wechat/s/<token>`) or its long one (`/wechat/s?__biz=…&mid=…&idx=…&sn=…`), as
its `url` in the truth says (half of them each). A live article is the real page's shape
(`#activity-name`, `#js_name`, `#js_content`, JS `biz`, `msg_title`, `nickname`, `var ct`); a
removed one is a WeUI message page (`.weui-msg`) with the platform's words and no `#js_content`,
HTTP 200, as WeChat answers. An account blocked, closed, migrated or migrating shows its words
instead of every one of its articles that was still visible.

Scenario section `wechat:` (all keys optional; absent = no WeChat):

    accounts: 3                 # public accounts (__biz)
    articles: 12                # articles per account, published over the week before start
    removals: {share: 0.3, delay: {min: 30s, max: 3m}}   # random removals, cause drawn evenly
    restore: {share: 0.0, delay: {min: 20s, max: 1m}}    # share of removed articles restored
    events: [{at: 2m, do: <action>, article: <index or id>, account: <index>, message: <words>}]

Article actions: delete (publisher), violation, violation_old, copyright, send_failed,
marketing, privacy, unknown, restore. Account actions: block, close, migrate, migrating, reopen.
Faults: `captcha` answers the verification page (环境异常), `login_wall` the rate-limit page
(访问过于频繁), `truncated` cuts the page in half; HTTP faults as everywhere.
"""

from __future__ import annotations

import base64
import bisect
import html
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from . import text as textgen
from .render import iso
from .scenario import DelayRange, Share, _Reader

PREFIX = "/wechat"

# The platform's words (shared/platform-facts.md, WeChat), the sandbox's own copy.
ARTICLE_ACTIONS: dict[str, tuple[str, str]] = {   # action: (cause, words)
    "delete": ("author_deleted", "该内容已被发布者删除"),
    "violation": ("platform_removed", "此内容因违规无法查看"),
    "violation_old": ("platform_removed", "此内容因违规已删除"),
    "copyright": ("platform_removed", "该内容被投诉且经审核涉嫌侵权，无法查看"),
    "send_failed": ("platform_removed", "此内容发送失败无法查看"),
    "marketing": ("platform_removed", "由用户投诉并经平台审核，涉嫌过度营销、骚扰用户"),
    "privacy": ("restricted", "根据作者隐私设置，无法查看该内容"),
    "unknown": ("unknown", "此内容暂时无法查看（错误码 20431）"),
}
ACCOUNT_ACTIONS: dict[str, tuple[str, str]] = {
    "block": ("account_suspended", "此帐号已被屏蔽"),
    "close": ("account_closed", "此帐号已自主注销"),
    "migrate": ("account_closed", "该公众号已迁移"),
    "migrating": ("restricted", "此帐号处于帐号迁移流程中"),
}
OTHER_ACTIONS = ("restore", "reopen")
RANDOM_ACTIONS = ("delete", "violation", "copyright", "send_failed", "marketing", "privacy")
VERIFY_WORDS = ("环境异常", "当前环境异常，完成验证后即可继续访问。", "去验证")
RATE_LIMIT_WORDS = "访问过于频繁"
LINK_EXPIRED_WORDS = "链接已过期"
_TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


@dataclass(frozen=True)
class WechatEventSpec:
    at: float
    do: str
    article: int | str | None = None
    account: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class WechatSpec:
    accounts: int = 3
    articles: int = 12
    removals: Share = Share(0.3, DelayRange(30.0, 180.0))
    restore: Share = Share(0.0, DelayRange(20.0, 60.0))
    events: tuple[WechatEventSpec, ...] = ()


def wechat_spec(data: Any, label: str) -> WechatSpec | None:
    """The `wechat:` section of a scenario, checked (ScenarioError names the field)."""
    if data is None:
        return None
    r, d = _Reader(label), WechatSpec()
    top = r.section(data, "wechat", ("accounts", "articles", "removals", "restore", "events"))
    events = top.get("events") or []
    if not isinstance(events, list):
        raise r.fail("wechat.events", f"must be a list of events, got {events!r}")
    parsed = []
    for i, raw in enumerate(events):
        name = f"wechat.events[{i}]"
        e = r.section(raw, name, ("at", "do", "article", "account", "message"))
        do = e.get("do")
        if do not in (*ARTICLE_ACTIONS, *ACCOUNT_ACTIONS, *OTHER_ACTIONS):
            raise r.fail(f"{name}.do", "must be one of "
                         f"{', '.join((*ARTICLE_ACTIONS, *ACCOUNT_ACTIONS, *OTHER_ACTIONS))}")
        parsed.append(WechatEventSpec(
            at=r.duration(e, "at", f"{name}.at", 0.0, negative_ok=True), do=do,
            article=e.get("article"), account=e.get("account"), message=e.get("message")))
    return WechatSpec(
        accounts=r.integer(top, "accounts", "wechat.accounts", d.accounts, low=1),
        articles=r.integer(top, "articles", "wechat.articles", d.articles, low=1),
        removals=r.share_spec(top.get("removals"), "wechat.removals", d.removals),
        restore=r.share_spec(top.get("restore"), "wechat.restore", d.restore),
        events=tuple(parsed))


@dataclass(eq=False)
class Article:
    item_id: str
    account: int
    biz: str
    mid: int
    idx: int
    sn: str
    token: str
    short: bool
    title: str
    paragraphs: tuple[str, ...]
    published_at: datetime
    # (at, seq, cause or None for restore, words)
    events: list[tuple[datetime, int, str | None, str | None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        if self.short:
            return f"https://mp.weixin.qq.com/s/{self.token}"
        return (f"https://mp.weixin.qq.com/s?__biz={self.biz}&mid={self.mid}&idx={self.idx}"
                f"&sn={self.sn}")


@dataclass(eq=False)
class PublicAccount:
    index: int
    biz: str
    nickname: str
    events: list[tuple[datetime, int, str | None, str | None]] = field(default_factory=list)


def _state(events: list, at: datetime) -> tuple[str | None, str | None, datetime | None]:
    """(cause, words, since) of the latest event at or before `at` (cause None: visible)."""
    i = bisect.bisect_right([(e[0], e[1]) for e in events], (at, float("inf")))
    if i == 0:
        return None, None, None
    _, _, cause, words = events[i - 1]
    return cause, words, events[i - 1][0]


class WechatWorld:
    """Every article's history, computed once; the page at time t is a pure function of t."""

    def __init__(self, spec: WechatSpec, start: datetime, seed: int) -> None:
        self.spec, self.start, self._seq = spec, start, 0
        rng = random.Random(f"{seed}:wechat")
        self.accounts = [
            PublicAccount(k, base64.b64encode(str(3_070_000_000 + 7919 * k).encode()).decode(),
                          textgen.screen_name(rng)) for k in range(spec.accounts)]
        self.articles: list[Article] = []
        for k, account in enumerate(self.accounts):
            for n in range(spec.articles):
                published = start - timedelta(seconds=rng.uniform(600, 7 * 86400))
                token = "".join(rng.choice(_TOKEN_CHARS) for _ in range(22))
                mid, idx = 2_247_480_000 + 1000 * k + n, 1 + n % 3
                short = (k + n) % 2 == 0
                article = Article(
                    item_id=f"s/{token}" if short else
                    f"s?__biz={account.biz}&mid={mid}&idx={idx}&sn={rng.getrandbits(128):032x}",
                    account=k, biz=account.biz, mid=mid, idx=idx, sn="", token=token,
                    short=short, title=textgen._sentence(rng, textgen.vocabulary()).rstrip("。！？…"),
                    paragraphs=tuple(textgen._sentence(rng, textgen.vocabulary())
                                     for _ in range(rng.randint(2, 5))),
                    published_at=published.replace(microsecond=0))
                if not short:
                    article.sn = article.item_id.rsplit("sn=", 1)[1]
                self.articles.append(article)
        fates = random.Random(f"{seed}:wechat:fates")
        for article in self.articles:
            if fates.random() < spec.removals.share:
                action = fates.choice(RANDOM_ACTIONS)
                at = start + timedelta(seconds=fates.uniform(spec.removals.delay.min,
                                                             spec.removals.delay.max))
                self.schedule(at, action, article=article.item_id)
                if fates.random() < spec.restore.share:
                    later = at + timedelta(seconds=fates.uniform(spec.restore.delay.min,
                                                                 spec.restore.delay.max))
                    self.schedule(later, "restore", article=article.item_id)
        for event in spec.events:
            self.schedule(start + timedelta(seconds=event.at), event.do, article=event.article,
                          account=event.account, message=event.message)

    # ----------------------------------------------------------------- history

    def article(self, ref: int | str | None) -> Article:
        if isinstance(ref, int) and 0 <= ref < len(self.articles):
            return self.articles[ref]
        for article in self.articles:
            if ref in (article.item_id, article.url):
                return article
        raise ValueError(f"wechat: no article {ref!r}")

    def schedule(self, at: datetime, do: str, *, article: int | str | None = None,
                 account: int | None = None, message: str | None = None) -> None:
        self._seq += 1
        if do in ACCOUNT_ACTIONS or do == "reopen":
            if not isinstance(account, int) or not 0 <= account < len(self.accounts):
                raise ValueError(f"wechat: {do} needs account: 0..{len(self.accounts) - 1}")
            cause, words = ACCOUNT_ACTIONS.get(do, (None, None))
            events = self.accounts[account].events
        elif do in ARTICLE_ACTIONS or do == "restore":
            cause, words = ARTICLE_ACTIONS.get(do, (None, None))
            events = self.article(article).events
        else:
            raise ValueError(f"wechat: unknown action {do!r}")
        if message and cause is not None:
            words = message
        bisect.insort(events, (at, self._seq, cause, words), key=lambda e: (e[0], e[1]))

    def condition(self, article: Article, at: datetime) -> tuple[str | None, str | None]:
        """(cause, words) that hide the article at `at`, or (None, None) when it is live. Its own
        removal wins when it came before the account's state, as on Weibo."""
        own_cause, own_words, own_since = _state(article.events, at)
        acc_cause, acc_words, acc_since = _state(self.accounts[article.account].events, at)
        if own_cause and (acc_cause is None or own_since <= acc_since):
            return own_cause, own_words
        if acc_cause:
            return acc_cause, acc_words
        return None, None

    # ----------------------------------------------------------------- pages

    def find(self, path: str, query: str) -> Article | None:
        if path.startswith("/s/"):
            token = path[3:].rstrip("/")
            return next((a for a in self.articles if a.short and a.token == token), None)
        if path in ("/s", "/s/"):
            q = {k: v[0] for k, v in parse_qs(query).items()}
            return next((a for a in self.articles if not a.short and q.get("__biz") == a.biz
                         and q.get("mid") == str(a.mid) and q.get("idx") == str(a.idx)
                         and q.get("sn") == a.sn), None)
        return None

    def page(self, path: str, query: str, at: datetime) -> tuple[int, bytes]:
        article = self.find(path, query)
        if article is None:
            return 404, message_page("参数错误")
        cause, words = self.condition(article, at)
        if cause is None:
            return 200, article_page(article, self.accounts[article.account])
        return 200, message_page(words or "", transfer=cause == "account_closed"
                                 and words == ACCOUNT_ACTIONS["migrate"][1])

    def truth(self, at: datetime) -> list[dict[str, Any]]:
        """Every article: its URL and id, account, publish time, text, and every change that
        hid it or changed why (removed_at, cause, message, restored_at), oldest first."""
        out = []
        for article in self.articles:
            moments = sorted({e[0] for e in article.events} |
                             {e[0] for e in self.accounts[article.account].events})
            history: list[dict[str, Any]] = []
            last: tuple[str | None, str | None] = (None, None)
            for moment in (m for m in moments if m <= at):
                now = self.condition(article, moment)
                if now == last:
                    continue
                if now[0] is None:
                    history[-1]["restored_at"] = iso(moment)
                else:
                    history.append({"removed_at": iso(moment), "cause": now[0],
                                    "message": now[1], "restored_at": None})
                last = now
            latest = history[-1] if history else {}
            out.append({
                "item_id": article.item_id, "url": article.url, "biz": article.biz,
                "account": self.accounts[article.account].nickname, "title": article.title,
                "text": "\n".join(article.paragraphs), "published_at": iso(article.published_at),
                "removed_at": latest.get("removed_at"), "cause": latest.get("cause"),
                "message": latest.get("message"), "restored_at": latest.get("restored_at"),
                "history": history})
        return out


def article_page(article: Article, account: PublicAccount) -> bytes:
    e = html.escape
    paragraphs = "".join(f'<p style="margin:0 0 1em">{e(p)}</p>' for p in article.paragraphs)
    link = article.url.replace("&", "&amp;")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{e(article.title)}</title>
<meta property="og:title" content="{e(article.title)}">
<script>
var biz = "{article.biz}" || "";
var msg_title = '{e(article.title)}'.html(false);
var msg_desc = htmlDecode("{e(article.paragraphs[0][:40])}");
var msg_link = "{link}#rd";
var nickname = htmlDecode("{e(account.nickname)}");
var ct = "{int(article.published_at.timestamp())}";
</script></head>
<body id="activity-detail" class="zh_CN wx_wap_page">
<div class="rich_media_area_primary" id="page-content">
<h1 class="rich_media_title" id="activity-name">{e(article.title)}</h1>
<div class="rich_media_meta_list" id="meta_content">
<span class="rich_media_meta rich_media_meta_nickname" id="profileBt">
<a href="javascript:void(0);" class="wx_tap_link" id="js_name">{e(account.nickname)}</a></span>
<em id="publish_time" class="rich_media_meta rich_media_meta_text"></em></div>
<div class="rich_media_content" id="js_content" style="visibility: hidden;">{paragraphs}</div>
</div></body></html>
""".encode()


def message_page(title: str, desc: str = "", button: str = "", *, transfer: bool = False) -> bytes:
    """WeChat's WeUI message page: the words a reader sees instead of an article."""
    e = html.escape
    script = ('<script>var transferTargetLink = "https://mp.weixin.qq.com/s?__biz=MzkxMTIzNDU2'
              'Nw==&amp;mid=1&amp;idx=1";</script>' if transfer else "")
    parts = [f'<h2 class="weui-msg__title">{e(title)}</h2>']
    if desc:
        parts.append(f'<p class="weui-msg__desc">{e(desc)}</p>')
    if button:
        parts.append(f'<p class="weui-msg__opr-area"><a class="weui-btn weui-btn_primary">'
                     f'{e(button)}</a></p>')
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title></title>{script}</head>'
            f'<body><div class="weui-msg"><div class="weui-msg__icon-area"><i class="weui-icon-'
            f'warn weui-icon_msg"></i></div><div class="weui-msg__text-area">{"".join(parts)}'
            f'</div></div></body></html>\n').encode()


def verification_page() -> bytes:
    return message_page(VERIFY_WORDS[0], VERIFY_WORDS[1], VERIFY_WORDS[2])


def rate_limit_page() -> bytes:
    return message_page(RATE_LIMIT_WORDS)
