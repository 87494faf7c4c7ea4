"""Publish a corpus with Datasette 0.65.

`metadata.yaml` next to this module holds the hand-written descriptions; `build_metadata()` adds
what must come from code (the reason vocabulary, from corpus.reasons, so it is written in exactly
one place). `serve_argv()` writes that metadata into the data directory and returns the command
line that serves DATA/corpus.db as the Datasette database `corpus`; `serve()` runs it.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from corpus.reasons import REASON_DESCRIPTIONS, REASONS
from corpus.store import DB_NAME

METADATA_YAML = Path(__file__).with_name("metadata.yaml")
DATABASE_NAME = Path(DB_NAME).stem  # Datasette names a database after its file: corpus.db -> corpus
METADATA_DIR = "datasette"
METADATA_FILE = "metadata.json"
SQL_TIME_LIMIT_MS = 3500
FACET_TIME_LIMIT_MS = 1000  # default facets on removals must survive a large corpus


class PublishError(Exception):
    """The corpus cannot be published; the message names the path and the fix."""


@cache
def _load_yaml() -> dict[str, Any]:
    with METADATA_YAML.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def reason_vocabulary_text() -> str:
    """The reason vocabulary as one plain-text description, from corpus.reasons."""
    return " ".join(f"{reason}: {REASON_DESCRIPTIONS[reason]}" for reason in REASONS)


def build_metadata() -> dict[str, Any]:
    """The Datasette metadata: metadata.yaml plus the descriptions generated from code."""
    metadata = copy.deepcopy(_load_yaml())
    tables = metadata["databases"][DATABASE_NAME]["tables"]
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
    rates = columns("account_removal_rates")
    for reason in REASONS:
        rates[reason] = (
            f"Distinct posts of this account removed with reason {reason}: "
            f"{REASON_DESCRIPTIONS[reason]}"
        )
    return metadata


def write_metadata(path: str | Path) -> Path:
    """Write build_metadata() to `path` (JSON, or YAML for .yaml/.yml); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = build_metadata()
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


def serve_argv(data_dir: str | Path, host: str = "127.0.0.1", port: int = 8001,
               immutable: bool = False) -> list[str]:
    """The command line serving DATA/corpus.db as Datasette database `corpus`.

    Writes the metadata to DATA/datasette/metadata.json first. With `immutable`, the corpus is
    opened read-only with -i (faster, counts cached); its WAL is checkpointed first so the
    server sees every committed row. Raises PublishError when DATA/corpus.db does not exist.
    """
    db_path = _corpus_path(data_dir)
    metadata_path = write_metadata(Path(data_dir) / METADATA_DIR / METADATA_FILE)
    if immutable:
        _checkpoint(db_path)
    database = ["-i", str(db_path)] if immutable else [str(db_path)]
    return [
        sys.executable, "-m", "datasette", "serve", *database,
        "--metadata", str(metadata_path),
        "--host", host, "--port", str(port),
        "--setting", "sql_time_limit_ms", str(SQL_TIME_LIMIT_MS),
        "--setting", "facet_time_limit_ms", str(FACET_TIME_LIMIT_MS),
    ]


def serve(data_dir: str | Path, host: str = "127.0.0.1", port: int = 8001,
          immutable: bool = False) -> int:
    """Run Datasette on the corpus until it exits; return its exit code.

    Ctrl-C reaches Datasette too (same process group); we wait for it to shut down cleanly.
    """
    process = subprocess.Popen(serve_argv(data_dir, host, port, immutable))
    try:
        return process.wait()
    except KeyboardInterrupt:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode
