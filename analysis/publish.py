"""Publish a corpus with Datasette 0.65.

`metadata.yaml` next to this module holds the hand-written descriptions, canned queries, facets
and the dashboard; `build_metadata()` adds what must come from code (the reason vocabulary, from
memoryhole.corpus.reasons, and the window, candidate, event and account-state vocabularies, from
memoryhole.corpus.vocabulary, so each is written in exactly one place) and, given the database, keeps only the
queries and charts whose tables exist (`requires:`). `serve_argv()` brings the Chinese full-text
index up to date (memoryhole.analysis.fts), writes that metadata into the data directory and returns the
command line that serves DATA/corpus.db as the Datasette database `corpus` with the plugins in
`datasette_plugins/` and the templates in `templates/`; `serve()` runs it.

A release directory (`memoryhole release`) is served as published: immutable (`-i`), nothing
written into it (its metadata goes to a temporary directory).

Installed plugins (pinned in pyproject.toml): datasette-block-robots (robots.txt disallows all),
datasette-search-all (a search box on the home page), datasette-dashboards (`/-/dashboards`).
"""

from __future__ import annotations

import copy
import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from memoryhole.corpus.reasons import REASON_DESCRIPTIONS, REASONS
from memoryhole.corpus.store import DB_NAME
from memoryhole.corpus.vocabulary import VOCABULARIES

METADATA_YAML = Path(__file__).with_name("metadata.yaml")
PLUGINS_DIR = Path(__file__).with_name("datasette_plugins")
TEMPLATES_DIR = Path(__file__).with_name("templates")
DASHBOARD = "memoryhole"
DATABASE_NAME = Path(DB_NAME).stem  # Datasette names a database after its file: corpus.db -> corpus
METADATA_DIR = "datasette"
METADATA_FILE = "metadata.json"
SQL_TIME_LIMIT_MS = 3500
FACET_TIME_LIMIT_MS = 1000  # default facets on removals must survive a large corpus
# Facet suggestions run one query per column over the whole table (or search result) on every
# page view: 47 of a posts page's 79 queries at 500k posts. Off; facets stay a click away.
SUGGEST_FACETS = False
#: Indexes the published pages need (each default sort and facet of metadata.yaml, and the
#: filters the pages link to): name, table, columns. Created when the corpus is first served
#: (prepare) and in releases, not by the crawl: the crawler does not need them.
PAGE_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("posts_first_seen", "posts", ("first_seen_at",)),
    ("posts_account", "posts", ("account_id",)),
    ("removals_first_missing", "removals", ("first_missing_at",)),
    ("removals_reason", "removals", ("reason",)),
    ("removals_account", "removals", ("account_id",)),
    # (platform, post_id), not (platform): the facet counts from it, and a join of posts to
    # their removals uses it (an index on platform alone was chosen for those joins and made
    # them read every removal of the platform for each post).
    ("removals_post", "removals", ("platform", "post_id")),
    ("probes_outcome", "probes", ("outcome",)),
    ("probes_reason", "probes", ("reason",)),
)
STOP_GRACE = 10.0           # seconds Datasette gets to shut down after SIGTERM/SIGINT


class PublishError(Exception):
    """The corpus cannot be published; the message names the path and the fix."""


@cache
def _load_yaml() -> dict[str, Any]:
    with METADATA_YAML.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def reason_vocabulary_text() -> str:
    """The reason vocabulary as one plain-text description, from memoryhole.corpus.reasons."""
    return " ".join(f"{reason}: {REASON_DESCRIPTIONS[reason]}" for reason in REASONS)


def _schema(db_path: str | Path) -> dict[str, set[str]]:
    """{table: {columns}} of the database at `db_path` (virtual tables included)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        schema = {}
        for name in names:
            try:
                quoted = '"' + name.replace('"', '""') + '"'
                schema[name] = {r[1] for r in conn.execute(f"PRAGMA table_info({quoted})")}
            except sqlite3.Error:
                schema[name] = set()
        return schema
    finally:
        conn.close()


def _available(requires: list[str], schema: dict[str, set[str]] | None) -> bool:
    if schema is None:
        return True
    for item in requires:
        table, _, column = item.partition(".")
        if table not in schema or (column and column not in schema[table]):
            return False
    return True


def _keep_available(items: dict[str, Any], schema: dict[str, set[str]] | None) -> dict[str, Any]:
    kept = {}
    for name, item in items.items():
        fallback = item.pop("fallback_sql", None)
        if _available(item.pop("requires", []) or [], schema):
            kept[name] = item
        elif fallback is not None:   # the same rows without what the query needs (an index)
            kept[name] = {**item, "sql": fallback}
    return kept


def table_descriptions() -> dict[str, Any]:
    """The per-table metadata (descriptions, column descriptions), reasons filled in."""
    return build_metadata()["databases"][DATABASE_NAME]["tables"]


def _release_info(db_path: Path) -> dict[str, Any] | None:
    """The datapackage.json beside a released corpus.db, or None for a working corpus."""
    package = db_path.parent / "datapackage.json"
    if not (package.is_file() and (db_path.parent / "SHA256SUMS").is_file()):
        return None
    try:
        return json.loads(package.read_text("utf-8"))
    except ValueError:
        return None


def build_metadata(db_path: str | Path | None = None) -> dict[str, Any]:
    """The Datasette metadata: metadata.yaml plus the descriptions generated from code.

    With `db_path`, canned queries and dashboard charts whose `requires:` tables or columns the
    database lacks are left out, and a release is titled with its version.
    """
    metadata = copy.deepcopy(_load_yaml())
    schema = _schema(db_path) if db_path is not None else None
    database = metadata["databases"][DATABASE_NAME]
    database["queries"] = _keep_available(database.get("queries", {}), schema)
    dashboards = metadata.get("plugins", {}).get("datasette-dashboards", {})
    for dashboard in dashboards.values():
        dashboard["charts"] = _keep_available(dashboard.get("charts", {}), schema)
        slugs = list(dashboard["charts"])
        metrics = [s for s in slugs if dashboard["charts"][s].get("library") == "metric"]
        others = [s for s in slugs if s not in metrics]
        layout = [metrics[i:i + 4] for i in range(0, len(metrics), 4)]
        layout = [row + [row[-1]] * (4 - len(row)) for row in layout if row]
        for i in range(0, len(others), 2):
            pair = others[i:i + 2]
            layout.append([pair[0], pair[0], pair[-1], pair[-1]])
        dashboard["layout"] = layout
    tables = database["tables"]
    vocabulary = reason_vocabulary_text()

    def columns(table: str) -> dict[str, str]:
        return tables[table].setdefault("columns", {})

    columns("removals")["reason"] = (
        f"Why the post is gone, in memoryhole's one vocabulary. {vocabulary}"
    )
    columns("probes")["reason"] = (
        f"The reason recorded when outcome is removed; NULL otherwise. {vocabulary}"
    )
    for table in ("removals_by_day", "time_to_removal"):
        columns(table)["reason"] = f"The removal's reason (see removals.reason). {vocabulary}"
    for vocab in VOCABULARIES:
        for where in vocab.columns:
            table, column = where.split(".")
            if table in tables:
                columns(table)[column] = f"The {vocab.name}, one of: {vocab.text()}"
    rates = columns("account_removal_rates")
    for reason in REASONS:
        rates[reason] = (
            f"Distinct posts of this account removed with reason {reason}: "
            f"{REASON_DESCRIPTIONS[reason]}"
        )
    if db_path is not None and schema and "platforms" in schema:
        extras = _extra_columns(Path(db_path))
        if extras:
            columns("posts")["extra"] += " Here: " + "; ".join(extras) + "."
        unconfirmed = _unconfirmed_words(Path(db_path))
        if unconfirmed and "removals" in tables:
            columns("removals")["message"] = columns("removals").get("message", "") + (
                " Words no recorded answer of the platform confirms yet (UNCONFIRMED: such a "
                "removal's reason is unknown, its raw page kept as evidence): "
                + "; ".join(unconfirmed) + ".")
    release = _release_info(Path(db_path)) if db_path is not None else None
    if release is not None:
        _describe_release(metadata, release, schema or {})
    return metadata


def _declarations(db_path: Path) -> list[tuple[str, dict]]:
    """(platform, declaration) of every platform the corpus declares, by platform name."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT platform, declaration FROM platforms ORDER BY platform"
                            ).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    declared = []
    for platform, declaration in rows:
        try:
            declared.append((platform, json.loads(declaration)))
        except ValueError:
            continue
    return declared


def _extra_columns(db_path: Path) -> list[str]:
    """`platform: name (description), ...` for every extra post field a platform declares."""
    return [f"{platform}: " + ", ".join(f"{f['name']} ({f['description'].rstrip('.')})"
                                        for f in fields)
            for platform, declaration in _declarations(db_path)
            if (fields := declaration.get("extra_columns") or [])]


def _unconfirmed_words(db_path: Path) -> list[str]:
    """`platform: "words", ...` for every platform's words its declaration marks unconfirmed."""
    return [f"{platform}: " + ", ".join(f'"{w["words"]}"' for w in words)
            for platform, declaration in _declarations(db_path)
            if (words := declaration.get("unconfirmed_words") or [])]


def _describe_release(metadata: dict[str, Any], release: dict[str, Any],
                      schema: dict[str, set[str]]) -> None:
    """Title a served release with its version, and say what de-identification changed."""
    metadata["title"] = f"{release.get('title') or metadata['title']}, version {release.get('version')}"
    metadata["description"] = (
        f"{release.get('description', '')} Released {str(release.get('created', ''))[:10]}. "
        "Account ids, screen names, @mentions and post ids are keyed pseudonyms unless the account "
        "is a public figure (accounts.public_figure); raw responses are not part of a release. "
        + metadata["description"])
    licenses = release.get("licenses") or []
    if licenses:
        metadata["license"] = licenses[0].get("title") or licenses[0].get("name")
        if licenses[0].get("path"):
            metadata["license_url"] = licenses[0]["path"]
    tables = metadata["databases"][DATABASE_NAME]["tables"]
    if "public_figure" in schema.get("accounts", set()):
        tables["accounts"].setdefault("columns", {})["public_figure"] = (
            "1 when a watchlist marks the account as a public figure: its id and name are kept. "
            "Otherwise account_id and screen_name are the account's pseudonym.")


def write_metadata(path: str | Path, db_path: str | Path | None = None) -> Path:
    """Write build_metadata(db_path) to `path` (JSON, or YAML for .yaml/.yml); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = build_metadata(db_path)
    if path.suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(metadata, allow_unicode=True, sort_keys=False, width=100)
    else:
        text = json.dumps(metadata, ensure_ascii=False, indent=2) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _corpus_path(data_dir: str | Path) -> Path:
    db_path = Path(data_dir) / DB_NAME
    if not db_path.is_file():
        raise PublishError(f"no corpus in {data_dir}; run memoryhole crawl first")
    return db_path


def _checkpoint(db_path: Path) -> None:
    """Fold the WAL into the database file: an immutable open ignores the WAL."""
    try:
        conn = sqlite3.connect(db_path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise PublishError(f"{db_path}: cannot checkpoint the corpus before serving it "
                           f"immutable ({exc}); stop any running crawl and retry") from None


def is_release(data_dir: str | Path) -> bool:
    """Whether `data_dir` holds a release written by `memoryhole release` (served as published)."""
    return _release_info(Path(data_dir) / DB_NAME) is not None


def create_page_indexes(conn: sqlite3.Connection) -> list[str]:
    """Create the PAGE_INDEXES the database lacks (skipping tables or columns it does not have);
    return the names created."""
    made = []
    for name, table, columns in PAGE_INDEXES:
        have = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
                              [name]).fetchone()
        if not exists and have and set(columns) <= have:
            conn.execute(f'CREATE INDEX "{name}" ON "{table}" ({", ".join(columns)})')
            made.append(name)
    return made


def prepare(data_dir: str | Path) -> Path:
    """Make a working corpus ready to serve: schema current, full-text index up to date, the
    indexes its pages need in place.

    A release is left untouched. Returns the database path. Raises PublishError.
    """
    db_path = _corpus_path(data_dir)
    if is_release(data_dir):
        return db_path
    from memoryhole.analysis.fts import default_segmenter
    from memoryhole.analysis.search_indexes import update_indexes
    from memoryhole.analysis.sql import transaction
    from memoryhole.corpus.store import Corpus, CorpusError, retry_while_locked

    try:
        corpus = Corpus(data_dir, create=False)
    except CorpusError as exc:
        raise PublishError(str(exc)) from None
    # The analysis's default segmenter for DATA: the index then shares post_tokens' words.
    segmenter = default_segmenter(data_dir)

    def update() -> None:
        with transaction(corpus.db.conn) as conn:
            create_page_indexes(conn)
            update_indexes(conn, segmenter)

    try:
        # One transaction, retried whole while a crawl or `analyze` holds the corpus.
        retry_while_locked(update)
    except sqlite3.Error as exc:
        raise PublishError(f"{db_path}: cannot update the full-text index ({exc}); stop any "
                           "running crawl and retry") from None
    finally:
        corpus.close()
    return db_path


def datasette_settings() -> dict[str, int | bool]:
    return {"sql_time_limit_ms": SQL_TIME_LIMIT_MS, "facet_time_limit_ms": FACET_TIME_LIMIT_MS,
            "suggest_facets": SUGGEST_FACETS}


def make_datasette(data_dir: str | Path, immutable: bool = False):
    """An in-process Datasette configured exactly as `serve_argv()` configures the server."""
    from datasette.app import Datasette

    db_path = prepare(data_dir)
    files = [] if immutable or is_release(data_dir) else [str(db_path)]
    immutables = [str(db_path)] if not files else []
    return Datasette(files, immutables=immutables, metadata=build_metadata(db_path),
                     plugins_dir=str(PLUGINS_DIR), template_dir=str(TEMPLATES_DIR),
                     settings=datasette_settings())


def serve_argv(data_dir: str | Path, host: str = "127.0.0.1", port: int = 8001,
               immutable: bool = False) -> list[str]:
    """The command line serving DATA/corpus.db as Datasette database `corpus`.

    Updates the full-text index and writes the metadata to DATA/datasette/metadata.json first.
    With `immutable`, the corpus is opened read-only with -i (faster, counts cached); its WAL
    is checkpointed first so the server sees every committed row. A release directory is always
    served immutable and never written to. Raises PublishError when DATA/corpus.db does not
    exist.
    """
    db_path = prepare(data_dir)
    if is_release(data_dir):
        immutable = True
        metadata_dir = Path(tempfile.mkdtemp(prefix="memoryhole-datasette-"))
    else:
        metadata_dir = Path(data_dir) / METADATA_DIR
    metadata_path = write_metadata(metadata_dir / METADATA_FILE, db_path)
    if immutable and not is_release(data_dir):
        _checkpoint(db_path)
    database = ["-i", str(db_path)] if immutable else [str(db_path)]
    settings = [arg for name, value in datasette_settings().items()
                for arg in ("--setting", name, _setting_text(value))]
    return [
        sys.executable, "-m", "datasette", "serve", *database,
        "--metadata", str(metadata_path),
        "--plugins-dir", str(PLUGINS_DIR),
        "--template-dir", str(TEMPLATES_DIR),
        "--host", host, "--port", str(port),
        *settings,
    ]


def _setting_text(value: int | bool) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def serve(data_dir: str | Path, host: str = "127.0.0.1", port: int = 8001,
          immutable: bool = False) -> int:
    """Run Datasette on the corpus until it exits; return its exit code.

    SIGTERM and SIGINT sent to this process are handed to Datasette (in its own process group, so
    a terminal's Ctrl-C reaches it once, through us), which then shuts down; we wait for it, and
    kill it if it is still there STOP_GRACE seconds later. No server outlives the command.
    """
    process = subprocess.Popen(serve_argv(data_dir, host, port, immutable), process_group=0)
    stop_asked: list[float] = []

    def forward(signum: int, _frame: Any) -> None:
        stop_asked.append(time.monotonic())
        if process.poll() is None:
            process.send_signal(signum)

    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)} if main \
        else {}
    try:
        while True:
            try:
                code = process.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stop_asked and time.monotonic() - stop_asked[0] > STOP_GRACE:
                    process.kill()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if process.poll() is None:   # we are leaving for another reason: take the server along
            process.kill()
            process.wait()
    # Stopped because we were asked to: a clean exit, not the signal's number.
    return 0 if stop_asked and code in (0, -signal.SIGTERM, -signal.SIGINT) else code
