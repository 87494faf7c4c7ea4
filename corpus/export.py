"""Exports as JSON lines or CSV, to any text stream (the CLI writes to stdout so they compose)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import TextIO

import sqlite_utils

REMOVAL_COLUMNS = (
    "platform", "post_id", "account_id", "reason", "message", "last_seen_at", "first_missing_at",
    "confirmed_at", "probes", "restored_at", "probe_id", "detected_crawl_id",
)
FORMATS = ("jsonl", "csv")


def removal_rows(db: sqlite_utils.Database) -> Iterator[dict]:
    """Every removal, in detection order. `confirmed_at` is set once a later probe agreed,
    `probes` counts the probes that said removed, restored ones carry `restored_at`, and
    `last_seen_at` is empty for an original known only from a repost's tombstone."""
    columns = ", ".join(REMOVAL_COLUMNS)
    yield from db.query(f"SELECT {columns} FROM removals ORDER BY id")


def write_rows(rows: Iterator[dict], columns: tuple[str, ...], fmt: str, out: TextIO) -> int:
    """Write rows as `jsonl` or `csv`; returns how many were written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    else:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count
