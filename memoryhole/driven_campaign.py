"""Campaigns on a driven clock: the real scheduler (`crawlers.scheduler.run`: one reactor, one
plan per platform, each watchlist at its cadence, the budget per host) against the simulated
platform, whose clock and the crawler's (MEMORYHOLE_NOW) move together by a fixed step after
every tick. Hours of campaign run in minutes, and what the scheduler did is measured against
the platform's truth and its request log. The pipeline never imports this module.

Run it once per process (Scrapy's reactor runs once): tests and measurements call
`python -m memoryhole.driven_campaign SPEC.json OUT.json`. The spec:

    {"scenario": {...} or "path.yaml", "data": "DIR", "ticks": 60, "step": 120,
     "plans": [{...plan, "base_url": "{sandbox}"}, ...],   # "{sandbox}" becomes the server's URL
     "edits": {"10": [{...plans from tick 10 on}]},          # plan files rewritten after tick 10
     "faults": [["http_418", "containerid", 3]]}             # injected before the first tick

OUT gets, per tick: the time, the sandbox's requests during the tick (by path prefix), and the
crawl ids; and at the end the platform's truth.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from memoryhole.corpus.clock import iso

from .simulated_platforms import full_truth


def drive(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the campaign `spec` describes (see the module's docstring); return its record."""
    from memoryhole.crawlers.plan import load_plan
    from memoryhole.crawlers.scheduler import RunOptions, run

    from .sandbox import ManualClock, SandboxServer, load_scenario
    from .validation import DEFAULT_START

    scenario = load_scenario(spec["scenario"])
    data = Path(spec["data"])
    data.mkdir(parents=True, exist_ok=True)
    clock = ManualClock(scenario.start or DEFAULT_START)
    server = SandboxServer(scenario, clock=clock)
    step = float(spec.get("step", 60))
    edits = {int(k): v for k, v in (spec.get("edits") or {}).items()}
    record: dict[str, Any] = {"ticks": []}
    previous_now = os.environ.get("MEMORYHOLE_NOW")
    server.start()

    def write(plans: list[dict[str, Any]]) -> list[Path]:
        paths = []
        for plan in plans:
            plan = dict(plan, base_url=plan.get("base_url", "{sandbox}").replace(
                "{sandbox}", server.url))
            path = data / f"{plan['platform']}-plan.yaml"
            path.write_text(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False), "utf-8")
            paths.append(path)
        return paths

    try:
        for kind, where, count in spec.get("faults") or []:
            server.inject_fault(kind, where, count)
        paths = write(spec["plans"])
        os.environ["MEMORYHOLE_NOW"] = iso(clock.now())
        seen = {"requests": server.stats["requests"]}

        def tick_end(reports: list[Any]) -> None:
            number = len(record["ticks"]) + 1
            made = server.stats["requests"] - seen["requests"]
            seen["requests"] = server.stats["requests"]
            record["ticks"].append({
                "number": number, "at": iso(clock.now()), "requests": made,
                "crawls": [[r.platform, r.timeline_crawl_id, r.probe_crawl_id] for r in reports],
                "behind": [line for r in reports for line in r.behind]})
            if number in edits:
                write(edits[number])
            clock.advance(step)
            os.environ["MEMORYHOLE_NOW"] = iso(clock.now())

        run([load_plan(p) for p in paths], data,
            RunOptions(cycles=int(spec["ticks"]), paced=False, on_tick_end=tick_end,
                       log_level=spec.get("log_level", "ERROR")))
        record["truth"] = full_truth(server, clock.now())
        record["end"] = iso(clock.now())
    finally:
        server.stop()
        if previous_now is None:
            os.environ.pop("MEMORYHOLE_NOW", None)
        else:
            os.environ["MEMORYHOLE_NOW"] = previous_now
    return record


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m memoryhole.driven_campaign SPEC.json OUT.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text("utf-8"))
    Path(args[1]).write_text(json.dumps(drive(spec), ensure_ascii=False, default=str), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
