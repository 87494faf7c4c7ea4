"""Telegram and WeChat watched together on one driven clock, with random fates (deletions, edits,
new posts; removals of every WeChat kind, restorations, a blocked account) and 5% faults, scored
against the sandbox's truth: what the demo does with them, shorter."""

from __future__ import annotations

from datetime import UTC, datetime

from e2e import QUIET_WEIBO

from memoryhole.sandbox import load_scenario
from memoryhole.simulated_platforms import hourly_scorecards

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HOURS = 8


def test_both_platforms_scored_against_the_truth(tmp_path):
    scenario = load_scenario({
        "seed": 9, "start": T0.isoformat(), "duration": f"{HOURS}h",
        **QUIET_WEIBO,
        "faults": {"rate": 0.05, "kinds": ["http_500", "captcha", "login_wall", "truncated"]},
        "wechat": {"accounts": 4, "articles": 6, "removals": {"share": 0.4, "delay":
                   {"min": "30m", "max": f"{HOURS - 2}h"}},
                   "restore": {"share": 0.3, "delay": {"min": "1h", "max": "2h"}},
                   "events": [{"at": "3h", "do": "block", "account": 3}]},
        "telegram": {"channels": 3, "posts": 30, "posts_per_hour": 1,
                     "delete": {"share": 0.15, "delay": {"min": "20m", "max": f"{HOURS - 2}h"}},
                     "edits": {"share": 0.1, "delay": {"min": "20m", "max": "3h"}}},
    })
    cards, faults = hourly_scorecards(scenario, tmp_path, HOURS)
    assert faults > 0
    assert set(cards) == {"telegram", "wechat"}
    for name, card in cards.items():
        assert card.observable >= 5, (name, card.table())
        assert (card.precision, card.recall, card.reason_accuracy,
                card.interval_accuracy) == (1.0, 1.0, 1.0, 1.0), (name, card.table())
    assert cards["wechat"].restorations_detected == cards["wechat"].restorations


def test_validation_watches_the_other_platforms_beside_weibo(tmp_path):
    from memoryhole.validation import validate

    scenario = {
        "seed": 3, "start": T0.isoformat(), "duration": "3h", "faults": {"rate": 0},
        "accounts": {"count": 2, "initial_posts": 5, "posts_per_hour": 0},
        "suspend": {"accounts": 0}, "author_delete": {"share": 0}, "censor": {"share": 0},
        "restrict": {"share": 0}, "unknown": {"share": 0},
        "wechat": {"accounts": 1, "articles": 3, "removals": {"share": 0},
                   "events": [{"at": "90m", "do": "violation", "article": 1}]},
        "telegram": {"channels": 1, "posts": 5, "delete": {"share": 0}, "edits": {"share": 0},
                     "events": [{"at": "90m", "do": "delete", "channel": "mhchannel1",
                                 "nth": 1}]},
    }
    result = validate(scenario, tmp_path / "data", cycles=3, every=3600.0, others_every=1,
                      plan_extra={"reprobe": {"confirm_after": "1h", "recheck_after": ["6h"]}})
    assert set(result.cards) == {"telegram", "wechat"}
    for name, card in result.cards.items():
        assert (card.observable, card.detected, card.precision, card.recall) == (1, 1, 1.0, 1.0), \
            name
    assert result.card.detected == 0     # Weibo's scorecard counts Weibo's removals only
    assert {"wechat", "telegram"} <= set(result.truth)
