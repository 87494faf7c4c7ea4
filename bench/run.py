"""Run every benchmark in bench/ (each `bench_*.py` module's `main()`), printing their tables.

    python bench/run.py                 # all of them
    python bench/run.py diff ingest     # only bench_diff.py and bench_ingest.py
    python bench/run.py quick           # all of them at tiny sizes (BENCH_QUICK=1), as the tests do

Sizes and repeats come from the environment (see bench/README.md). A benchmark that fails is
reported and the others still run; the exit status is then 1.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def discover(wanted: list[str]) -> list[str]:
    names = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    if wanted:
        names = [n for n in names if n in wanted or n.removeprefix("bench_") in wanted]
    return names


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(BENCH_DIR))   # the benchmarks; memoryhole itself is installed (make bench)
    if "quick" in argv:
        os.environ["BENCH_QUICK"] = "1"
        argv = [a for a in argv if a != "quick"]
    from _common import machine, table

    names = discover(argv)
    if not names:
        print(f"no benchmark matches {argv}; have: {', '.join(discover([]))}", file=sys.stderr)
        return 2
    failed = []
    figures: list = []
    started = time.perf_counter()
    described = machine()
    print(table("== machine" + (" (BENCH_QUICK: tiny sizes, figures not meaningful)"
                                if os.environ.get("BENCH_QUICK", "0") not in ("", "0") else ""),
                ["", ""], described), flush=True)
    print(flush=True)
    for name in names:
        print(f"== {name} " + "=" * max(0, 86 - len(name)), flush=True)
        began = time.perf_counter()
        try:
            module = importlib.import_module(name)
            result = module.main()
            figures += [(name, f) for f in result or [] if type(f).__name__ == "Figure"] \
                if isinstance(result, list) else []
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"({name}: {time.perf_counter() - began:.0f} s)\n", flush=True)
    if figures:
        print(summary(figures, described))
    print(f"all benchmarks: {time.perf_counter() - started:.0f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def summary(figures: list, described: list[tuple[str, str]]) -> str:
    """One table of every figure against its baseline measured in the same run, headed by the
    machine it ran on (README's Performance section shows this table)."""
    from _common import table

    head = "; ".join(f"{k} {v}" for k, v in described if k not in ("load (1, 5, 15 min) at start",))
    rows = [[module.removeprefix("bench_"), f.figure, _number(f.measured), f.unit,
             "" if f.baseline is None else _number(f.baseline), f.baseline_label,
             "" if f.ratio is None else f"{f.ratio:.2f}x", f.goal]
            for module, f in figures]
    return table(f"== summary: every figure against its baseline measured in the same run\n"
                 f"   ({head})",
                 ["bench", "figure", "measured", "unit", "baseline", "baseline is", "ratio",
                  "goal"], rows)


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
