"""The release's SQLite copy: public tables and columns only, rows transformed and in key order,
the full-text index, vacuumed with a fixed page size."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .columns import column_policy, quote
from .identities import Transformer
from .source import table_columns

PAGE_SIZE = 4096


@dataclass
class ReleasedTable:
    name: str
    columns: list[tuple[str, str, str]]   # (name, declared type, policy)
    primary_key: list[str]
    rows: int = 0


def create_release_db(src: sqlite3.Connection, path: Path, tables: list[str],
                       transformer: Transformer, public: set[tuple[str, str]] | None,
                       include_text: bool) -> list[ReleasedTable]:
    dst = sqlite3.connect(path, isolation_level=None)
    made: list[ReleasedTable] = []
    try:
        dst.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        dst.execute("PRAGMA journal_mode = DELETE")
        dst.execute("BEGIN")
        for table in tables:
            info = table_columns(src, table)
            kept = [(c["name"], c["type"] or "", column_policy(c["name"], c["type"] or ""))
                    for c in info]
            kept = [c for c in kept if c[2] != "drop"]
            if not kept:
                continue
            pk = [c["name"] for c in sorted(info, key=lambda c: c["pk"]) if c["pk"]]
            kept_names = [c[0] for c in kept]
            extra: list[tuple[str, str, str]] = []
            if table == "accounts" and public is not None:
                extra = [("public_figure", "INTEGER", "keep")]
            defs = [f"{quote(n)} {t}".rstrip() for n, t, _ in kept + extra]
            if pk and all(p in kept_names for p in pk):
                defs.append(f"PRIMARY KEY ({', '.join(quote(p) for p in pk)})")
            else:
                pk = []
            dst.execute(f"CREATE TABLE {quote(table)} (\n    " + ",\n    ".join(defs) + "\n)")
            order = ", ".join(quote(p) for p in pk) if pk else "rowid"
            select = ", ".join(quote(c["name"]) for c in info)
            placeholders = ", ".join("?" for _ in kept + extra)
            columns = [(n, p) for n, _, p in kept]
            batch = []
            count = 0
            for row in src.execute(f"SELECT {select} FROM {quote(table)} ORDER BY {order}"):
                values = transformer.row(columns, row)
                if extra:
                    values.append(int((row["platform"], str(row["account_id"])) in public))
                batch.append(values)
                count += 1
                if len(batch) >= 5000:
                    dst.executemany(f"INSERT INTO {quote(table)} VALUES ({placeholders})", batch)
                    batch = []
            dst.executemany(f"INSERT INTO {quote(table)} VALUES ({placeholders})", batch)
            made.append(ReleasedTable(table, kept + extra, pk, count))
            _copy_indexes(src, dst, table, set(kept_names))
        if include_text and any(t.name == "posts" for t in made):
            from memoryhole.analysis.search_indexes import update_indexes

            update_indexes(dst)
        from memoryhole.analysis.publish import create_page_indexes

        create_page_indexes(dst)   # the default sorts and facets of the served release
        dst.execute("COMMIT")
        dst.execute("VACUUM")
    finally:
        dst.close()
    return made


def _copy_indexes(src: sqlite3.Connection, dst: sqlite3.Connection, table: str,
                  kept: set[str]) -> None:
    for index in src.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL ORDER BY name", [table]).fetchall():
        if " WHERE " in index["sql"].upper():
            continue  # partial indexes encode the crawler's bookkeeping
        cols = [r["name"] for r in src.execute(f"PRAGMA index_info({quote(index['name'])})")]
        if cols and all(c in kept for c in cols):
            dst.execute(index["sql"])
