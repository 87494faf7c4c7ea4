"""Time as the corpus stores it: timezone-aware UTC, written as ISO 8601 with microseconds and `Z`.

One fixed format keeps stored times sortable as text. `MEMORYHOLE_NOW` freezes the clock (tests and
replays drive the crawler's time with it, the way they drive the simulated platform's).
"""

import os
from datetime import UTC, datetime


def now() -> datetime:
    """The current time, or the frozen time in MEMORYHOLE_NOW (ISO 8601)."""
    frozen = os.environ.get("MEMORYHOLE_NOW")
    if frozen:
        return parse_iso(frozen)
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Format an aware datetime as the corpus's UTC text form."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: corpus times must carry a timezone")
    moment = moment.astimezone(UTC)
    if moment.year < 1000:   # strftime does not pad the year to 4 digits; isoformat does
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as the strftime above, several times faster (a sighting formats a few).
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_iso(text: str) -> datetime:
    """Parse ISO 8601 text; a time without an offset is taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
