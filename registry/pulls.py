"""Pull accounting without a write on the pull path: counted in memory, flushed in batches.

A manifest GET records (repository, artifact, tag, time) here; a background thread per
process writes the sums every few seconds (one UPDATE per repository, artifact and tag
touched), and the buffer is flushed when the process exits cleanly (gunicorn's worker_exit
hook and atexit). A process killed with SIGKILL loses at most the last interval's counts.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import Counter
from datetime import datetime

from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0

_lock = threading.Lock()
_repository_pulls: Counter[int] = Counter()
_artifact_times: dict[int, datetime] = {}
_tag_times: dict[tuple[int, str], datetime] = {}
_flusher: threading.Thread | None = None
_wake = threading.Event()


def pull_record(*, repository_id: int, artifact_id: int, tag: str | None) -> None:
    """Count one pull (cheap: a dict update under a lock; no I/O)."""
    now = timezone.now()
    with _lock:
        _repository_pulls[repository_id] += 1
        _artifact_times[artifact_id] = now
        if tag is not None:
            _tag_times[(repository_id, tag)] = now
    _ensure_flusher()


def pulls_discard() -> None:
    """Drop buffered pulls without writing them (tests, whose rows vanish on rollback)."""
    _take()


def _take() -> tuple[Counter[int], dict[int, datetime], dict[tuple[int, str], datetime]]:
    global _repository_pulls, _artifact_times, _tag_times
    with _lock:
        taken = (_repository_pulls, _artifact_times, _tag_times)
        _repository_pulls, _artifact_times, _tag_times = Counter(), {}, {}
    return taken


def pulls_flush() -> int:
    """Write buffered pulls to the database; returns how many pulls were written."""
    from registry.models import Artifact, Repository, Tag

    repositories, artifacts, tags = _take()
    if not repositories:
        return 0
    try:
        with transaction.atomic():
            for repository_id, count in repositories.items():
                Repository.objects.filter(pk=repository_id).update(pull_count=F("pull_count") + count)
            for artifact_id, when in artifacts.items():
                Artifact.objects.filter(pk=artifact_id).update(pull_time=when)
            for (repository_id, name), when in tags.items():
                Tag.objects.filter(repository_id=repository_id, name=name).update(pull_time=when)
    except Exception:
        logger.exception("could not write pull counts; keeping them for the next flush")
        with _lock:
            _repository_pulls.update(repositories)
            for key, when in artifacts.items():
                _artifact_times.setdefault(key, when)
            for key, when in tags.items():
                _tag_times.setdefault(key, when)
        return 0
    return sum(repositories.values())


def _pending() -> bool:
    with _lock:
        return bool(_repository_pulls)


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
