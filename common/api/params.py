"""Integers from paths and query strings, read the way Harbor's Go server reads them (int64)."""

from __future__ import annotations

from common.api.errors import BadRequest

MAX_INT64 = 2**63 - 1


def is_int64(raw: str) -> bool:
    """ASCII digits within int64. `str.isdigit` alone also admits '²' and '١', and `int()` then
    either fails or reads a number no client wrote; a value beyond int64 is no id Harbor issues."""
    if len(raw) > 19 or not (raw.isascii() and raw.isdigit()):
        return False
    return int(raw) <= MAX_INT64


def id_param(raw: str, what: str) -> int:
    """A non-negative int64 path or query value; BAD_REQUEST naming `what` otherwise."""
    if not is_int64(raw):
        raise BadRequest(f"{what} {raw[:50]!r} is not an integer")
    return int(raw)


class Int64Converter:
    """URL converter `<id:name>`: `<int:>` for ids that fit an int64. A longer number is no route (404)
    rather than an integer the database cannot compare (SQLite raises OverflowError on one)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        if not is_int64(value):
            raise ValueError(value)  # Django: a ValueError here means the route doesn't match
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
