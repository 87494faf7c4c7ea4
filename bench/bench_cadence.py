"""Adaptive cadence against fixed cadence at the same request budget: how much narrower the
removal intervals [last_seen_at, first_missing_at] get when accounts with young posts are polled
more often (issue 11).

The simulated platform (`memoryhole.sandbox`) publishes posts all along (BENCH_CADENCE_ACCOUNTS
accounts, one post every two hours each) and censors half of the sensitive ones (30% of posts)
with Zhu et al.'s delays at their real scale (30% within 5-30 minutes, 90% within a day);
authors delete a few. Two
campaigns run the real scheduler and Scrapy on a driven clock (2-minute ticks) for
BENCH_CADENCE_HOURS simulated hours, with the same budget of requests per hour:

- fixed: every account polled every BENCH_CADENCE_FIXED (20m; one page), the densest fixed
  cadence that fits the budget (BENCH_CADENCE_BUDGET, 120 requests/h);
- adaptive: `schedule: fresh` (every 2 min while the newest post is under an hour old, every
  20 min under a day, daily to a week), the budget deciding who waits.

Measured on the removals each finds: the median and mean interval width, how many, and the
requests each campaign made. Each campaign runs in its own process (one reactor per process).
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Figure, env_int, table  # noqa: E402

START = "2026-11-24T00:00:00Z"


def world(accounts: int, hours: float) -> dict[str, Any]:
    return {
        "seed": 11, "start": START, "duration": f"{hours}h",
        "accounts": {"count": accounts, "first_uid": 1001, "initial_posts": 10,
                     "posts_per_hour": 0.5, "pinned_share": 0},
        "sensitive_share": 0.3, "long_share": 0, "card_group_share": 0,
        "author_delete": {"share": 0.03, "delay": {"min": "10m", "max": "12h"}},
        "censor": {"share": 0.5, "time_scale": 1.0},
        "restrict": {"share": 0, "initial_share": 0}, "restore": {"share": 0},
        "suspend": {"accounts": 0}, "unknown": {"share": 0}, "faults": {"rate": 0},
        "reposts": {"share": 0},
    }


def campaign(kind: str, accounts: int, hours: float, budget: int, fixed_every: str,
             root: Path) -> dict[str, Any]:
    """Run one campaign in a subprocess; return its removals' interval widths and requests."""
    watchlist: dict[str, Any] = {"name": kind, "accounts": list(range(1001, 1001 + accounts)),
                                 "pages": 1}
    if kind == "fixed":
        watchlist["every"] = fixed_every
    else:
        watchlist.update(every="6h", schedule="fresh")
    step = 120.0
    spec = {"scenario": world(accounts, hours), "data": str(root / kind),
            "ticks": int(hours * 3600 / step), "step": step,
            "plans": [{"platform": "weibo", "name": kind, "requests_per_hour": budget,
                       "politeness": {"delay": 0, "concurrency": 8, "timeout": "5s",
                                      "retries": 1},
                       "reprobe": {"confirm_after": "1h", "recheck_after": ["24h"]},
                       "watchlists": [watchlist]}]}
    (root / f"{kind}.json").write_text(json.dumps(spec))
    subprocess.run([sys.executable, "-m", "memoryhole.driven_campaign", str(root / f"{kind}.json"),
                    str(root / f"{kind}-out.json")], check=True, timeout=7200)
    record = json.loads((root / f"{kind}-out.json").read_text())
    db = sqlite3.connect(root / kind / "corpus.db")
    widths = [row[0] for row in db.execute(
        "SELECT (julianday(first_missing_at) - julianday(last_seen_at)) * 86400 FROM removals "
        "WHERE last_seen_at IS NOT NULL")]
    # Removals of posts last seen under an hour old (censored young: the ones adaptive cadence
    # is for) and the rest.
    young = [row[0] for row in db.execute(
        "SELECT (julianday(r.first_missing_at) - julianday(r.last_seen_at)) * 86400 "
        "FROM removals r JOIN posts p USING (platform, post_id) WHERE r.last_seen_at IS NOT "
        "NULL AND julianday(r.last_seen_at) - julianday(p.created_at) < 1.0 / 24")]
    requests = sum(t["requests"] for t in record["ticks"])
    worst = 0
    from datetime import datetime, timedelta
    ticks = [(datetime.fromisoformat(t["at"].replace("Z", "+00:00")), t["requests"])
             for t in record["ticks"]]
    for end, _ in ticks:
        worst = max(worst, sum(n for at, n in ticks if end - timedelta(hours=1) < at <= end))
    return {"kind": kind, "removals": len(widths), "requests": requests,
            "requests_per_hour": requests / hours, "worst_hour": worst,
            "median_width": statistics.median(widths) if widths else float("nan"),
            "mean_width": statistics.fmean(widths) if widths else float("nan"),
            "young": len(young),
            "median_young": statistics.median(young) if young else float("nan")}


def measure(accounts: int, hours: float, budget: int, fixed_every: str,
            root: Path | None = None) -> dict[str, dict[str, Any]]:
    """Both campaigns, side by side (two processes), on the same world and budget."""
    root = Path(root or tempfile.mkdtemp(prefix="bench-cadence-"))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        runs = {kind: pool.submit(campaign, kind, accounts, hours, budget, fixed_every, root)
                for kind in ("fixed", "adaptive")}
        return {kind: run.result() for kind, run in runs.items()}


def main() -> list[Figure]:
    accounts = env_int("BENCH_CADENCE_ACCOUNTS", 30)
    hours = env_int("BENCH_CADENCE_HOURS", 12)
    fixed_every = os.environ.get("BENCH_CADENCE_FIXED", "20m")
    budget = env_int("BENCH_CADENCE_BUDGET", 120)
    found = measure(accounts, hours, budget, fixed_every)
    fixed, adaptive = found["fixed"], found["adaptive"]
    print(table(f"removal interval widths, {accounts} accounts, {hours} simulated hours, budget "
                f"{budget} requests/h", ["cadence", "removals", "median width s",
                                          "mean width s", "young removals",
                                          "median young s", "requests/h", "worst hour"],
                [[r["kind"], r["removals"], r["median_width"], r["mean_width"], r["young"],
                  r["median_young"], r["requests_per_hour"], r["worst_hour"]]
                 for r in (fixed, adaptive)]))
    return [
        Figure(f"median removal interval, adaptive cadence, budget {budget}/h",
               adaptive["median_width"], "s", fixed["median_width"], f"fixed every {fixed_every}",
               "< fixed"),
        Figure(f"mean removal interval, adaptive cadence, budget {budget}/h",
               adaptive["mean_width"], "s", fixed["mean_width"], f"fixed every {fixed_every}",
               "< fixed"),
        Figure(f"median interval, removals of posts under 1 h old, adaptive, budget {budget}/h",
               adaptive["median_young"], "s", fixed["median_young"], f"fixed every {fixed_every}",
               "< fixed"),
        Figure("requests in the worst hour, adaptive cadence", adaptive["worst_hour"],
               "requests", budget, "the budget", "<= budget"),
    ]


if __name__ == "__main__":
    main()
