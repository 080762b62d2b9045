"""Garbage collection history (Execution rows of kind "gc") for /system/gc."""

from __future__ import annotations

from django.db.models import QuerySet

from common.api.errors import NotFound
from common.api.filters import Field, queryset_query, queryset_sort
from common.api.query import Match, QueryError, Term
from common.models import Execution, ExecutionStatus
from registry.services.gc_jobs import GC_KIND

# Harbor's job statuses (jobservice) for ours: only success is spelled differently.
HARBOR_STATUS = {ExecutionStatus.SUCCEEDED: "Success"}
_OUR_STATUS = {"Success": ExecutionStatus.SUCCEEDED, **{s.value: s for s in ExecutionStatus}}


def harbor_status(status: str) -> str:
    """Harbor's name of an execution status (Success, not Succeeded)."""
    return HARBOR_STATUS.get(status, status)


def _status_filter(queryset: QuerySet, term: Term) -> QuerySet:
    if term.match not in (Match.EXACT, Match.ANY):
        raise QueryError(f"{term.key} supports exact and {{a b}} matches only")
    unknown = [v for v in term.values if v not in _OUR_STATUS]
    if unknown:
        raise QueryError(f"unknown status {unknown[0][:30]!r}; use one of {', '.join(sorted(_OUR_STATUS))}")
    return queryset.filter(status__in=[_OUR_STATUS[v] for v in term.values])


# Harbor's GC history filters and sorts over the execution's columns.
GC_QUERY_FIELDS = {
    "id": Field("pk", "int"),
    "trigger": Field("trigger"),
    "job_kind": Field("trigger"),
    "creation_time": Field("started", "datetime"),
    "start_time": Field("started", "datetime"),
    "update_time": Field("updated", "datetime"),
}
GC_SORT_FIELDS = {
    "id": "pk",
    "creation_time": "started",
    "start_time": "started",
    "update_time": "updated",
    "end_time": "ended",
    "status": "status",
}


def gc_history_list(*, q: str | None = None, sort: str | None = None) -> QuerySet[Execution]:
    """Collections, newest first unless sorted otherwise; `q` and `sort` through a whitelist."""
    handlers = {"status": _status_filter, "job_status": _status_filter}
    queryset = queryset_query(Execution.objects.filter(kind=GC_KIND), q=q, fields=GC_QUERY_FIELDS, handlers=handlers)
    return queryset_sort(queryset, sort=sort, fields=GC_SORT_FIELDS, default=("-started", "-pk"))


def gc_get(*, gc_id: int) -> Execution:
    """One collection by id; NOT_FOUND otherwise (other kinds of execution included)."""
    execution = Execution.objects.filter(kind=GC_KIND, pk=gc_id).first()
    if execution is None:
        raise NotFound(f"garbage collection {gc_id} not found")
    return execution
