"""`memoryhole release`: a versioned, de-identified, byte-reproducible dataset a paper can cite.

    OUT/
      corpus.db            de-identified SQLite (the public tables, and posts_fts when text is in)
      data/<table>.csv     one CSV per public table (UTF-8, header row, empty field = NULL)
      datapackage.json     Frictionless data package: every CSV with its schema and sha256
      CITATION.cff         type: dataset, version, date, authors
      .zenodo.json         upload_type: dataset
      DATASHEET.md         a datasheet for the dataset: motivation, collection, vocabulary, biases
      SHA256SUMS           sha256 of every other file (`sha256sum -c SHA256SUMS`)

Reproducible: two releases of the same corpus with the same version, key and options are byte
for byte identical. Nothing depends on the clock or on the machine: the release date is the UTC
date the corpus's last crawl ended, rows go in primary-key order, the SQLite file is written with
a fixed page size and vacuumed, JSON and YAML keys are in a fixed order.

De-identified (memoryhole.corpus.deid): account ids, screen names and @mentions become keyed pseudonyms,
post ids too (a post id leads back to its author); accounts a watchlist marks `public_figures`
keep their ids and names. Raw responses, WARC references, request URLs, cursors and local paths
never enter a release. Post ids written in text (`mid 5076…`, in a URL) are pseudonymised there too.
A leak scan reads every file of the finished release and fails it (nothing is left at OUT) if a raw
id or screen name of a pseudonymised account, a raw post id of theirs, or the key, appears.

Authors and wording come from `--author` options or DATA/release.yaml:

    title: Removals of public Weibo posts, 2026
    description: ...
    authors:
      - {family-names: Doe, given-names: Jane, orcid: https://orcid.org/0000-0002-1825-0097}
      - {name: Some Lab}
    license: CC-BY-4.0
    keywords: [censorship, Weibo]
    repository: https://example.org/where-the-release-is-archived
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from memoryhole.corpus.deid import (
    DeidError,
    Identity,
    Leak,
    LeakScanner,
    Matcher,
    Pseudonymiser,
    Redactor,
    load_key,
)
from memoryhole.corpus.provenance import software_version
from memoryhole.corpus.reasons import REASON_DESCRIPTIONS, REASONS
from memoryhole.corpus.store import DB_NAME, Corpus
from memoryhole.corpus.vocabulary import VOCABULARIES

RELEASE_DB = DB_NAME               # `memoryhole serve --data OUT` serves a release as is
DATA_DIR = "data"
CONFIG_FILE = "release.yaml"
PAGE_SIZE = 4096
DEFAULT_LICENSE = "CC-BY-4.0"
LICENSE_URLS = {"CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
                "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
                "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/"}
CFF_SCHEMA = Path(__file__).parent / "schemas" / "cff-1.2.0.json"

# Never published: raw evidence, local paths, request URLs (they embed account ids), cursors and
# order keys (they are post ids), hashes of raw content.
DROP_COLUMNS = frozenset({
    "url", "plan_path", "stats_json", "response_headers", "response_body", "bid", "order_key",
    "newest_key", "oldest_key", "cursor", "next_cursor", "content_hash", "text_sha256",
    "text_hash", "tokens",      # derived from raw text: recompute from the released text instead
})
# Tables derived word by word from raw text (identifiers split into words escape redaction).
DROP_TABLES = frozenset({"post_tokens"})
KEEP_TEXT_COLUMNS = frozenset({"base_url"})
ACCOUNT_KEYS = frozenset({"account_id", "uid", "user_id"})
ACCOUNT_LIST_KEYS = frozenset({"accounts", "public_figures"})
POST_KEYS = frozenset({"post_id", "repost_of", "mid"})
SCREEN_NAME_KEYS = frozenset({"screen_name"})
TEXT_KEYS = frozenset({"text", "full_text", "raw_text"})
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")


class ReleaseError(Exception):
    """The release cannot be made; the message names the input and the fix."""


@dataclass(frozen=True)
class ReleaseOptions:
    version: str
    key_file: Path | None = None
    pseudonymise: bool = True          # False only when the researcher says so (--no-pseudonyms)
    include_text: bool = True
    authors: tuple[str, ...] = ()      # "Family, Given" or an organisation; overrides release.yaml


@dataclass
class ReleaseReport:
    out_dir: Path
    files: list[str]
    tables: dict[str, int]
    leaks: list[Leak] = field(default_factory=list)


# -- column policies ----------------------------------------------------------------------------


def column_policy(name: str, declared_type: str = "") -> str:
    """What a release does with a column: drop, account, post, screen_name, text, keep or free.

    `free` text is redacted (URLs, @mentions, raw ids and names) and walked when it is JSON.
    """
    name = name.lower()
    if (name in DROP_COLUMNS or name.startswith("warc_") or name.endswith("_path")
            or (name.endswith("_url") and name not in KEEP_TEXT_COLUMNS)
            or "BLOB" in declared_type.upper()):
        return "drop"
    if name in KEEP_TEXT_COLUMNS:
        return "keep"
    if name in ACCOUNT_KEYS or name.endswith("_account_id"):
        return "account"
    if name in POST_KEYS or name.endswith("_post_id"):
        return "post"
    if name in SCREEN_NAME_KEYS or name.endswith("_screen_name"):
        return "screen_name"
    if name in TEXT_KEYS or name.endswith("_text") and "INT" not in declared_type.upper():
        return "text"
    return "free"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- reading the corpus -------------------------------------------------------------------------


def _connect_ro(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def _tables(conn: sqlite3.Connection) -> list[str]:
    """The corpus's public tables: every real table except SQLite's, FTS indexes and their state."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    virtual = [r["name"] for r in rows if (r["sql"] or "").upper().startswith("CREATE VIRTUAL")]
    from memoryhole.analysis.fts import STATE_TABLE

    names = []
    for r in rows:
        name = r["name"]
        if (name.startswith("sqlite_") or name in virtual or name == STATE_TABLE
                or name in DROP_TABLES
                or any(name.startswith(v + "_") for v in virtual)):
            continue
        names.append(name)
    return sorted(names)


def _columns(conn: sqlite3.Connection, table: str) -> list[sqlite3.Row]:
    return conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()


def _latest_plans(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """The plan of each platform's latest crawl (public_figures and watchlists come from it)."""
    plans: dict[str, dict[str, Any]] = {}
    for row in conn.execute("SELECT platform, plan_json FROM crawls ORDER BY id"):
        try:
            plan = json.loads(row["plan_json"] or "{}")
        except ValueError:
            continue
        if isinstance(plan, dict):
            plans[row["platform"]] = plan
    return plans


def public_figures(plans: dict[str, dict[str, Any]]) -> set[tuple[str, str]]:
    """(platform, account_id) of every account the latest plans mark as a public figure."""
    marked = set()
    for platform, plan in plans.items():
        for watchlist in plan.get("watchlists") or []:
            for account in (watchlist or {}).get("public_figures") or []:
                marked.add((platform, str(account)))
    return marked


def _identities(conn: sqlite3.Connection, tables: list[str], platforms: list[str],
                figures: set[tuple[str, str]]) -> list[Identity]:
    """Every account the corpus knows of (any account column of any table), with its names."""
    default = platforms[0] if platforms else "weibo"
    names: dict[tuple[str, str], set[str]] = {}
    for table in tables:
        cols = {c["name"] for c in _columns(conn, table)}
        has_platform = "platform" in cols
        for col in sorted(cols):
            policy = column_policy(col)
            if policy not in ("account", "screen_name"):
                continue
            if policy == "screen_name" and "account_id" not in cols:
                continue
            platform_sql = "platform" if has_platform else "NULL"
            if policy == "account":
                sql = f"SELECT DISTINCT {platform_sql}, {_quote(col)}, NULL FROM {_quote(table)}"
            else:
                sql = (f"SELECT DISTINCT {platform_sql}, account_id, {_quote(col)} "
                       f"FROM {_quote(table)}")
            for platform, account_id, name in conn.execute(sql):
                if account_id is None or account_id == "":
                    continue
                entry = names.setdefault((platform or default, str(account_id)), set())
                if name:
                    entry.add(str(name))
    for platform, plan in _latest_plans(conn).items():
        for watchlist in plan.get("watchlists") or []:
            for account in (watchlist or {}).get("accounts") or []:
                names.setdefault((platform, str(account)), set())
    return [Identity(platform, account_id, tuple(sorted(n)), (platform, account_id) in figures)
            for (platform, account_id), n in sorted(names.items())]


def _post_ids(conn: sqlite3.Connection, tables: list[str], default: str,
              authors: dict[tuple[str, str], str]) -> list[tuple[str, ...]]:
    """(platform, post_id, author or None, bid or None) of every post id the corpus holds in any
    post column (posts, reposts' originals known from tombstones, sightings via reposts, ...)."""
    ids: set[tuple[str, str]] = set()
    for table in tables:
        cols = {c["name"] for c in _columns(conn, table)}
        platform_sql = "platform" if "platform" in cols else "NULL"
        for col in sorted(cols):
            if column_policy(col) != "post":
                continue
            for platform, post_id in conn.execute(
                    f"SELECT DISTINCT {platform_sql}, {_quote(col)} FROM {_quote(table)} "
                    f"WHERE {_quote(col)} IS NOT NULL AND {_quote(col)} != ''"):
                ids.add((platform or default, str(post_id)))
    bids = {(r[0], r[1]): r[2] for r in conn.execute(
        "SELECT platform, post_id, bid FROM posts WHERE bid IS NOT NULL")} \
        if "bid" in {c["name"] for c in _columns(conn, "posts")} else {}
    return [(platform, post_id, authors.get((platform, post_id)), bids.get((platform, post_id)))
            for platform, post_id in sorted(ids)]


# -- transforming rows --------------------------------------------------------------------------


class Transformer:
    """Applies the column policies to rows, with a Redactor (or none: --no-pseudonyms)."""

    def __init__(self, redactor: Redactor | None, include_text: bool,
                 authors: dict[tuple[str, str], str], default_platform: str) -> None:
        self.redactor = redactor
        self.include_text = include_text
        self.authors = authors
        self.default_platform = default_platform

    def _free(self, value: str, platform: str) -> str:
        stripped = value.lstrip()
        if stripped[:1] in ("{", "[") and len(stripped) > 1:
            try:
                document = json.loads(value)
            except ValueError:
                pass
            else:
                walked = self._json(document, platform, None)
                return json.dumps(walked, ensure_ascii=False, sort_keys=True)
        return self.redactor.text(value, platform) if self.redactor else value

    def _json(self, node: Any, platform: str, key: str | None) -> Any:
        policy = column_policy(key) if key else "free"
        if isinstance(node, dict):
            node_platform = node.get("platform") if isinstance(node.get("platform"), str) \
                else platform
            out = {}
            for k, v in node.items():
                if column_policy(k) == "text" and not self.include_text:
                    continue
                if column_policy(k) == "drop":
                    continue
                new_key = self.redactor.text(str(k), node_platform) if self.redactor else k
                out[new_key] = self._json(v, node_platform, k)
            return out
        if isinstance(node, list):
            if key in ACCOUNT_LIST_KEYS:
                return [self._value("account", v, platform, None) for v in node]
            return [self._json(v, platform, key) for v in node]
        if isinstance(node, str | int) and not isinstance(node, bool) and policy in (
                "account", "post", "screen_name"):
            return self._value(policy, str(node), platform, None)
        if isinstance(node, str):
            if policy == "keep":
                return node
            if policy == "text":
                return self._value("text", node, platform, None)
            return self._value("free", node, platform, None)
        return node

    def _value(self, policy: str, value: Any, platform: str, account: str | None) -> Any:
        if value is None or policy == "keep":
            return value
        if policy == "text" and not self.include_text:
            return None
        if not isinstance(value, str) or self.redactor is None:
            return value
        r = self.redactor
        if policy == "account":
            return r.account(platform, value)
        if policy == "post":
            author = self.authors.get((platform, value), account)
            return r.post(platform, value, author)
        if policy == "screen_name":
            if account is not None:
                return value if r.is_public(platform, account) else r.account(platform, account)
            replaced = r.text(value, platform)
            return replaced if replaced != value or value in r.kept_names \
                else r.pseudo.mention(platform, value)
        if policy == "text":
            return r.text(value, platform)
        return self._free(value, platform)

    def row(self, columns: list[tuple[str, str]], row: sqlite3.Row) -> list[Any]:
        keys = row.keys()
        platform = row["platform"] if "platform" in keys and row["platform"] \
            else self.default_platform
        account = str(row["account_id"]) if "account_id" in keys and row["account_id"] else None
        return [self._value(policy, row[name], platform, account) for name, policy in columns]


# -- writing ------------------------------------------------------------------------------------


def _release_date(conn: sqlite3.Connection) -> str:
    """The UTC date (and time) the corpus's last crawl ended: the release's date, not the clock's."""
    row = conn.execute("SELECT MAX(COALESCE(ended_at, started_at)) FROM crawls").fetchone()
    if not row or not row[0]:
        raise ReleaseError("the corpus has no crawls; run `memoryhole crawl` before releasing")
    return row[0]


def _load_config(data_dir: Path) -> dict[str, Any]:
    path = data_dir / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        config = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ReleaseError(f"{path}: cannot read it as YAML ({exc})") from None
    if not isinstance(config, dict):
        raise ReleaseError(f"{path}: must be a mapping (title, description, authors, ...)")
    unknown = set(config) - {"title", "description", "authors", "license", "keywords",
                             "repository", "contact"}
    if unknown:
        raise ReleaseError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    return config


def _author_from_option(text: str) -> dict[str, str]:
    if "," in text:
        family, given = (part.strip() for part in text.split(",", 1))
        if family and given:
            return {"family-names": family, "given-names": given}
    return {"name": text.strip()}


def _authors(config: dict[str, Any], options: ReleaseOptions, data_dir: Path) -> list[dict]:
    if options.authors:
        return [_author_from_option(a) for a in options.authors if a.strip()]
    authors = config.get("authors") or []
    if not authors:
        raise ReleaseError(f"no authors: give --author 'Family, Given' (repeatable) or list "
                           f"authors in {data_dir / CONFIG_FILE}")
    out = []
    allowed = {"family-names", "given-names", "name", "orcid", "affiliation", "email"}
    for i, author in enumerate(authors):
        if isinstance(author, str):
            out.append(_author_from_option(author))
            continue
        if not isinstance(author, dict) or not ({"family-names", "name"} & set(author)):
            raise ReleaseError(f"{data_dir / CONFIG_FILE}: authors[{i}] needs family-names "
                               "(a person) or name (an organisation)")
        bad = set(author) - allowed
        if bad:
            raise ReleaseError(f"{data_dir / CONFIG_FILE}: authors[{i}]: unknown key(s) "
                               f"{', '.join(sorted(bad))}")
        out.append({k: str(author[k]) for k in sorted(author, key=_author_key_order)})
    return out


def _author_key_order(key: str) -> int:
    order = ["family-names", "given-names", "name", "affiliation", "orcid", "email"]
    return order.index(key) if key in order else len(order)


def _frictionless_type(name: str, declared: str) -> str:
    declared = declared.upper()
    if "INT" in declared:
        return "integer"
    if any(t in declared for t in ("REAL", "FLOA", "DOUB", "NUM")):
        return "number"
    if name.endswith("_at"):
        return "datetime"       # corpus times: UTC ISO 8601 (memoryhole.corpus.clock)
    return "string"


def _csv_text(columns: list[str], rows: Iterable[tuple]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else _csv_value(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def _csv_value(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _thousands(n: int) -> str:
    return f"{n:,}"


@dataclass
class _Table:
    name: str
    columns: list[tuple[str, str, str]]   # (name, declared type, policy)
    primary_key: list[str]
    rows: int = 0


def _create_release_db(src: sqlite3.Connection, path: Path, tables: list[str],
                       transformer: Transformer, public: set[tuple[str, str]] | None,
                       include_text: bool) -> list[_Table]:
    dst = sqlite3.connect(path, isolation_level=None)
    made: list[_Table] = []
    try:
        dst.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        dst.execute("PRAGMA journal_mode = DELETE")
        dst.execute("BEGIN")
        for table in tables:
            info = _columns(src, table)
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
            defs = [f"{_quote(n)} {t}".rstrip() for n, t, _ in kept + extra]
            if pk and all(p in kept_names for p in pk):
                defs.append(f"PRIMARY KEY ({', '.join(_quote(p) for p in pk)})")
            else:
                pk = []
            dst.execute(f"CREATE TABLE {_quote(table)} (\n    " + ",\n    ".join(defs) + "\n)")
            order = ", ".join(_quote(p) for p in pk) if pk else "rowid"
            select = ", ".join(_quote(c["name"]) for c in info)
            placeholders = ", ".join("?" for _ in kept + extra)
            columns = [(n, p) for n, _, p in kept]
            batch = []
            count = 0
            for row in src.execute(f"SELECT {select} FROM {_quote(table)} ORDER BY {order}"):
                values = transformer.row(columns, row)
                if extra:
                    values.append(int((row["platform"], str(row["account_id"])) in public))
                batch.append(values)
                count += 1
                if len(batch) >= 5000:
                    dst.executemany(f"INSERT INTO {_quote(table)} VALUES ({placeholders})", batch)
                    batch = []
            dst.executemany(f"INSERT INTO {_quote(table)} VALUES ({placeholders})", batch)
            made.append(_Table(table, kept + extra, pk, count))
            _copy_indexes(src, dst, table, set(kept_names))
        if include_text and any(t.name == "posts" for t in made):
            from memoryhole.analysis.fts import update_index

            update_index(dst)
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
        cols = [r["name"] for r in src.execute(f"PRAGMA index_info({_quote(index['name'])})")]
        if cols and all(c in kept for c in cols):
            dst.execute(index["sql"])


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build_release(data_dir: str | Path, out_dir: str | Path, options: ReleaseOptions
                  ) -> ReleaseReport:
    """Write a release of the corpus in `data_dir` to `out_dir` (new or empty); see the module."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not _VERSION.match(options.version or ""):
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
    config = _load_config(data_dir)
    authors = _authors(config, options, data_dir)

    Corpus(data_dir, create=False).close()   # exists, and its schema is current
    src = _connect_ro(data_dir / DB_NAME)
    staging = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        tables = _tables(src)
        platforms = [r[0] for r in src.execute(
            "SELECT DISTINCT platform FROM crawls ORDER BY platform")]
        default_platform = platforms[0] if platforms else "weibo"
        released_at = _release_date(src)
        plans = _latest_plans(src)
        figures = public_figures(plans)
        redactor = None
        matcher = Matcher({})
        authors_by_post = {(r[0], r[1]): str(r[2]) for r in src.execute(
            "SELECT platform, post_id, account_id FROM posts")} if "posts" in tables else {}
        if key is not None:
            identities = _identities(src, tables, platforms, figures)
            posts = _post_ids(src, tables, default_platform, authors_by_post)
            redactor = Redactor(Pseudonymiser(key), identities, default_platform, posts)
            matcher = redactor.matcher
        transformer = Transformer(redactor, options.include_text, authors_by_post,
                                  default_platform)
        staging.mkdir(parents=True)
        made = _create_release_db(src, staging / RELEASE_DB, tables, transformer,
                                  figures if redactor else None, options.include_text)
        csv_numeric: dict[str, set[str]] = {}
        resources = []
        out = sqlite3.connect(f"file:{staging / RELEASE_DB}?mode=ro", uri=True)
        try:
            for table in made:
                names = [c[0] for c in table.columns]
                order = ", ".join(_quote(p) for p in table.primary_key) or "rowid"
                rows = out.execute(f"SELECT {', '.join(_quote(n) for n in names)} "
                                   f"FROM {_quote(table.name)} ORDER BY {order}")
                data = _csv_text(names, rows)
                rel = f"{DATA_DIR}/{table.name}.csv"
                _write(staging / rel, data)
                fields = [{"name": n, "type": _frictionless_type(n, t)}
                          for n, t, _ in table.columns]
                csv_numeric[rel] = {f["name"] for f in fields
                                    if f["type"] in ("integer", "number")}
                resources.append((table, rel, data, fields))
        finally:
            out.close()
        context = _Context(src, options, config, authors, released_at, plans, figures,
                           made, redactor is not None, tables)
        _write(staging / "datapackage.json", _datapackage(context, resources))
        citation = _citation(context)
        problems = validate_citation(citation)
        if problems:
            raise ReleaseError("CITATION.cff would not validate against the CFF 1.2.0 schema: "
                               + "; ".join(problems) + f" (check {data_dir / CONFIG_FILE})")
        _write(staging / "CITATION.cff", citation)
        _write(staging / ".zenodo.json", _zenodo(context))
        _write(staging / "DATASHEET.md", _datasheet(context))
        files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*")
                       if p.is_file())
        sums = "".join(f"{_sha256((staging / f).read_bytes())}  {f}\n" for f in files)
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


# -- the documents ------------------------------------------------------------------------------


@dataclass
class _Context:
    src: sqlite3.Connection
    options: ReleaseOptions
    config: dict[str, Any]
    authors: list[dict[str, str]]
    released_at: str
    plans: dict[str, dict[str, Any]]
    figures: set[tuple[str, str]]
    tables: list[_Table]
    pseudonymised: bool
    source_tables: list[str]

    @property
    def date(self) -> str:
        return self.released_at[:10]

    @property
    def title(self) -> str:
        return str(self.config.get("title") or "memoryhole corpus of public posts and their removals")

    @property
    def description(self) -> str:
        default = ("Public posts observed by memoryhole crawls, the posts that later vanished, "
                   "and what the platform said about each removal when probed. Each removal is "
                   "an interval [last_seen_at, first_missing_at] with a reason from a fixed "
                   "vocabulary. See DATASHEET.md.")
        return " ".join(str(self.config.get("description") or default).split())

    @property
    def license(self) -> str:
        return str(self.config.get("license") or DEFAULT_LICENSE)

    @property
    def keywords(self) -> list[str]:
        return [str(k) for k in self.config.get("keywords")
                or ["censorship", "content moderation", "social media", "Weibo"]]

    @property
    def name(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "memoryhole"
        return slug[:80]

    def count(self, sql: str, params: Iterable[Any] = ()) -> int:
        try:
            row = self.src.execute(sql, list(params)).fetchone()
        except sqlite3.Error:
            return 0
        return int(row[0] or 0) if row else 0

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self.src.execute(sql, list(params)).fetchall()
        except sqlite3.Error:
            return []


def _author_name(author: dict[str, str]) -> str:
    if "family-names" in author:
        return ", ".join(p for p in (author["family-names"], author.get("given-names")) if p)
    return author["name"]


def _datapackage(ctx: _Context, resources: list) -> bytes:
    from memoryhole.analysis.publish import table_descriptions

    descriptions = table_descriptions()
    package: dict[str, Any] = {
        "profile": "tabular-data-package",
        "name": ctx.name,
        "title": ctx.title,
        "description": ctx.description,
        "version": ctx.options.version,
        "created": ctx.released_at,
        "licenses": [{"name": ctx.license, "path": LICENSE_URLS.get(ctx.license, ""),
                      "title": ctx.license}],
        "contributors": [{"title": _author_name(a), "role": "author"} for a in ctx.authors],
        "keywords": ctx.keywords,
        "sources": [{"title": f"memoryhole crawls of {', '.join(sorted(ctx.plans)) or 'weibo'}"}],
        "resources": [],
    }
    if not package["licenses"][0]["path"]:
        del package["licenses"][0]["path"]
    for table, rel, data, fields in resources:
        meta = descriptions.get(table.name, {})
        columns = meta.get("columns", {})
        for f in fields:
            if columns.get(f["name"]):
                f["description"] = " ".join(str(columns[f["name"]]).split())
        schema: dict[str, Any] = {"fields": fields, "missingValues": [""]}
        if table.primary_key:
            schema["primaryKey"] = table.primary_key
        resource = {
            "name": table.name.lower().replace("_", "-"),
            "path": rel,
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "bytes": len(data),
            "hash": f"sha256:{_sha256(data)}",
            "schema": schema,
        }
        if meta.get("description"):
            resource["description"] = " ".join(str(meta["description"]).split())
        package["resources"].append(resource)
    return (json.dumps(package, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _citation(ctx: _Context) -> bytes:
    cff: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": "If you use this dataset, please cite it as below.",
        "type": "dataset",
        "title": ctx.title,
        "version": ctx.options.version,
        "date-released": ctx.date,
        "authors": ctx.authors,
        "abstract": ctx.description,
        "keywords": ctx.keywords,
        "license": ctx.license,
    }
    if ctx.config.get("repository"):
        cff["repository"] = str(ctx.config["repository"])
    text = yaml.safe_dump(cff, allow_unicode=True, sort_keys=False, width=100)
    return text.encode("utf-8")


def validate_citation(text: bytes | str) -> list[str]:
    """Problems of a CITATION.cff against the CFF 1.2.0 JSON schema (as cffconvert checks it:
    jsonschema with format checking, YAML dates as strings); empty when it is valid."""
    import jsonschema

    class _Loader(yaml.SafeLoader):
        pass

    # YAML 1.2 (which CFF uses) has no date type: keep dates as the strings they are.
    _Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    try:
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        return [f"not YAML ({exc})"]
    schema = json.loads(CFF_SCHEMA.read_text("utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))]


def _zenodo(ctx: _Context) -> bytes:
    creators = []
    for author in ctx.authors:
        creator = {"name": _author_name(author)}
        if author.get("affiliation"):
            creator["affiliation"] = author["affiliation"]
        if author.get("orcid"):
            creator["orcid"] = author["orcid"].rsplit("/", 1)[-1]
        creators.append(creator)
    zenodo = {
        "upload_type": "dataset",
        "title": ctx.title,
        "version": ctx.options.version,
        "publication_date": ctx.date,
        "creators": creators,
        "description": ctx.description,
        "license": ctx.license.lower(),
        "keywords": ctx.keywords,
        "access_right": "open",
    }
    return (json.dumps(zenodo, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _duration(seconds: Any) -> str:
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return str(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size and s % size == 0:
            return f"{int(s // size)} {unit}"
    return f"{s:g} s"


def _datasheet(ctx: _Context) -> bytes:
    c = ctx.count
    lines: list[str] = []
    add = lines.append
    crawls = ctx.rows("SELECT kind, COUNT(*) AS n, MIN(started_at) AS first, "
                      "MAX(COALESCE(ended_at, started_at)) AS last FROM crawls GROUP BY kind "
                      "ORDER BY kind")
    period = ctx.rows("SELECT MIN(started_at) AS first, MAX(COALESCE(ended_at, started_at)) "
                      "AS last FROM crawls")
    first, last = (period[0]["first"], period[0]["last"]) if period else ("?", "?")
    versions = ctx.rows("SELECT software_version, COUNT(*) AS n FROM crawls "
                        "GROUP BY software_version ORDER BY software_version")
    reasons = {r["reason"]: (r["n"], r["restored"]) for r in ctx.rows(
        "SELECT reason, COUNT(*) AS n, SUM(restored_at IS NOT NULL) AS restored "
        "FROM removals GROUP BY reason")}
    posts = c("SELECT COUNT(*) FROM posts")
    removed_posts = c("SELECT COUNT(DISTINCT platform || ':' || post_id) FROM removals "
                      "WHERE restored_at IS NULL")
    add(f"# Datasheet: {ctx.title}, version {ctx.options.version}")
    add("")
    add(f"Released {ctx.date} (the UTC date the last crawl in the corpus ended). Written by "
        f"`memoryhole release` ({software_version()}); the same corpus, version and key give a "
        "byte-identical release. Structure follows *Datasheets for Datasets* (Gebru et al., "
        "2021).")
    add("")
    add("## Motivation")
    add("")
    add(ctx.description)
    add("")
    add("The dataset measures what disappears from a platform: which public posts were removed, "
        "when (as an interval), and by whom according to the platform's own words (the author, "
        "the platform, or unattributed). Authors: "
        + "; ".join(_author_name(a) for a in ctx.authors) + ".")
    add("")
    add("## Composition")
    add("")
    add("| table | rows | one row per |")
    add("|---|---:|---|")
    from memoryhole.analysis.publish import table_descriptions

    descriptions = table_descriptions()
    for table in ctx.tables:
        text = " ".join(str(descriptions.get(table.name, {}).get("description", "")).split())
        first_sentence = text.split(". ")[0].rstrip(".") if text else ""
        add(f"| `{table.name}` | {_thousands(table.rows)} | {first_sentence} |")
    add("")
    removals = c("SELECT COUNT(*) FROM removals")
    restored = c("SELECT COUNT(*) FROM removals WHERE restored_at IS NOT NULL")
    add(f"- Posts observed: {_thousands(posts)}; posts currently removed: "
        f"{_thousands(removed_posts)}; removals recorded: {_thousands(removals)} "
        f"(of which later restored: {_thousands(restored)}).")
    add(f"- Accounts: {_thousands(c('SELECT COUNT(*) FROM accounts'))}, of which marked public "
        f"figures in the crawl plan: {_thousands(len(ctx.figures))}.")
    text = ("included (with identifiers redacted, see below)" if ctx.options.include_text
            else "not included (`--no-text`); text columns are empty")
    add(f"- Post text: {text}.")
    add("- Every CSV in `data/` is also a table of `corpus.db`; `datapackage.json` describes every "
        "column. Times are UTC ISO 8601 text. An empty CSV field is NULL.")
    add("")
    add("## Collection process")
    add("")
    add(f"- Period: {first} to {last} (UTC).")
    add(f"- Platforms: {', '.join(sorted(ctx.plans)) or 'weibo'}.")
    for kind in crawls:
        add(f"- {kind['kind']} crawls: {_thousands(kind['n'])} ({kind['first']} to {kind['last']}).")
    add("- Software that made the crawls (from the `crawls` table):")
    for v in versions:
        add(f"  - {v['software_version']}: {_thousands(v['n'])} crawl(s)")
    for platform, plan in sorted(ctx.plans.items()):
        add(f"- Watchlists of the latest {platform} plan ({plan.get('name') or 'unnamed'}):")
        for w in plan.get("watchlists") or []:
            n = len(w.get("accounts") or [])
            pf = len(w.get("public_figures") or [])
            add(f"  - `{w.get('name')}`: {_thousands(n)} account(s), every "
                f"{_duration(w.get('every'))}, {w.get('pages')} timeline page(s) per poll"
                + (f", {pf} public figure(s)" if pf else ""))
        polite = plan.get("politeness") or {}
        if polite:
            add(f"  - politeness: delay {_duration(polite.get('delay'))}, concurrency "
                f"{polite.get('concurrency')}, retries {polite.get('retries')}, robots.txt "
                f"{'obeyed' if polite.get('obey_robots_txt') else 'not obeyed'}")
    add("- Method: each poll reads pages 1…N of every watched account's public timeline and "
        "records a sighting of each post. A post that was seen before and is absent from the part "
        "of the timeline a crawl actually covered becomes a candidate; a probe then asks the "
        "platform about that single post, and only the platform's answer (matched against a "
        "catalogue of its messages) makes a removal. Failed fetches (server errors, rate limits, "
        "captchas, truncated pages) are never removals.")
    add("")
    add("## The reason vocabulary")
    add("")
    add("| reason | removals | restored | meaning |")
    add("|---|---:|---:|---|")
    for reason in REASONS:
        n, restored = reasons.get(reason, (0, 0))
        add(f"| `{reason}` | {_thousands(n)} | {_thousands(restored or 0)} | "
            f"{REASON_DESCRIPTIONS[reason]} |")
    add("")
    add("`message` keeps the platform's exact words; for `unknown` they are all there is.")
    add("")
    add("## The other vocabularies")
    add("")
    add("Every status, cause, event and state column holds one of these values "
        "(`corpus/vocabulary.py`).")
    for vocab in VOCABULARIES:
        table, column = vocab.columns[0].split(".")
        counts = {r[0]: r[1] for r in ctx.rows(
            f"SELECT {_quote(column)}, COUNT(*) FROM {_quote(table)} GROUP BY 1")}
        add("")
        add(f"{vocab.name.capitalize()} ({', '.join(f'`{c}`' for c in vocab.columns)}):")
        add("")
        add(f"| value | rows of `{table}` | meaning |")
        add("|---|---:|---|")
        for value in vocab.values:
            add(f"| `{value}` | {_thousands(counts.get(value, 0))} | {vocab.describe(value)} |")
    add("")
    add("## De-identification")
    add("")
    if ctx.pseudonymised:
        add("- Account ids, screen names and @mentions are replaced by keyed pseudonyms: "
            "`u_` + the first 16 hex digits of HMAC-SHA256(key, \"account\\0<platform>\\0<id>\"); "
            "an @name that is not a known account becomes `m_` + HMAC of the name. Post ids "
            "become `p_` + HMAC (a post id leads back to its author). The key is kept by the "
            "researchers and is not published; the same key gives the same pseudonyms in every "
            "release, so releases can be joined, but nobody without the key can recompute or "
            "test a pseudonym.")
        add("- A screen name is redacted wherever it appears in text, not only after @: a name "
            "that is also a common word is therefore redacted in unrelated posts too.")
        add("- Post ids written in text (after `mid`, inside a URL, glued to a word) become "
            "their pseudonyms too; an id is matched as a whole run of digits, never inside a "
            "longer number.")
        add("- URLs in text, with or without a scheme (`weibo.com/…`, `t.cn/…`), become "
            "`<url>`.")
        add(f"- Accounts marked `public_figures` in a watchlist keep their ids, names and post ids "
            f"({_thousands(len(ctx.figures))} account(s); see `accounts.public_figure`).")
        add("- A leak scan read every file of this release and found no raw id or screen name of "
            "a pseudonymised account and no raw id of a pseudonymised post.")
    else:
        add("- **Not pseudonymised**: the researchers chose to publish raw account ids, screen "
            "names and post ids (`--no-pseudonyms`).")
    add("- Never included: raw responses (`probes.response_body`, headers), WARC references, "
        "request URLs, paging cursors, order keys and local file paths.")
    add("")
    add("## Known biases and how to read the data")
    add("")
    add("- **Pre-publication filtering is invisible.** Posts blocked before they appear on a "
        "timeline are never sighted; the dataset measures removals of posts that were public at "
        "least once, so it understates censorship.")
    add("- **Removal times are intervals.** A post was removed after `last_seen_at` and before "
        "`first_missing_at`; the width depends on the polling cadence above. Treat time to "
        "removal as interval-censored (e.g. Turnbull/Kaplan–Meier on intervals), not as points.")
    add(f"- **Right-censoring.** {_thousands(max(posts - removed_posts, 0))} post(s) were still "
        "visible at their last sighting: their removal time (if any) is only known to be after "
        "`last_seen_at`. Do not count them as never removed; censor them at `last_seen_at`.")
    add("- **Coverage.** Only the first pages of each timeline are read; posts pushed off those "
        "pages between polls are not missing, and removals among them are unseen. Accounts were "
        "chosen by the researchers (watchlists), not sampled from the platform.")
    add("- **`restricted` is not a deletion** (the post exists but is hidden); `unknown` means "
        "the platform's words were not in the catalogue. Account-level reasons "
        "(`account_suspended`, `account_closed`, `account_locked`) remove all of an account's "
        "posts at once.")
    add("- **Restorations.** A removed post seen again gets `restored_at`; if it vanishes again "
        "it gets a new removal row.")
    add("")
    add("## Distribution and maintenance")
    add("")
    add(f"- License: {ctx.license}. Cite with `CITATION.cff`; `.zenodo.json` carries the same "
        "metadata for a Zenodo deposit.")
    add("- Verify the files with `sha256sum -c SHA256SUMS`; browse with "
        "`memoryhole serve --data <this directory>` (Datasette, read-only).")
    add("")
    return "\n".join(lines).encode("utf-8")

