"""What a release is asked for and what it reports: the options, the error, the names of its files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from memoryhole.corpus.deid import Leak
from memoryhole.corpus.store import DB_NAME

RELEASE_DB = DB_NAME               # `memoryhole serve --data OUT` serves a release as is


DATA_DIR = "data"


CONFIG_FILE = "release.yaml"


DEFAULT_LICENSE = "CC-BY-4.0"


LICENSE_URLS = {"CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
                "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
                "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/"}


VERSION_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")


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
