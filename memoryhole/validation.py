"""Validation against ground truth: the real pipeline on a simulated platform whose clock the
run drives, scored by what the platform knows happened.

No waiting: the simulated platform's clock and the crawler's (MEMORYHOLE_NOW) move together by
the plan's cadence after each cycle, so weeks of crawling run in minutes, and the re-probe
policy (confirm after an hour, re-check after a day) plays out as it would in a real campaign.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from memoryhole.corpus.clock import iso
from memoryhole.corpus.store import Corpus

from . import simulated_platforms
from .scorecard import Scorecard, score

DEFAULT_START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
VALIDATION_SCENARIO = Path(__file__).parent / "sandbox" / "scenarios" / "validation.yaml"


@dataclass
class ValidationRun:
    card: Scorecard                       # Weibo's
    cycles: int
    posts: int            # posts the platform had by the end
    requests: int         # requests the platform answered
    faults: int           # of which faults
    data_dir: Path
    truth: dict[str, Any] | None = None   # the platform's truth at the end of the run
    # The other platforms the scenario simulates (its telegram:/wechat: sections), by name.
    cards: dict[str, Scorecard] = field(default_factory=dict)
    # What the scenario's gate (its `gate:` section) did: no_cookie, expired, blocked, ...
    gate: dict[str, int] = field(default_factory=dict)


def validate(scenario: Any, data_dir: str | Path, cycles: int = 20, every: float = 300.0,
             pages: int = 3, plan_extra: dict[str, Any] | None = None,
             log_level: str = "ERROR", prepare: Callable[[Any], None] | None = None,
             on_cycle: Callable[[Any], None] | None = None,
             others_every: int = 0) -> ValidationRun:
    """Run `cycles` crawl cycles `every` simulated seconds apart against `scenario`; score.

    `prepare(world)` may schedule events into the simulated world before the first crawl (the
    demo's campaign does); `on_cycle(report)` is called after each cycle, clock already moved.
    With `others_every` N > 0 the other platforms the scenario simulates (Telegram, WeChat) are
    crawled too, after every N-th cycle at the same simulated time, and scored apart (`cards`).
    """
    from memoryhole.crawlers.plan import load_plan
    from memoryhole.crawlers.scheduler import RunOptions, run

    from .sandbox import ManualClock, SandboxServer, load_scenario

    scenario = load_scenario(scenario)
    data_dir = Path(data_dir)
    Corpus(data_dir).close()
    clock = ManualClock(scenario.start or DEFAULT_START)
    server = SandboxServer(scenario, clock=clock)
    if prepare is not None:
        prepare(server.world)
    accounts = [a["account_id"] for a in server.world.truth(clock.now())["accounts"]]
    plan = {
        "name": "validation", "platform": "weibo",
        "watchlists": [{"name": "validation", "accounts": accounts, "every": every,
                        "pages": pages}],
        "politeness": {"delay": 0, "concurrency": 16, "timeout": "10s", "retries": 3},
        "reprobe": {"confirm_after": "1h", "recheck_after": ["6h", "24h"]},
        # Hours of campaign compressed into minutes: no hourly request budget stands in for it.
        "requests_per_hour": 1_000_000_000,
        "access": simulated_platforms.SIMULATED_FAULTS,
        **(plan_extra or {}),
    }
    previous_now = os.environ.get("MEMORYHOLE_NOW")
    server.start()
    try:
        plan["base_url"] = server.url
        plan_path = data_dir / "validation-plan.yaml"
        plan_path.write_text(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False))
        os.environ["MEMORYHOLE_NOW"] = iso(clock.now())

        # The other platforms beside Weibo, in the same scheduler: Telegram's channels polled
        # and every WeChat article probed every `others_every` cycles.
        others = simulated_platforms.write_plans(
            server, plan["politeness"], data_dir, schedule=({"every": every * others_every},),
            every=every * others_every,
            extra={"requests_per_hour": plan["requests_per_hour"]}) if others_every > 0 else []

        def tick_end(reports: list[Any]) -> None:
            clock.advance(every)
            os.environ["MEMORYHOLE_NOW"] = iso(clock.now())
            if on_cycle is not None:
                on_cycle(next(r for r in reports if r.platform == "weibo"))

        run([load_plan(p) for p in (plan_path, *others)], data_dir,
            RunOptions(cycles=cycles, paced=False, on_tick_end=tick_end, log_level=log_level))
        truth = simulated_platforms.full_truth(server, clock.now())
        stats = dict(getattr(server, "stats", {}) or {})
        gate = dict(server.gate.stats) if getattr(server, "gate", None) is not None else {}
    finally:
        server.stop()
        if previous_now is None:
            os.environ.pop("MEMORYHOLE_NOW", None)
        else:
            os.environ["MEMORYHOLE_NOW"] = previous_now
    corpus = Corpus(data_dir)
    try:
        card = score(corpus.db, truth, "weibo")
        cards = simulated_platforms.scorecards(corpus.db, truth) if others_every > 0 else {}
    finally:
        corpus.close()
    return ValidationRun(card=card, cycles=cycles, posts=len(truth["posts"]),
                         requests=int(stats.get("requests", 0)),
                         faults=sum(n for k, n in stats.items() if k.startswith("fault:")),
                         data_dir=data_dir, truth=truth, cards=cards, gate=gate)


def report(result: ValidationRun) -> dict[str, Any]:
    card = result.card
    return {
        "cycles": result.cycles, "posts": result.posts, "requests": result.requests,
        "faults": result.faults,
        "fault_rate": result.faults / result.requests if result.requests else None,
        "observable_removals": card.observable, "detected_removals": card.detected,
        "precision": card.precision, "recall": card.recall,
        "reason_accuracy": card.reason_accuracy, "interval_accuracy": card.interval_accuracy,
        "restorations": card.restorations, "restorations_detected": card.restorations_detected,
    }
