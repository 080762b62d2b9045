"""Whitelisted `q` keys and `sort` fields of the registry lists, and Harbor's special artifact keys.

Artifacts take `tags=*` (tagged), `tags=nil` (untagged), `tags=v`, `tags=~v`, `labels=(id1 id2)`
(all of the labels) and `base=*` (index children too), as Harbor's artifact DAO does.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from common.api.filters import Field, queryset_query, queryset_sort
from common.api.query import Match, QueryError, Term, query_parse
from registry.models import Tag

REPOSITORY_QUERY = {
    "name": Field("name"),
    "project_id": Field("project_id", "int"),
    "repository_id": Field("pk", "int"),
    "pull_count": Field("pull_count", "int"),
    "creation_time": Field("created", "datetime"),
    "update_time": Field("updated", "datetime"),
}
REPOSITORY_SORT = {
    "name": "name",
    "creation_time": "created",
    "update_time": "updated",
    "pull_count": "pull_count",
    "repository_id": "pk",
    "id": "pk",
}
REPOSITORY_DEFAULT = ("-created", "-pk")

ARTIFACT_QUERY = {
    "id": Field("pk", "int"),
    "digest": Field("digest"),
    "manifest_media_type": Field("media_type"),
    "artifact_type": Field("artifact_type"),
    "size": Field("size", "int"),
    "push_time": Field("push_time", "datetime"),
    "pull_time": Field("pull_time", "datetime"),
}
ARTIFACT_SORT = {"push_time": "push_time", "pull_time": "pull_time", "size": "size", "digest": "digest", "id": "pk"}
ARTIFACT_DEFAULT = ("-push_time", "-pk")

TAG_QUERY = {
    "id": Field("pk", "int"),
    "name": Field("name"),
    "push_time": Field("push_time", "datetime"),
    "pull_time": Field("pull_time", "datetime"),
}
TAG_SORT = {"name": "name", "push_time": "push_time", "pull_time": "pull_time", "id": "pk"}
TAG_DEFAULT = ("-push_time", "-pk")

ACCESSORY_QUERY = {
    "digest": Field("digest"),
    "type": Field("accessory_type"),
    "size": Field("size", "int"),
    "creation_time": Field("push_time", "datetime"),
}
ACCESSORY_SORT = {"creation_time": "push_time", "size": "size", "digest": "digest", "id": "pk"}
ACCESSORY_DEFAULT = ("-push_time", "-pk")

LABEL_QUERY = {
    "id": Field("pk", "int"),
    "name": Field("name"),
    "creation_time": Field("created", "datetime"),
    "update_time": Field("updated", "datetime"),
}
LABEL_SORT = {"name": "name", "creation_time": "created", "update_time": "updated", "id": "pk"}
LABEL_DEFAULT = ("pk",)


def _tags(queryset: QuerySet, term: Term) -> QuerySet:
    tags = Tag.objects.filter(artifact_id=OuterRef("pk"))
    if term.match is Match.FUZZY:
        return queryset.filter(Exists(tags.filter(name__contains=term.values[0])))
    if term.match is Match.EXACT:
        value = term.values[0]
        if value == "*":
            return queryset.filter(Exists(tags))
        if value == "nil":
            return queryset.exclude(Exists(tags))
        return queryset.filter(Exists(tags.filter(name=value)))
    raise QueryError('the value of "tags" query can only be fuzzy match value or exact match value')


def _labels(queryset: QuerySet, term: Term) -> QuerySet:
    message = 'the value of "labels" query can only be integer list with intersection relationship'
    if term.match is not Match.ALL:
        raise QueryError(message)
    for value in term.values:
        try:
            label_id = int(value)
        except ValueError as exc:
            raise QueryError(message) from exc
        queryset = queryset.filter(label_refs__label_id=label_id)  # chained: every label, one join each
    return queryset


def _base(queryset: QuerySet, term: Term) -> QuerySet:
    if term.match is not Match.EXACT or term.values[0] != "*":
        raise QueryError('the value of "base" query can only be exact match value with "*"')
    return queryset  # the selector already widened the base (see wants_base)


def wants_base(q: str | None) -> bool:
    """Does `q` ask for every artifact (`base=*`), index children included?"""
    return any(term.key == "base" for term in query_parse(q))


def artifact_filter(queryset: QuerySet, *, q: str | None, sort: str | None) -> QuerySet:
    handlers = {"tags": _tags, "labels": _labels, "base": _base}
    queryset = queryset_query(queryset, q=q, fields=ARTIFACT_QUERY, handlers=handlers)
    return queryset_sort(queryset, sort=sort, fields=ARTIFACT_SORT, default=ARTIFACT_DEFAULT)


def repository_filter(queryset: QuerySet, *, q: str | None, sort: str | None) -> QuerySet:
    queryset = queryset_query(queryset, q=q, fields=REPOSITORY_QUERY)
    return queryset_sort(queryset, sort=sort, fields=REPOSITORY_SORT, default=REPOSITORY_DEFAULT)


def tag_filter(queryset: QuerySet, *, q: str | None, sort: str | None) -> QuerySet:
    queryset = queryset_query(queryset, q=q, fields=TAG_QUERY)
    return queryset_sort(queryset, sort=sort, fields=TAG_SORT, default=TAG_DEFAULT)


def accessory_filter(queryset: QuerySet, *, q: str | None, sort: str | None) -> QuerySet:
    queryset = queryset_query(queryset, q=q, fields=ACCESSORY_QUERY)
    return queryset_sort(queryset, sort=sort, fields=ACCESSORY_SORT, default=ACCESSORY_DEFAULT)


def label_filter(queryset: QuerySet, *, q: str | None, sort: str | None) -> QuerySet:
    queryset = queryset_query(queryset, q=q, fields=LABEL_QUERY)
    return queryset_sort(queryset, sort=sort, fields=LABEL_SORT, default=LABEL_DEFAULT)
