"""Spiders, made from the adapter registry: one listing spider and one probe spider, each
parameterised by a platform's adapter. A platform gets `<name>_timeline` (listing watches only)
and `<name>_probe`; nobody writes a spider class per platform."""

from functools import cache

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


# By platform, for callers that look spiders up by crawl kind (reparse, tests).
TIMELINE_SPIDERS: dict[str, type[TimelineSpider]] = _spiders("timeline")  # type: ignore[assignment]
PROBE_SPIDERS: dict[str, type[ProbeSpider]] = _spiders("probe")  # type: ignore[assignment]
# Module attributes too: `scrapy crawl weibo_timeline` finds spiders among SPIDER_MODULES' names.
globals().update({cls.__name__: cls for cls in (*TIMELINE_SPIDERS.values(),
                                                  *PROBE_SPIDERS.values())})

__all__ = ["PROBE_SPIDERS", "TIMELINE_SPIDERS", "PlanSpider", "ProbeSpider", "TimelineSpider",
           "probe_spider", "timeline_spider"]
