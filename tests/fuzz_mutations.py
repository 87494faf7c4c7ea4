"""One hypothesis strategy the parser fuzz suites share: a recorded body with 1-4 bytes flipped,
dropped or inserted."""

from __future__ import annotations

from collections.abc import Iterable

from hypothesis import strategies as st


@st.composite
def mutated(draw, sources: Iterable[bytes]) -> bytes:
    body = bytearray(draw(st.sampled_from(sorted(sources))))
    for _ in range(draw(st.integers(1, 4))):
        if not body:
            break
        at = draw(st.integers(0, len(body) - 1))
        op = draw(st.sampled_from(["flip", "drop", "insert"]))
        if op == "flip":
            body[at] ^= draw(st.integers(1, 255))
        elif op == "drop":
            del body[at]
        else:
            body[at:at] = draw(st.binary(min_size=1, max_size=4))
    return bytes(body)
