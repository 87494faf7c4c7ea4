"""Campaigns with a known truth, written straight into a corpus (no crawler): posts created at
random, timelines crawled at a fixed cadence, removals at known times seen as intervals between
crawls. The estimators' simulations (fixed follow-up, competing risks, interval coverage) use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from memoryhole.corpus.clock import iso
from memoryhole.corpus.store import Corpus
from memoryhole.crawlers.platforms import ADAPTERS

T0 = datetime(2025, 3, 3, tzinfo=UTC)


def at(seconds: float) -> str:
    return iso(T0 + timedelta(seconds=float(seconds)))


@dataclass
class Campaign:
    """The truth of a simulated campaign: per post its creation, account, removal time (inf:
    never) and cause, and whether a crawl ever saw it."""

    created: np.ndarray
    account: np.ndarray
    removed: np.ndarray
    cause: np.ndarray
    sighted: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    watchlist: np.ndarray = field(default_factory=lambda: np.zeros(0, object))


def write(corpus: Corpus, campaign: Campaign, every: float, end: float,
          skip_crawls: frozenset[int] = frozenset(), every_sighting: bool = False,
          restored: np.ndarray | None = None) -> Campaign:
    """Crawl every `every` seconds from 0 to `end` (crawl k at k*every; `skip_crawls` never
    ran) and write what the crawls saw; returns the campaign with `sighted` filled in. Only a
    post's first and last sightings are written unless `every_sighting`; `restored` marks
    removals later seen again (restored_at: the end)."""
    corpus.record_platform("weibo", ADAPTERS["weibo"].declaration())
    db = corpus.db
    conn = db.conn
    times = np.array([k * every for k in range(int(end // every) + 1) if k not in skip_crawls])
    crawl_ids = np.arange(1, len(times) + 1)
    conn.executemany(
        "INSERT INTO crawls (id, kind, platform, plan_json, software_version, started_at, status)"
        " VALUES (?, 'timeline', 'weibo', '{}', 'test', ?, 'finished')",
        [(int(c), at(t)) for c, t in zip(crawl_ids, times, strict=True)])
    conn.execute("INSERT INTO crawls (id, kind, platform, plan_json, software_version, "
                 "started_at, status) VALUES (100000, 'probe', 'weibo', '{}', 'test', ?, "
                 "'finished')", [at(0)])
    accounts = sorted(set(campaign.account.tolist()))
    watchlists = (campaign.watchlist if len(campaign.watchlist)
                  else np.array(["w"] * len(campaign.created), dtype=object))
    of_account = dict(zip(campaign.account.tolist(), watchlists.tolist(), strict=True))
    conn.executemany("INSERT INTO accounts (platform, account_id, watchlist) VALUES ('weibo', ?, ?)",
                     [(a, of_account[a]) for a in accounts])
    posts, sightings, probes, removals = [], [], [], []
    sighted = np.zeros(len(campaign.created), bool)
    for i, (c, acc, r, cause) in enumerate(zip(campaign.created, campaign.account,
                                               campaign.removed, campaign.cause, strict=True)):
        first = np.searchsorted(times, c, side="left")           # first crawl at or after c
        if first >= len(times) or times[first] >= r:
            continue                                              # removed before any crawl
        sighted[i] = True
        gone = np.searchsorted(times, r, side="left")             # first crawl at or after r
        last = min(gone, len(times)) - 1
        pid = f"p{i}"
        posts.append(("weibo", pid, acc, i + 1, at(c), at(times[first]), at(times[last]),
                      int(crawl_ids[last])))
        for k in (range(first, last + 1) if every_sighting else {first, last}):
            sightings.append((int(crawl_ids[k]), "weibo", pid, acc, at(times[k])))
        if gone < len(times):
            probes.append((i + 1, pid, at(times[gone]), cause))
            back = at(end) if restored is not None and restored[i] else None
            removals.append((pid, acc, cause, at(times[last]), at(times[gone]), i + 1, back))
    conn.executemany(
        "INSERT INTO posts (platform, post_id, account_id, order_key, created_at, first_seen_at,"
        " last_seen_at, last_seen_crawl_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", posts)
    conn.executemany(
        "INSERT INTO sightings (crawl_id, platform, post_id, account_id, page, position, seen_at)"
        " VALUES (?, ?, ?, ?, 1, 0, ?)", sightings)
    conn.executemany(
        "INSERT INTO probes (id, crawl_id, platform, post_id, url, requested_at, probed_at,"
        " outcome, reason) VALUES (?, 100000, 'weibo', ?, 'u', ?3, ?3, 'removed', ?4)", probes)
    conn.executemany(
        "INSERT INTO removals (platform, post_id, account_id, reason, last_seen_at,"
        " first_missing_at, detected_crawl_id, probe_id, restored_at)"
        " VALUES ('weibo', ?, ?, ?, ?, ?, 100000, ?, ?)",
        removals)
    conn.commit()
    campaign.sighted = sighted
    return campaign
