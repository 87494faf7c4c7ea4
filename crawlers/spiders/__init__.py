"""Spiders, one timeline and one probe spider per platform."""

from .base import PlanSpider
from .probe import ProbeSpider, WeiboProbeSpider
from .timeline import TimelineSpider, WeiboTimelineSpider

TIMELINE_SPIDERS: dict[str, type[TimelineSpider]] = {"weibo": WeiboTimelineSpider}
PROBE_SPIDERS: dict[str, type[ProbeSpider]] = {"weibo": WeiboProbeSpider}

__all__ = ["PROBE_SPIDERS", "TIMELINE_SPIDERS", "PlanSpider", "ProbeSpider", "TimelineSpider"]
