"""The `memoryhole` command: one CLI for every stage. Each command is a thin layer over a library
function; errors are one line naming the bad input and the fix, with a non-zero exit."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from corpus.store import Corpus, CorpusError

DATA_OPTION = click.option(
    "--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Data directory holding the corpus (created if missing).",
)


@click.group()
@click.version_option(package_name="memoryhole")
def cli() -> None:
    """Watch public posts, detect and explain removals, publish the evidence."""


@cli.command()
@click.argument("plan_path", metavar="PLAN.yaml", type=click.Path(path_type=Path))
@DATA_OPTION
@click.option("--once", is_flag=True, help="Run one cycle of every watchlist, then exit.")
@click.option("--cycles", type=click.IntRange(min=1), help="Stop after this many cycles.")
@click.option("--duration", help="Stop starting new cycles after this long (e.g. 3m, 12h).")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), help="Scrapy log level.")
def crawl(plan_path: Path, data_dir: Path, once: bool, cycles: int | None, duration: str | None,
          log_level: str) -> None:
    """Snapshot the plan's watchlists, find posts that vanished, probe them, record removals.

    Without --once it keeps the plan's cadence until SIGINT/SIGTERM, then stops cleanly.

        memoryhole crawl plan.yaml --data ~/research/weibo --once
    """
    from crawlers.plan import PlanError, load_plan, parse_duration
    from crawlers.scheduler import RunOptions, run

    try:
        plan = load_plan(plan_path)
        seconds = parse_duration(duration) if duration else None
        Corpus(data_dir).close()
    except (PlanError, CorpusError) as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(f"--duration: {exc}") from None

    def report(cycle) -> None:
        click.echo(cycle.summary(), err=True)

    run(plan, data_dir, RunOptions(once=once, cycles=cycles, duration=seconds,
                                   log_level=log_level, on_cycle=report))


@cli.group()
def export() -> None:
    """Write corpus tables to stdout."""


@export.command("removals")
@DATA_OPTION
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
def export_removals(data_dir: Path, fmt: str) -> None:
    """One row per removal: platform, post_id, account_id, reason, message, last_seen_at,
    first_missing_at (UTC ISO 8601), restored_at, probe_id.

        memoryhole export removals --data ~/research/weibo --format csv > removals.csv
    """
    from corpus.export import REMOVAL_COLUMNS, removal_rows, write_rows

    corpus = _open(data_dir)
    try:
        write_rows(removal_rows(corpus.db), REMOVAL_COLUMNS, fmt, sys.stdout)
    finally:
        corpus.close()


@cli.command()
@DATA_OPTION
def analyze(data_dir: Path) -> None:
    """Write the analysis tables into the corpus (removals by day, rates, time to removal).

        memoryhole analyze --data ~/research/weibo
    """
    from analysis.tables import analyze as run_analysis

    corpus = _open(data_dir)
    try:
        counts = run_analysis(corpus.db)
    finally:
        corpus.close()
    for table, rows in counts.items():
        click.echo(f"{table}: {rows} rows")


@cli.command()
@DATA_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
def serve(data_dir: Path, host: str, port: int) -> None:
    """Browse the corpus in Datasette.

        memoryhole serve --data ~/research/weibo --port 8001
    """
    from analysis.publish import PublishError
    from analysis.publish import serve as run_datasette

    click.echo(f"serving {data_dir} at http://{host}:{port}/", err=True)
    try:
        sys.exit(run_datasette(data_dir, host=host, port=port))
    except PublishError as exc:
        raise click.ClickException(str(exc)) from None


@cli.group()
def sandbox() -> None:
    """The simulated platform: a local imitation of m.weibo.cn that knows the ground truth."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--scenario", "scenario_path", type=click.Path(path_type=Path),
              help="Scenario YAML (default: the demo scenario).")
@click.option("--seed", type=int, help="Override the scenario's random seed.")
def sandbox_serve(host: str, port: int, scenario_path: Path | None, seed: int | None) -> None:
    """Serve the simulated platform until interrupted.

        memoryhole sandbox serve --port 8765 --seed 3
    """
    from memoryhole.sandbox import SandboxServer, load_scenario
    from memoryhole.sandbox.scenario import ScenarioError

    try:
        scenario = load_scenario(scenario_path)
    except (ScenarioError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    try:
        server = SandboxServer(scenario, host=host, port=port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror}); "
                                   "pick another --port") from None
    click.echo(f"simulated platform at {server.url}/ (truth at {server.url}/_sandbox/truth)",
               err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@cli.command()
@click.option("--data", "data_dir", default=Path("data/demo"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where the demo corpus goes (must be empty or an earlier demo's).")
@click.option("--minutes", default=3.0, show_default=True, type=click.FloatRange(min=0.1),
              help="How long to watch the simulated platform.")
@click.option("--serve/--no-serve", default=True, help="Serve the result in Datasette.")
@click.option("--port", default=8001, show_default=True, type=int, help="Datasette port.")
def demo(data_dir: Path, minutes: float, serve: bool, port: int) -> None:
    """The whole pipeline on the simulated platform: watch, detect, probe, score, publish.

        memoryhole demo --minutes 3 --no-serve
    """
    from memoryhole.demo import DemoError, run_demo

    try:
        run_demo(data_dir, minutes=minutes, serve=serve, port=port)
    except (DemoError, CorpusError) as exc:
        raise click.ClickException(str(exc)) from None


def _open(data_dir: Path) -> Corpus:
    try:
        return Corpus(data_dir, create=False)
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    cli()
