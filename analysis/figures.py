"""Figures, PNG and SVG, with Chinese labels: written to DATA/figures/ and into `figures`.

Each figure is drawn from the analysis tables only (never from the raw corpus), saved as
DATA/figures/<name>.png and .svg, and stored in the `figures` table (the PNG and SVG bytes as
BLOBs, so Datasette links to them from the table page, plus the paths and a description).

Chinese text needs a CJK font: `cjk_font()` registers the system's Noto Sans CJK (Debian's
fonts-noto-cjk) or another system CJK font when there is one, and otherwise Noto Sans CJK SC as
shipped by the `mplfonts` package (a pip dependency), so a machine with no system fonts renders
Chinese too. SVGs carry text as paths, so they render anywhere.
Figures use matplotlib's object API (no pyplot state), so they work inside notebooks too.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import sqlite_utils
from matplotlib.figure import Figure

from .sql import replace_table

log = logging.getLogger(__name__)

FIGURES_DIR = "figures"
CJK_FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK*.ttc",
    "/usr/share/fonts/**/NotoSansCJK*.tt[cf]",
    "/usr/share/fonts/**/NotoSansSC*.[ot]tf",
    "/usr/share/fonts/**/SourceHanSans*.[ot]t[cf]",
    "/usr/share/fonts/**/wqy-*.tt[cf]",
    "/System/Library/Fonts/PingFang.ttc",
)
#: The pip-installed fallback: mplfonts ships Noto Sans CJK SC (SIL Open Font License 1.1).
PACKAGED_CJK_FONT = ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf")

REASON_LABELS = {
    "any": "全部 any",
    "platform_removed": "平台删除 platform_removed",
    "author_deleted": "作者删除 author_deleted",
    "removed_unattributed": "已删除（未说明）removed_unattributed",
    "restricted": "限制可见 restricted",
    "account_suspended": "账号封禁 account_suspended",
    "account_closed": "账号注销 account_closed",
    "account_locked": "账号锁定 account_locked",
    "unknown": "未知 unknown",
}


def packaged_cjk_font_path() -> Path | None:
    """The CJK font file the `mplfonts` package ships, found without importing the package."""
    package, relative = PACKAGED_CJK_FONT
    spec = importlib.util.find_spec(package)
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / relative
        if path.is_file():
            return path
    return None


def cjk_font_candidates() -> list[Path]:
    """CJK font files in order of preference: the system's first, then the packaged one."""
    found = [Path(path) for pattern in CJK_FONT_GLOBS
             for path in sorted(glob.glob(pattern, recursive=True))]
    packaged = packaged_cjk_font_path()
    return found + ([packaged] if packaged else [])


@functools.cache
def cjk_font() -> str | None:
    """Register the first usable CJK font with matplotlib; its family name, or None."""
    from matplotlib import font_manager

    for path in cjk_font_candidates():
        try:
            font_manager.fontManager.addfont(str(path))
            return font_manager.FontProperties(fname=str(path)).get_name()
        except (OSError, RuntimeError):  # pragma: no cover - unreadable font file
            continue
    log.warning("no CJK font found (reinstall memoryhole: its dependency mplfonts ships one): "
                "Chinese labels will not render")
    return None


def _style() -> dict:
    font = cjk_font()
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [font, "DejaVu Sans"] if font else ["DejaVu Sans"],
        "axes.unicode_minus": False,
        "svg.fonttype": "path",
        "svg.hashsalt": "memoryhole",
        "figure.dpi": 100,
    }


@dataclass(frozen=True)
class FigureSpec:
    name: str
    title: str
    description: str
    draw: Callable[[sqlite_utils.Database, Figure], None]


def _no_data(fig: Figure, text: str) -> None:
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def draw_survival(db: sqlite_utils.Database, fig: Figure) -> None:
    rows = list(db.query("SELECT * FROM survival_curves ORDER BY platform, reason, scope, seconds"))
    if not rows:
        _no_data(fig, "暂无删除数据 no removals with a known creation time")
        return
    platform = rows[0]["platform"]
    axes = fig.subplots(1, 2, sharex=True)
    for ax, scope, title in zip(axes, ("removed_posts", "all_posts"), (
            "已删除帖子中的累计比例\nshare of removed posts removed by t",
            "累积发生率（竞争风险）\ncumulative incidence: share of all posts removed by t"),
            strict=True):
        reasons = sorted({r["reason"] for r in rows if r["scope"] == scope
                          and r["platform"] == platform}, key=lambda r: (r != "any", r))
        for reason in reasons:
            points = [r for r in rows if r["scope"] == scope and r["reason"] == reason
                      and r["platform"] == platform and r["seconds"] > 0]
            t = np.array([r["seconds"] for r in points]) / 60.0
            y = np.array([np.nan if r["share_removed"] is None else r["share_removed"]
                          for r in points])
            lo = np.array([np.nan if r["ci_low"] is None else r["ci_low"] for r in points])
            hi = np.array([np.nan if r["ci_high"] is None else r["ci_high"] for r in points])
            (line,) = ax.plot(t, y, label=REASON_LABELS.get(reason, reason), lw=1.5)
            ax.fill_between(t, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
        longest = max(r["seconds"] for r in rows) / 60.0
        for minutes in (5, 30, 60, 1440):
            if minutes <= longest:
                ax.axvline(minutes, color="0.8", lw=0.8, zorder=0)
        ax.set_xscale("log")
        ax.set_xlim(1 / 60, longest)
        ax.set_xlabel("发布后时间（分钟）minutes since posting")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, None)
    axes[0].set_ylabel("累计删除比例 share removed")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"删除速度（{platform}，各原因为累积发生率 cumulative incidence per reason，"
                 f"区间删失 NPMLE，95% 自助法区间）", fontsize=10)


def _rate_series(db: sqlite_utils.Database, reason: str) -> list[dict]:
    return list(db.query("""SELECT key, rate, ci_low, ci_high
                            FROM removal_rates WHERE grouping = 'day' AND reason = ?
                              AND rate IS NOT NULL   -- a day with no post at risk has no rate
                            ORDER BY key""", [reason]))


def draw_daily_rates(db: sqlite_utils.Database, fig: Figure) -> None:
    series = {reason: _rate_series(db, reason) for reason in ("any", "platform_removed")}
    if not series["any"]:
        _no_data(fig, "暂无帖子 no posts at risk")
        return
    ax = fig.add_subplot()
    days = sorted({r["key"] for rows in series.values() for r in rows})
    x = {day: k for k, day in enumerate(days)}
    for offset, (reason, rows) in zip((-0.1, 0.1), series.items(), strict=True):
        xs = np.array([x[r["key"]] + offset for r in rows])
        y = np.array([r["rate"] for r in rows], dtype=float)
        err = np.array([[r["rate"] - r["ci_low"], r["ci_high"] - r["rate"]] for r in rows]).T
        ax.errorbar(xs, y, yerr=err, fmt="o", capsize=3, label=REASON_LABELS[reason])
    ax.set_xticks(range(len(days)), days, rotation=45 if len(days) > 6 else 0, ha="right",
                  fontsize=8)
    ax.set_ylabel("删除率 removal rate")
    ax.set_xlabel("发布日期（UTC）day posted")
    ax.set_title("每日删除率（发布后 w 内）与 95% Wilson 区间\n"
                 "daily share removed within w of posting, among posts followed for w",
                 fontsize=10)
    ax.legend(fontsize=8)


def draw_top_terms(db: sqlite_utils.Database, fig: Figure) -> None:
    rows = list(db.query("SELECT term, z, flagged, platform_removed, posts FROM term_stats "
                         "ORDER BY rank LIMIT 20"))
    if not rows:
        _no_data(fig, "暂无关键词 no terms with enough support")
        return
    ax = fig.add_subplot()
    rows = rows[::-1]
    colours = ["#c0392b" if r["flagged"] else "#95a5a6" for r in rows]
    ax.barh(range(len(rows)), [r["z"] for r in rows], color=colours)
    ax.set_yticks(range(len(rows)), [f"{r['term']}  ({r['platform_removed']:g}/{r['posts']})"
                                     for r in rows], fontsize=9)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("加权对数优势比 z 值 weighted log-odds z (Monroe et al. 2008)")
    ax.set_title("平台删除帖子的关键词 terms of platform-removed posts\n"
                 "红色：FDR 5% 显著 red: flagged", fontsize=10)


def draw_bursts(db: sqlite_utils.Database, fig: Figure) -> None:
    # Tested periods only: a first crawl finds a few old posts on days long before the campaign.
    rows = list(db.query("SELECT * FROM removal_periods WHERE p_value IS NOT NULL "
                         "ORDER BY period"))
    if not rows:
        _no_data(fig, "暂无数据 no periods")
        return
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    y = np.array([r["rate"] for r in rows], dtype=float)
    # A period with no post at risk has no rate: None becomes a gap (nan), not an error.
    ax.fill_between(x, np.array([r["ci_low"] for r in rows], dtype=float),
                    np.array([r["ci_high"] for r in rows], dtype=float), alpha=0.2,
                    label="95% Wilson")
    ax.plot(x, y, marker="o", ms=3, label="平台删除率 platform-removal rate")
    baseline = [np.nan if r["baseline_rate"] is None else r["baseline_rate"] for r in rows]
    ax.plot(x, baseline, color="0.4", ls="--", lw=1, label="基线 baseline (periods in no burst)")
    index = {r["period"]: k for k, r in enumerate(rows)}
    for burst in db.query("SELECT * FROM removal_bursts ORDER BY id"):
        start, end = index[burst["start_period"]], index[burst["end_period"]]
        ax.axvspan(start - 0.5, end + 0.5, color="#e74c3c", alpha=0.15)
        terms = " ".join((burst["top_terms"] or "").split()[:3])
        ax.annotate(f"#{burst['id']} {terms}", (start, burst["rate"]), fontsize=8,
                    xytext=(0, 6), textcoords="offset points")
    step = max(1, len(rows) // 12)
    ax.set_xticks(x[::step], [r["period"] for r in rows][::step], rotation=45, ha="right",
                  fontsize=7)
    ax.set_ylabel("删除率 rate")
    ax.set_xlabel("发布日期（北京时间）period posted, Beijing time")
    ax.set_title("删除高峰 bursts (beta-binomial test vs baseline, BH FDR 5%)")
    ax.legend(fontsize=8)


def draw_account_sanctions(db: sqlite_utils.Database, fig: Figure) -> None:
    rows = list(db.query("SELECT detected_day, sanction, COUNT(*) AS accounts "
                         "FROM account_sanctions GROUP BY detected_day, sanction "
                         "ORDER BY detected_day"))
    if not rows:
        _no_data(fig, "未发现账号封禁 no account sanctions detected")
        return
    ax = fig.add_subplot()
    days = sorted({r["detected_day"] for r in rows})
    bottom = np.zeros(len(days))
    for sanction in sorted({r["sanction"] for r in rows}):
        counts = np.array([sum(r["accounts"] for r in rows if r["detected_day"] == day
                               and r["sanction"] == sanction) for day in days], dtype=float)
        ax.bar(range(len(days)), counts, bottom=bottom, label=REASON_LABELS.get(sanction, sanction))
        bottom += counts
    ax.set_xticks(range(len(days)), days, rotation=45 if len(days) > 6 else 0, fontsize=8)
    ax.set_ylabel("账号数 accounts")
    ax.set_title("账号封禁与注销（按发现日期）account sanctions by day detected")
    ax.legend(fontsize=8)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("survival_by_reason", "删除速度 Time to removal by reason",
               "Share removed by time since posting: all reasons (any) and, per reason, the "
               "cumulative incidence (removed first by that reason; competing risks, Hudgens, "
               "Satten & Longini 2001), among removed posts (left) and among all posts "
               "(right); interval-censored NPMLE with 95% bootstrap bands (survival_curves).",
               draw_survival),
    FigureSpec("daily_removal_rates", "每日删除率 Daily removal rates",
               "Share of each day's posts removed within w of posting, among those followed "
               "for w (any reason, and by the platform), with 95% Wilson intervals "
               "(removal_rates).", draw_daily_rates),
    FigureSpec("top_terms", "关键词 Top terms of platform-removed posts",
               "The 20 terms with the highest weighted log-odds z (platform-removed vs "
               "surviving posts), with removed/total post counts (term_stats).", draw_top_terms),
    FigureSpec("bursts", "删除高峰 Bursts",
               "Platform-removal rate per period with 95% Wilson band, the leave-one-out "
               "baseline, and bursts shaded with their top terms (removal_periods, "
               "removal_bursts).", draw_bursts),
    FigureSpec("account_sanctions", "账号封禁 Account sanctions",
               "Accounts suspended, closed or locked, by the day it was detected "
               "(account_sanctions).", draw_account_sanctions),
)

CREATE_SQL = """
    CREATE TABLE figures (
        name TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        png_path TEXT,                   -- relative to the data directory
        svg_path TEXT,
        png BLOB,                        -- the image itself (Datasette links to it)
        svg BLOB,
        font TEXT                        -- the CJK font used for Chinese text
    )"""


def render(spec: FigureSpec, db: sqlite_utils.Database) -> tuple[bytes, bytes]:
    """The figure as PNG and SVG bytes."""
    with matplotlib.rc_context(_style()):
        fig = Figure(figsize=(10, 5.5) if spec.name == "survival_by_reason" else (8, 5),
                     layout="constrained")
        spec.draw(db, fig)
        out = []
        for fmt in ("png", "svg"):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=120, metadata={"Date": None} if fmt == "svg"
                        else None)
            out.append(buffer.getvalue())
    return out[0], out[1]


def build_figures(db: sqlite_utils.Database, data_dir: Path | None) -> int:
    """Render every figure; write files when `data_dir` is given; (re)write `figures`."""
    replace_table(db, "figures", CREATE_SQL)
    if data_dir is None:
        return 0
    target = Path(data_dir) / FIGURES_DIR
    target.mkdir(parents=True, exist_ok=True)
    font = cjk_font()
    for spec in FIGURES:
        png, svg = render(spec, db)
        paths = {}
        for fmt, data in (("png", png), ("svg", svg)):
            path = target / f"{spec.name}.{fmt}"
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            paths[fmt] = f"{FIGURES_DIR}/{spec.name}.{fmt}"
        db["figures"].insert({"name": spec.name, "title": spec.title,
                              "description": spec.description, "png_path": paths["png"],
                              "svg_path": paths["svg"], "png": png, "svg": svg, "font": font})
    return len(FIGURES)
