"""Writes of immutability rules: create, update (or toggle), delete."""

from __future__ import annotations

from django.db import transaction

from audit.services import audit_record
from common.api.errors import BadRequest, Conflict
from policies import rules
from policies.models import ImmutabilityRule
from projects.models import Project
from projects.services import project_policies_changed

# Harbor caps a project's immutable tag rules (immutable controller: "the rule count exceeds 15").
MAX_RULES_PER_PROJECT = 15


def _validated(scope_selectors: object, tag_selectors: object) -> tuple[dict, list[dict]]:
    try:
        return rules.selectors_validate(scope_selectors=scope_selectors, tag_selectors=tag_selectors)
    except rules.RuleInvalid as exc:
        raise BadRequest(str(exc)) from exc


def _duplicate_check(*, project: Project, scope: dict, tags: list[dict], exclude: int | None = None) -> None:
    same = ImmutabilityRule.objects.filter(project=project, scope_selectors=scope, tag_selectors=tags)
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if same.exists():
        raise Conflict("an immutable tag rule with the same selectors already exists in the project")


def immutability_rule_create(
    *,
    project: Project,
    scope_selectors: object,
    tag_selectors: object,
    disabled: bool = False,
    priority: int = 0,
) -> ImmutabilityRule:
    """Add a rule to the project (BadRequest on invalid selectors, Conflict on a duplicate)."""
    scope, tags = _validated(scope_selectors, tag_selectors)
    with transaction.atomic():
        # The push path's rule caches see the new revision; its FOR UPDATE lock on the project also
        # serialises the count and duplicate checks below.
        project_policies_changed(project_id=project.pk)
        if ImmutabilityRule.objects.filter(project=project).count() >= MAX_RULES_PER_PROJECT:
            raise BadRequest(f"a project holds at most {MAX_RULES_PER_PROJECT} immutable tag rules")
        _duplicate_check(project=project, scope=scope, tags=tags)
        rule = ImmutabilityRule.objects.create(
            project=project, scope_selectors=scope, tag_selectors=tags, disabled=disabled, priority=priority
        )
        _rule_record(rule, "create")
        return rule


def immutability_rule_update(
    *,
    rule: ImmutabilityRule,
    scope_selectors: object | None = None,
    tag_selectors: object | None = None,
    disabled: bool | None = None,
    priority: int | None = None,
) -> ImmutabilityRule:
    """Change a rule's selectors, priority or disabled flag (selectors not given are kept)."""
    if scope_selectors is not None or tag_selectors is not None:
        scope, tags = _validated(
            rule.scope_selectors if scope_selectors is None else scope_selectors,
            rule.tag_selectors if tag_selectors is None else tag_selectors,
        )
    else:
        scope, tags = rule.scope_selectors, rule.tag_selectors
    with transaction.atomic():
        project_policies_changed(project_id=rule.project_id)
        _duplicate_check(project=rule.project, scope=scope, tags=tags, exclude=rule.pk)
        rule.scope_selectors, rule.tag_selectors = scope, tags
        if disabled is not None:
            rule.disabled = disabled
        if priority is not None:
            rule.priority = priority
        rule.save()
        _rule_record(rule, "update")
    return rule


def immutability_rule_delete(*, rule: ImmutabilityRule) -> None:
    """Remove a rule."""
    with transaction.atomic():
        project_policies_changed(project_id=rule.project_id)
        _rule_record(rule, "delete")
        rule.delete()


def _patterns(selectors: list[dict]) -> str:
    return ",".join(f"{s.get('decoration', '')}:{s.get('pattern', '')}" for s in selectors)


def _rule_record(rule: ImmutabilityRule, operation: str) -> None:
    """Audit a rule write in the caller's transaction: resource is the rule id, the description its selectors."""
    repositories = _patterns(rule.scope_selectors.get("repository", []))
    state = " (disabled)" if rule.disabled else ""
    audit_record(
        operation=operation,
        resource_type="immutable_rule",
        resource=str(rule.pk),
        project_id=rule.project_id,
        description=f"repositories {repositories} tags {_patterns(rule.tag_selectors)}{state}",
    )
