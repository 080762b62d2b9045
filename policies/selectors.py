"""Reads of immutability rules, and the question the immutability gate (policies/gates.py) asks of them."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from django.db.models import QuerySet

from common.api.errors import NotFound
from common.api.filters import Field, queryset_query, queryset_sort
from policies.models import ImmutabilityRule
from policies.rules import Rule, is_immutable
from projects.models import Project

RULE_QUERY_FIELDS = {
    "id": Field("pk", "int"),
    "priority": Field("priority", "int"),
    "disabled": Field("disabled", "bool"),
}
RULE_SORT_FIELDS = {"id": "pk", "priority": "priority", "creation_time": "created", "update_time": "updated"}


def immutability_rule_list(*, project: Project, q: str | None = None, sort: str | None = None) -> QuerySet:
    """The project's rules, filtered by Harbor's `q` and ordered by `sort` (default: priority, id)."""
    queryset = queryset_query(ImmutabilityRule.objects.filter(project=project), q=q, fields=RULE_QUERY_FIELDS)
    return queryset_sort(queryset, sort=sort, fields=RULE_SORT_FIELDS, default=("priority", "pk"))


def immutability_rule_get(*, project: Project, rule_id: int) -> ImmutabilityRule:
    """The project's rule `rule_id`, or NotFound (a rule of another project is not found)."""
    rule = ImmutabilityRule.objects.filter(project=project, pk=rule_id).first()
    if rule is None:
        raise NotFound(f"immutable tag rule {rule_id} not found in project {project.name}")
    return rule


def _project_rules(**lookup: object) -> list[Rule]:
    rows = ImmutabilityRule.objects.filter(disabled=False, **lookup).values_list("scope_selectors", "tag_selectors")
    return [Rule.from_json(scope_selectors=scope, tag_selectors=tags) for scope, tags in rows]


def immutable_tags_in(*, rules: list[Rule], repository_name: str, names: Iterable[str]) -> set[str]:
    """The names among `names` the rules protect in `repository_name` (full name, `project/...`)."""
    short = repository_name.split("/", 1)[1] if "/" in repository_name else repository_name
    return {name for name in names if is_immutable(rules, short, name)}


def project_rules(*, project_id: int, revision: int | None = None) -> list[Rule]:
    """The enabled rules of a project, as values: one query, or none when the project's policy revision is given.

    `revision` is `Project.policy_revision` as the caller read it in its own transaction (a push, under
    a lock that orders it with rule writes: projects.services.project_policies_changed). Revision 0
    means the project never had a rule; otherwise the rules are remembered per process for that
    revision, and any rule write moves the revision on, in every process at once.
    """
    if revision == 0:
        return []
    if revision is None:
        return _project_rules(project_id=project_id)
    remembered = _remembered.get(project_id)
    if remembered is not None and remembered[0] == revision:
        return list(remembered[1])
    rules = _project_rules(project_id=project_id)
    with _remembered_lock:
        if len(_remembered) >= _REMEMBERED_MAX:
            _remembered.clear()
        _remembered[project_id] = (revision, tuple(rules))
    return rules


# project id -> (policy revision, its enabled rules); see project_rules.
_remembered: dict[int, tuple[int, tuple[Rule, ...]]] = {}
_remembered_lock = threading.Lock()
_REMEMBERED_MAX = 10_000


def project_rules_forget() -> None:
    """Forget the remembered rules of every project (tests: ids of rolled back projects come back on SQLite)."""
    with _remembered_lock:
        _remembered.clear()
