"""Platform adapters, by name: the registry. A crawl plan's `platform:` picks one; spiders, plans
and the corpus's platform record are made from it (memoryhole.crawlers.spiders.spiders_for)."""

from collections.abc import Iterator, MutableMapping
from importlib import import_module

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


class _AdapterRegistry(MutableMapping[str, "type[PlatformAdapter]"]):
    """Platform name -> adapter class, each adapter's module imported on first use by name.

    A crawl cycle needs one platform; importing every adapter (and what they import) cost every
    process's start. Iterating, `len` and `in` need no import; a value does. Assigning a name
    registers an adapter defined elsewhere (tests, a researcher's own platform)."""

    def __init__(self, modules: dict[str, tuple[str, str]]) -> None:
        self._modules = dict(modules)   # name -> (module under this package, class name)
        self._loaded: dict[str, type[PlatformAdapter]] = {}

    def __getitem__(self, name: str) -> type[PlatformAdapter]:
        try:
            return self._loaded[name]
        except KeyError:
            module, cls = self._modules[name]   # KeyError for an unknown name
        adapter = getattr(import_module(f"{__name__}.{module}"), cls)
        self._loaded[name] = adapter
        return adapter

    def __setitem__(self, name: str, adapter: type[PlatformAdapter]) -> None:
        self._loaded[name] = adapter
        self._modules.setdefault(name, ("", ""))

    def __delitem__(self, name: str) -> None:
        del self._modules[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __contains__(self, name: object) -> bool:
        return name in self._modules

    def __repr__(self) -> str:
        return f"{type(self).__name__}({sorted(self._modules)})"


ADAPTERS: MutableMapping[str, type[PlatformAdapter]] = _AdapterRegistry({
    "weibo": ("weibo", "WeiboAdapter"), "wechat": ("wechat", "WechatAdapter"),
    "telegram": ("telegram", "TelegramAdapter"), "news": ("news", "NewsAdapter"),
    "toutiao": ("toutiao", "ToutiaoAdapter"), "bilibili": ("bilibili", "BilibiliAdapter"),
    "youku": ("youku", "YoukuAdapter")})


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
