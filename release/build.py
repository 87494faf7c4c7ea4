"""`build_release`: every file written in a staging directory, the leak scan, then the rename."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from memoryhole.corpus.deid import DeidError, LeakScanner, Matcher, Pseudonymiser, Redactor, load_key
from memoryhole.corpus.store import DB_NAME, Corpus

from .authors import load_config, release_authors
from .citation import citation_cff, validate_citation
from .columns import frictionless_type, quote
from .context import ReleaseContext
from .csv_files import csv_bytes
from .database import create_release_db
from .datapackage import datapackage_json, sha256_hex
from .datasheet import datasheet_md
from .identities import (
    Transformer,
    extra_declarations,
    identities_to_pseudonymise,
    post_ids_to_pseudonymise,
)
from .options import (
    CONFIG_FILE,
    DATA_DIR,
    RELEASE_DB,
    VERSION_PATTERN,
    ReleaseError,
    ReleaseOptions,
    ReleaseReport,
)
from .source import connect_read_only, latest_plans, public_figures, release_date, table_names
from .zenodo import zenodo_json


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build_release(data_dir: str | Path, out_dir: str | Path, options: ReleaseOptions
                  ) -> ReleaseReport:
    """Write a release of the corpus in `data_dir` to `out_dir` (new or empty); see the module."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not VERSION_PATTERN.match(options.version or ""):
        raise ReleaseError(f"--version {options.version!r}: use letters, digits, '.', '-', '+' "
                           "and '_' (e.g. 1.0.0)")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ReleaseError(f"{out_dir}: exists and is not an empty directory; a release is "
                           "written to a new directory")
    key: bytes | None = None
    if options.pseudonymise:
        if options.key_file is None:
            raise ReleaseError("--key FILE is required: pseudonyms are keyed (or pass "
                               "--no-pseudonyms to publish raw account ids and names)")
        try:
            key = load_key(options.key_file)
        except DeidError as exc:
            raise ReleaseError(str(exc)) from None
    config = load_config(data_dir)
    authors = release_authors(config, options, data_dir)

    Corpus(data_dir, create=False).close()   # exists, and its schema is current
    src = connect_read_only(data_dir / DB_NAME)
    staging = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        tables = table_names(src)
        platforms = [r[0] for r in src.execute(
            "SELECT DISTINCT platform FROM crawls ORDER BY platform")]
        default_platform = platforms[0] if platforms else ""
        released_at = release_date(src)
        plans = latest_plans(src)
        figures = public_figures(plans)
        redactor = None
        matcher = Matcher({})
        authors_by_post = {(r[0], r[1]): str(r[2]) for r in src.execute(
            "SELECT platform, post_id, account_id FROM posts")} if "posts" in tables else {}
        if key is not None:
            identities = identities_to_pseudonymise(src, tables, platforms, figures)
            posts = post_ids_to_pseudonymise(src, tables, default_platform, authors_by_post)
            redactor = Redactor(Pseudonymiser(key), identities, default_platform, posts)
            matcher = redactor.matcher
        transformer = Transformer(redactor, options.include_text, authors_by_post,
                                  default_platform, extra_declarations(src))
        staging.mkdir(parents=True)
        made = create_release_db(src, staging / RELEASE_DB, tables, transformer,
                                  figures if redactor else None, options.include_text)
        csv_numeric: dict[str, set[str]] = {}
        resources = []
        out = sqlite3.connect(f"file:{staging / RELEASE_DB}?mode=ro", uri=True)
        try:
            for table in made:
                names = [c[0] for c in table.columns]
                order = ", ".join(quote(p) for p in table.primary_key) or "rowid"
                rows = out.execute(f"SELECT {', '.join(quote(n) for n in names)} "
                                   f"FROM {quote(table.name)} ORDER BY {order}")
                data = csv_bytes(names, rows)
                rel = f"{DATA_DIR}/{table.name}.csv"
                _write(staging / rel, data)
                fields = [{"name": n, "type": frictionless_type(n, t)}
                          for n, t, _ in table.columns]
                csv_numeric[rel] = {f["name"] for f in fields
                                    if f["type"] in ("integer", "number")}
                resources.append((table, rel, data, fields))
        finally:
            out.close()
        context = ReleaseContext(src, options, config, authors, released_at, plans, figures,
                           made, redactor is not None, tables)
        _write(staging / "datapackage.json", datapackage_json(context, resources))
        citation = citation_cff(context)
        problems = validate_citation(citation)
        if problems:
            raise ReleaseError("CITATION.cff would not validate against the CFF 1.2.0 schema: "
                               + "; ".join(problems) + f" (check {data_dir / CONFIG_FILE})")
        _write(staging / "CITATION.cff", citation)
        _write(staging / ".zenodo.json", zenodo_json(context))
        _write(staging / "DATASHEET.md", datasheet_md(context))
        files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*")
                       if p.is_file())
        sums = "".join(f"{sha256_hex((staging / f).read_bytes())}  {f}\n" for f in files)
        _write(staging / "SHA256SUMS", sums.encode("utf-8"))
        files.append("SHA256SUMS")

        leaks = LeakScanner(matcher, key).scan(staging, csv_numeric) if key is not None else []
        if leaks:
            listed = "\n".join(f"  {leak}" for leak in leaks[:20])
            more = f"\n  ... and {len(leaks) - 20} more" if len(leaks) > 20 else ""
            raise ReleaseError(f"leak scan failed: {len(leaks)} raw identifier(s) of "
                               f"pseudonymised accounts or posts in the release; nothing was "
                               f"written to {out_dir}\n{listed}{more}")
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
        return ReleaseReport(out_dir, sorted(files), {t.name: t.rows for t in made})
    finally:
        src.close()
        if staging.exists():
            shutil.rmtree(staging)
