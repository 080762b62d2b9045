"""Pull accounting without a write on the pull path: counted in memory, flushed in batches.

A manifest GET records (repository, artifact, tag, time, who pulled from where) here; a
background thread per process writes the sums every few seconds (one UPDATE per repository,
artifact and tag touched) together with one audit row per pull (Harbor: pull artifact), in one
transaction, and publishes `artifact.pulled` once it commits. The buffer is flushed when the
process exits cleanly (gunicorn's worker_exit hook and atexit). A process killed with SIGKILL
loses at most the last interval's pulls.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime

from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from common.actor import actor_current
from common.events import ARTIFACT_PULLED, Event, event_publish

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0
# Audit records kept while the database is away; past this the oldest are dropped (and logged).
MAX_BUFFERED_RECORDS = 100_000


@dataclass(frozen=True, slots=True)
class PullRecord:
    """One pull, for its audit row and `artifact.pulled` event."""

    repository_name: str
    project_id: int
    digest: str
    tag: str | None
    username: str
    is_robot: bool
    source_ip: str
    when: datetime


_lock = threading.Lock()
_repository_pulls: Counter[int] = Counter()
_artifact_times: dict[int, datetime] = {}
_tag_times: dict[tuple[int, str], datetime] = {}
_records: deque[PullRecord] = deque()
_flusher: threading.Thread | None = None
_wake = threading.Event()
_flush_lock = threading.Lock()


def pull_record(
    *,
    repository_id: int,
    artifact_id: int,
    tag: str | None,
    repository_name: str,
    project_id: int,
    digest: str,
) -> None:
    """Count one pull and keep its audit record, by the current actor (cheap: no I/O)."""
    now = timezone.now()
    actor = actor_current()  # the /v2/ base view set a plain Actor: no query
    record = PullRecord(repository_name, project_id, digest, tag, actor.username, actor.is_robot, actor.source_ip, now)
    with _lock:
        _repository_pulls[repository_id] += 1
        _artifact_times[artifact_id] = now
        if tag is not None:
            _tag_times[(repository_id, tag)] = now
        _records.append(record)
        if len(_records) > MAX_BUFFERED_RECORDS:
            _records.popleft()
    _ensure_flusher()


def pulls_discard() -> None:
    """Drop buffered pulls without writing them (tests, whose rows vanish on rollback)."""
    _take()


def _take() -> tuple[Counter[int], dict[int, datetime], dict[tuple[int, str], datetime], list[PullRecord]]:
    global _repository_pulls, _artifact_times, _tag_times, _records
    with _lock:
        taken = (_repository_pulls, _artifact_times, _tag_times, list(_records))
        _repository_pulls, _artifact_times, _tag_times, _records = Counter(), {}, {}, deque()
    return taken


def _audit_row(record: PullRecord):  # noqa: ANN202 - an unsaved AuditLog
    from audit.models import AuditLog
    from registry.services.records import artifact_resource

    return AuditLog(
        op_time=record.when,
        username=record.username[:255],
        is_robot=record.is_robot,
        source_ip=record.source_ip[:64],
        project_id=record.project_id,
        resource_type="artifact",
        resource=artifact_resource(repository_name=record.repository_name, tag=record.tag, digest=record.digest),
        operation="pull",
    )


def _pulled_publish(record: PullRecord) -> None:
    from registry.services.records import artifact_event_data

    data = artifact_event_data(
        repository_name=record.repository_name, digest=record.digest, tags=[record.tag] if record.tag else []
    )
    data["source_ip"] = record.source_ip
    event = Event(ARTIFACT_PULLED, record.project_id, record.username, data, occurred=record.when)
    event_publish(event)


def pulls_flush() -> int:
    """Write buffered pulls to the database; returns how many pulls were written.

    One flush at a time per process: the exit flush (worker_exit, atexit) waits for a background
    flush that already took its batch, instead of finding the buffer empty and letting the
    process end, daemon thread and its uncommitted batch with it.
    """
    with _flush_lock:
        return _flush()


def _flush() -> int:
    from audit.services import audit_record_many
    from registry.models import Artifact, Repository, Tag

    repositories, artifacts, tags, records = _take()
    if not repositories and not records:
        return 0
    try:
        with transaction.atomic():
            for repository_id, count in repositories.items():
                Repository.objects.filter(pk=repository_id).update(pull_count=F("pull_count") + count)
            for artifact_id, when in artifacts.items():
                Artifact.objects.filter(pk=artifact_id).update(pull_time=when)
            for (repository_id, name), when in tags.items():
                Tag.objects.filter(repository_id=repository_id, name=name).update(pull_time=when)
            audit_record_many(_audit_row(record) for record in records)
            for record in records:
                _pulled_publish(record)  # dispatched once this flush commits
    except Exception:
        logger.exception("could not write pull counts; keeping them for the next flush")
        _restore(repositories, artifacts, tags, records)
        return 0
    return sum(repositories.values())


def _restore(
    repositories: Counter[int],
    artifacts: dict[int, datetime],
    tags: dict[tuple[int, str], datetime],
    records: list[PullRecord],
) -> None:
    global _records
    with _lock:
        _repository_pulls.update(repositories)
        for key, when in artifacts.items():
            _artifact_times.setdefault(key, when)
        for key, when in tags.items():
            _tag_times.setdefault(key, when)
        kept = deque([*records, *_records])
        dropped = len(kept) - MAX_BUFFERED_RECORDS
        for _ in range(max(dropped, 0)):
            kept.popleft()
        _records = kept
    if dropped > 0:
        logger.error("pull audit buffer full: dropped the %d oldest pull records", dropped)


def _pending() -> bool:
    with _lock:
        return bool(_repository_pulls) or bool(_records)


def _run() -> None:
    while True:
        _wake.wait(FLUSH_SECONDS)
        _wake.clear()
        if not _pending():
            continue
        try:
            pulls_flush()
        finally:
            # This thread's own connection: don't hold one open between flushes.
            connections.close_all()


def _ensure_flusher() -> None:
    global _flusher
    if _flusher is not None and _flusher.is_alive():
        return
    with _lock:
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(target=_run, name="pull-flusher", daemon=True)
            _flusher.start()


atexit.register(pulls_flush)
