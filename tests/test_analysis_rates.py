"""Rates, the at-risk rule, bursts and accounts on small corpora built by code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from memoryhole.analysis.outcomes import build_post_outcomes
from memoryhole.analysis.pipeline import AnalysisConfig
from memoryhole.analysis.stats import benjamini_hochberg, wilson, wilson_interval
from memoryhole.analysis.tables import analyze
from memoryhole.corpus.clock import iso
from memoryhole.corpus.store import Corpus
from memoryhole.crawlers.platforms import ADAPTERS

T0 = datetime(2025, 3, 3, tzinfo=UTC)


def at(minutes: float) -> str:
    return iso(T0 + timedelta(minutes=minutes))


class Builder:
    """Posts with their sightings, candidates and removals, written straight into a corpus."""

    def __init__(self, tmp_path) -> None:
        self.corpus = Corpus(tmp_path)
        self.corpus.record_platform("weibo", ADAPTERS["weibo"].declaration())
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
        return self.outcomes_with()

    def outcomes_with(self, **options) -> dict[str, dict]:
        build_post_outcomes(self.db, **options)
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
        builder.post(f"a{k}", account="A", seen=((1, 1.0), (2, 40.0)))
    builder.post("a8", account="A", seen=((1, 1.0),), removed=("platform_removed", 1.0, 11.0))
    builder.post("a9", account="A", seen=((1, 1.0),), removed=("author_deleted", 1.0, 11.0))
    day2 = 24 * 60.0
    builder.post("b0", account="B", created=day2, seen=((3, day2 + 1.0), (4, day2 + 9.0)),
                 removed=("platform_removed", day2 + 9.0, day2 + 19.0))
    builder.post("b1", account="B", seen=((4, 11.0),))             # not at risk
    builder.post("c0", account="C", created=day2, seen=((3, day2 + 1.0), (5, day2 + 50.0)))
    builder.post("c1", account="C", created=day2 + 30, seen=((5, day2 + 31.0), (6, day2 + 50.0)))
    analyze(builder.db, config=AnalysisConfig(window=1800.0, figures=False))
    rows = {(r["grouping"], r["key"], r["reason"]): r for r in builder.db["removal_rates"].rows}
    day = rows[("day", "2025-03-03", "platform_removed")]
    assert (day["posts_eligible"], day["removed"], day["posts_excluded"]) == (10, 1, 1)
    assert day["window_seconds"] == 1800.0 and day["posts_at_risk"] == 10
    assert day["rate"] == pytest.approx(0.1)
    assert (day["ci_low"], day["ci_high"]) == pytest.approx(wilson(1, 10))
    assert rows[("day", "2025-03-03", "any")]["removed"] == 2
    # c1 was posted 20 minutes before the crawls ended: short follow-up, whatever its fate.
    second = rows[("day", "2025-03-04", "platform_removed")]
    assert (second["posts_eligible"], second["removed"], second["posts_short_follow_up"]) == (
        2, 1, 1)
    assert rows[("week", "2025-03-03", "any")]["posts_eligible"] == 12
    assert rows[("account", "B", "platform_removed")]["posts_eligible"] == 1
    everything = rows[("all", "all", "platform_removed")]
    assert (everything["posts_eligible"], everything["removed"]) == (12, 2)
    assert rows[("watchlist", "w", "author_deleted")]["removed"] == 1


def test_fixed_follow_up_population_and_outcome(builder):
    """Removed within w = 30 min, among posts followed for at least 30 min."""
    builder.post("survivor", seen=((1, 1.0), (2, 120.0)))
    builder.post("early", seen=((1, 1.0),), removed=("platform_removed", 1.0, 11.0))
    builder.post("straddle_in", seen=((1, 1.0), (2, 25.0)), removed=("platform_removed", 25.0, 33.0))
    builder.post("straddle_out", seen=((1, 1.0), (2, 28.0)), removed=("platform_removed", 28.0, 40.0))
    builder.post("later", seen=((1, 1.0), (2, 40.0)), removed=("author_deleted", 40.0, 50.0))
    builder.post("lost", seen=((1, 1.0), (2, 10.0)))                 # still up, last seen at 10
    builder.post("no_time", created=None, seen=((1, 1.0), (2, 120.0)))
    builder.post("late", created=100.0, seen=((1, 101.0),), removed=("platform_removed", 101.0, 105.0))
    o = builder.outcomes_with(window_s=1800.0)
    assert {k: (v["eligible"], v["removed_within"]) for k, v in o.items()} == {
        "survivor": (1, 0), "early": (1, 1),
        "straddle_in": (1, 1),     # [25 min, 34 min]: midpoint 29.5 min
        "straddle_out": (1, 0),    # [28 min, 41 min]: midpoint 34.5 min
        "later": (1, 0), "lost": (0, None), "no_time": (0, None),
        "late": (0, None)}         # posted 20 min before the crawls ended: out, though removed
    assert {v["window_s"] for v in o.values()} == {1800.0}


def test_follow_up_ends_when_the_crawled_window_no_longer_reaches_the_post(builder):
    """followed_until comes from the windows, whatever happened to the post."""
    for k in range(3):
        builder.post(f"p{k}", seen=((1, 1.0), (2, 5.0)), candidate=False)
    builder.post("q", seen=((1, 1.0), (3, 200.0)))   # keeps the crawls going to minute 200
    keys = {r["post_id"]: r["order_key"] for r in builder.db["posts"].rows}
    # At minute 20 the window reached down to p0; at minute 60 only down to p2.
    for crawl, minute, oldest in ((10, 20.0, keys["p0"]), (11, 60.0, keys["p2"])):
        builder.crawl(crawl)
        builder.db["windows"].insert({"crawl_id": crawl, "platform": "weibo", "account_id": "A",
                                      "status": "covered", "pages_planned": 1, "pages_ok": 1,
                                      "reached_end": 0, "oldest_key": oldest,
                                      "requested_at": at(minute)})
    o = builder.outcomes_with(window_s=1800.0)
    assert o["p0"]["followed_until"] == at(20.0) and o["p1"]["followed_until"] == at(20.0)
    assert o["p2"]["followed_until"] == at(60.0)
    assert o["q"]["followed_until"] == at(60.0)     # its account's windows, not its sightings
def test_account_rankings_and_sanctions(builder):
    for k in range(30):                                            # 12 of 30 removed
        if k < 12:
            builder.post(f"a{k}", account="A", seen=((1, 1.0),),
                         removed=("platform_removed", 1.0, 11.0))
        else:
            builder.post(f"a{k}", account="A", seen=((1, 1.0), (2, 40.0)))
    builder.post("b0", account="B", seen=((1, 1.0),), removed=("platform_removed", 1.0, 11.0))
    builder.post("c0", account="C", removed=("account_suspended", 11.0, 31.0))
    builder.post("c1", account="C", removed=("account_suspended", 9.0, 31.0))
    analyze(builder.db, config=AnalysisConfig(window=1800.0, figures=False))
    ranking = list(builder.db.query("SELECT * FROM account_rankings ORDER BY rank"))
    assert [r["account_id"] for r in ranking] == ["A", "B", "C"]    # 12/30 beats 1/1
    assert (ranking[0]["posts_eligible"], ranking[0]["platform_removed"]) == (30, 12)
    assert ranking[0]["window_seconds"] == 1800.0
    assert ranking[1]["share"] == 1.0 and ranking[1]["ci_low"] < ranking[0]["ci_low"] + 0.3
    assert ranking[2]["sanctions"] == "account_suspended"
    sanction = builder.db["account_sanctions"].get(["weibo", "C", "account_suspended"])
    assert sanction["posts_affected"] == 2
    assert sanction["last_seen_before"] == at(11.0) and sanction["detected_at"] == at(31.0)


def test_a_burst_is_found_and_a_flat_series_has_none(builder):
    # 6 hours of posts, 30 an hour; 5% removed by the platform within w = 10 min, except hour 3
    # (60%). Periods are Beijing hours (UTC+8).
    for hour in range(6):
        for k in range(30):
            minute = hour * 60 + k
            burst = hour == 3
            removed = ("platform_removed", minute + 2.0, minute + 8.0) if (
                (burst and k < 18) or (not burst and k < 2)) else None
            builder.post(f"h{hour}_{k}", created=float(minute),
                         seen=((1000 + minute, minute + 1.0), (2000 + minute, minute + 12.0))
                         if not removed else ((1000 + minute, minute + 1.0),),
                         text="白纸 抗议" if burst and k < 18 else "天气 很好", removed=removed)
    analyze(builder.db, config=AnalysisConfig(window=600.0, figures=False))
    bursts = list(builder.db["removal_bursts"].rows)
    assert len(bursts) == 1
    burst = bursts[0]
    assert burst["start_period"] == burst["end_period"] == "2025-03-03T11:00+08:00"
    assert (burst["posts_at_risk"], burst["platform_removed"]) == (30, 18)
    assert len(json.loads(burst["example_posts"])) == 3
    periods = {r["period"]: r for r in builder.db["removal_periods"].rows}
    assert periods["2025-03-03T11:00+08:00"]["burst_id"] == 1
    assert all(r["burst_id"] is None for p, r in periods.items() if p != "2025-03-03T11:00+08:00")
    # The baseline of a quiet hour: the other quiet hours, the burst left out.
    assert periods["2025-03-03T08:00+08:00"]["baseline_rate"] == pytest.approx(8 / 120)
    assert burst["baseline_rate"] == pytest.approx(10 / 150)


def test_no_burst_without_departure(builder):
    for hour in range(6):
        for k in range(30):
            minute = hour * 60 + k
            removed = ("platform_removed", minute + 2.0, minute + 8.0) if k < 3 else None
            builder.post(f"h{hour}_{k}", created=float(minute),
                         seen=((1000 + minute, minute + 1.0), (2000 + minute, minute + 12.0))
                         if not removed else ((1000 + minute, minute + 1.0),), removed=removed)
    analyze(builder.db, config=AnalysisConfig(window=600.0, figures=False))
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


def test_a_coarse_date_gives_a_lower_bound_that_is_not_too_high(tmp_path):
    """`03-01` seen on 03-03: the post may be from 03-01 23:59, so the time from creation to the
    last sighting is at most (not at least) last sighting - 03-01 00:00 (issue 8, item 10)."""
    from dataclasses import replace
    from datetime import datetime, timedelta

    from conftest import page, post
    from memoryhole.crawlers.platforms.weibo import BEIJING, parse_created_at, parse_created_interval

    corpus = Corpus(tmp_path)
    seen = datetime(2025, 3, 3, 10, 0, tzinfo=BEIJING)
    records = [replace(post(5), created_at=parse_created_at("03-01", seen),
                       created_interval=parse_created_interval("03-01", seen))]
    for when in (seen, seen + timedelta(hours=1)):
        crawl = corpus.start_crawl("timeline", "weibo", {},
                                   declaration=ADAPTERS["weibo"].declaration())
        corpus.record_pages(crawl, [page(1, records, when)])
        corpus.finish_crawl(crawl, "finished", {})
    stored = corpus.db["posts"].get(["weibo", "5"])
    assert (stored["created_earliest"], stored["created_latest"]) == (
        iso(datetime(2025, 3, 1, tzinfo=BEIJING)), iso(datetime(2025, 3, 2, tzinfo=BEIJING)))
    build_post_outcomes(corpus.db)
    [row] = corpus.db.query("SELECT * FROM temp.post_outcomes")
    true_created = datetime(2025, 3, 1, 23, 30, tzinfo=BEIJING)         # any time that day
    true_age_at_last_sighting = (seen + timedelta(hours=1) - true_created).total_seconds()
    assert row["lower_s"] <= true_age_at_last_sighting
    assert row["lower_s"] == (seen + timedelta(hours=1)
                              - datetime(2025, 3, 2, tzinfo=BEIJING)).total_seconds()
    assert row["entry_s"] == 34 * 3600.0 and row["created_resolution_s"] == 86400.0
    corpus.close()


def test_a_sanctions_window_never_starts_after_its_detection(builder):
    """c1 was sighted at minute 40, after c0 had already been found gone at minute 31: the
    sanction lies in [11, 31], not [40, 31] (issue 9, section 4)."""
    builder.post("c0", account="C", removed=("account_suspended", 11.0, 31.0))
    builder.post("c1", account="C", seen=((1, 1.0), (2, 40.0)),
                 removed=("account_suspended", 40.0, 50.0))
    analyze(builder.db, config=AnalysisConfig(figures=False))
    sanction = builder.db["account_sanctions"].get(["weibo", "C", "account_suspended"])
    assert (sanction["last_seen_before"], sanction["detected_at"]) == (at(11.0), at(31.0))
    assert sanction["last_seen_before"] <= sanction["detected_at"]


def test_analysis_runs_record_settings_seeds_dictionary_libraries_and_the_corpus(builder):
    builder.post("p0", removed=("platform_removed", 11.0, 21.0))
    builder.post("p1")
    analyze(builder.db, config=AnalysisConfig(window=3600.0, figures=False))
    builder.post("p2", removed=("author_deleted", 11.0, 21.0))
    analyze(builder.db, config=AnalysisConfig(window=3600.0, figures=False))
    first, second = builder.db.query("SELECT * FROM analysis_runs ORDER BY id")
    settings = json.loads(first["settings"])
    assert settings["window"] == 3600.0 and settings["survival"]["seed"] == 20130501
    assert settings["term_dictionary"].startswith("jieba ") and "dict=" in settings["term_dictionary"]
    assert json.loads(first["libraries"])["numpy"] != "absent"
    assert len(first["corpus_fingerprint"]) == 64
    assert first["corpus_fingerprint"] != second["corpus_fingerprint"]   # a removal more
