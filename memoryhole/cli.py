"""The `memoryhole` command: one CLI for every stage. Each command is a thin layer over a library
function; errors are one line naming the bad input and the fix, with a non-zero exit."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import click

from memoryhole.corpus.store import Corpus, CorpusError

DATA_OPTION = click.option(
    "--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="Data directory holding the corpus (created if missing).",
)


class _Commands(click.Group):
    """A damaged corpus database (garbage in its pages, found only when a query reaches them)
    is one line naming it and the fix, not a traceback, in every command."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise click.ClickException(f"the corpus is locked by another writer ({exc}); "
                                           "retry when it is done") from None
            raise click.ClickException(f"the corpus database is damaged ({exc}); restore "
                                       "DATA/corpus.db from a backup") from None


@click.group(cls=_Commands)
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
@click.option("--redis", "redis_url", metavar="redis://[:PASSWORD@]HOST:6379/0",
              help="Distributed: queue the work in this Redis for `memoryhole worker`s and "
                   "ingest their answers here.")
@click.option("--lease", default="2m", show_default=True,
              help="With --redis: how long a worker may hold a request before it is queued again.")
@click.option("--host-rate", type=click.FloatRange(min=0, min_open=True),
              help="With --redis: requests per second per host across all workers "
                   "(default: the plan's politeness, as one process would ask).")
def crawl(plan_path: Path, data_dir: Path, once: bool, cycles: int | None, duration: str | None,
          log_level: str, redis_url: str | None = None, lease: str = "2m",
          host_rate: float | None = None) -> None:
    """Snapshot the plan's watchlists, find posts that vanished, probe them, record removals.

    With --once: one cycle of every watchlist now, whatever their cadence. Without it, the
    same as `memoryhole schedule PLAN.yaml`: each watchlist at its cadence until SIGINT/SIGTERM.

        memoryhole crawl plan.yaml --data ~/research/weibo --once
    """
    _campaign((plan_path,), data_dir, once, cycles, duration, log_level, redis_url, lease,
              host_rate)


@cli.command()
@click.argument("plan_paths", metavar="PLAN.yaml...", nargs=-1, required=True,
                type=click.Path(path_type=Path))
@DATA_OPTION
@click.option("--cycles", type=click.IntRange(min=1), help="Stop after this many ticks.")
@click.option("--duration", help="Stop starting new ticks after this long (e.g. 3m, 12h).")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), help="Scrapy log level.")
def schedule(plan_paths: tuple[Path, ...], data_dir: Path, cycles: int | None,
             duration: str | None, log_level: str) -> None:
    """Run a campaign until stopped: every watchlist of every plan (one plan per platform, all
    in this one process) at its own cadence, within each host's request budget.

    Its state is in the corpus: after a crash, a reboot or kill -9 the same command continues
    where it left off. An edited plan is taken at the next tick. SIGINT/SIGTERM finish the
    requests in flight; `memoryhole status --data DIR` shows how the campaign is doing.

        memoryhole schedule weibo.yaml telegram.yaml --data ~/research/campaign
    """
    _campaign(plan_paths, data_dir, False, cycles, duration, log_level)


def _campaign(plan_paths: tuple[Path, ...], data_dir: Path, once: bool, cycles: int | None,
              duration: str | None, log_level: str, redis_url: str | None = None,
              lease: str = "2m", host_rate: float | None = None) -> None:
    from memoryhole.corpus.provenance import start_lookup

    start_lookup()   # the version every crawl records, looked up while the crawler imports
    from memoryhole.crawlers.plan import PlanError, load_plan, parse_duration
    from memoryhole.crawlers.scheduler import CrawlStoreError, RunOptions, failed_pages, fetched_nothing, run

    try:
        plans = [load_plan(path) for path in plan_paths]
        for plan, path in zip(plans, plan_paths, strict=True):
            if not plan.watchlists:
                raise PlanError(f"{path}: no watchlists to crawl, only a search list; run "
                                f"`memoryhole keywords watch {path} --data {data_dir}`")
        seconds = parse_duration(duration) if duration else None
        Corpus(data_dir).close()
    except (PlanError, CorpusError) as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(f"--duration: {exc}") from None
    platforms = [p.platform for p in plans]
    twice = sorted({p for p in platforms if platforms.count(p) > 1})
    if twice:
        raise click.ClickException(f"{', '.join(twice)}: one plan per platform (put its "
                                   "watchlists in one plan file)")
    for plan, path in zip(plans, plan_paths, strict=True):
        if plan.access.cookies is not None:
            from memoryhole.crawlers.sessions import SessionError, researcher_cookies

            try:
                researcher_cookies(plan)   # names the file or variable, never a value
            except SessionError as exc:
                raise click.ClickException(f"{path}: {exc}") from None
    progress = _TickProgress()

    def report(cycle) -> None:
        progress.done()
        if not cycle.idle:
            click.echo(cycle.summary(), err=True)

    options = RunOptions(once=once, cycles=cycles, duration=seconds, log_level=log_level,
                         on_cycle=report, on_recovery=lambda line: click.echo(line, err=True))
    if redis_url:
        if len(plans) > 1:
            raise click.ClickException("--redis: one plan per distributed campaign")
        reports = _crawl_distributed(plans[0], data_dir, redis_url, lease, host_rate, options)
    else:
        options.on_tick, options.on_response = progress.start, progress.step
        try:
            reports = run(plans, data_dir, options)
        except (CrawlStoreError, CorpusError) as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            progress.done()
    if fetched_nothing(reports):
        judged = [r for r in reports if r.diff is not None]
        # Listings named by their own URLs (feeds) are fetched there, not from base_url.
        hosts = sorted({urlsplit(a).netloc for plan in plans for w in plan.watchlists
                        for a in w.accounts if "://" in a})
        where, check = (", ".join(hosts), "the feeds' URLs") if hosts else (
            ", ".join(p.base_url for p in plans), "base_url")
        raise click.ClickException(
            f"nothing could be fetched from {where} in {len(judged)} "
            f"cycle{'s' if len(judged) > 1 else ''} ({failed_pages(judged)}"
            + f"); check {check} and the network (each failure is in fetch_failures)")


def _crawl_distributed(plan, data_dir: Path, redis_url: str, lease: str, host_rate: float | None,
                       options) -> list:
    from memoryhole.crawlers.ingester import DistributedError, DistributedOptions, run_distributed
    from memoryhole.crawlers.plan import parse_duration
    from memoryhole.crawlers.scheduler import CrawlStoreError

    try:
        seconds = parse_duration(lease)
    except ValueError as exc:
        raise click.ClickException(f"--lease: {exc}") from None
    if seconds < 1:
        raise click.ClickException(f"--lease: {lease!r} is shorter than a request can take; "
                                   "give at least 1s (default 2m)")
    try:
        return run_distributed(plan, data_dir, DistributedOptions(
            redis_url=redis_url, lease=seconds, host_rate=host_rate), options)
    except ValueError as exc:
        raise click.ClickException(f"--redis: {exc}") from None
    except (DistributedError, CrawlStoreError, CorpusError) as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.option("--redis", "redis_url", required=True, metavar="redis://[:PASSWORD@]HOST:6379/0",
              help="The campaign's Redis (the one `memoryhole crawl --redis` uses).")
@click.option("--name", help="This worker's name, recorded on every row it fetched "
                             "[default: the host name].")
@click.option("--address", help="The public address this worker's requests leave from, recorded "
                                "on every row [default: the local address that reaches Redis].")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), help="Scrapy log level.")
def worker(redis_url: str, name: str | None, address: str | None, log_level: str) -> None:
    """Fetch a distributed campaign's queued requests until SIGINT/SIGTERM.

    \b
        memoryhole worker --redis redis://:PASSWORD@10.0.0.5:6379/0 --name vm-tokyo-1
    """
    from memoryhole.crawlers.worker import WorkerError, run_worker

    try:
        run_worker(redis_url, name=name, address=address, log_level=log_level)
    except ValueError as exc:
        raise click.ClickException(f"--redis: {exc}") from None
    except WorkerError as exc:
        raise click.ClickException(str(exc)) from None


class _TickProgress:
    """A progress bar of each tick's admitted requests, on a terminal only (never in logs)."""

    def __init__(self) -> None:
        self.bar = None
        self.tty = sys.stderr.isatty()

    def start(self, work) -> None:
        self.done()
        total = sum(p.requests_admitted for p in work.plans)
        if self.tty and total > 1:
            self.bar = click.progressbar(length=total, label=f"tick: {total:,} requests",
                                         file=sys.stderr)
            self.bar.__enter__()

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def done(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@cli.command()
@DATA_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(data_dir: Path, as_json: bool) -> None:
    """How the campaign is doing, per watchlist and platform: last and next run, lag behind
    cadence, pages and probes in the last hour and day, failures by kind, cool-downs, posts
    watched, removals found; what is wrong, in words. Exit 0 when healthy, 3 when not.

        memoryhole status --data ~/research/campaign
    """
    import json

    from memoryhole.crawlers.status import campaign_status, format_status, status_record

    corpus = _open(data_dir)
    try:
        found = campaign_status(corpus.db)
    finally:
        corpus.close()
    if as_json:
        click.echo(json.dumps(status_record(found), ensure_ascii=False, indent=2))
    else:
        click.echo(format_status(found))
    if not found.healthy:
        sys.exit(3)


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
    from memoryhole.corpus.export import REMOVAL_COLUMNS, removal_rows, write_rows

    corpus = _open(data_dir)
    try:
        write_rows(removal_rows(corpus.db), REMOVAL_COLUMNS, fmt, sys.stdout)
    finally:
        corpus.close()


def _window_option(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from memoryhole.crawlers.plan import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if not 0 < seconds < float("inf"):
        raise click.BadParameter(f"a positive, finite duration, got {value!r}")
    return seconds


def _finite_option(ctx: click.Context, param: click.Parameter, value: float) -> float:
    # click's FloatRange lets nan and inf through (no comparison with them is true).
    if value != value or value in (float("inf"), float("-inf")):
        raise click.BadParameter(f"a finite number, got {value!r}")
    return value


@cli.command()
@DATA_OPTION
@click.option("--terms", "terms", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="User dictionary of sensitive terms for segmentation (repeatable; default "
                   "DATA/sensitive_terms.txt, else the example list shipped in analysis/).")
@click.option("--window", default="24h", show_default=True, callback=_window_option,
              help="w: the outcome every table shares is removal within w of posting, among "
                   "posts followed for at least w (e.g. 1h, 24h, 3d).")
def analyze(data_dir: Path, terms: tuple[str, ...], window: float) -> None:
    """Write the analysis tables into the corpus (rates, time to removal, keywords, bursts,
    accounts) and the figures into DATA/figures/. See docs/analysis.md for the methods.

        memoryhole analyze --data ~/research/weibo
    """
    from memoryhole.analysis.pipeline import AnalysisConfig
    from memoryhole.analysis.tables import analyze as run_analysis

    corpus = _open(data_dir)
    try:
        counts = run_analysis(corpus.db, data_dir,
                              AnalysisConfig(terms=terms or None, window=window))
    finally:
        corpus.close()
    for table, rows in counts.items():
        click.echo(f"{table}: {rows} rows")


@cli.command()
@click.argument("post_id")
@DATA_OPTION
@click.option("--platform", help="The post's platform, when the id exists on several.")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
def evidence(post_id: str, data_dir: Path, platform: str | None, as_json: bool) -> None:
    """A post's history (versions, sightings, events, probes, removals) and the archived
    response that classified each removal, read back from its WARC record.

        memoryhole evidence 5079548507700000 --data ~/research/weibo
    """
    import json

    from memoryhole.corpus.evidence import format_history, history_record, post_history
    from memoryhole.corpus.warc import EvidenceError

    corpus = _open(data_dir)
    try:
        history = post_history(corpus, post_id, platform)
    except EvidenceError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        corpus.close()
    if as_json:
        click.echo(json.dumps(history_record(history), ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(format_history(history))


@cli.command()
@DATA_OPTION
@click.option("--into", "into", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the rebuilt corpus (new or empty; default DATA/reparse-TIME).")
def reparse(data_dir: Path, into: Path | None) -> None:
    """Rebuild the corpus from its WARC evidence with the current parsers, into a new corpus
    (the original is not touched): how a parser fix reaches old crawls.

        memoryhole reparse --data ~/weibo --into ~/weibo-reparsed
    """
    from memoryhole.crawlers.reparse import ReparseError
    from memoryhole.crawlers.reparse import reparse as run_reparse

    try:
        report = run_reparse(data_dir, into)
    except ReparseError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary())


@cli.command()
@DATA_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option("-i", "--immutable", is_flag=True,
              help="Serve read-only with Datasette's -i (a release directory always is).")
def serve(data_dir: Path, host: str, port: int, immutable: bool) -> None:
    """Browse the corpus (or a release directory) in Datasette: facets, post pages, evidence,
    Chinese full-text search, the dashboard at /-/dashboards/memoryhole.

        memoryhole serve --data ~/research/weibo --port 8001
    """
    from memoryhole.analysis.publish import PublishError
    from memoryhole.analysis.publish import serve as run_datasette

    click.echo(f"serving {data_dir} at http://{host}:{port}/", err=True)
    try:
        sys.exit(run_datasette(data_dir, host=host, port=port, immutable=immutable))
    except PublishError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.option("--data", "data_dir", required=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Data directory holding the corpus (and optionally release.yaml).")
@click.option("--version", "version", required=True, help="The release's version, e.g. 1.0.0.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="New (or empty) directory to write the release to.")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Secret key file for the pseudonyms (32+ bytes; never published).")
@click.option("--no-pseudonyms", is_flag=True,
              help="Publish raw account ids and screen names (only when you mean to).")
@click.option("--include-text/--no-text", default=True, show_default=True,
              help="Include post texts (identifiers in them redacted).")
@click.option("--author", "authors", multiple=True,
              help="'Family, Given' or an organisation (repeatable); default: release.yaml.")
def release(data_dir: Path, version: str, out_dir: Path, key_file: Path | None,
            no_pseudonyms: bool, include_text: bool, authors: tuple[str, ...]) -> None:
    """Write a citable, de-identified, byte-reproducible release: SQLite, CSV per table,
    datapackage.json, CITATION.cff, .zenodo.json, DATASHEET.md, SHA256SUMS.

        memoryhole release --data ~/weibo --version 1.0.0 --out ~/releases/1.0.0 --key ~/.mh.key
    """
    from memoryhole.release import ReleaseError, ReleaseOptions, build_release

    if key_file is not None and no_pseudonyms:
        raise click.ClickException("--key and --no-pseudonyms contradict each other; choose one")
    options = ReleaseOptions(version=version, key_file=key_file, pseudonymise=not no_pseudonyms,
                             include_text=include_text, authors=authors)
    try:
        report = build_release(data_dir, out_dir, options)
    except (ReleaseError, CorpusError) as exc:
        raise click.ClickException(str(exc)) from None
    rows = sum(report.tables.values())
    click.echo(f"release {version}: {len(report.tables)} tables, {rows:,} rows, "
               f"{len(report.files)} files in {report.out_dir}", err=True)
    for name in report.files:
        click.echo(name)


@cli.group()
def keywords() -> None:
    """Search blocking: test a plan's keyword list on its schedule, minimize blocked phrases."""


def _search_plan(plan_path: Path):
    from memoryhole.crawlers.plan import PlanError, load_plan
    from memoryhole.crawlers.search_campaign import SearchCampaignError, search_plan

    try:
        plan = load_plan(plan_path)
        search_plan(plan)
    except (PlanError, SearchCampaignError) as exc:
        raise click.ClickException(str(exc)) from None
    return plan


@contextlib.contextmanager
def _stop_on_sigterm():
    """SIGTERM stops a search run as Ctrl-C does (the run is closed `interrupted`), while the
    command runs."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _test_line(test) -> str:
    said = test.outcome + (f" ({test.result_count:,})" if test.result_count else "")
    why = test.failure or test.message or test.detail or ""
    return f"  {test.term}: {said}" + (f": {why}" if why and test.outcome != "results" else "")


@keywords.command("watch")
@click.argument("plan_path", metavar="PLAN.yaml", type=click.Path(path_type=Path))
@DATA_OPTION
@click.option("--once", is_flag=True, help="Test the terms that are due once, then exit.")
@click.option("--cycles", type=click.IntRange(min=1), help="Stop after this many cycles.")
@click.option("-v", "--verbose", is_flag=True, help="A line per search.")
def keywords_watch(plan_path: Path, data_dir: Path, once: bool, cycles: int | None,
                   verbose: bool) -> None:
    """Test the plan's `search:` terms on Weibo search, a cycle every `every`, until
    SIGINT/SIGTERM: blocked, results (with the count) or no results; captchas and failures are
    kept and asked again, never counted. Each term's blocks are intervals (search_blocks).

        memoryhole keywords watch plan.yaml --data ~/research/weibo --once
    """
    from memoryhole.crawlers.search_campaign import SearchCampaignError, run_campaign

    plan = _search_plan(plan_path)
    try:
        Corpus(data_dir).close()
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with _stop_on_sigterm():
            done = run_campaign(plan, data_dir, cycles=1 if once else cycles,
                                on_cycle=lambda c: click.echo(c.summary(), err=True),
                                on_test=(lambda t: click.echo(_test_line(t), err=True))
                                if verbose else None)
    except SearchCampaignError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("interrupted: every answer so far is stored", err=True)
        sys.exit(130)
    tested = sum(c.tested for c in done)
    if tested and all(c.outcomes["failed"] == c.tested for c in done):
        failures = ", ".join(f"{name} ×{n}" for name, n in sum(
            (c.failures for c in done), Counter()).most_common())
        raise click.ClickException(
            f"no search got an answer from {done[0].base_url} ({failures}); check the search "
            "section's base_url and the network (each failure is in search_tests)")


@keywords.command("evidence")
@click.argument("test_id", type=int)
@DATA_OPTION
def keywords_evidence(test_id: int, data_dir: Path) -> None:
    """A search test and the answer it got, read back from its WARC record: status, headers
    and the page decoded.

        memoryhole keywords evidence 42 --data ~/research/weibo
    """
    from memoryhole.corpus.search_blocking import search_test_evidence
    from memoryhole.corpus.warc import EvidenceError

    corpus = _open(data_dir)
    try:
        test, archived = search_test_evidence(corpus, test_id)
    except EvidenceError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        corpus.close()
    said = test["failure"] or test["message"] or (
        f"{test['result_count']} results" if test["result_count"] is not None else "")
    click.echo(f"search test #{test_id}: {test['term']} ({test['purpose']}, {test['endpoint']}) "
               f"-> {test['outcome']}" + (f": {said}" if said else ""))
    click.echo(f"  {test['url']}\n  sent {test['requested_at']}, answered {test['tested_at']}")
    if archived is None:
        click.echo("  no answer to archive (a network error)")
        return
    click.echo(f"  from {archived.ref.file}@{archived.ref.offset} {archived.ref.record_id}")
    click.echo(f"  {archived.protocol} {archived.status} {archived.reason}".rstrip())
    for name, value in archived.headers:
        click.echo(f"  {name}: {value}")
    click.echo(f"  body ({len(archived.body)} bytes as received), decoded:")
    click.echo(archived.text())


@keywords.command("minimize")
@click.argument("term")
@DATA_OPTION
@click.option("--plan", "plan_path", type=click.Path(path_type=Path),
              help="A plan whose search section says where and how to search (default: the "
                   "real desktop search with the default pacing).")
@click.option("--base-url", help="Search host, e.g. https://s.weibo.com (overrides the plan).")
@click.option("--delay", help="Time between searches (default 15s, or the plan's).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def keywords_minimize(term: str, data_dir: Path, plan_path: Path | None, base_url: str | None,
                      delay: str | None, as_json: bool) -> None:
    """Reduce a blocked phrase to its minimal blocked substrings (split recursively, then drop
    characters one at a time while the rest stays blocked); reports the probes it cost and keeps
    the result with the phrase (search_minimizations).

        memoryhole keywords minimize '我们在天安门广场上' --data ~/research/weibo
    """
    import json

    from memoryhole.crawlers.plan import SearchPlan, parse_duration
    from memoryhole.crawlers.search_campaign import SearchCampaignError, minimize

    plan = _search_plan(plan_path) if plan_path else None
    search = plan.search if plan else SearchPlan(terms=(term,))
    try:
        changes = {}
        if base_url:
            if not base_url.startswith(("http://", "https://")):
                raise ValueError(f"--base-url: {base_url!r} is not an http(s) URL")
            changes["base_url"] = base_url.rstrip("/")
        if delay:
            changes["delay"] = parse_duration(delay)
        search = dataclasses.replace(search, **changes)
        Corpus(data_dir).close()
    except ValueError as exc:
        raise click.ClickException(str(exc) if str(exc).startswith("--") else
                                   f"--delay: {exc}") from None
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from None
    if not term.strip():
        raise click.ClickException("TERM: give a non-empty phrase to minimize")
    try:
        with _stop_on_sigterm():
            result = minimize(term, data_dir, search, plan.politeness if plan else None,
                              on_probe=lambda t: click.echo(_test_line(t), err=True))
    except SearchCampaignError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("interrupted: kept as incomplete with the probes so far", err=True)
        sys.exit(130)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(result), ensure_ascii=False))
    else:
        click.echo(result.summary())
    if result.status == "incomplete":
        sys.exit(1)


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


@sandbox.command("validate")
@click.option("--scenario", "scenario_path", type=click.Path(path_type=Path),
              help="Scenario YAML (default: the validation scenario).")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where the validation corpus goes (a new, empty directory).")
@click.option("--cycles", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--every", default="5m", show_default=True, help="Simulated time between cycles.")
@click.option("--pages", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def sandbox_validate(scenario_path: Path | None, data_dir: Path, cycles: int, every: str,
                     pages: int, as_json: bool) -> None:
    """Run the real pipeline against a simulated platform on a driven clock and score it against
    the platform's ground truth: precision, recall, reason and interval accuracy.

        memoryhole sandbox validate --data /tmp/validation --cycles 20
    """
    import json

    from memoryhole.crawlers.plan import parse_duration
    from memoryhole.sandbox.scenario import ScenarioError
    from memoryhole.validation import VALIDATION_SCENARIO, report, validate

    if data_dir.exists() and any(data_dir.iterdir()):
        raise click.ClickException(f"{data_dir}: not empty; validation needs a new directory")
    try:
        result = validate(scenario_path or VALIDATION_SCENARIO, data_dir, cycles=cycles,
                          every=parse_duration(every), pages=pages)
    except (ScenarioError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report(result), indent=2))
    else:
        click.echo(result.card.table())


@cli.command()
@click.option("--data", "data_dir", default=Path("data/demo"), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where the demo corpus goes (must be empty or an earlier demo's).")
@click.option("--days", default=23.0, show_default=True, type=click.FloatRange(min=0.5),
              callback=_finite_option,
              help="Simulated days to crawl (the campaign's three weeks, then two to follow up).")
@click.option("--every", "every_hours", default=6.0, show_default=True,
              type=click.FloatRange(min=0.25), callback=_finite_option,
              help="Simulated hours between crawls.")
@click.option("--serve/--no-serve", default=True, help="Serve the result in Datasette.")
@click.option("--port", default=8001, show_default=True, type=int, help="Datasette port.")
def demo(data_dir: Path, days: float, every_hours: float, serve: bool, port: int) -> None:
    """A simulated censorship campaign — a policy change, a burst of posts on a topic, account
    sanctions — watched by the whole pipeline on a driven clock (three simulated weeks in a few
    minutes), scored against the platform's truth, analysed and served.

        memoryhole demo --no-serve
    """
    from memoryhole.demo import DemoError, run_demo

    try:
        run_demo(data_dir, days=days, every_hours=every_hours, serve=serve, port=port)
    except (DemoError, CorpusError) as exc:
        raise click.ClickException(str(exc)) from None


def _open(data_dir: Path) -> Corpus:
    try:
        return Corpus(data_dir, create=False)
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    cli()
