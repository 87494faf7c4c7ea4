"""Rates, the at-risk rule, bursts and accounts on small corpora built by code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from memoryhole.analysis.outcomes import build_post_outcomes
from memoryhole.analysis.stats import benjamini_hochberg, wilson, wilson_interval
from memoryhole.analysis.tables import analyze
from memoryhole.corpus.clock import iso
from memoryhole.corpus.store import Corpus

T0 = datetime(2025, 3, 3, tzinfo=UTC)


def at(minutes: float) -> str:
    return iso(T0 + timedelta(minutes=minutes))


class Builder:
    """Posts with their sightings, candidates and removals, written straight into a corpus."""

    def __init__(self, tmp_path) -> None:
        self.corpus = Corpus(tmp_path)
        self.db = self.corpus.db
        self.crawls: set[int] = set()
        self.next_id = 1

    def crawl(self, crawl_id: int) -> None:
        if crawl_id not in self.crawls:
            self.db["crawls"].insert({"id": crawl_id, "kind": "timeline", "platform": "weibo",
                                      "plan_json": "{}", "software_version": "test",
                                      "started_at": at(0), "status": "finished"})
            self.crawls.add(crawl_id)

    def post(self, post_id: str, account: str = "A", created: float | None = 0.0,
             seen: tuple[tuple[int, float], ...] = ((1, 1.0), (2, 11.0)), text: str = "",
             candidate: bool = False, removed: tuple[str, float, float] | None = None) -> None:
        """`seen`: (crawl id, minute) sightings; `removed`: (reason, last seen, first missing)."""
        for crawl_id, _ in seen:
            self.crawl(crawl_id)
        self.db["accounts"].insert({"platform": "weibo", "account_id": account,
                                    "screen_name": f"用户{account}", "watchlist": "w"},
                                   ignore=True)
        self.db["posts"].insert({
            "platform": "weibo", "post_id": post_id, "account_id": account,
            "order_key": self.next_id, "created_at": None if created is None else at(created),
            "text": text, "first_seen_at": at(seen[0][1]), "last_seen_at": at(seen[-1][1]),
            "last_seen_crawl_id": seen[-1][0]})
        for crawl_id, minute in seen:
            self.db["sightings"].insert({"crawl_id": crawl_id, "platform": "weibo",
                                         "post_id": post_id, "account_id": account, "page": 1,
                                         "position": 0, "seen_at": at(minute)})
        if candidate or removed:
            self.crawl(99)
            self.db["candidates"].insert({
                "platform": "weibo", "post_id": post_id, "account_id": account,
                "opened_crawl_id": 99, "last_seen_at": at(seen[-1][1]),
                "first_absent_at": at(removed[2] if removed else seen[-1][1] + 10),
                "status": "removed" if removed else "visible"})
        if removed:
            reason, last_seen, first_missing = removed
            self.db["probes"].insert({"id": self.next_id, "crawl_id": 99, "platform": "weibo",
                                      "post_id": post_id, "url": "u",
                                      "requested_at": at(first_missing),
                                      "probed_at": at(first_missing), "outcome": "removed",
                                      "reason": reason})
            self.db["removals"].insert({
                "platform": "weibo", "post_id": post_id, "account_id": account,
                "reason": reason, "last_seen_at": at(last_seen),
                "first_missing_at": at(first_missing), "detected_crawl_id": 99,
                "probe_id": self.next_id})
        self.next_id += 1

    def outcomes(self) -> dict[str, dict]:
        build_post_outcomes(self.db)
        return {r["post_id"]: r for r in self.db.query("SELECT * FROM temp.post_outcomes")}


@pytest.fixture
def builder(tmp_path):
    b = Builder(tmp_path)
    yield b
    b.corpus.close()


def test_wilson_interval_known_values():
    # Wilson (1927); values as computed by statsmodels proportion_confint(method="wilson").
    low, high = wilson(8, 10)
    assert (low, high) == pytest.approx((0.4901624, 0.9433178), abs=1e-6)
    assert wilson(0, 20) == (0.0, pytest.approx(0.1611252, abs=1e-6))
    assert wilson(20, 20) == (pytest.approx(0.8388748, abs=1e-6), 1.0)
    assert wilson(0, 0) == (None, None)
    lows, highs = wilson_interval([1, 50], [1000, 100])
    assert lows[0] < 0.001 < highs[0] and lows[1] < 0.5 < highs[1]


def test_benjamini_hochberg():
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    assert list(q) == pytest.approx([0.04, 0.0533333, 0.0533333, 0.5], abs=1e-6)


def test_at_risk_rule(builder):
    builder.post("twice")                                         # two crawls: at risk
    builder.post("once", seen=((2, 11.0),))                       # only the last crawl: out
    builder.post("same_crawl", seen=((2, 11.0), (2, 11.5)))       # two pages, one crawl: out
    builder.post("missed", seen=((1, 1.0),), candidate=True)      # looked for again: in
    builder.post("removed", seen=((1, 1.0),), removed=("platform_removed", 1.0, 11.0))
    outcomes = builder.outcomes()
    assert {k: v["at_risk"] for k, v in outcomes.items()} == {
        "twice": 1, "once": 0, "same_crawl": 0, "missed": 1, "removed": 1}


def test_interval_bounds_in_seconds_since_creation(builder):
    builder.post("p", created=0.0, seen=((1, 2.0), (2, 12.0)),
                 removed=("platform_removed", 12.0, 22.0))
    builder.post("q", created=0.0, seen=((1, 2.0), (2, 12.0)))
    o = builder.outcomes()
    assert (o["p"]["entry_s"], o["p"]["lower_s"], o["p"]["upper_s"]) == (120.0, 720.0, 1380.0)
    assert o["p"]["created_resolution_s"] == 60.0               # first seen at 2 minutes old
    assert (o["q"]["lower_s"], o["q"]["upper_s"]) == (720.0, None)  # still up: right-censored


def test_removal_rates_with_denominators_and_intervals(builder):
    for k in range(8):
        builder.post(f"a{k}", account="A")
    builder.post("a8", account="A", removed=("platform_removed", 11.0, 21.0))
    builder.post("a9", account="A", removed=("author_deleted", 11.0, 21.0))
    builder.post("b0", account="B", created=24 * 60.0, seen=((3, 24 * 60 + 1.0), (4, 24 * 60 + 9.0)),
                 removed=("platform_removed", 24 * 60 + 9.0, 24 * 60 + 19.0))
    builder.post("b1", account="B", seen=((4, 11.0),))             # not at risk
    analyze(builder.db)
    rows = {(r["grouping"], r["key"], r["reason"]): r for r in builder.db["removal_rates"].rows}
    day = rows[("day", "2025-03-03", "platform_removed")]
    assert (day["posts_at_risk"], day["removed"], day["posts_excluded"]) == (10, 1, 1)
    assert day["rate"] == pytest.approx(0.1)
    assert (day["ci_low"], day["ci_high"]) == pytest.approx(wilson(1, 10))
    assert rows[("day", "2025-03-03", "any")]["removed"] == 2
    assert rows[("day", "2025-03-04", "platform_removed")]["removed"] == 1
    assert rows[("week", "2025-03-03", "any")]["posts_at_risk"] == 11
    assert rows[("account", "B", "platform_removed")]["posts_at_risk"] == 1
    everything = rows[("all", "all", "platform_removed")]
    assert (everything["posts_at_risk"], everything["removed"]) == (11, 2)
    assert rows[("watchlist", "w", "author_deleted")]["removed"] == 1


def test_account_rankings_and_sanctions(builder):
    for k in range(30):                                            # 12 of 30 removed
        removed = ("platform_removed", 11.0, 21.0) if k < 12 else None
        builder.post(f"a{k}", account="A", removed=removed)
    builder.post("b0", account="B", removed=("platform_removed", 11.0, 21.0))  # 1 of 1
    builder.post("c0", account="C", removed=("account_suspended", 11.0, 31.0))
    builder.post("c1", account="C", removed=("account_suspended", 9.0, 31.0))
    analyze(builder.db)
    ranking = list(builder.db.query("SELECT * FROM account_rankings ORDER BY rank"))
    assert [r["account_id"] for r in ranking] == ["A", "B", "C"]    # 12/30 beats 1/1
    assert (ranking[0]["posts_at_risk"], ranking[0]["platform_removed"]) == (30, 12)
    assert ranking[1]["share"] == 1.0 and ranking[1]["ci_low"] < ranking[0]["ci_low"] + 0.3
    assert ranking[2]["sanctions"] == "account_suspended"
    sanction = builder.db["account_sanctions"].get(["weibo", "C", "account_suspended"])
    assert sanction["posts_affected"] == 2
    assert sanction["last_seen_before"] == at(11.0) and sanction["detected_at"] == at(31.0)


def test_a_burst_is_found_and_a_flat_series_has_none(builder):
    # 6 hours of posts, 30 an hour; 5% removed by the platform, except hour 3 (60%).
    for hour in range(6):
        for k in range(30):
            minute = hour * 60 + k
            burst = hour == 3
            removed = ("platform_removed", minute + 5.0, minute + 15.0) if (
                (burst and k < 18) or (not burst and k < 2)) else None
            builder.post(f"h{hour}_{k}", created=float(minute),
                         seen=((1000 + minute, minute + 1.0), (2000 + minute, minute + 5.0)),
                         text="白纸 抗议" if burst and k < 18 else "天气 很好", removed=removed)
    analyze(builder.db)
    bursts = list(builder.db["removal_bursts"].rows)
    assert len(bursts) == 1
    burst = bursts[0]
    assert burst["start_period"] == burst["end_period"] == "2025-03-03T03:00Z"
    assert (burst["posts_at_risk"], burst["platform_removed"]) == (30, 18)
    assert len(json.loads(burst["example_posts"])) == 3
    periods = {r["period"]: r for r in builder.db["removal_periods"].rows}
    assert periods["2025-03-03T03:00Z"]["burst_id"] == 1
    assert all(r["burst_id"] is None for p, r in periods.items() if p != "2025-03-03T03:00Z")
    assert periods["2025-03-03T00:00Z"]["baseline_rate"] == pytest.approx((8 + 18) / 150)


def test_no_burst_without_departure(builder):
    for hour in range(6):
        for k in range(30):
            minute = hour * 60 + k
            builder.post(f"h{hour}_{k}", created=float(minute),
                         seen=((1000 + minute, minute + 1.0), (2000 + minute, minute + 5.0)),
                         removed=("platform_removed", minute + 5.0, minute + 15.0) if k < 3
                         else None)
    analyze(builder.db)
    assert builder.db["removal_bursts"].count == 0
    assert builder.db["removal_periods"].count == 6


def test_figures_render_chinese_without_missing_glyphs(builder, tmp_path, recwarn):
    from memoryhole.analysis.figures import FIGURES, cjk_font

    builder.post("p0", text="关于白纸的事", removed=("platform_removed", 11.0, 21.0))
    builder.post("p1", text="今天天气很好")
    counts = analyze(builder.db, tmp_path / "data")
    assert counts["figures"] == len(FIGURES)
    assert cjk_font() is not None, "install fonts-noto-cjk"
    missing = [str(w.message) for w in recwarn if "missing from" in str(w.message)]
    assert missing == []
    for spec in FIGURES:
        assert (tmp_path / "data" / "figures" / f"{spec.name}.png").stat().st_size > 1000
        assert (tmp_path / "data" / "figures" / f"{spec.name}.svg").stat().st_size > 1000
