"""What the release's documents share: the corpus, the options, the wording, the date, the tables."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .database import ReleasedTable
from .options import DEFAULT_LICENSE, ReleaseOptions


@dataclass
class ReleaseContext:
    src: sqlite3.Connection
    options: ReleaseOptions
    config: dict[str, Any]
    authors: list[dict[str, str]]
    released_at: str
    plans: dict[str, dict[str, Any]]
    figures: set[tuple[str, str]]
    tables: list[ReleasedTable]
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
                or ["censorship", "content moderation", "social media",
                    *(p.title() for p in sorted(self.plans))]]

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
