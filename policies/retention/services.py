"""Writes of tag retention: the policy (with its project metadata and beat entry), triggering and stopping runs.

The run itself (candidates, rules, deletes, task logs) is in policies.retention.runs.
"""

from __future__ import annotations

import logging

from django.db import transaction

from audit.services import audit_record
from common.api.errors import BadRequest, Conflict
from common.jobs import job_enqueue
from common.models import Execution, ExecutionStatus
from common.schedules import cron_validate, schedule_set
from common.services import execution_create, execution_stop
from policies.models import RetentionPolicy
from policies.retention import rules
from projects.members import project_metadata_add, project_metadata_delete, project_metadata_update
from projects.models import Project

logger = logging.getLogger(__name__)

KIND = "RETENTION"  # Execution.kind of retention runs (Harbor's vendor type)
METADATA_KEY = "retention_id"
SCHEDULE_KIND = "Schedule"
SCHEDULED_TASK = (
    "policies.retention_scheduled"  # the tasks of policies.tasks, enqueued by name (tasks import this module)
)
RUN_TASK = "policies.retention_run"
ACTIVE = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)


def schedule_name(policy_id: int) -> str:
    """The beat entry of a policy's cron."""
    return f"retention-{policy_id}"


def _rules(raw: object) -> list[dict]:
    try:
        cleaned = rules.rules_validate(raw)
    except rules.RuleConflict as exc:
        raise Conflict(str(exc)) from exc
    except rules.RetentionInvalid as exc:
        raise BadRequest(str(exc)) from exc
    return [{"id": n + 1, **rule} for n, rule in enumerate(cleaned)]


def _algorithm(value: object) -> str:
    if value not in (None, "", rules.ALGORITHM):
        raise BadRequest(f"algorithm {str(value)[:50]!r} is not supported (only {rules.ALGORITHM!r})")
    return rules.ALGORITHM


def _trigger(raw: object) -> dict:
    """Harbor's trigger: kind "Schedule" with settings.cron (6 fields; empty: no schedule)."""
    if raw in (None, {}):
        return {"kind": SCHEDULE_KIND, "settings": {"cron": ""}}
    if not isinstance(raw, dict):
        raise BadRequest("trigger must be an object")
    kind = raw.get("kind") or SCHEDULE_KIND
    if kind != SCHEDULE_KIND:
        raise BadRequest(f"trigger kind {str(kind)[:50]!r} is not supported (only {SCHEDULE_KIND!r})")
    settings = raw.get("settings") or {}
    if not isinstance(settings, dict):
        raise BadRequest("trigger.settings must be an object")
    cron = settings.get("cron") or ""
    if not isinstance(cron, str):
        raise BadRequest("trigger.settings.cron must be a string")
    return {"kind": SCHEDULE_KIND, "settings": {"cron": cron_validate(cron) if cron else ""}}


def _schedule(policy: RetentionPolicy) -> None:
    schedule_set(name=schedule_name(policy.pk), task=SCHEDULED_TASK, cron=policy.cron, kwargs={"policy_id": policy.pk})


def _audit(operation: str, policy: RetentionPolicy, project: Project, description: str) -> None:
    audit_record(
        operation=operation,
        resource_type="retention",
        resource=f"{project.name}/retention/{policy.pk}",
        project_id=project.pk,
        description=description,
    )


def _describe(policy: RetentionPolicy) -> str:
    parts = [f"{r['template']}{r['params'].get(r['template'], '')}" for r in policy.rules]
    cron = policy.cron or "manual"
    return f"rules: {', '.join(parts) or 'none'}; schedule: {cron}"


def retention_policy_create(
    *, project: Project, rules: object, algorithm: object = None, trigger: object = None
) -> RetentionPolicy:
    """Create the project's retention policy (one per project), set `retention_id` and its schedule."""
    cleaned, alg, trig = _rules(rules), _algorithm(algorithm), _trigger(trigger)
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        existing = RetentionPolicy.objects.filter(project=locked).values_list("pk", flat=True).first()
        if existing is not None:
            raise BadRequest(f"project {locked.pk} already has retention policy {existing}")
        policy = RetentionPolicy.objects.create(project=locked, algorithm=alg, rules=cleaned, trigger=trig)
        value = {METADATA_KEY: str(policy.pk)}
        if METADATA_KEY in locked.metadata:  # left by a policy removed outside the API
            project_metadata_update(project=locked, name=METADATA_KEY, values=value)
        else:
            project_metadata_add(project=locked, values=value)
        _schedule(policy)
        _audit("create", policy, locked, _describe(policy))
    return policy


def retention_policy_update(
    *, policy: RetentionPolicy, rules: object, algorithm: object = None, trigger: object = None
) -> RetentionPolicy:
    """Replace the policy's rules, algorithm and trigger (Harbor's PUT), keeping the beat entry in step."""
    cleaned, alg, trig = _rules(rules), _algorithm(algorithm), _trigger(trigger)
    with transaction.atomic():
        locked = RetentionPolicy.objects.select_for_update().select_related("project").get(pk=policy.pk)
        locked.rules, locked.algorithm, locked.trigger = cleaned, alg, trig
        locked.save(update_fields=["rules", "algorithm", "trigger", "updated"])
        _schedule(locked)
        _audit("update", locked, locked.project, _describe(locked))
    return locked


def retention_policy_delete(*, policy: RetentionPolicy) -> None:
    """Delete the policy, its runs, its schedule and the project's `retention_id`; CONFLICT while a run is active."""
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=policy.project_id)
        RetentionPolicy.objects.select_for_update().filter(pk=policy.pk).first()  # no run starts meanwhile
        active = Execution.objects.filter(kind=KIND, vendor_id=policy.pk, status__in=ACTIVE).first()
        if active is not None:  # Harbor: an execution that isn't final can't be deleted; stop it first
            raise Conflict(f"retention run {active.pk} of policy {policy.pk} is {active.status.lower()}; stop it first")
        schedule_set(name=schedule_name(policy.pk), task=SCHEDULED_TASK, cron="")
        Execution.objects.filter(kind=KIND, vendor_id=policy.pk).delete()
        if METADATA_KEY in project.metadata:
            project_metadata_delete(project=project, name=METADATA_KEY)
        _audit("delete", policy, project, "")
        policy.delete()


def retention_trigger(
    *, policy: RetentionPolicy, dry_run: bool = False, trigger: str = "MANUAL", enqueue: bool = True
) -> Execution:
    """Record a PENDING run of the policy (enqueued on commit unless told not to); CONFLICT while one is active."""
    with transaction.atomic():
        RetentionPolicy.objects.select_for_update().filter(pk=policy.pk).first()  # one run per policy at a time
        active = Execution.objects.filter(kind=KIND, vendor_id=policy.pk, status__in=ACTIVE).first()
        if active is not None:
            raise Conflict(f"retention run {active.pk} of policy {policy.pk} is {active.status.lower()}; stop it first")
        execution = execution_create(
            kind=KIND, trigger=trigger, dry_run=dry_run, vendor_id=policy.pk, parameters={"dry_run": dry_run}
        )
        if enqueue:
            transaction.on_commit(lambda: job_enqueue(RUN_TASK, execution_id=execution.pk))
    return execution


def retention_scheduled(*, policy_id: int) -> Execution | None:
    """A run fired by beat: start and execute it now; None when the policy is gone or a run is active."""
    from policies.retention.runs import retention_execute

    policy = RetentionPolicy.objects.filter(pk=policy_id).first()
    if policy is None:  # gone with its project (a cascade): the orphaned beat entry goes too
        schedule_set(name=schedule_name(policy_id), task=SCHEDULED_TASK, cron="")
        return None
    try:
        execution = retention_trigger(policy=policy, trigger="SCHEDULE", enqueue=False)
    except Conflict as exc:
        logger.info("retention: scheduled run skipped: %s", exc)
        return None
    return retention_execute(execution_id=execution.pk)


def retention_execution_stop(*, execution: Execution) -> Execution:
    """Ask a pending or running retention run to stop (the worker stops between repositories and batches)."""
    return execution_stop(execution=execution)
