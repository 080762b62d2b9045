"""Pull accounting: buffered on the pull path, written in one flush."""

from __future__ import annotations

import pytest

from registry import pulls
from registry.tests.factories import ArtifactFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_pulls_are_buffered_then_flushed(monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(pulls, "_ensure_flusher", lambda: None)  # flush by hand in this test
    artifact = ArtifactFactory()
    tag = TagFactory(repository=artifact.repository, artifact=artifact, name="v1")
    with django_assert_num_queries(0):  # the pull path writes nothing
        for _ in range(3):
            pulls.pull_record(repository_id=artifact.repository_id, artifact_id=artifact.pk, tag="v1")
        pulls.pull_record(repository_id=artifact.repository_id, artifact_id=artifact.pk, tag=None)
    assert pulls.pulls_flush() == 4
    artifact.repository.refresh_from_db()
    artifact.refresh_from_db()
    tag.refresh_from_db()
    assert artifact.repository.pull_count == 4
    assert artifact.pull_time is not None
    assert tag.pull_time is not None
    assert pulls.pulls_flush() == 0  # nothing left


def test_a_failed_flush_keeps_the_counts(monkeypatch):
    monkeypatch.setattr(pulls, "_ensure_flusher", lambda: None)
    artifact = ArtifactFactory()
    pulls.pull_record(repository_id=artifact.repository_id, artifact_id=artifact.pk, tag=None)

    def broken(*args, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr(pulls.transaction, "atomic", broken)
    assert pulls.pulls_flush() == 0
    monkeypatch.undo()
    monkeypatch.setattr(pulls, "_ensure_flusher", lambda: None)
    assert pulls.pulls_flush() == 1
    artifact.repository.refresh_from_db()
    assert artifact.repository.pull_count == 1
