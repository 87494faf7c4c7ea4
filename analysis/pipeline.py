"""The analysis, step by step, from the corpus tables to analysis tables and figures.

    corpus = Corpus(data_dir)
    counts = run(corpus.db, data_dir)       # what `memoryhole analyze --data DIR` does

Data flow is one way: the steps read the crawl tables (posts, sightings, candidates, removals,
accounts) and write only their own tables (listed in memoryhole.analysis.tables.DERIVED_TABLES) and
DATA/figures/. Each step aggregates in SQL or in chunks; the corpus is never one DataFrame.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from . import (
    accounts,
    bursts,
    figures,
    keywords,
    measurement,
    rates,
    regression,
    segmentation,
    survival,
)
from .outcomes import DEFAULT_WINDOW_S, build_post_outcomes
from .outcomes import TABLE as OUTCOMES
from .sql import count_rows
from .tables import build_base_tables, log_run

log = logging.getLogger(__name__)

DATA_TERMS_FILE = segmentation.DATA_TERMS_FILE


@dataclass(frozen=True)
class AnalysisConfig:
    """Every choice an analysis run makes; the defaults are the documented ones."""

    terms: Sequence[str | Path] | None = None   # user dictionaries; None: DATA/sensitive_terms.txt
    window: float = DEFAULT_WINDOW_S            # w: the outcome is "removed within w of posting"
    survival: survival.SurvivalOptions = field(default_factory=survival.SurvivalOptions)
    keywords: keywords.KeywordOptions = field(default_factory=keywords.KeywordOptions)
    bursts: bursts.BurstOptions = field(default_factory=bursts.BurstOptions)
    regression: regression.RegressionOptions = field(default_factory=regression.RegressionOptions)
    figures: bool = True

    def term_files(self, data_dir: Path | None) -> list[Path]:
        if self.terms is not None:
            return [Path(p) for p in self.terms]
        return segmentation.default_term_files(data_dir)


def segmenter_for(config: AnalysisConfig, data_dir: Path | None) -> segmentation.Segmenter:
    return segmentation.Segmenter.from_files(config.term_files(data_dir))


def run(db: sqlite_utils.Database, data_dir: str | Path | None = None,
        config: AnalysisConfig | None = None) -> dict[str, int]:
    """Run every step; return the row counts per table (also logged in analysis_runs)."""
    config = config or AnalysisConfig()
    data_dir = Path(data_dir) if data_dir is not None else None
    counts: dict[str, int] = {}
    timer = _Timer()

    counts.update(build_base_tables(db))
    build_post_outcomes(db, config.window)
    db.conn.commit()
    timer.lap("base tables and post outcomes")
    try:
        with db.atomic():
            counts["removal_rates"] = rates.build_removal_rates(db)
        timer.lap("rates")

        fits = survival.fit_all(db, config.survival)
        group_fits = survival.fit_groups(db, config.survival)
        with db.atomic():
            counts.update(survival.write_tables(db, fits, config.survival))
            counts.update(survival.write_group_tables(db, group_fits, config.survival))
            counts["measurement_delays"] = measurement.build_measurement_delays(db)
            counts["sensitivity"] = measurement.build_sensitivity(db, config.window)
        timer.lap("survival, delays and sensitivity")

        segmenter = segmenter_for(config, data_dir)
        segmented = segmentation.segment_posts(db, segmenter)
        counts["post_tokens"] = count_rows(db, segmentation.TABLE)
        timer.lap(f"segmentation ({segmented} posts)")

        unit = keywords.period_unit(db)
        term_filter = keywords.TermFilter(segmenter.term_set, keywords.read_stopwords())
        term_counts = keywords.count_terms(keywords.iter_units(db, unit), term_filter)
        term_rows = keywords.term_table_rows(term_counts, segmenter.term_set, config.keywords)
        periods = keywords.count_terms_by_period(keywords.iter_units(db, unit), term_filter,
                                                 [r["term"] for r in term_rows])
        with db.atomic():
            counts.update(keywords.write_tables(
                db, term_rows, keywords.period_rows(periods, term_counts, config.keywords)))
        timer.lap("keywords")

        with db.atomic():
            counts.update(bursts.build_bursts(db, unit, periods, term_counts, config.keywords,
                                              config.bursts))
            counts["topic_volume_bursts"] = bursts.build_volume_bursts(
                db, segmenter.term_set, config.bursts)
            counts["account_sanctions"] = accounts.build_account_sanctions(db)
            counts["account_rankings"] = accounts.build_account_rankings(db)
        timer.lap("bursts and accounts")

        with db.atomic():
            counts[regression.TABLE] = regression.build_removal_model(
                db, segmenter.term_set, config.regression)
        timer.lap("removal model")

        with db.atomic():
            counts["figures"] = figures.build_figures(db, data_dir if config.figures else None)
        timer.lap("figures")
    finally:
        db.execute(f"DROP TABLE IF EXISTS temp.{OUTCOMES}")
        db.execute("DROP TABLE IF EXISTS temp._first_removal")
    log_run(db, counts, {**dataclasses.asdict(config), "term_dictionary": segmenter.identity})
    return counts


class _Timer:
    def __init__(self) -> None:
        self.last = time.perf_counter()

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        log.info("%s: %.1f s", what, now - self.last)
        self.last = now
