"""Shared helpers for the benchmarks: sizes from the environment, the cache directory, medians,
and plain-text tables. Not a benchmark itself (the runner only picks up `bench_*.py`)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = Path(os.environ.get("BENCH_CACHE", BENCH_DIR / ".cache"))


@dataclass(frozen=True)
class Figure:
    """One line of the summary table `bench/run.py` prints after every benchmark: a figure, its
    baseline measured in the same run, and the goal it is held to. A benchmark's `main()` returns
    a list of these (it may print its own detailed tables too)."""

    figure: str            # what is measured, e.g. "crawl pages/s, 2,000 accounts x 2 pages"
    measured: float
    unit: str              # "pages/s", "ms p95", "MB", ...
    baseline: float | None = None   # the same work done the simplest way, in the same run
    baseline_label: str = ""        # what the baseline is, e.g. "bare Scrapy"
    goal: str = ""                  # e.g. ">= 0.8x", "< 300 ms"

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.measured / self.baseline


def quick() -> bool:
    """BENCH_QUICK=1 (`make bench BENCH=quick`): every benchmark at tiny sizes, so the test
    suite can run them all and they cannot rot."""
    return os.environ.get("BENCH_QUICK", "").strip() not in ("", "0")


def machine() -> list[tuple[str, str]]:
    """What the figures were measured on: CPU, cores, RAM, load, Python, SQLite, OS."""
    import platform
    import sqlite3

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        ram = f"{pages * size / 2**30:.1f} GB"
    except (ValueError, OSError, AttributeError):
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [("CPU", cpu), ("cores", str(os.cpu_count())), ("RAM", ram),
            ("load (1, 5, 15 min) at start", load),
            ("Python", platform.python_version()), ("SQLite", sqlite3.sqlite_version),
            ("OS", f"{platform.system()} {platform.release()}")]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(float(value)) if value else default


def env_ints(name: str, default: Sequence[int]) -> list[int]:
    """A comma-separated list of sizes (`1e6`, `3000000`, `10M` and `300k` are all accepted)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return list(default)
    sizes = []
    for part in value.split(","):
        part = part.strip().lower()
        scale = {"k": 1_000, "m": 1_000_000}.get(part[-1:], 1)
        sizes.append(int(float(part.rstrip("km")) * scale))
    return sizes


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def human(n: float) -> str:
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:g}{unit}" if n % scale == 0 else f"{n / scale:.2f}{unit}"
    return f"{n:g}"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A fixed-width text table (right-aligned numbers, left-aligned text)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_num(row[i]) for row in rows) if rows else False
               for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(row, widths, numeric, strict=True)).rstrip()

    out = [title, line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def _is_num(value: object) -> bool:
    return isinstance(value, int | float)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
