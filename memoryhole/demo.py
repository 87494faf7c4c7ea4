"""`memoryhole demo`: the whole pipeline on the simulated platform, scored against its truth."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import click
import yaml

from memoryhole.corpus.store import Corpus

MARKER = ".memoryhole-demo"


class DemoError(Exception):
    """The demo cannot run; the message says why and what to do."""


def prepare_data_dir(data_dir: Path) -> None:
    """An empty directory, or one an earlier demo made (then it is cleared). Never anything else."""
    if data_dir.exists():
        if not data_dir.is_dir():
            raise DemoError(f"{data_dir}: exists and is not a directory; choose another --data")
        if any(data_dir.iterdir()):
            if not (data_dir / MARKER).exists():
                raise DemoError(f"{data_dir}: is not empty and was not made by the demo; "
                                "choose an empty --data")
            shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("made by `memoryhole demo`; cleared by the next demo\n")


def demo_plan(base_url: str, accounts: list[str]) -> dict:
    return {
        "name": "demo",
        "platform": "weibo",
        "base_url": base_url,
        "watchlists": [{"name": "demo", "accounts": accounts, "every": "10s", "pages": 2}],
        # The sandbox is local: no delay needed; a real platform wants the polite defaults.
        "politeness": {"delay": 0, "concurrency": 8, "timeout": "10s", "retries": 2},
    }


def run_demo(data_dir: Path, minutes: float = 3.0, serve: bool = True, port: int = 8001) -> None:
    prepare_data_dir(data_dir)
    from memoryhole.analysis.tables import analyze
    from memoryhole.crawlers.plan import load_plan
    from memoryhole.crawlers.scheduler import RunOptions, run
    from memoryhole.sandbox import DEFAULT_SCENARIO_PATH, SandboxServer, load_scenario
    from memoryhole.scorecard import score

    server = SandboxServer(load_scenario(DEFAULT_SCENARIO_PATH))
    server.start()
    try:
        truth = _get_json(f"{server.url}/_sandbox/truth")
        accounts = [a["account_id"] for a in truth["accounts"]]
        plan_path = data_dir / "demo-plan.yaml"
        plan_path.write_text(yaml.safe_dump(demo_plan(server.url, accounts), allow_unicode=True,
                                             sort_keys=False))
        click.echo(f"simulated Weibo at {server.url}: watching {len(accounts)} accounts for "
                   f"{minutes:g} min, polling every 10 s", err=True)
        began = time.monotonic()
        with click.progressbar(length=int(minutes * 60), label="watching",
                               file=click.get_text_stream("stderr")) as bar:
            def on_cycle(report) -> None:
                bar.update(int(time.monotonic() - began) - bar.pos)
                click.echo(f"  {report.summary()}", err=True)
            run(load_plan(plan_path), data_dir,
                RunOptions(duration=minutes * 60, on_cycle=on_cycle))
        truth = _get_json(f"{server.url}/_sandbox/truth")
    finally:
        server.stop()
    (data_dir / "sandbox-truth.json").write_text(json.dumps(truth, ensure_ascii=False))

    corpus = Corpus(data_dir)
    try:
        counts = analyze(corpus.db, data_dir)
        card = score(corpus.db, truth)
    finally:
        corpus.close()
    click.echo(", ".join(f"{t}: {n}" for t, n in counts.items()), err=True)
    click.echo(card.table())
    if serve:
        from memoryhole.analysis.publish import serve as run_datasette

        click.echo(f"Datasette: http://127.0.0.1:{port}/  (Ctrl-C to stop)")
        run_datasette(data_dir, host="127.0.0.1", port=port)


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read().decode("utf-8"))
