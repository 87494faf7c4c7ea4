"""What made a row: the software version recorded on every crawl and release."""

import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path


@cache
def software_version() -> str:
    """`memoryhole <version>`, plus the git commit (and `-dirty`) when run from a checkout."""
    try:
        version = metadata.version("memoryhole")
    except metadata.PackageNotFoundError:
        version = "unknown"
    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists():
        try:
            commit = subprocess.run(
                ["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"],
                capture_output=True, text=True, timeout=5, check=True,
            ).stdout.strip()
            if commit:
                version += f"+g{commit}"
        except (OSError, subprocess.SubprocessError):
            pass
    return f"memoryhole {version}"
