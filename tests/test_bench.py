"""`bench/run.py quick` (what `make bench BENCH=quick` runs): every benchmark at tiny sizes, so a
change that breaks one fails the suite instead of the next person's `make bench`."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_benchmark_runs_quick(tmp_path):
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "cache"),
           # Benchmarks without a quick mode of their own still run small.
           "BENCH_SIZES": "20k", "BENCH_DIFF_ACCOUNTS": "200", "BENCH_INGEST_ACCOUNTS": "100",
           "BENCH_INGEST_POLLS": "1", "BENCH_REPEATS": "1"}
    result = subprocess.run([sys.executable, "bench/run.py", "quick"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "FAILED" not in out and "Traceback" not in out, out[-4000:]
    assert "== machine" in out and "SQLite" in out
    summary = out[out.index("== summary"):]
    for module in ("analysis", "datasette"):
        assert f"\n{module} " in summary, (module, summary)
    assert "Datasette" in summary and "full-text index build" in summary


def test_a_failing_benchmark_fails_the_run(tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    for name in ("run.py", "_common.py"):
        (bench / name).write_text((REPO / "bench" / name).read_text())
    (bench / "bench_broken.py").write_text("def main():\n    raise RuntimeError('broken')\n")
    result = subprocess.run([sys.executable, str(bench / "run.py"), "quick"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "FAILED: bench_broken" in result.stdout
