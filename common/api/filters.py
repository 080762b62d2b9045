"""Applying `q` and `sort` to a queryset through a whitelist: nothing else reaches the ORM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from common.api.params import is_int64
from common.api.query import Match, QueryError, Term, query_parse, sort_parse


@dataclass(frozen=True, slots=True)
class Field:
    """A filterable field: the ORM path it maps to and how its values are read."""

    path: str
    kind: str = "str"  # str | int | bool | datetime


def _value(field: Field, raw: str):  # noqa: ANN202 - the converted value
    if field.kind == "str":
        return raw
    if field.kind == "int":
        if not is_int64(raw.removeprefix("-")):  # an int64, as Harbor parses it
            raise QueryError(f"{raw[:50]!r} is not an integer")
        return int(raw)
    if field.kind == "bool":
        lowered = raw.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise QueryError(f"{raw!r} is not a boolean")
        return lowered in ("true", "1")
    if field.kind == "datetime":
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise QueryError(f"{raw!r} is not a time (2020-04-09 02:36:00)") from exc
        return parsed if parsed.tzinfo else timezone.make_aware(parsed, UTC)
    raise QueryError(f"unsupported field kind {field.kind}")


def _condition(term: Term, field: Field) -> Q:
    if term.match is Match.EXACT:
        return Q(**{field.path: _value(field, term.values[0])})
    if term.match is Match.FUZZY:
        if field.kind != "str":
            raise QueryError(f"{term.key} does not support fuzzy match")
        return Q(**{f"{field.path}__icontains": term.values[0]})
    if term.match is Match.RANGE:
        low, high = term.values
        condition = Q()
        if low:
            condition &= Q(**{f"{field.path}__gte": _value(field, low)})
        if high:
            condition &= Q(**{f"{field.path}__lte": _value(field, high)})
        return condition
    if term.match is Match.ANY:
        return Q(**{f"{field.path}__in": [_value(field, v) for v in term.values]})
    raise QueryError("unsupported match")  # ALL is applied as chained filters


def queryset_query(
    queryset: QuerySet,
    *,
    q: str | None,
    fields: dict[str, Field],
    handlers: dict[str, Callable[[QuerySet, Term], QuerySet]] | None = None,
) -> QuerySet:
    """Filter by a `q` string; keys outside `fields` (and `handlers`, for keys with their own rules) are refused."""
    handlers = handlers or {}
    for term in query_parse(q):
        if term.key in handlers:
            queryset = handlers[term.key](queryset, term)
            continue
        field = fields.get(term.key)
        if field is None:
            known = ", ".join(sorted({*fields, *handlers}))
            raise QueryError(f"unsupported query key {term.key!r}; use one of {known}")
        if term.match is Match.ALL:
            # (a b): every value must match; on multi-valued relations (labels) chained filters say "all".
            for value in term.values:
                queryset = queryset.filter(**{field.path: _value(field, value)})
        else:
            queryset = queryset.filter(_condition(term, field))
    return queryset


def queryset_sort(
    queryset: QuerySet, *, sort: str | None, fields: dict[str, str], default: tuple[str, ...]
) -> QuerySet:
    """Order by a `sort` string over whitelisted names (name -> ORM path), else by `default`."""
    ordering = []
    for name, descending in sort_parse(sort):
        path = fields.get(name)
        if path is None:
            raise QueryError(f"unsupported sort field {name!r}; use one of {', '.join(sorted(fields))}")
        ordering.append(f"-{path}" if descending else path)
    return queryset.order_by(*(ordering or default))
