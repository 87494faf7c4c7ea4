"""notebooks/: stripped of outputs in git, and executed by `pytest --nbmake` on a corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_analysis_validation import validation_corpus

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks_and_they_are_stripped():
    assert {p.name for p in NOTEBOOKS} >= {"velocity.ipynb", "keywords.ipynb",
                                           "accounts_and_bursts.ipynb"}
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert code, path.name
        assert all(c["outputs"] == [] and c["execution_count"] is None for c in code), path.name
        # No logic lives only in a notebook: code cells call the analysis package.
        assert any("from memoryhole.analysis import" in "".join(c["source"]) for c in code), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path):
    data = validation_corpus().data_dir
    env = {**os.environ, "MEMORYHOLE_DATA": str(data)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", str(path), "-q", "-p", "no:cacheprovider"],
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert json.loads(path.read_text(encoding="utf-8"))["cells"][1]["outputs"] == []
