"""Spiders, made from the adapter registry: one listing spider and one probe spider, each
parameterised by a platform's adapter. A platform gets `<name>_timeline` (listing watches only)
and `<name>_probe`; nobody writes a spider class per platform."""

from __future__ import annotations

import contextlib
from functools import cache

from scrapy import Request, Spider
from scrapy.spiderloader import SpiderLoader

from ..platforms import ADAPTERS
from .base import PlanSpider
from .probe import ProbeSpider
from .timeline import TimelineSpider


@cache
def timeline_spider(platform: str) -> type[TimelineSpider]:
    """The listing spider of a listing platform; KeyError for an item platform or no platform."""
    if ADAPTERS[platform].watch != "listing":
        raise KeyError(f"{platform!r} has item watches: it has no listing spider")
    return type(f"{platform.title()}TimelineSpider", (TimelineSpider,),
                {"name": f"{platform}_timeline", "platform": platform,
                 "__module__": __name__})


@cache
def probe_spider(platform: str) -> type[ProbeSpider]:
    """The probe spider of a platform (candidates, re-probes, whole texts, and item watches)."""
    ADAPTERS[platform]   # KeyError for an unknown platform
    return type(f"{platform.title()}ProbeSpider", (ProbeSpider,),
                {"name": f"{platform}_probe", "platform": platform, "__module__": __name__})


def _spiders(kind: str) -> dict[str, type[PlanSpider]]:
    make = timeline_spider if kind == "timeline" else probe_spider
    return {name: make(name) for name, adapter in sorted(ADAPTERS.items())
            if kind == "probe" or adapter.watch == "listing"}


def __getattr__(name: str) -> dict[str, type[PlanSpider]]:
    """TIMELINE_SPIDERS and PROBE_SPIDERS (by platform, for callers that look spiders up by crawl
    kind: reparse, tests), made when first asked: making them imports every adapter."""
    if name in ("TIMELINE_SPIDERS", "PROBE_SPIDERS"):
        spiders = _spiders("timeline" if name == "TIMELINE_SPIDERS" else "probe")
        globals()[name] = spiders
        return spiders
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PlatformSpiderLoader(SpiderLoader):
    """Scrapy's spider loader (settings.SPIDER_LOADER_CLASS) that also knows every platform's
    spiders by name, `<platform>_timeline` and `<platform>_probe`, and makes one when it is asked
    for: `scrapy crawl weibo_timeline` works without importing every adapter to list them."""

    def load(self, spider_name: str) -> type[Spider]:
        platform, _, kind = spider_name.rpartition("_")
        if platform in ADAPTERS and kind in ("timeline", "probe"):
            with contextlib.suppress(KeyError):   # an item platform has no timeline spider
                return (timeline_spider if kind == "timeline" else probe_spider)(platform)
        return super().load(spider_name)

    def list(self) -> list[str]:
        return sorted({*super().list(), *self._platform_spiders()})

    def find_by_request(self, request: Request) -> list[str]:
        return sorted({*super().find_by_request(request),
                       *(name for name, cls in self._platform_spiders().items()
                         if cls.handles_request(request))})

    @staticmethod
    def _platform_spiders() -> dict[str, type[PlanSpider]]:
        return {cls.name: cls for kind in ("timeline", "probe") for cls in _spiders(kind).values()}


__all__ = ["PROBE_SPIDERS", "TIMELINE_SPIDERS", "PlanSpider", "PlatformSpiderLoader", "ProbeSpider",
           "TimelineSpider", "probe_spider", "timeline_spider"]
