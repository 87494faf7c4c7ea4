"""One CSV per released table: UTF-8, header row, empty field = NULL, bytes independent of the
machine."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any


def csv_bytes(columns: list[str], rows: Iterable[tuple]) -> bytes:
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
