"""De-identification for public releases: keyed pseudonyms, text redaction and the leak scan.

A pseudonym is HMAC-SHA256 over a domain-separated identifier with a key the researcher keeps:

    account  u_<first 16 hex of HMAC(key, "account\\0<platform>\\0<account_id>")>
    post     p_<first 16 hex of HMAC(key, "post\\0<platform>\\0<post_id>")>
    mention  u_<…> of the account when the @name is a known account, else
             m_<first 16 hex of HMAC(key, "mention\\0<platform>\\0<name>")>

The same key gives the same pseudonyms in every release; without the key nobody can recompute
them, even for a guessed id (unlike a plain hash). The key is read from a file and is never
written anywhere: not into the release, the corpus, or a log line (errors name the file only).

`Redactor` rewrites free text: URLs (with or without a scheme) become `<url>`, every `@name`
becomes `@<pseudonym>` (a known screen name is matched whole, whatever characters it holds), and
every raw account id, screen name or post id of the corpus becomes its pseudonym, wherever it
appears (a screen name that is a common word is therefore redacted wherever the word appears).
Numeric ids are matched as tokens: a run of digits that is exactly the id (`mid 5076…`,
`post5076…`, `/5076…`), never part of a longer number. Public figures (marked in a watchlist)
keep their names, ids and post ids. `LeakScanner` applies the very same matcher to every file of
a finished release and reports each raw identifier it still finds.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MIN_KEY_BYTES = 32
PSEUDONYM_HEX = 16  # 64 bits: collisions are negligible for corpora of millions of accounts

_URL_TAIL = r"[^\s\"'<>，。、）)\]]"
# With a scheme or www., or a bare host name with a path (weibo.com/u/1642634100, t.cn/A6abc).
URL = re.compile(rf"(?:https?://|(?<![0-9A-Za-z_.@-])www\.){_URL_TAIL}+"
                 rf"|(?<![0-9A-Za-z_.@/-])(?:[A-Za-z0-9-]+\.)+[A-Za-z]{{2,12}}(?::[0-9]+)?/{_URL_TAIL}*")
_WORD = "0-9A-Za-z_"
# Weibo nicknames: CJK, letters, digits, underscore and hyphen, 2-30 characters.
_NAME_CHAR = r"0-9A-Za-z_\-\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Pseudonyms already written are tokens of their own: no id is looked for inside them.
_PSEUDONYM = rf"(?<![{_WORD}])[upm]_[0-9a-f]{{{PSEUDONYM_HEX}}}(?![{_WORD}])"


class DeidError(Exception):
    """De-identification cannot proceed; the message names the file and the fix."""


def load_key(path: str | Path) -> bytes:
    """Read a pseudonymisation key file (at least MIN_KEY_BYTES bytes after trimming whitespace).

    The message of every error names the file, never its contents.
    """
    path = Path(path)
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        raise DeidError(f"{path}: no such key file; create one with "
                        f"`head -c 32 /dev/urandom | base64 > {path}` and keep it private") from None
    except IsADirectoryError:
        raise DeidError(f"{path}: is a directory, not a key file") from None
    except OSError as exc:
        raise DeidError(f"{path}: cannot read the key file ({exc.strerror})") from None
    if len(key) < MIN_KEY_BYTES:
        raise DeidError(f"{path}: the key is too short ({len(key)} bytes; at least "
                        f"{MIN_KEY_BYTES} are needed, e.g. `head -c 32 /dev/urandom | base64`)")
    return key


class Pseudonymiser:
    """Keyed, stable pseudonyms for accounts, posts and mentioned names."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._cache: dict[tuple[str, str, str], str] = {}

    def _mac(self, domain: str, platform: str, value: str) -> str:
        cached = self._cache.get((domain, platform, value))
        if cached is None:
            message = "\0".join((domain, platform, value)).encode("utf-8")
            cached = hmac.new(self._key, message, hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]
            self._cache[(domain, platform, value)] = cached
        return cached

    def account(self, platform: str, account_id: str) -> str:
        return "u_" + self._mac("account", platform, str(account_id))

    def post(self, platform: str, post_id: str) -> str:
        return "p_" + self._mac("post", platform, str(post_id))

    def mention(self, platform: str, name: str) -> str:
        return "m_" + self._mac("mention", platform, name)


@dataclass(frozen=True)
class Identity:
    """An account as the release must treat it."""

    platform: str
    account_id: str
    names: tuple[str, ...]      # every screen name the corpus knows for it
    public_figure: bool


def _needle_pattern(needle: str) -> str:
    """An identifier as a regex: ASCII words must stand alone; CJK names match anywhere."""
    escaped = re.escape(needle)
    if needle.isascii():
        return f"(?<![{_WORD}]){escaped}(?![{_WORD}])"
    return escaped


def _is_number(needle: str) -> bool:
    return needle.isascii() and needle.isdigit()


_CODE = re.compile(r"[0-9A-Za-z]{8,12}")   # a short code like a Weibo bid (I5Tz5Ak0E)


def _is_code(needle: str) -> bool:
    return bool(_CODE.fullmatch(needle)) and not needle.isdigit()


class Matcher:
    """One pass over text for all raw identifiers: pseudonymised ones (to replace) and kept ones.

    Numeric identifiers (account and post ids) are tokens: every maximal run of digits is looked
    up, so an id is found after letters (`post5076…`, `uid1642634100`) but never inside a longer
    number (a count, a timestamp). Short codes (a post's bid) are whole words looked up the same
    way. Other identifiers (screen names) are one alternation, longest first; kept names (public
    figures) are part of it so that an ordinary user's name inside a public figure's name is not
    torn out of it. Pseudonyms in the text are skipped whole.
    """

    def __init__(self, replace: dict[str, str], keep: Iterable[str] = ()) -> None:
        self.replace = {k: v for k, v in replace.items() if k}
        self.keep = {k for k in keep if k and k not in self.replace}
        needles = sorted((n for n in {*self.replace, *self.keep}
                          if not _is_number(n) and not _is_code(n)), key=lambda s: (-len(s), s))
        parts = [f"(?P<pseudonym>{_PSEUDONYM})"]
        if needles:
            parts.append("(?P<name>" + "|".join(_needle_pattern(n) for n in needles) + ")")
        if any(_is_code(n) for n in {*self.replace, *self.keep}):
            parts.append(f"(?P<code>(?<![{_WORD}]){_CODE.pattern}(?![{_WORD}]))")
        if any(_is_number(n) for n in self.replace):
            parts.append("(?P<number>(?<![0-9])[0-9]+(?![0-9]))")
        self.regex = re.compile("|".join(parts)) if len(parts) > 1 else None

    def _identifiers(self, text: str) -> Iterator[re.Match[str]]:
        if self.regex is None:
            return
        for m in self.regex.finditer(text):
            if m.lastgroup != "pseudonym":
                yield m

    def sub(self, text: str) -> str:
        if self.regex is None:
            return text
        return self.regex.sub(lambda m: self.replace.get(m.group(0), m.group(0)), text)

    def leaks(self, text: str) -> Iterator[str]:
        """Raw identifiers of pseudonymised accounts and posts still present in `text`."""
        for m in self._identifiers(text):
            if m.group(0) in self.replace:
                yield m.group(0)


class Redactor:
    """Rewrites identifiers in values for a release (see the module docstring)."""

    def __init__(self, pseudonymiser: Pseudonymiser, identities: Iterable[Identity],
                 default_platform: str = "weibo",
                 posts: Iterable[tuple[str, ...]] = ()) -> None:
        """`posts`: (platform, post_id, author account id or None, *other written forms of the
        id such as its bid) of every post of the corpus; their ids are pseudonymised in text too
        (kept for public figures' posts)."""
        self.pseudo = pseudonymiser
        self.default_platform = default_platform
        self.identities = list(identities)
        self.public: set[tuple[str, str]] = {
            (i.platform, i.account_id) for i in self.identities if i.public_figure}
        replace: dict[str, str] = {}
        keep: set[str] = set()
        self._by_name: dict[tuple[str, str], str] = {}
        for ident in self.identities:
            if ident.public_figure:
                keep.update(ident.names)
                keep.add(ident.account_id)
                continue
            alias = pseudonymiser.account(ident.platform, ident.account_id)
            replace[ident.account_id] = alias
            for name in ident.names:
                replace[name] = alias
                self._by_name[(ident.platform, name)] = alias
        for platform, post_id, author, *forms in posts:
            if not post_id:
                continue
            written = [str(post_id), *(str(f) for f in forms if f)]
            if author is not None and self.is_public(platform, author):
                keep.update(written)
            else:
                alias = pseudonymiser.post(platform, str(post_id))
                for form in written:
                    replace.setdefault(form, alias)
        self.kept_names = keep
        self.matcher = Matcher(replace, keep)
        # After @: a known screen name whole (it may hold any character, `a.b*c(d)`), longest
        # first and ending where a name ends; otherwise the platform's name characters.
        known = sorted({n for i in self.identities for n in i.names if n},
                       key=lambda n: (-len(n), n))
        alternatives = [f"(?P<known>{'|'.join(map(re.escape, known))})(?![{_NAME_CHAR}])"
                        ] if known else []
        self.mention_regex = re.compile(
            "@(?:" + "|".join([*alternatives, f"(?P<other>[{_NAME_CHAR}]{{1,30}})"]) + ")")

    # -- identifiers -------------------------------------------------------------------------

    def is_public(self, platform: str | None, account_id: str | None) -> bool:
        return (platform or self.default_platform, str(account_id)) in self.public

    def account(self, platform: str | None, account_id: str | None) -> str | None:
        if account_id is None:
            return None
        platform = platform or self.default_platform
        if self.is_public(platform, account_id):
            return str(account_id)
        return self.pseudo.account(platform, str(account_id))

    def post(self, platform: str | None, post_id: str | None, author: str | None = None
             ) -> str | None:
        """A post id: kept for a public figure's post, a pseudonym otherwise."""
        if post_id is None:
            return None
        platform = platform or self.default_platform
        if author is not None and self.is_public(platform, author):
            return str(post_id)
        return self.pseudo.post(platform, str(post_id))

    # -- free text ---------------------------------------------------------------------------

    def _mention(self, platform: str, match: re.Match[str]) -> str:
        groups = match.groupdict()
        name = groups.get("known") or groups["other"]
        if name in self.kept_names:
            return match.group(0)
        alias = self._by_name.get((platform, name)) or self.pseudo.mention(platform, name)
        return "@" + alias

    def text(self, value: str | None, platform: str | None = None) -> str | None:
        if value is None:
            return None
        platform = platform or self.default_platform
        value = URL.sub("<url>", value)
        value = self.mention_regex.sub(lambda m: self._mention(platform, m), value)
        return self.matcher.sub(value)


# -- the leak scan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leak:
    file: str
    where: str          # column, table.column or line
    identifier: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: raw identifier {self.identifier!r}"


class LeakScanner:
    """Finds raw ids and screen names of pseudonymised accounts, and raw ids (and bids) of their
    posts, in every file of a release.

    Every text value is scanned: SQLite files through SQLite (every table, the schema included)
    and as raw bytes, CSV files per column, JSON per string (keys included), anything else line by
    line. Numbers are values, not identifiers: SQLite INTEGER/REAL values, JSON numbers and the
    fields of CSV columns listed in `numeric_columns` ({file: {column}}) are skipped. `secret`
    (the key) must not appear anywhere either.
    """

    def __init__(self, matcher: Matcher, secret: bytes | None = None) -> None:
        self.matcher = matcher
        self.secret = secret

    def _found(self, text: str) -> list[str]:
        return sorted(set(self.matcher.leaks(text)))

    def scan(self, root: Path, numeric_columns: dict[str, set[str]] | None = None) -> list[Leak]:
        numeric_columns = numeric_columns or {}
        leaks: list[Leak] = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            data = path.read_bytes()
            if self.secret and (self.secret in data or self.secret.decode("utf-8", "replace")
                                in data.decode("utf-8", "replace")):
                leaks.append(Leak(rel, "bytes", "<the pseudonymisation key>"))
            text = data.decode("utf-8", "replace")
            if data.startswith(b"SQLite format 3\0"):
                leaks.extend(self._scan_sqlite(path, rel))
                leaks.extend(Leak(rel, "raw bytes", found) for found in self._found(text))
            elif path.suffix == ".csv":
                leaks.extend(self._scan_csv(text, rel, numeric_columns.get(rel, set())))
            elif path.suffix == ".json" or path.name == ".zenodo.json":
                leaks.extend(self._scan_json(text, rel))
            else:
                for n, line in enumerate(text.splitlines(), 1):
                    leaks.extend(Leak(rel, f"line {n}", found) for found in self._found(line))
        return leaks

    def _scan_json(self, text: str, rel: str) -> list[Leak]:
        import json

        try:
            document = json.loads(text)
        except ValueError:
            return [Leak(rel, f"line {n}", found)
                    for n, line in enumerate(text.splitlines(), 1) for found in self._found(line)]
        leaks: list[Leak] = []

        def walk(node: object, where: str) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    leaks.extend(Leak(rel, f"{where} (key)", f) for f in self._found(str(key)))
                    walk(value, f"{where}.{key}" if where else str(key))
            elif isinstance(node, list):
                for i, value in enumerate(node):
                    walk(value, f"{where}[{i}]")
            elif isinstance(node, str):
                leaks.extend(Leak(rel, where or "value", f) for f in self._found(node))

        walk(document, "")
        return leaks

    def _scan_csv(self, text: str, rel: str, numeric: set[str]) -> list[Leak]:
        import csv
        import io

        leaks = []
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, [])
        leaks.extend(Leak(rel, "header", found) for found in self._found(",".join(header)))
        for n, row in enumerate(reader, 2):
            for column, value in zip(header, row, strict=False):
                if column in numeric and _NUMBER.fullmatch(value):
                    continue
                leaks.extend(Leak(rel, f"column {column} (line {n})", found)
                             for found in self._found(value))
        return leaks

    def _scan_sqlite(self, path: Path, rel: str) -> list[Leak]:
        import sqlite3

        leaks: set[Leak] = set()
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        conn.text_factory = lambda b: b.decode("utf-8", "replace")
        try:
            for name, sql in conn.execute("SELECT name, sql FROM sqlite_master"):
                leaks.update(Leak(rel, f"schema of {name}", found)
                             for found in self._found(f"{name} {sql or ''}"))
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                quoted = '"' + table.replace('"', '""') + '"'
                try:
                    cursor = conn.execute(f"SELECT * FROM {quoted}")
                except sqlite3.Error:
                    continue  # a virtual table whose content lives in another table
                columns = [d[0] for d in cursor.description]
                for row in cursor:
                    for column, value in zip(columns, row, strict=True):
                        if isinstance(value, bytes):
                            value = value.decode("utf-8", "replace")
                        if isinstance(value, str):
                            leaks.update(Leak(rel, f"{table}.{column}", found)
                                         for found in self.matcher.leaks(value))
        finally:
            conn.close()
        return sorted(leaks, key=lambda leak: (leak.where, leak.identifier))


_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
