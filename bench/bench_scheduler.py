"""The scheduler's tick at campaign scale (issue 11): what `crawlers.cadence.due_work` costs with
BENCH_SCHEDULER_ACCOUNTS (100,000) accounts in one plan, and whether the budget holds over hours.

The plan has four watchlists: 40% of the accounts polled hourly, 30% every 6 h, 20% on the
fresh-post schedule (`schedule: fresh`, every 1 d otherwise) and 10% every 30 min on the fresh
schedule, one or two pages each; 5% of the accounts have a post under an hour old, 15% one under a
day. The corpus holds each account's schedule state (`schedule_members`, as `fold` leaves it),
polled at random times in the last six hours. Then BENCH_SCHEDULER_TICKS (72) ticks five
simulated minutes apart (six hours): each folds nothing new (as after a crawl the state is
already folded), decides what is due within a budget of BENCH_SCHEDULER_BUDGET (60,000)
requests per hour, records the tick, and marks the admitted polls as made at the tick.

Measured: wall time per tick (due_work + record_tick + the state update standing in for the
crawls' fold), median and worst, and of due_work alone; peak Python memory of due_work
(tracemalloc, in a separate call on the first tick); requests admitted
in the worst trailing hour against the budget. Baseline: reading the schedule state alone (the
floor of any tick that looks at every account).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Figure, env_int, median, table  # noqa: E402
from memoryhole.corpus.clock import iso  # noqa: E402
from memoryhole.corpus.store import Corpus  # noqa: E402
from memoryhole.crawlers import cadence  # noqa: E402
from memoryhole.crawlers.plan import plan_from_dict  # noqa: E402

T0 = datetime(2026, 11, 24, tzinfo=UTC)


def plan_for(accounts: int, budget: int):
    ids = [str(5_000_000_000 + k) for k in range(accounts)]
    cuts = [0, int(accounts * 0.4), int(accounts * 0.7), int(accounts * 0.9), accounts]
    shapes = [("hourly", "1h", 1, None), ("six_hourly", "6h", 2, None),
              ("fresh_daily", "1d", 1, "fresh"), ("fresh_half_hourly", "30m", 2, "fresh")]
    watchlists = []
    for (name, every, pages, schedule), lo, hi in zip(shapes, cuts, cuts[1:], strict=False):
        watchlist = {"name": name, "accounts": ids[lo:hi], "every": every, "pages": pages}
        if schedule:
            watchlist["schedule"] = schedule
        watchlists.append(watchlist)
    return plan_from_dict({"platform": "weibo", "base_url": "https://m.weibo.cn",
                           "requests_per_hour": budget, "watchlists": watchlists})


def seed(corpus: Corpus, plan, rng: random.Random) -> None:
    rows = []
    for watchlist in plan.watchlists:
        for account in watchlist.accounts:
            polled = T0 - timedelta(seconds=rng.uniform(0, 6 * 3600))
            roll = rng.random()
            newest = (T0 - timedelta(seconds=rng.uniform(0, 3600)) if roll < 0.05 else
                      T0 - timedelta(seconds=rng.uniform(3600, 86400)) if roll < 0.20 else
                      T0 - timedelta(days=rng.uniform(1, 30)))
            rows.append(("weibo", watchlist.name, account, iso(polled), iso(newest)))
    with corpus.db.atomic():
        corpus.db.conn.executemany(
            "INSERT INTO schedule_members (platform, watchlist, member_id, last_polled_at, "
            "newest_post_at) VALUES (?,?,?,?,?)", rows)


def main() -> list[Figure]:
    accounts = env_int("BENCH_SCHEDULER_ACCOUNTS", 100_000)
    ticks = env_int("BENCH_SCHEDULER_TICKS", 72)
    budget = env_int("BENCH_SCHEDULER_BUDGET", 60_000)
    step = 300.0
    plan = plan_for(accounts, budget)
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as tmp:
        corpus = Corpus(Path(tmp) / "data")
        seed(corpus, plan, random.Random(7))
        base = []
        times, decided, peaks, admitted, behind = [], [], [], [], 0
        for n in range(ticks):
            now = T0 + timedelta(seconds=n * step)
            began = time.perf_counter()
            list(corpus.db.execute("SELECT member_id, last_polled_at, newest_post_at FROM "
                                   "schedule_members WHERE platform = 'weibo'"))
            base.append(time.perf_counter() - began)
            if n == 0:   # memory once, apart: tracing slows Python down several times
                tracemalloc.start()
                cadence.due_work(corpus, [plan], now)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                peaks.append(peak / 2**20)
            began = time.perf_counter()
            work = cadence.due_work(corpus, [plan], now)
            decided.append(time.perf_counter() - began)
            corpus.write(lambda work=work: cadence.record_tick(corpus.db, work))
            (plan_work,) = work.plans
            # The crawl: each admitted poll made at the tick, as fold would record it.
            with corpus.db.atomic():
                corpus.db.conn.executemany(
                    "UPDATE schedule_members SET last_polled_at = ? WHERE platform = 'weibo' "
                    "AND watchlist = ? AND member_id = ?",
                    [(iso(now), p.watchlist, p.account) for p in plan_work.polls])
            times.append(time.perf_counter() - began)
            admitted.append((now, plan_work.requests_admitted))
            behind += sum(w.behind for w in plan_work.watchlists)
        corpus.close()
    worst = max(sum(r for at, r in admitted if end - timedelta(hours=1) < at <= end)
                for end, _ in admitted)
    hours = ticks * step / 3600
    issued = sum(r for _, r in admitted) / hours
    print(table(f"scheduler tick, {accounts:,} accounts in 4 watchlists (adaptive cadence), "
                f"{ticks} ticks {step / 60:g} min apart, budget {budget:,} requests/h",
                ["figure", "value"],
                [["tick median, ms", median(times) * 1000], ["tick worst, ms", max(times) * 1000],
                 ["due_work median, ms", median(decided) * 1000],
                 ["read state alone, median ms", median(base) * 1000],
                 ["due_work peak memory, MB", max(peaks)],
                 ["requests issued per hour (mean)", issued],
                 ["requests in the worst hour", worst], ["budget per hour", budget],
                 ["member-ticks left behind", behind]]))
    return [
        Figure(f"scheduler tick, {accounts:,} accounts, adaptive", median(times) * 1000, "ms",
               median(base) * 1000, "read the state alone", "< 1000 ms"),
        Figure(f"due_work peak memory, {accounts:,} accounts", max(peaks), "MB", None, "",
               "< 200 MB"),
        Figure("requests in the worst hour vs budget", worst, "requests", budget, "the budget",
               "<= budget"),
    ]


if __name__ == "__main__":
    main()
