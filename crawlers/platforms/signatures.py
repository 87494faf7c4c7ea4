"""A platform's words as shipped data: `<platform>_messages.yaml` beside its adapter.

Each table is a list of `{words, reason | failure, note, unconfirmed}`; a message matches the first
entry whose words it contains. Reasons must be in corpus.reasons, failures in crawlers.failures or
the adapter's own failure names, so a typo in the data fails at load time, not during a crawl.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import yaml

from corpus.reasons import REASONS

from .. import failures


@dataclass(frozen=True)
class Signature:
    words: str
    reason: str | None = None
    failure: str | None = None
    unconfirmed: bool = False


@dataclass(frozen=True)
class SignatureFile:
    """The tables of one `<platform>_messages.yaml`."""

    version: int
    tables: dict[str, tuple[Signature, ...]]

    def match(self, table: str, message: str) -> Signature | None:
        return next((sig for sig in self.tables.get(table, ()) if sig.words in message), None)

    def words(self) -> list[str]:
        return sorted({sig.words for table in self.tables.values() for sig in table})


def load_signature_file(filename: str, extra_failures: Iterable[str] = ()) -> SignatureFile:
    """Read and check `crawlers/platforms/<filename>`."""
    raw = yaml.safe_load(
        resources.files("crawlers.platforms").joinpath(filename).read_text("utf-8"))
    known_failures = set(failures.FAILURES) | set(extra_failures)
    tables: dict[str, tuple[Signature, ...]] = {}
    for key, rows in raw.items():
        if key == "version":
            continue
        table = tuple(Signature(r["words"], r.get("reason"), r.get("failure"),
                                bool(r.get("unconfirmed", False))) for r in rows or [])
        for row in table:
            if row.reason is not None and row.reason not in REASONS:
                raise ValueError(f"{filename}: {key}: unknown reason {row.reason!r}")
            if row.failure is not None and row.failure not in known_failures:
                raise ValueError(f"{filename}: {key}: unknown failure {row.failure!r}")
            if row.unconfirmed and row.reason not in (None, "unknown"):
                raise ValueError(f"{filename}: {key}: unconfirmed words {row.words!r} must "
                                 "classify as unknown until a recorded page confirms them")
        tables[key] = table
    return SignatureFile(version=int(raw["version"]), tables=tables)
