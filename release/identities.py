"""Identities a release pseudonymises (accounts, screen names, post ids) and the transformer that
applies the column policies to rows."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from memoryhole.corpus.deid import Identity, Redactor

from .columns import ACCOUNT_LIST_KEYS, column_policy, quote
from .source import latest_plans, table_columns


def identities_to_pseudonymise(conn: sqlite3.Connection, tables: list[str], platforms: list[str],
                figures: set[tuple[str, str]]) -> list[Identity]:
    """Every account the corpus knows of (any account column of any table), with its names."""
    default = platforms[0] if platforms else ""
    names: dict[tuple[str, str], set[str]] = {}
    for table in tables:
        cols = {c["name"] for c in table_columns(conn, table)}
        has_platform = "platform" in cols
        for col in sorted(cols):
            policy = column_policy(col)
            if policy not in ("account", "screen_name"):
                continue
            if policy == "screen_name" and "account_id" not in cols:
                continue
            platform_sql = "platform" if has_platform else "NULL"
            if policy == "account":
                sql = f"SELECT DISTINCT {platform_sql}, {quote(col)}, NULL FROM {quote(table)}"
            else:
                sql = (f"SELECT DISTINCT {platform_sql}, account_id, {quote(col)} "
                       f"FROM {quote(table)}")
            for platform, account_id, name in conn.execute(sql):
                if account_id is None or account_id == "":
                    continue
                entry = names.setdefault((platform or default, str(account_id)), set())
                if name:
                    entry.add(str(name))
    for platform, plan in latest_plans(conn).items():
        for watchlist in plan.get("watchlists") or []:
            for account in (watchlist or {}).get("accounts") or []:
                names.setdefault((platform, str(account)), set())
    return [Identity(platform, account_id, tuple(sorted(n)), (platform, account_id) in figures)
            for (platform, account_id), n in sorted(names.items())]


def post_ids_to_pseudonymise(conn: sqlite3.Connection, tables: list[str], default: str,
              authors: dict[tuple[str, str], str]) -> list[tuple[str, ...]]:
    """(platform, post_id, author or None, bid or None) of every post id the corpus holds in any
    post column (posts, reposts' originals known from tombstones, sightings via reposts, ...)."""
    ids: set[tuple[str, str]] = set()
    for table in tables:
        cols = {c["name"] for c in table_columns(conn, table)}
        platform_sql = "platform" if "platform" in cols else "NULL"
        for col in sorted(cols):
            if column_policy(col) != "post":
                continue
            for platform, post_id in conn.execute(
                    f"SELECT DISTINCT {platform_sql}, {quote(col)} FROM {quote(table)} "
                    f"WHERE {quote(col)} IS NOT NULL AND {quote(col)} != ''"):
                ids.add((platform or default, str(post_id)))
    # Other written forms of a post's id (Weibo's bid): the extras a platform declares aliases.
    aliases: dict[tuple[str, str], list[str]] = {}
    for platform, fields in extra_declarations(conn).items():
        for name in (n for n, (_, alias) in fields.items() if alias):
            for post_id, value in conn.execute(
                    "SELECT post_id, json_extract(extra, '$.' || json_quote(?)) FROM posts "
                    "WHERE platform = ? AND json_valid(extra)", [name, platform]):
                if value not in (None, ""):
                    aliases.setdefault((platform, post_id), []).append(str(value))
    return [(platform, post_id, authors.get((platform, post_id)),
             *aliases.get((platform, post_id), ()))
            for platform, post_id in sorted(ids)]


def extra_declarations(conn: sqlite3.Connection) -> dict[str, dict[str, tuple[str, bool]]]:
    """Per platform, its extra post fields: name -> (release policy, is another form of the
    post's id), as its recorded declaration says (corpus table `platforms`)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'platforms'").fetchone():
        return {}
    declared: dict[str, dict[str, tuple[str, bool]]] = {}
    for platform, declaration in conn.execute("SELECT platform, declaration FROM platforms"):
        try:
            fields = json.loads(declaration).get("extra_columns") or []
        except ValueError:
            continue
        declared[platform] = {str(f["name"]): (str(f.get("release") or "drop"),
                                               bool(f.get("post_alias")))
                              for f in fields if isinstance(f, dict) and "name" in f}
    return declared


class Transformer:
    """Applies the column policies to rows, with a Redactor (or none: --no-pseudonyms)."""

    def __init__(self, redactor: Redactor | None, include_text: bool,
                 authors: dict[tuple[str, str], str], default_platform: str,
                 extras: dict[str, dict[str, tuple[str, bool]]] | None = None) -> None:
        self.redactor = redactor
        self.include_text = include_text
        self.authors = authors
        self.default_platform = default_platform
        self.extras = extras or {}

    def _extra(self, value: str, platform: str, account: str | None) -> str | None:
        """posts.extra with each key released by its platform's declared policy; keys nobody
        declared (and unreadable JSON) are dropped."""
        try:
            fields = json.loads(value)
        except ValueError:
            return None
        if not isinstance(fields, dict):
            return None
        declared = self.extras.get(platform, {})
        out = {}
        for key, field_value in fields.items():
            policy = declared.get(key, ("drop", False))[0]
            if policy == "drop":
                continue
            if policy in ("keep", "free", "text", "account", "post", "screen_name") and not (
                    isinstance(field_value, str)):
                out[key] = field_value if policy in ("keep", "free", "text") else None
                continue
            out[key] = self._value(policy, field_value, platform, account)
        return json.dumps(out, ensure_ascii=False, sort_keys=True) if out else None


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
        if policy == "extra":
            return self._extra(value, platform, account) if isinstance(value, str) else None
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
