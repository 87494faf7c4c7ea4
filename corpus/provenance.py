"""What made a row: the software version recorded on every crawl and release."""

import atexit
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_DESCRIBE = ["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--abbrev=12"]
_pending: subprocess.Popen | None = None   # a `git describe` started ahead (start_lookup)


def start_lookup() -> None:
    """Start looking up the git commit of a checkout in the background, for a process that will
    record its version later (a crawl): `git describe` then runs while the process imports,
    instead of holding up the first crawl (10-50 ms). Without a checkout, nothing to do."""
    global _pending
    if _pending is not None or software_version.cache_info().currsize or not (
            ROOT / ".git").exists():
        return
    try:
        _pending = subprocess.Popen(_DESCRIBE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
    except OSError:
        _pending = None
        return
    atexit.register(_reap)   # a process that ends before asking (a bad plan) waits for it


def _reap() -> None:
    global _pending
    started, _pending = _pending, None
    if started is not None:
        started.kill()
        started.communicate()


def _commit() -> str:
    """The checkout's `git describe`, or "" (no git, not a checkout, git failed)."""
    global _pending
    started, _pending = _pending, None
    try:
        if started is None:
            return subprocess.run(_DESCRIBE, capture_output=True, text=True, timeout=5,
                                  check=True).stdout.strip()
        out, _ = started.communicate(timeout=5)
    except (OSError, subprocess.SubprocessError):
        if started is not None:
            started.kill()
            started.wait()
        return ""
    return out.strip() if started.returncode == 0 else ""


@cache
def software_version() -> str:
    """`memoryhole <version>`, plus the git commit (and `-dirty`) when run from a checkout."""
    try:
        version = metadata.version("memoryhole")
    except metadata.PackageNotFoundError:
        version = "unknown"
    if (ROOT / ".git").exists() and (commit := _commit()):
        version += f"+g{commit}"
    return f"memoryhole {version}"
