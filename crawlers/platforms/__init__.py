"""Platform adapters, by name. A crawl plan's `platform:` picks one."""

from .base import PlatformAdapter, PostRecord, ProbeResult, TimelinePage
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


__all__ = ["ADAPTERS", "PlatformAdapter", "PostRecord", "ProbeResult", "TimelinePage",
           "adapter_for"]
