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


def test_chinese_renders_from_the_packaged_font_without_system_fonts(monkeypatch, recwarn):
    """A machine with no system CJK font still draws Chinese: mplfonts' Noto Sans CJK SC."""
    from memoryhole.analysis import figures

    monkeypatch.setattr(figures, "CJK_FONT_GLOBS", ())
    figures.cjk_font.cache_clear()
    try:
        [path] = figures.cjk_font_candidates()
        assert path == figures.packaged_cjk_font_path()
        assert "CJK" in figures.cjk_font()
        db = sqlite_utils.Database(memory=True)
        db["removal_rates"].create({"grouping": str, "key": str, "reason": str, "rate": float,
                                    "ci_low": float, "ci_high": float, "posts_at_risk": int,
                                    "removed": int})
        spec = next(s for s in figures.FIGURES if s.name == "daily_removal_rates")
        png, svg = figures.render(spec, db)   # no data: a Chinese "no posts" message
    finally:
        figures.cjk_font.cache_clear()
    assert [str(w.message) for w in recwarn if "missing from" in str(w.message)] == []
    assert b'id="NotoSansCJK' in svg


def test_a_system_cjk_font_comes_before_the_packaged_one(monkeypatch, tmp_path):
    from memoryhole.analysis import figures

    system = tmp_path / "NotoSansCJK-Regular.otf"
    system.symlink_to(figures.packaged_cjk_font_path())
    monkeypatch.setattr(figures, "CJK_FONT_GLOBS", (str(tmp_path / "NotoSansCJK*.otf"),))
    assert figures.cjk_font_candidates() == [system, figures.packaged_cjk_font_path()]
