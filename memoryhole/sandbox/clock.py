"""Clocks for the simulated platform.

The world is a pure function of time, so whoever owns the clock owns the story: `SystemClock`
follows the wall clock (a live demo), `ManualClock` only moves when told (tests, replays).
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything with `now()` returning an aware UTC datetime."""

    def now(self) -> datetime: ...


def as_utc(moment: datetime) -> datetime:
    """Return `moment` in UTC; naive datetimes are refused (ambiguous by design)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: sandbox times must carry a timezone")
    return moment.astimezone(UTC)


class SystemClock:
    """The real current time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until `set` or `advance` moves it (thread-safe)."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (backwards is allowed: the world is a function of time)."""
        moment = as_utc(moment)
        with self._lock:
            self._now = moment

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds` and return the new time."""
        with self._lock:
            self._now = self._now + timedelta(seconds=seconds)
            return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()})"
