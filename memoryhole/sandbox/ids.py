"""Weibo post ids: the numeric `mid` and its base-62 short form `bid`.

The bid is the mid cut into 7-digit groups from the right, each group written in base 62
(alphabet 0-9a-zA-Z) and padded to 4 characters except the leftmost. Checked against real pairs:
3501756485200075 ↔ z0JH2lOMb, 4607741009594608 ↔ K3fnuEfZK.
"""

from __future__ import annotations

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def _to62(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 62)
        out = ALPHABET[r] + out
        if n == 0:
            return out


def mid_to_bid(mid: int | str) -> str:
    """Convert a numeric mid (int or decimal string) to its bid."""
    digits = str(int(mid))
    groups = []
    while digits:
        digits, group = digits[:-7], digits[-7:]
        groups.append(_to62(int(group)).rjust(4 if digits else 0, "0"))
    return "".join(reversed(groups))


def bid_to_mid(bid: str) -> int:
    """Convert a bid back to its numeric mid; raises ValueError on characters outside base 62."""
    if not bid or any(c not in _INDEX for c in bid):
        raise ValueError(f"not a Weibo bid: {bid!r}")
    groups = []
    while bid:
        bid, chunk = bid[:-4], bid[-4:]
        value = 0
        for c in chunk:
            value = value * 62 + _INDEX[c]
        groups.append(str(value).rjust(7 if bid else 0, "0"))
    return int("".join(reversed(groups)))
