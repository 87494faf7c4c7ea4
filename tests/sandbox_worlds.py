"""Quiet simulated worlds for sandbox tests: nothing happens unless a test says so."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from memoryhole.sandbox import World, load_scenario

START = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)  # 12:00 in Beijing

QUIET: dict[str, Any] = {
    "seed": 3,
    "start": "2024-05-01T04:00:00Z",
    "duration": "3m",
    "accounts": {"count": 3, "pinned_share": 0, "initial_posts": 25, "posts_per_hour": 0},
    "sensitive_share": 0,
    "long_share": 0,
    "card_group_share": 0,
    "author_delete": {"share": 0},
    "censor": {"share": 0},
    "restrict": {"share": 0, "initial_share": 0},
    "restore": {"share": 0},
    "suspend": {"accounts": 0},
    "unknown": {"share": 0},
    "faults": {"rate": 0},
}


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`base` with `over` laid on top, nested mappings merged key by key."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def quiet_world(**over: Any) -> World:
    """A world where nothing happens unless a test says so."""
    scenario = load_scenario(merged(QUIET, over))
    return World(scenario, scenario.start or START)
