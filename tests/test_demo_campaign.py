"""The demo's campaign (issue 9 §6): weeks of a simulated platform with a policy change, a burst
of posts on one topic and account sanctions, checked in the platform's truth (no crawl)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from memoryhole.corpus.clock import parse_iso

from memoryhole.demo import CAMPAIGN, CAMPAIGN_SCENARIO, schedule_campaign
from memoryhole.sandbox import load_scenario
from memoryhole.sandbox.world import World


def test_the_campaign_has_a_policy_change_a_burst_and_sanctions():
    scenario = load_scenario(CAMPAIGN_SCENARIO)
    world = World(scenario, scenario.start)
    scheduled = schedule_campaign(world)
    assert scheduled["burst_reposts"] == CAMPAIGN.burst_reposts and scheduled["policy_removals"] > 30
    truth = world.truth(scenario.start + timedelta(days=30))
    day = {p["post_id"]: (parse_iso(p["created_at"]) - scenario.start).total_seconds() / 86400
           for p in truth["posts"]}

    def removed_share(posts):
        posts = list(posts)
        return sum(p.get("cause") == "platform_removed" for p in posts) / len(posts)

    about = [p for p in truth["posts"] if CAMPAIGN.policy_term in (p.get("text") or "")
             and not p.get("repost_of") and day[p["post_id"]] >= 0]
    before = [p for p in about if day[p["post_id"]] < CAMPAIGN.policy_day]
    after = [p for p in about if day[p["post_id"]] >= CAMPAIGN.policy_day]
    assert len(before) > 30 and len(after) > 30
    assert removed_share(before) < 0.4 < 0.7 < removed_share(after)

    wave = Counter(p["repost_of"] for p in truth["posts"] if p.get("repost_of")
                   and CAMPAIGN.burst_day <= day[p["post_id"]] < CAMPAIGN.burst_day + 2)
    original, reposts = wave.most_common(1)[0]
    assert reposts >= 0.9 * CAMPAIGN.burst_reposts      # (a closed account posts nothing)
    assert CAMPAIGN.burst_term in next(p["text"] for p in truth["posts"]
                                       if p["post_id"] == original)

    states = Counter(a.get("state") for a in truth["accounts"])
    assert {"suspended", "closed", "locked"} <= set(states)
