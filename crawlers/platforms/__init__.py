"""Platform adapters, by name: the registry. A crawl plan's `platform:` picks one; spiders, plans
and the corpus's platform record are made from it (memoryhole.crawlers.spiders.spiders_for)."""

from .base import (
    ExtraColumn,
    ItemAdapter,
    ListingAdapter,
    LongTextResult,
    PlatformAdapter,
    PostRecord,
    ProbeResult,
    ProfileResult,
    SessionRequest,
    Signature,
    Signatures,
    TimelinePage,
    Tombstone,
    load_signatures,
    timestamp_order_key,
)
from .bilibili import BilibiliAdapter
from .news import NewsAdapter
from .telegram import TelegramAdapter
from .toutiao import ToutiaoAdapter
from .wechat import WechatAdapter
from .weibo import WeiboAdapter
from .youku import YoukuAdapter

ADAPTERS: dict[str, type[PlatformAdapter]] = {
    "weibo": WeiboAdapter, "wechat": WechatAdapter, "telegram": TelegramAdapter,
    "news": NewsAdapter, "toutiao": ToutiaoAdapter, "bilibili": BilibiliAdapter,
    "youku": YoukuAdapter}


def adapter_for(platform: str) -> PlatformAdapter:
    """The adapter for `platform`; KeyError names the known ones."""
    try:
        return ADAPTERS[platform]()
    except KeyError:
        raise KeyError(
            f"unknown platform {platform!r}; known: {', '.join(sorted(ADAPTERS))}"
        ) from None


__all__ = ["ADAPTERS", "ExtraColumn", "ItemAdapter", "ListingAdapter", "LongTextResult",
           "PlatformAdapter", "PostRecord", "ProbeResult", "ProfileResult", "SessionRequest", "Signature",
           "Signatures", "TimelinePage", "Tombstone", "adapter_for", "load_signatures",
           "timestamp_order_key"]
