"""The installed layout: stages under the `memoryhole` name, imports that flow one way.

- A researcher's working directory with its own `analysis/`, `corpus/` and `crawlers/` packages
  (every research repository has an `analysis/`) runs the real pipeline, crawl to analysis, in a
  subprocess; before the layout change our `import analysis…` found theirs.
- `lint-imports` holds the contracts in pyproject.toml ([tool.importlinter]) on a tree laid out as
  installed (the repository's folders mapped as setuptools' package-dir maps them), and fails on
  a planted import against the flow.
- Every package folder is listed in pyproject.toml, so a non-editable install has it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from e2e import write_plan

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

# The researcher's own packages, named like our stages; importing one of ours by mistake fails loudly.
RESEARCHER_PACKAGE = 'OWNER = "researcher"\n'
RESEARCHER_MODULE = 'raise ImportError("the researcher\'s own {name}, not memoryhole\'s")\n'


def researcher_dir(root: Path) -> Path:
    for name in ("analysis", "corpus", "crawlers", "release"):
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text(RESEARCHER_PACKAGE, encoding="utf-8")
        for module in ("tables", "pipeline", "store", "clock", "settings", "plan", "scheduler"):
            (root / name / f"{module}.py").write_text(RESEARCHER_MODULE.format(name=name),
                                                      encoding="utf-8")
    return root


def run_in(cwd: Path, *args: str, now: datetime | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if now is not None:
        env["MEMORYHOLE_NOW"] = now.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def test_pipeline_runs_beside_a_researchers_own_analysis_package(tmp_path):
    work = researcher_dir(tmp_path / "research")
    scenario = load_scenario({
        "seed": 5, "start": T0.isoformat(), "duration": "20m",
        "accounts": {"count": 3, "first_uid": 2001, "initial_posts": 10, "posts_per_hour": 30},
        "censor": {"share": 0.3}, "faults": {"rate": 0},
    })
    with SandboxServer(scenario, clock=(clock := ManualClock(T0))) as server:
        plan = write_plan(work / "plan.yaml", server.url, scenario.account_ids)
        for minute in (1, 10, 25):
            clock.set(T0 + timedelta(minutes=minute))
            run_in(work, "-m", "memoryhole.cli", "crawl", "plan.yaml", "--data", "data", "--once",
                   now=T0 + timedelta(minutes=minute))
    assert plan.exists()
    run_in(work, "-m", "memoryhole.cli", "analyze", "--data", "data")
    # The researcher's packages and ours, side by side in one interpreter (a notebook's case).
    checked = run_in(work, "-c", (
        "import analysis, corpus\n"
        "assert analysis.OWNER == corpus.OWNER == 'researcher'\n"
        "from memoryhole.analysis import report\n"
        "from memoryhole.corpus.store import Corpus\n"
        "corpus_ = Corpus('data')\n"
        "print(corpus_.db.execute('SELECT COUNT(*) FROM analysis_runs').fetchone()[0],"
        " corpus_.db.execute('SELECT COUNT(*) FROM sightings').fetchone()[0])\n"))
    runs, sightings = map(int, checked.stdout.split())
    assert runs >= 1 and sightings > 0


def installed_tree(root: Path) -> Path:
    """The repository's folders linked as the package-dir mapping installs them."""
    for package, folder in sorted(SETUPTOOLS["package-dir"].items()):
        target = root.joinpath(*package.split("."))
        if package == "memoryhole":
            target.mkdir(parents=True)
            for child in (ROOT / folder).iterdir():
                if child.name != "__pycache__":
                    (target / child.name).symlink_to(child)
        else:
            target.symlink_to(ROOT / folder)
    return root


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold(tmp_path):
    result = lint_imports(installed_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize(("module", "bad_import", "contract"), [
    ("memoryhole/corpus/clock.py", "from memoryhole.analysis import tables", "Stages flow one way"),
    ("memoryhole/crawlers/plan.py", "from memoryhole.analysis import stats", "Stages flow one way"),
    ("memoryhole/analysis/stats.py", "import memoryhole.cli", "never import the CLI"),
    ("memoryhole/sandbox/ids.py", "from memoryhole.corpus import clock",
     "imports nothing of the pipeline"),
    ("memoryhole/corpus/store.py", "import scrapy", "Only the crawl stage speaks Scrapy"),
])
def test_an_import_against_the_flow_breaks_a_contract(tmp_path, module, bad_import, contract):
    tree = installed_tree(tmp_path)
    path = tree
    for part in module.split("/"):
        path = path / part
        if path.is_symlink():              # make this level a real folder or file of our own
            source = path.resolve()
            path.unlink()
            if source.is_dir():
                path.mkdir()
                for child in source.iterdir():
                    if child.name != "__pycache__":
                        (path / child.name).symlink_to(child)
            else:
                path.write_text(source.read_text("utf-8") + f"\n{bad_import}\n", encoding="utf-8")
    result = lint_imports(tree)
    assert result.returncode != 0, result.stdout
    assert contract in result.stdout and "BROKEN" in result.stdout


def test_every_package_folder_is_installed():
    packages = set(SETUPTOOLS["packages"])
    missing = []
    for package, folder in SETUPTOOLS["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            relative = init.parent.relative_to(ROOT / folder).parts
            name = ".".join((package, *relative))
            if name not in packages:
                missing.append(name)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_no_generic_top_level_names_are_installed():
    assert set(SETUPTOOLS["package-dir"]) == {p for p in SETUPTOOLS["packages"] if p.count(".") <= 1
                                              and p != "memoryhole.sandbox"}
    assert all(p == "memoryhole" or p.startswith("memoryhole.") for p in SETUPTOOLS["packages"])
