"""`memoryhole demo`: a simulated censorship campaign watched by the whole pipeline, scored
against the platform's truth, analysed and served.

The simulated platform runs on a driven clock (as `memoryhole sandbox validate` does): the
crawler's clock and the platform's move together by the plan's cadence after each cycle, so
three simulated weeks and two days of follow-up, crawled every six simulated hours (92
cycles), take a few minutes (crawl ~100 s of CPU; 4-7 min wall on the shared 2-core machine). The world
is `sandbox/scenarios/campaign.yaml` plus the campaign below, scheduled into it before the first
crawl, so the dashboard, the figures and the analysis tables have something to show: a policy
change, a volume burst on one topic, account sanctions.
"""

from __future__ import annotations

import random
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from memoryhole.corpus.store import Corpus

MARKER = ".memoryhole-demo"
# Telegram's channels and WeChat's articles (campaign.yaml's telegram:/wechat: sections) are
# crawled once a simulated day, beside Weibo in the same scheduler (one reactor, each at its cadence).
OTHERS_EVERY_HOURS = 24.0
PLATFORM_TITLES = {"telegram": "Telegram channels", "wechat": "WeChat articles"}
CAMPAIGN_SCENARIO = Path(__file__).parent / "sandbox" / "scenarios" / "campaign.yaml"


class DemoError(Exception):
    """The demo cannot run; the message says why and what to do."""


@dataclass(frozen=True)
class Campaign:
    """What the platform does on top of the scenario's everyday moderation."""

    policy_day: float = 10.0          # from this day on ...
    policy_term: str = "白纸"          # ... posts with this term are removed ...
    policy_share: float = 0.8         # ... with this probability (before: the scenario's share)
    burst_day: float = 14.0           # a post about `burst_term` goes viral on this day
    burst_term: str = "四通桥"
    burst_reposts: int = 200          # reposts with comments, over `burst_hours`
    burst_hours: float = 36.0
    burst_censor_share: float = 0.7   # of the wave's reposts the platform removes
    complaints_share: float = 0.015   # of all other posts removed after complaints, any words
    seed: int = 2026


CAMPAIGN = Campaign()
BURST_COMMENTS = ("#{t}# 转发", "{t} 又看到了", "关于{t}，大家都在说", "{t}的事不能忘", "说说{t}",
                  "为{t}转发", "{t} 现场照片")


def _delay(rng: random.Random, low: float = 1800.0, high: float = 86400.0) -> timedelta:
    """A removal delay, log-uniform between 30 min and 24 h (the bulk of Zhu et al.'s)."""
    return timedelta(seconds=low * (high / low) ** rng.random())


def schedule_campaign(world: Any, campaign: Campaign = CAMPAIGN) -> dict[str, int]:
    """Schedule the campaign's events into a sandbox World; return what was scheduled."""
    rng = random.Random(campaign.seed)
    start = world.start
    policy_from = start + timedelta(days=campaign.policy_day)
    watched = [uid for uid, account in world.accounts.items() if account.watched]
    done = {"policy_removals": 0, "complaint_removals": 0, "burst_reposts": 0,
            "burst_removals": 0}
    for post in sorted(world.posts.values(), key=lambda p: p.mid):
        if post.repost_of is not None or post.events or post.created_at < start:
            continue
        # The policy change: posts about the term, untouched so far, mostly removed from now on.
        if (post.created_at >= policy_from and campaign.policy_term in post.plain
                and rng.random() < campaign.policy_share):
            world.schedule(post.created_at + _delay(rng), "censor_rules", post.mid)
            done["policy_removals"] += 1
        # Everyday complaints take down a few posts whatever their words.
        elif rng.random() < campaign.complaints_share:
            world.schedule(post.created_at + _delay(rng, 3600.0, 2 * 86400.0),
                           "censor_complaints", post.mid)
            done["complaint_removals"] += 1
    # The viral post: the newest untouched original about the burst term before the burst day,
    # reposted with comments by the watched accounts; the platform censors much of the wave.
    burst_at = start + timedelta(days=campaign.burst_day)
    originals = [p for p in world.posts.values()
                 if p.created_at < burst_at and p.repost_of is None and not p.events
                 and campaign.burst_term in p.plain]
    if not originals:
        return done
    original = max(originals, key=lambda p: p.created_at)
    for k in range(campaign.burst_reposts):
        at = burst_at + timedelta(hours=campaign.burst_hours * rng.random() ** 2)
        comment = rng.choice(BURST_COMMENTS).format(t=campaign.burst_term) + f" ({k})"
        (mid,) = world.schedule(at, "repost", original.mid, rng.choice(watched), text=comment)
        done["burst_reposts"] += 1
        if rng.random() < campaign.burst_censor_share:
            world.schedule(at + _delay(rng, 3600.0, 12 * 3600.0), "censor_complaints", mid)
            done["burst_removals"] += 1
    world.schedule(burst_at + timedelta(hours=20), "censor_rules", original.mid)
    return done


def prepare_data_dir(data_dir: Path) -> None:
    """An empty directory, or one an earlier demo made (then it is cleared). Never anything else."""
    if data_dir.exists():
        if not data_dir.is_dir():
            raise DemoError(f"{data_dir}: exists and is not a directory; choose another --data")
        if any(data_dir.iterdir()):
            if not (data_dir / MARKER).exists():
                raise DemoError(f"{data_dir}: is not empty and was not made by the demo; "
                                "choose an empty --data")
            shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("made by `memoryhole demo`; cleared by the next demo\n")


def demo_watchlists(accounts: list[str]) -> list[dict]:
    """Two watchlists, so rates and the removal model have something to compare."""
    cut = len(accounts) // 3
    return [{"name": "journalists", "accounts": accounts[:cut], "every": "6h", "pages": 2},
            {"name": "activists", "accounts": accounts[cut:], "every": "6h", "pages": 2}]


def run_demo(data_dir: Path, days: float = 23.0, every_hours: float = 6.0, serve: bool = True,
             port: int = 8001, scenario: str | Path | dict | None = None,
             campaign: Campaign | None = CAMPAIGN) -> None:
    """Crawl the campaign for `days` simulated days every `every_hours`, score, analyse, serve."""
    prepare_data_dir(data_dir)
    import json

    from memoryhole.analysis.tables import analyze
    from memoryhole.sandbox import load_scenario
    from memoryhole.validation import validate

    loaded = load_scenario(scenario if scenario is not None else CAMPAIGN_SCENARIO)
    every = every_hours * 3600.0
    cycles = max(1, round(days * 86400.0 / every))
    watchlists = demo_watchlists(loaded.account_ids)
    for watchlist in watchlists:
        watchlist["every"] = every
    plan_extra = {"name": "demo", "watchlists": watchlists,
                  "reprobe": {"confirm_after": "1h", "recheck_after": ["24h", "7d"]}}
    scheduled: dict[str, int] = {}

    def prepare(world: Any) -> None:
        if campaign is not None:
            scheduled.update(schedule_campaign(world, campaign))

    click.echo(f"simulated Weibo: {len(loaded.account_ids)} accounts, {days:g} simulated days "
               f"crawled every {every_hours:g} h on a driven clock ({cycles} cycles)", err=True)
    began = time.monotonic()
    with click.progressbar(length=cycles, label="crawling",
                           file=click.get_text_stream("stderr")) as bar:
        result = validate(loaded, data_dir, cycles=cycles, every=every, pages=2,
                          plan_extra=plan_extra, prepare=prepare,
                          on_cycle=lambda _report: bar.update(1),
                          others_every=max(1, round(OTHERS_EVERY_HOURS / every_hours)))
    click.echo(f"campaign: {scheduled}; crawled in {time.monotonic() - began:.0f} s", err=True)
    (data_dir / "sandbox-truth.json").write_text(json.dumps(result.truth, ensure_ascii=False))
    corpus = Corpus(data_dir)
    try:
        counts = analyze(corpus.db, data_dir)
    finally:
        corpus.close()
    click.echo(", ".join(f"{t}: {n}" for t, n in counts.items()), err=True)
    click.echo(result.card.table("Weibo: scorecard against the sandbox's ground truth"))
    for name, card in result.cards.items():
        click.echo(card.table(f"{PLATFORM_TITLES[name]}: scorecard against the sandbox's "
                              "ground truth"))
    click.echo(f"demo finished in {time.monotonic() - began:.0f} s", err=True)
    if serve:
        from memoryhole.analysis.publish import serve as run_datasette

        click.echo(f"Datasette: http://127.0.0.1:{port}/  (Ctrl-C to stop)")
        run_datasette(data_dir, host="127.0.0.1", port=port)
