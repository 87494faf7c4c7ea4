"""Platform adapters, by name. A crawl plan's `platform:` picks one."""

from .base import (
    LongTextResult,
    PlatformAdapter,
    PostRecord,
    ProbeResult,
    ProfileResult,
    TimelinePage,
    Tombstone,
)
from .weibo import WeiboAdapter

ADAPTERS: dict[str, type[PlatformAdapter]] = {"weibo": WeiboAdapter}


def adapter_for(platform: str) -> PlatformAdapter:
    """The adapter for `platform`; KeyError names the known ones."""
    try:
        return ADAPTERS[platform]()
    except KeyError:
        raise KeyError(
            f"unknown platform {platform!r}; known: {', '.join(sorted(ADAPTERS))}"
        ) from None


__all__ = ["ADAPTERS", "LongTextResult", "PlatformAdapter", "PostRecord", "ProbeResult",
           "ProfileResult", "TimelinePage", "Tombstone", "adapter_for"]
