"""How m.weibo.cn writes times and posts: relative list times, absolute detail times, `mblog`s,
the tombstone that replaces a removed original inside a repost, and the long-text answer."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from . import text as textgen
from .ids import mid_to_bid

if TYPE_CHECKING:  # pragma: no cover
    from .history import Account, Post

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
COUNT_GROWTH_SECONDS = 7200.0  # counts approach their final value with this time constant
#: Appended to the words of a tombstone, as in the recorded tombstones (platform-facts.md).
HELP_LINK = '查看帮助：<a href="https://kefu.weibo.com/faqdetail?id=19164">网页链接</a>'


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and `Z` (the corpus's text form)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def relative_created_at(created: datetime, now: datetime) -> str:
    """The list form: 刚刚, N分钟前, N小时前 (<24 h), 昨天 HH:MM, MM-DD, YYYY-MM-DD (Beijing time)."""
    delta = (now - created).total_seconds()
    if delta < 60:
        return "刚刚"
    if delta < 3600:
        return f"{int(delta // 60)}分钟前"
    if delta < 86400:
        return f"{int(delta // 3600)}小时前"
    c, n = created.astimezone(BEIJING), now.astimezone(BEIJING)
    if c.date() == n.date() - timedelta(days=1):
        return f"昨天 {c:%H:%M}"
    if c.year == n.year:
        return f"{c:%m-%d}"
    return f"{c:%Y-%m-%d}"


def absolute_created_at(created: datetime) -> str:
    """The detail form, e.g. `Sat Nov 21 10:00:00 +0800 2020` (locale-independent)."""
    c = created.astimezone(BEIJING)
    return f"{_DAYS[c.weekday()]} {_MONTHS[c.month - 1]} {c.day:02d} {c:%H:%M:%S} +0800 {c.year}"


def _grown(final: int, age_seconds: float) -> int:
    if age_seconds <= 0:
        return 0
    return int(final * (1.0 - math.exp(-age_seconds / COUNT_GROWTH_SECONDS)))


def user_json(account: Account, statuses_count: int) -> dict[str, Any]:
    """The `user` object embedded in every post."""
    uid = account.uid
    return {
        "id": int(uid),
        "screen_name": account.screen_name,
        "profile_image_url": f"https://tvax1.sinaimg.cn/crop.0.0.180.180.180/{account.avatar}.jpg",
        "profile_url": f"https://m.weibo.cn/u/{uid}?uid={uid}&luicode=10000011&lfid=107603{uid}",
        "statuses_count": statuses_count,
        "verified": account.verified,
        "verified_type": 0 if account.verified else -1,
        "close_blue_v": False,
        "description": account.description,
        "gender": account.gender,
        "mbtype": 0,
        "urank": account.urank,
        "mbrank": 0,
        "follow_me": False,
        "following": False,
        "followers_count": account.followers,
        "follow_count": account.follows,
    }


def counts_json(post: Post, at: datetime) -> dict[str, int]:
    """reposts/comments/attitudes counts at `at` (they grow towards the post's final values)."""
    age = (at - post.created_at).total_seconds()
    return {
        "reposts_count": _grown(post.final_reposts, age),
        "comments_count": _grown(post.final_comments, age),
        "attitudes_count": _grown(post.final_attitudes, age),
    }


def profile_json(account: Account, statuses_count: int) -> dict[str, Any]:
    """getIndex without containerid for an active account: `userInfo` and the profile's tabs."""
    uid = account.uid
    return {
        "ok": 1,
        "data": {
            "userInfo": user_json(account, statuses_count),
            "fans_scheme": f"https://m.weibo.cn/p/index?containerid=231051_-_fans_-_{uid}",
            "tabsInfo": {
                "selectedTab": 1,
                "tabs": [
                    {
                        "id": 1,
                        "tabKey": "profile",
                        "title": "主页",
                        "tab_type": "profile",
                        "containerid": f"230283{uid}",
                    },
                    {
                        "id": 2,
                        "tabKey": "weibo",
                        "title": "微博",
                        "tab_type": "weibo",
                        "containerid": f"107603{uid}",
                    },
                ],
            },
        },
    }


def mblog_json(
    post: Post,
    account: Account,
    at: datetime,
    *,
    full: bool,
    statuses_count: int,
    segments: tuple[tuple[str, ...], ...] | None = None,
    edit_count: int = 0,
    edit_at: datetime | None = None,
) -> dict[str, Any]:
    """One post as m.weibo.cn sends it: in lists (`full=False`) or as the detail (`full=True`).

    `segments` is the text as of `at` (after edits; default the text at creation). An edited post
    has `edit_count` > 0 and `edit_at` (absolute time of the latest edit)."""
    segments = post.segments if segments is None else segments
    if full:
        html, is_long = textgen.full_html(segments), False
        created = absolute_created_at(post.created_at)
    else:
        html, is_long = textgen.list_html(segments, post.mid)
        created = relative_created_at(post.created_at, at)
    counts = counts_json(post, at)
    mid = str(post.mid)
    mblog: dict[str, Any] = {
        "visible": {"type": 0, "list_id": 0},
        "created_at": created,
        "id": post.mid,
        "idstr": mid,
        "mid": mid,
        "can_edit": False,
        "show_additional_indication": 0,
        "text": html,
        "textLength": textgen.text_length(textgen.plain_text(segments)),
        "source": post.source,
        "favorited": False,
        "pic_ids": list(post.pic_ids),
        "is_paid": False,
        "mblog_vip_type": 0,
        "user": user_json(account, statuses_count),
        "reposts_count": counts["reposts_count"],
        "comments_count": counts["comments_count"],
        "reprint_cmt_count": 0,
        "attitudes_count": counts["attitudes_count"],
        "pending_approval_count": 0,
        "isLongText": is_long,
        "reward_exhibition_type": 0,
        "hide_flag": 0,
        "mlevel": 0,
        "mblogtype": 0,
        "more_info_type": 0,
        "content_auth": 0,
        "pic_num": len(post.pic_ids),
        "edit_count": edit_count,
        "bid": mid_to_bid(post.mid),
    }
    if edit_count and edit_at is not None:
        mblog["edit_at"] = absolute_created_at(edit_at)
    if post.pic_ids:
        mblog["pics"] = [
            {
                "pid": pid,
                "url": f"https://wx1.sinaimg.cn/orj360/{pid}.jpg",
                "size": "orj360",
                "large": {"size": "large", "url": f"https://wx1.sinaimg.cn/large/{pid}.jpg"},
            }
            for pid in post.pic_ids
        ]
    return mblog


def tombstone_json(mid: int, message: str, *, deleted: bool, state: int | None) -> dict[str, Any]:
    """What stands in a repost's `retweeted_status` once the original is gone (platform-facts.md).

    `deleted: "1"` only for removals (not for restricted originals or hidden accounts); `state` 7
    for the author, 8 for the platform, absent otherwise."""
    out: dict[str, Any] = {}
    if deleted:
        out["deleted"] = "1"
    out["user"] = None
    if state is not None:
        out["state"] = state
    out["visible"] = {"type": 0}
    out["text"] = message + HELP_LINK
    out["id"] = mid
    out["mid"] = str(mid)
    out["idstr"] = str(mid)
    return out


def extend_json(segments: tuple[tuple[str, ...], ...], counts: dict[str, int]) -> dict[str, Any]:
    """The `/statuses/extend` answer for a visible post: its whole text as HTML, and its counts."""
    return {"ok": 1, "data": {"ok": 1, "longTextContent": textgen.full_html(segments), **counts}}


def post_card(mblog: dict[str, Any], containerid: str, *, pinned: bool = False) -> dict[str, Any]:
    """A card_type 9 card around one `mblog`."""
    if pinned:
        mblog = {**mblog, "isTop": 1, "mblogtype": 2, "title": {"text": "置顶", "base_color": 1}}
    bid = mblog["bid"]
    return {
        "card_type": 9,
        "itemid": f"{containerid}_-_{mblog['mid']}",
        "scheme": (f"https://m.weibo.cn/status/{bid}?mblogid={bid}&luicode=10000011&lfid={containerid}"),
        "mblog": mblog,
    }
