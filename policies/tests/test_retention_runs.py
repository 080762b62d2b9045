"""Retention services and runs on real rows: policy bookkeeping, runs, immutability, stop, events, query budget."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audit.models import AuditLog
from common.api.errors import BadRequest, Conflict
from common.events import (
    ARTIFACT_DELETED,
    RETENTION_COMPLETED,
    Event,
    event_subscribe,
    event_unsubscribe,
    events_captured,
)
from common.models import Execution, ExecutionStatus, Task
from common.services import execution_stop
from policies import tasks
from policies.models import RetentionPolicy
from policies.retention import runs, services
from policies.retention.runs import retention_candidates, retention_execute
from policies.services import immutability_rule_create
from projects.models import Project
from projects.services import project_create
from registry.models import Artifact, Repository, Tag
from registry.tests.api import builders

pytestmark = pytest.mark.django_db


def rule(template: str, param: int | None = None, *, tag: str = "**", repo: str = "**", untagged: bool = False) -> dict:
    return {
        "template": template,
        "params": {} if param is None else {template: param},
        "tag_selectors": [
            {
                "kind": "doublestar",
                "decoration": "matches",
                "pattern": tag,
                "extras": json.dumps({"untagged": untagged}),
            }
        ],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repo}]},
    }


@pytest.fixture
def project():
    return project_create(name="lib")


def push(repo: Repository, tag: str, days_ago: float) -> Artifact:
    """An image tagged `tag`, pushed `days_ago` days ago (artifact and tag)."""
    artifact = builders.image(repo, tag=tag, seed=f"{repo.name}:{tag}")
    when = timezone.now() - timedelta(days=days_ago)
    Artifact.objects.filter(pk=artifact.pk).update(push_time=when)
    Tag.objects.filter(artifact=artifact).update(push_time=when)
    return artifact


@pytest.fixture
def app(project):
    repo = builders.repository("lib/app")
    for n in range(1, 6):
        push(repo, f"v{n}", days_ago=10 - n)  # v5 is the newest
    return repo


def tags_of(repo: Repository) -> set[str]:
    return set(Tag.objects.filter(repository=repo).values_list("name", flat=True))


def run(policy: RetentionPolicy, *, dry_run: bool = False, callbacks=None) -> Execution:  # noqa: ANN001
    execution = services.retention_trigger(policy=policy, dry_run=dry_run)
    return retention_execute(execution_id=execution.pk)


# --- policies --------------------------------------------------------------------------------------------------


def test_create_sets_metadata_schedule_and_audit(project):
    policy = services.retention_policy_create(
        project=project,
        rules=[rule("latestPushedK", 2)],
        algorithm="or",
        trigger={"kind": "Schedule", "settings": {"cron": "0 0 3 * * *"}},
    )
    project.refresh_from_db()
    assert project.metadata["retention_id"] == str(policy.pk)
    assert (policy.rules[0]["id"], policy.rules[0]["params"]) == (1, {"latestPushedK": 2})
    beat = PeriodicTask.objects.get(name=services.schedule_name(policy.pk))
    assert (beat.task, beat.crontab.hour, beat.crontab.minute) == ("policies.retention_scheduled", "3", "0")
    assert beat.kwargs == f'{{"policy_id": {policy.pk}}}'
    audit = AuditLog.objects.get(resource_type="retention")
    assert (audit.operation, audit.project_id) == ("create", project.pk)
    assert "latestPushedK2" in audit.operation_description
    with pytest.raises(BadRequest, match="already has retention policy"):
        services.retention_policy_create(project=project, rules=[])


def test_update_keeps_the_schedule_in_step_and_delete_cleans_up(project):
    policy = services.retention_policy_create(project=project, rules=[rule("always")])
    beat = PeriodicTask.objects.filter(name=services.schedule_name(policy.pk))
    assert not beat.exists()
    services.retention_policy_update(
        policy=policy, rules=[rule("always")], trigger={"kind": "Schedule", "settings": {"cron": "0 */5 * * * *"}}
    )
    assert beat.get().crontab.minute == "*/5"
    services.retention_policy_update(policy=policy, rules=[rule("always")], trigger={"settings": {"cron": ""}})
    assert not beat.exists()
    services.retention_policy_update(
        policy=policy, rules=[rule("always")], trigger={"kind": "Schedule", "settings": {"cron": "0 0 * * * *"}}
    )
    execution = services.retention_trigger(policy=policy, dry_run=True)
    with pytest.raises(Conflict, match="stop it first"):
        services.retention_policy_delete(policy=policy)
    services.retention_execution_stop(execution=execution)
    services.retention_policy_delete(policy=policy)
    assert not RetentionPolicy.objects.exists()
    assert not beat.exists()
    assert not Execution.objects.filter(pk=execution.pk).exists()
    assert "retention_id" not in Project.objects.get(pk=project.pk).metadata
    assert list(
        AuditLog.objects.filter(resource_type="retention").order_by("pk").values_list("operation", flat=True)
    ) == [
        "create",
        "update",
        "update",
        "update",
        "delete",
    ]
    # The project can have a policy again.
    services.retention_policy_create(project=project, rules=[])


def test_a_stale_retention_id_is_replaced(project):
    Project.objects.filter(pk=project.pk).update(metadata={"retention_id": "999"})  # its policy removed by hand
    policy = services.retention_policy_create(project=Project.objects.get(pk=project.pk), rules=[])
    assert Project.objects.get(pk=project.pk).metadata == {"retention_id": str(policy.pk)}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"rules": [rule("always")] * 2}, Conflict, "conflict with rule 0"),
        ({"rules": [rule("latestPushedK")]}, BadRequest, "missing required parameter"),
        ({"rules": [rule("always")], "algorithm": "and"}, BadRequest, "only 'or'"),
        ({"rules": [], "trigger": {"kind": "Event"}}, BadRequest, "only 'Schedule'"),
        ({"rules": [], "trigger": {"kind": "Schedule", "settings": {"cron": "* * *"}}}, BadRequest, "6 fields"),
        ({"rules": [rule("latestPushedK", n) for n in range(16)]}, BadRequest, "only 15 rules"),
    ],
)
def test_invalid_policies_change_nothing(project, kwargs, error, message):
    with pytest.raises(error, match=message):
        services.retention_policy_create(project=project, **kwargs)
    assert not RetentionPolicy.objects.exists()
    assert not AuditLog.objects.filter(resource_type="retention").exists()
    assert "retention_id" not in Project.objects.get(pk=project.pk).metadata


# --- runs ------------------------------------------------------------------------------------------------------


def test_trigger_enqueues_on_commit_and_refuses_a_second_active_run(project, django_capture_on_commit_callbacks):
    policy = services.retention_policy_create(project=project, rules=[rule("always")])
    with django_capture_on_commit_callbacks() as callbacks:
        execution = services.retention_trigger(policy=policy, dry_run=True)
    assert len(callbacks) == 1
    assert (execution.kind, execution.vendor_id, execution.dry_run, execution.status) == (
        "RETENTION",
        policy.pk,
        True,
        ExecutionStatus.PENDING,
    )
    with pytest.raises(Conflict, match="stop it first"):
        services.retention_trigger(policy=policy)
    services.retention_execution_stop(execution=execution)
    assert retention_execute(execution_id=execution.pk) is None  # stopped before it began
    assert services.retention_trigger(policy=policy).status == ExecutionStatus.PENDING


def test_a_run_keeps_the_newest_and_deletes_the_rest(project, app, django_capture_on_commit_callbacks):
    web = builders.repository("lib/web")
    push(web, "old", days_ago=100)
    policy = services.retention_policy_create(project=project, rules=[rule("latestPushedK", 2, repo="app")])
    doomed = dict(
        Tag.objects.filter(repository=app, name__in=["v1", "v2", "v3"]).values_list("name", "artifact__digest")
    )
    with (
        events_captured(ARTIFACT_DELETED, RETENTION_COMPLETED) as seen,
        django_capture_on_commit_callbacks(execute=True),
    ):
        execution = run(policy)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert tags_of(app) == {"v4", "v5"}
    assert tags_of(web) == {"old"}  # no rule looks at lib/web
    assert execution.counts == {
        "repositories": 1,
        "total": 5,
        "retained": 2,
        "deleted": 3,
        "immutable": 0,
        "errors": 0,
    }
    [task] = Task.objects.filter(execution=execution)
    assert (task.name, task.status, task.counts["total"], task.counts["retained"]) == (
        "lib/app",
        ExecutionStatus.SUCCEEDED,
        5,
        2,
    )
    lines = task.log.splitlines()
    assert lines[0].startswith("Run retention process. Repository: lib/app")
    assert sum(line.startswith("RETAIN ") and "retained by rule 1 (latestPushedK=2)" in line for line in lines) == 2
    assert sum(line.startswith("DEL ") and "no rule retains it" in line for line in lines) == 3
    deleted_events = [e for e in seen if e.type == ARTIFACT_DELETED]
    assert {e.data.get("digest") for e in deleted_events} == set(doomed.values())
    [completed] = [e for e in seen if e.type == RETENTION_COMPLETED]
    assert completed.project_id == project.pk
    assert completed.data["execution_id"] == execution.pk
    assert (completed.data["dry_run"], completed.data["total"], completed.data["retained"]) == (False, 5, 2)
    assert sorted((d["repository"], tuple(d["tags"]), d["digest"]) for d in completed.data["deleted"]) == sorted(
        ("lib/app", (name,), digest) for name, digest in doomed.items()
    )


def test_a_dry_run_deletes_nothing_and_says_what_would_go(project, app, django_capture_on_commit_callbacks):
    policy = services.retention_policy_create(project=project, rules=[rule("latestPushedK", 1)])
    with events_captured(RETENTION_COMPLETED) as seen, django_capture_on_commit_callbacks(execute=True):
        execution = run(policy, dry_run=True)
    assert tags_of(app) == {"v1", "v2", "v3", "v4", "v5"}
    assert (execution.status, execution.counts["deleted"], execution.counts["retained"]) == ("Succeeded", 4, 1)
    assert "would delete 4" in execution.log
    task = Task.objects.get(execution=execution)
    assert task.log.count("(dry run: kept)") == 4
    assert seen[0].data["dry_run"] is True
    assert len(seen[0].data["deleted"]) == 4


def test_immutable_artifacts_are_never_deleted(project, app):
    immutability_rule_create(
        project=project,
        scope_selectors={"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
        tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": "v1"}],
    )
    policy = services.retention_policy_create(project=project, rules=[rule("latestPushedK", 1)])
    execution = run(policy)
    assert tags_of(app) == {"v1", "v5"}
    assert (execution.counts["retained"], execution.counts["immutable"], execution.counts["deleted"]) == (2, 1, 3)
    log = Task.objects.get(execution=execution).log
    assert any(line.startswith("RETAIN-IMMUTABLE") and "tags=v1 " in line for line in log.splitlines())


def test_untagged_artifacts_only_when_the_selector_says_so(project, app):
    loose = builders.image(app, seed="untagged")
    policy = services.retention_policy_create(project=project, rules=[rule("latestPushedK", 5, untagged=False)])
    run(policy)
    assert not Artifact.objects.filter(pk=loose.pk).exists()  # not selected by any rule: deleted
    loose = builders.image(app, seed="untagged-2")
    services.retention_policy_update(policy=policy, rules=[rule("latestPushedK", 6, untagged=True)])
    run(policy)
    assert Artifact.objects.filter(pk=loose.pk).exists()
    assert tags_of(app) == {"v1", "v2", "v3", "v4", "v5"}


def test_candidates_leave_accessories_and_index_children_to_their_parent(project):
    repo = builders.repository("lib/multi")
    child = builders.image(repo, seed="child")
    index = builders.index(repo, [(child, {"os": "linux", "architecture": "amd64"})], tag="multi")
    signature = builders.signature(repo, index)
    candidates = retention_candidates(repository_id=repo.pk, repository_name=repo.name)
    assert [(c.digest, c.tags, c.repository) for c in candidates] == [(index.digest, ("multi",), "multi")]
    policy = services.retention_policy_create(project=project, rules=[rule("latestPushedK", 0)])
    run(policy)
    assert not Artifact.objects.filter(pk__in=[child.pk, index.pk, signature.pk]).exists()


def test_a_stop_between_repositories_ends_the_run_stopped(project, app):
    policy = services.retention_policy_create(project=project, rules=[rule("latestPushedK", 1)])
    execution = services.retention_trigger(policy=policy)
    begun = Execution.objects.get(pk=execution.pk)
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.RUNNING)
    execution_stop(execution=begun)  # as the API would while the worker runs
    finished = runs._execute(begun, policy)
    assert finished.status == ExecutionStatus.STOPPED
    assert not Task.objects.filter(execution=execution).exists()
    assert tags_of(app) == {"v1", "v2", "v3", "v4", "v5"}


@pytest.mark.django_db(transaction=True)
def test_a_stop_during_a_repository_is_honoured_between_batches():
    # Committed transactions, as in the worker: artifact.deleted is dispatched as each deletion commits, and
    # the first one asks the run to stop; the batch in progress completes, the next never starts.
    project = project_create(name="lib")
    repo = _big_repository(project, size=runs.BATCH_SIZE + 30)
    policy = services.retention_policy_create(project=project, rules=[rule("latestPushedK", 0)])
    execution = services.retention_trigger(policy=policy, enqueue=False)

    def stop(event: Event) -> None:
        execution_stop(execution=Execution.objects.get(pk=execution.pk))

    event_subscribe(ARTIFACT_DELETED, stop)
    try:
        finished = retention_execute(execution_id=execution.pk)
    finally:
        event_unsubscribe(ARTIFACT_DELETED, stop)
    assert finished.status == ExecutionStatus.STOPPED
    assert Tag.objects.filter(repository=repo).count() == 30
    task = Task.objects.get(execution=execution)
    assert task.status == ExecutionStatus.STOPPED
    assert task.counts["deleted"] == runs.BATCH_SIZE
    assert "Retention job is stopped" in task.log


def test_a_run_whose_policy_is_gone_fails(project):
    policy = services.retention_policy_create(project=project, rules=[rule("always")])
    execution = services.retention_trigger(policy=policy)
    RetentionPolicy.objects.filter(pk=policy.pk).delete()
    finished = retention_execute(execution_id=execution.pk)
    assert (finished.status, finished.log) == (ExecutionStatus.FAILED, "the retention policy is gone\n")


def test_the_tasks_run_scheduled_and_triggered_runs(project, app):
    policy = services.retention_policy_create(
        project=project,
        rules=[rule("latestPushedK", 4)],
        trigger={"kind": "Schedule", "settings": {"cron": "0 0 0 * * *"}},
    )
    # Beat calls the task its entry names, with the entry's kwargs.
    beat = PeriodicTask.objects.get(name=services.schedule_name(policy.pk))
    assert beat.task == tasks.RETENTION_SCHEDULED == services.SCHEDULED_TASK
    execution_id = tasks.retention_scheduled(**json.loads(beat.kwargs))
    finished = Execution.objects.get(pk=execution_id)
    assert (finished.trigger, finished.status) == ("SCHEDULE", ExecutionStatus.SUCCEEDED)
    assert tags_of(app) == {"v2", "v3", "v4", "v5"}
    pending = services.retention_trigger(policy=policy)
    assert tasks.retention_scheduled(policy_id=policy.pk) is None  # skipped while a run is active
    assert tasks.retention_scheduled(policy_id=policy.pk + 1000) is None  # the policy is gone
    assert tasks.retention_run(execution_id=pending.pk) == pending.pk
    assert tasks.retention_run(execution_id=pending.pk) is None  # already final: a re-delivery does nothing
    assert Execution.objects.get(pk=pending.pk).status == ExecutionStatus.SUCCEEDED
    # A project deleted with its policy (a cascade) leaves the beat entry behind; its next firing removes it.
    RetentionPolicy.objects.filter(pk=policy.pk).delete()
    assert PeriodicTask.objects.filter(pk=beat.pk).exists()
    assert tasks.retention_scheduled(policy_id=policy.pk) is None
    assert not PeriodicTask.objects.filter(pk=beat.pk).exists()


# --- query budget ------------------------------------------------------------------------------------------------

BIG = 10_000


def _big_repository(project: Project, size: int = BIG) -> Repository:
    """A repository of `size` artifacts, one tag each (rows only: the run reads rows and deletes rows)."""
    repo = builders.repository("lib/big")
    start = timezone.now() - timedelta(days=1)
    artifacts = Artifact.objects.bulk_create(
        [
            Artifact(
                repository=repo,
                digest=f"sha256:{n:064x}",
                media_type="application/vnd.oci.image.manifest.v1+json",
                manifest=b"{}",
                manifest_size=2,
                size=2,
            )
            for n in range(size)
        ],
        batch_size=2000,
    )
    Tag.objects.bulk_create(
        [Tag(repository=repo, name=f"t{n:05d}", artifact=a) for n, a in enumerate(artifacts)], batch_size=2000
    )
    # The last 20 a second apart (t09999 the newest); the others share one older push time.
    for n, artifact in enumerate(artifacts[-20:], start=size - 20):
        Artifact.objects.filter(pk=artifact.pk).update(push_time=start + timedelta(seconds=n))
    Artifact.objects.filter(repository=repo, pk__lt=artifacts[-20].pk).update(push_time=start)
    Tag.objects.filter(repository=repo).update(push_time=start)
    return repo


def test_a_dry_run_over_10000_tags_stays_within_a_query_budget(project, django_assert_max_num_queries):
    repo = _big_repository(project)
    policy = services.retention_policy_create(project=project, rules=[rule("latestPushedK", 10)])
    execution = services.retention_trigger(policy=policy, dry_run=True)
    with django_assert_max_num_queries(20):
        finished = retention_execute(execution_id=execution.pk)
    assert (finished.counts["total"], finished.counts["retained"], finished.counts["deleted"]) == (BIG, 10, BIG - 10)
    assert Tag.objects.filter(repository=repo).count() == BIG


def test_a_run_over_10000_tags_loads_candidates_once_and_deletes_in_batches(project, django_assert_max_num_queries):
    repo = _big_repository(project)
    keep = 10
    policy = services.retention_policy_create(project=project, rules=[rule("latestPushedK", keep)])
    execution = services.retention_trigger(policy=policy)
    batches = -(-(BIG - keep) // runs.BATCH_SIZE)
    # Fixed costs (candidates in two queries whatever the size), then per batch of BATCH_SIZE: the
    # stop check, loading, progress, and registry.services.artifacts.artifacts_delete_simple's
    # set-wise checks and deletes: a constant number of queries per batch, none per artifact.
    with django_assert_max_num_queries(25 + batches * 25):  # 2,120 here: 21 a batch
        finished = retention_execute(execution_id=execution.pk)
    assert (finished.counts["retained"], finished.counts["deleted"]) == (keep, BIG - keep)
    assert Tag.objects.filter(repository=repo).count() == keep
    assert Tag.objects.filter(repository=repo, name="t09999").exists()  # the newest stays
