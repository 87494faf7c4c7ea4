"""Figures draw from the analysis tables, including days with no post at risk."""

import sqlite_utils
from matplotlib.figure import Figure
from memoryhole.analysis.figures import draw_daily_rates


def test_daily_rates_skip_days_without_posts_at_risk():
    db = sqlite_utils.Database(memory=True)
    db["removal_rates"].insert_all([
        {"grouping": "day", "key": "2026-11-23", "reason": "any", "rate": 0.1, "ci_low": 0.05,
         "ci_high": 0.2, "posts_at_risk": 40, "removed": 4},
        {"grouping": "day", "key": "2026-11-24", "reason": "any", "rate": None, "ci_low": None,
         "ci_high": None, "posts_at_risk": 0, "removed": 0},
        {"grouping": "day", "key": "2026-11-23", "reason": "platform_removed", "rate": 0.05,
         "ci_low": 0.01, "ci_high": 0.15, "posts_at_risk": 40, "removed": 2},
    ])
    fig = Figure()
    draw_daily_rates(db, fig)
    [ax] = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2026-11-23"]
