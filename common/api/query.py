"""Harbor's `q` query language and `sort` parameter: pure parsing, no ORM.

    q=k1=v1,k2=~v2,k3=[min~max],k4={a b},k5=(a b)

exact, fuzzy, range, union (any of) and intersection (all of). Values may be quoted
with " or '. `sort=field1,-field2` orders ascending / descending.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class QueryError(ValueError):
    """A malformed `q` or `sort` parameter (a 400 for the caller)."""


class Match(Enum):
    EXACT = "exact"
    FUZZY = "fuzzy"
    RANGE = "range"
    ANY = "any"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Term:
    key: str
    match: Match
    values: tuple[str, ...]  # RANGE: (min, max), either may be ""


_CLOSERS = {"{": "}", "(": ")", "[": "]"}


def _split_top_level(text: str, sep: str) -> list[str]:
    """Split on `sep` outside brackets and quotes."""
    parts, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
            if depth < 0:
                raise QueryError(f"unbalanced {char!r} in query")
        elif char == sep and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote or depth:
        raise QueryError("unterminated quote or bracket in query")
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _items(inner: str) -> tuple[str, ...]:
    items = tuple(_unquote(v) for v in _split_top_level(inner.strip(), " ") if v.strip())
    if not items:
        raise QueryError("empty list in query")
    return items


def _term(text: str) -> Term:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise QueryError(f"query term {text[:100]!r} is not key=value")
    value = value.strip()
    if value.startswith("~"):
        return Term(key, Match.FUZZY, (_unquote(value[1:]),))
    if value[:1] in _CLOSERS:
        if not value.endswith(_CLOSERS[value[0]]):
            raise QueryError(f"query value {value[:100]!r} is not closed")
        inner = value[1:-1]
        if value[0] == "[":
            low, tilde, high = inner.partition("~")
            if not tilde:
                raise QueryError("a range is written [min~max]")
            return Term(key, Match.RANGE, (_unquote(low), _unquote(high)))
        return Term(key, Match.ANY if value[0] == "{" else Match.ALL, _items(inner))
    return Term(key, Match.EXACT, (_unquote(value),))


def query_parse(q: str | None) -> list[Term]:
    """Parse a `q` parameter into terms (empty for none)."""
    if not q or not q.strip():
        return []
    return [_term(part) for part in _split_top_level(q, ",") if part.strip()]


def sort_parse(sort: str | None) -> list[tuple[str, bool]]:
    """Parse `sort` into (field, descending) pairs."""
    if not sort:
        return []
    result = []
    for item in sort.split(","):
        item = item.strip()
        if not item:
            continue
        descending = item.startswith("-")
        name = item.lstrip("-+")
        if not name:
            raise QueryError(f"invalid sort field {item!r}")
        result.append((name, descending))
    return result
