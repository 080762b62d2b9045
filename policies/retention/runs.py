"""One retention run: for each repository a rule looks at, decide every artifact and delete what no rule keeps.

Queries stay flat in the size of a repository: its candidates load in two queries (artifacts, tags),
the immutability rules once per run, and deletes go by batches of BATCH_SIZE: the batch's plain
artifacts set-wise (registry.services.artifacts.artifacts_delete_simple, a constant number of
queries per batch), the rest (indexes, signed, in an index, newly protected) one by one through
artifact_delete, which walks or refuses them; both audit and publish artifact.deleted. A stop is
honoured between repositories and batches.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from dataclasses import dataclass, field
from itertools import islice

from django.db.models import Exists, OuterRef
from django.utils import timezone

from common.actor import Actor, acting_as
from common.api.errors import NotFound, Precondition
from common.events import RETENTION_COMPLETED, Event, event_publish
from common.models import Execution, ExecutionStatus
from common.services import (
    execution_begin,
    execution_finish,
    execution_progress,
    execution_stop_requested,
    task_begin,
    task_create,
    task_finish,
)
from policies.models import RetentionPolicy
from policies.retention.rules import Candidate, Decision, Rule, repository_selected, retention_evaluate, rules_from_json
from policies.rules import Rule as ImmutabilityRule
from policies.selectors import immutable_tags_in, project_rules
from registry.models import Artifact, ArtifactReference, Repository, Tag
from registry.services.artifacts import artifact_delete, artifacts_delete_simple

logger = logging.getLogger(__name__)

BATCH_SIZE = 100  # artifacts deleted between two stop checks and progress updates

RETAIN, DELETE, IMMUTABLE, ERROR = "RETAIN", "DEL", "RETAIN-IMMUTABLE", "ERR"


class _Stopped(Exception):
    """The execution was stopped: leave the current repository."""


def _short(name: str) -> str:
    return name.split("/", 1)[1] if "/" in name else name


def retention_candidates(*, repository_id: int, repository_name: str) -> list[Candidate]:
    """The repository's top-level artifacts (no index children, no accessories) with their tags; two queries.

    As Harbor's retention client: the push time is the latest of the artifact's and its tags' push
    times, the pull time likewise; the creation time is the artifact's push time.
    """
    rows = (
        Artifact.objects.filter(repository_id=repository_id, subject_digest="")
        .exclude(Exists(ArtifactReference.objects.filter(child=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", "digest", "push_time", "pull_time")
    )
    tags: dict[int, list[tuple[str, object, object]]] = {}
    for artifact_id, name, push_time, pull_time in (
        Tag.objects.filter(repository_id=repository_id)
        .order_by("name")
        .values_list("artifact_id", "name", "push_time", "pull_time")
    ):
        tags.setdefault(artifact_id, []).append((name, push_time, pull_time))
    short = _short(repository_name)
    candidates = []
    for pk, digest, push_time, pull_time in rows:
        own = tags.get(pk, [])
        pushed = max([push_time, *(t[1] for t in own if t[1])])
        pulls = [p for p in (pull_time, *(t[2] for t in own)) if p]
        candidates.append(
            Candidate(
                repository=short,
                digest=digest,
                tags=tuple(t[0] for t in own),
                push_time=pushed,
                pull_time=max(pulls) if pulls else None,
                creation_time=push_time,
                id=pk,
            )
        )
    return candidates


@dataclass
class _Outcome:
    counts: Counter = field(default_factory=Counter)
    deleted: list[dict] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def log(self, mark: str, repository: str, decision: Decision, why: str) -> None:
        c = decision.candidate
        tags = ",".join(c.tags) or "<untagged>"
        pushed = c.push_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.lines.append(f"{mark:<16} {repository}@{c.digest} tags={tags} pushed={pushed} {why}\n")


def _chunks(items: list, size: int):  # noqa: ANN202
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _deleted(repository: str, decision: Decision, outcome: _Outcome) -> None:
    outcome.counts["deleted"] += 1
    outcome.deleted.append(
        {"repository": repository, "tags": list(decision.candidate.tags), "digest": decision.candidate.digest}
    )
    outcome.log(DELETE, repository, decision, decision.reason)


def _delete_batch(repository: str, batch: list[Decision], outcome: _Outcome) -> None:
    artifacts = Artifact.objects.select_related("repository").in_bulk([d.candidate.id for d in batch])
    if not artifacts:
        gone: set[int] = set()
    else:
        # Plain artifacts go set-wise; indexes, children, signed or protected ones one by one below.
        any_artifact = next(iter(artifacts.values()))
        gone = artifacts_delete_simple(repository=any_artifact.repository, artifact_ids=list(artifacts))
    for decision in batch:
        if decision.candidate.id in gone:
            _deleted(repository, decision, outcome)
            continue
        artifact = artifacts.get(decision.candidate.id)
        if artifact is None:
            outcome.counts["errors"] += 1
            outcome.log(ERROR, repository, decision, "already gone")
            continue
        try:
            artifact_delete(artifact=artifact)
        except (NotFound, Precondition) as exc:  # gone meanwhile, in an index, or an immutable tag added since
            outcome.counts["errors"] += 1
            outcome.log(ERROR, repository, decision, str(exc))
            continue
        _deleted(repository, decision, outcome)


def _repository_run(
    *,
    execution: Execution,
    repository: tuple[int, str],
    rules: list[Rule],
    immutability: list[ImmutabilityRule],
    outcome: _Outcome,
    before: Counter,
) -> None:
    pk, name = repository
    now = timezone.now()
    candidates = retention_candidates(repository_id=pk, repository_name=name)
    outcome.lines.append(
        f"Run retention process. Repository: {name}, rule algorithm: or, dry run: {execution.dry_run}, "
        f"candidates: {len(candidates)}\n"
    )
    doomed = []
    for decision in retention_evaluate(rules=rules, candidates=candidates, now=now):
        outcome.counts["total"] += 1
        if decision.retained:
            outcome.counts["retained"] += 1
            outcome.log(RETAIN, name, decision, decision.reason)
            continue
        protected = immutable_tags_in(rules=immutability, repository_name=name, names=decision.candidate.tags)
        if protected:
            outcome.counts["retained"] += 1
            outcome.counts["immutable"] += 1
            outcome.log(IMMUTABLE, name, decision, f"{decision.reason}; immutable tag(s) {','.join(sorted(protected))}")
            continue
        doomed.append(decision)
    if execution.dry_run:
        for decision in doomed:
            outcome.counts["deleted"] += 1
            outcome.deleted.append(
                {"repository": name, "tags": list(decision.candidate.tags), "digest": decision.candidate.digest}
            )
            outcome.log(DELETE, name, decision, f"{decision.reason} (dry run: kept)")
        return
    for batch in _chunks(doomed, BATCH_SIZE):
        if execution_stop_requested(execution_id=execution.pk):
            raise _Stopped
        _delete_batch(name, batch, outcome)
        execution_progress(execution=execution, counts=_counts(before + outcome.counts))


def _counts(counter: Counter) -> dict:
    keys = ("repositories", "total", "retained", "deleted", "immutable", "errors")
    return {key: counter.get(key, 0) for key in keys}


def retention_execute(*, execution_id: int) -> Execution | None:
    """Run a pending retention execution to its end; None when it was stopped (or removed) before it began."""
    execution = execution_begin(execution_id=execution_id)
    if execution is None:
        return None
    policy = RetentionPolicy.objects.select_related("project").filter(pk=execution.vendor_id).first()
    if policy is None:
        return execution_finish(
            execution=execution, status=ExecutionStatus.FAILED, counts={}, log="the retention policy is gone\n"
        )
    with acting_as(Actor(execution.operator or "system")):
        return _execute(execution, policy)


def _execute(execution: Execution, policy: RetentionPolicy) -> Execution:
    rules = rules_from_json(policy.rules)
    immutability = project_rules(project_id=policy.project_id)
    names = Repository.objects.filter(project_id=policy.project_id).order_by("name").values_list("pk", "name")
    repositories = [(pk, name) for pk, name in names if repository_selected(rules, _short(name))]
    total = _Outcome()
    status = ExecutionStatus.SUCCEEDED
    for repository in repositories:
        if execution_stop_requested(execution_id=execution.pk):
            status = ExecutionStatus.STOPPED
            break
        task = task_begin(task=task_create(execution=execution, name=repository[1]))
        outcome = _Outcome()
        task_status = ExecutionStatus.SUCCEEDED
        try:
            _repository_run(
                execution=execution,
                repository=repository,
                rules=rules,
                immutability=immutability,
                outcome=outcome,
                before=total.counts,
            )
        except _Stopped:
            task_status = status = ExecutionStatus.STOPPED
            outcome.lines.append("Retention job is stopped\n")
        except Exception:
            logger.exception("retention run %s failed on %s", execution.pk, repository[1])
            task_status = status = ExecutionStatus.FAILED
            outcome.lines.append(traceback.format_exc())
        task_counts = _counts(outcome.counts)
        # Last, so that it survives when a very long log keeps only its newest part.
        outcome.lines.append(
            f"{task_status}: {task_counts['total']} artifact(s), {task_counts['retained']} retained "
            f"({task_counts['immutable']} immutable), {task_counts['deleted']} "
            f"{'to delete' if execution.dry_run else 'deleted'}, {task_counts['errors']} error(s)\n"
        )
        task_finish(task=task, status=task_status, counts=task_counts, log="".join(outcome.lines))
        total.counts.update(outcome.counts)
        total.counts["repositories"] += 1
        total.deleted.extend(outcome.deleted)
        execution_progress(execution=execution, counts=_counts(total.counts))
        if task_status == ExecutionStatus.STOPPED:
            break
    counts = _counts(total.counts)
    verb = "would delete" if execution.dry_run else "deleted"
    summary = (
        f"{counts['repositories']} repositories, {counts['total']} artifacts: {counts['retained']} retained "
        f"({counts['immutable']} immutable), {verb} {counts['deleted']}, {counts['errors']} error(s)\n"
    )
    finished = execution_finish(execution=execution, status=status, counts=counts, log=summary)
    event_publish(
        Event(
            type=RETENTION_COMPLETED,
            project_id=policy.project_id,
            operator=execution.operator or "system",
            data={
                "execution_id": execution.pk,
                "retention_id": policy.pk,
                "project_name": policy.project.name,
                "status": finished.status,
                "trigger": execution.trigger,
                "dry_run": execution.dry_run,
                **{key: value for key, value in counts.items() if key != "deleted"},
                "deleted": total.deleted,  # [{repository, tags, digest}] (would-be deletions on a dry run)
            },
        )
    )
    return finished
