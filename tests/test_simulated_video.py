"""Bilibili uploaders (a listing watch) and Youku videos (an item watch) on one driven clock, with
random fates (every kind of answer, restorations) and 5% faults (5xx, -352, -799 or Youku's
verification page and -6001, cut answers), scored against the sandbox's truth."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from e2e import QUIET_WEIBO

from memoryhole.sandbox import load_scenario
from memoryhole.simulated_platforms import hourly_scorecards

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HOURS = 6


@pytest.mark.long   # ~2 min: seven crawl cycles of two platforms (the end-to-end tests run in CI)
def test_video_platforms_scored_against_the_truth(tmp_path):
    fates = {"share": 0.5, "delay": {"min": "30m", "max": f"{HOURS - 2}h"}}
    scenario = load_scenario({
        "seed": 21, "start": T0.isoformat(), "duration": f"{HOURS}h",
        **QUIET_WEIBO,
        "faults": {"rate": 0.05, "kinds": ["http_500", "captcha", "login_wall", "truncated"]},
        "bilibili": {"uploaders": 3, "videos": 8, "removals": fates,
                     "restore": {"share": 0.3, "delay": {"min": "1h", "max": "2h"}}},
        "youku": {"videos": 16, "removals": fates,
                  "restore": {"share": 0.3, "delay": {"min": "1h", "max": "2h"}}},
    })
    cards, faults = hourly_scorecards(scenario, tmp_path, HOURS)
    assert faults > 0
    assert set(cards) == {"bilibili", "youku"}
    for name, card in cards.items():
        assert card.observable >= 5, (name, card.table())
        assert (card.precision, card.recall, card.reason_accuracy,
                card.interval_accuracy) == (1.0, 1.0, 1.0, 1.0), (name, card.table())
