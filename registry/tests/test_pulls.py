"""Pull accounting: buffered on the pull path, written in one flush."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from common.actor import Actor, acting_as
from common.events import ARTIFACT_PULLED, events_captured
from projects.tests.factories import ProjectFactory
from registry import pulls
from registry.auth.scopes import Scope
from registry.auth.token import token_issue
from registry.tests.factories import ArtifactFactory, RepositoryFactory, TagFactory

pytestmark = pytest.mark.django_db


def _pull(artifact, tag: str | None) -> None:  # noqa: ANN001
    pulls.pull_record(
        repository_id=artifact.repository_id,
        artifact_id=artifact.pk,
        tag=tag,
        repository_name=artifact.repository.name,
        project_id=artifact.repository.project_id,
        digest=artifact.digest,
    )


def test_pulls_are_buffered_then_flushed(monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(pulls, "_ensure_flusher", lambda: None)  # flush by hand in this test
    artifact = ArtifactFactory()
    tag = TagFactory(repository=artifact.repository, artifact=artifact, name="v1")
    with django_assert_num_queries(0):  # the pull path writes nothing
        for _ in range(3):
            _pull(artifact, "v1")
        _pull(artifact, None)
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
    _pull(artifact, None)

    def broken(*args, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr(pulls.transaction, "atomic", broken)
    assert pulls.pulls_flush() == 0
    monkeypatch.undo()
    monkeypatch.setattr(pulls, "_ensure_flusher", lambda: None)
    assert pulls.pulls_flush() == 1
    artifact.repository.refresh_from_db()
    assert artifact.repository.pull_count == 1


def _audit_rows() -> list[tuple]:
    return list(
        AuditLog.objects.order_by("op_time", "id").values_list(
            "username", "is_robot", "source_ip", "project_id", "operation", "resource_type", "resource"
        )
    )


def test_a_flush_writes_one_audit_row_per_pull_and_publishes_artifact_pulled(django_capture_on_commit_callbacks):
    artifact = ArtifactFactory(repository=RepositoryFactory(name="lib/app", project=ProjectFactory(name="lib")))
    project_id = artifact.repository.project_id
    with acting_as(Actor("alice", "10.0.0.1")):
        _pull(artifact, "v1")
    with acting_as(Actor("robot$lib+ci", "10.0.0.2", is_robot=True)):
        _pull(artifact, None)
    assert AuditLog.objects.count() == 0  # nothing written on the pull path
    with events_captured(ARTIFACT_PULLED) as seen, django_capture_on_commit_callbacks(execute=True):
        assert pulls.pulls_flush() == 2
    assert _audit_rows() == [
        ("alice", False, "10.0.0.1", project_id, "pull", "artifact", "lib/app:v1"),
        ("robot$lib+ci", True, "10.0.0.2", project_id, "pull", "artifact", f"lib/app@{artifact.digest}"),
    ]
    assert [(e.operator, e.project_id, e.data["digest"], e.data["tags"]) for e in seen] == [
        ("alice", project_id, artifact.digest, ["v1"]),
        ("robot$lib+ci", project_id, artifact.digest, []),
    ]
    assert seen[0].data["repository"]["repo_full_name"] == "lib/app"
    assert pulls.pulls_flush() == 0


def test_a_failed_flush_keeps_the_audit_records(monkeypatch):
    artifact = ArtifactFactory()
    with acting_as(Actor("alice", "10.0.0.1")):
        _pull(artifact, "v1")

    def broken(rows):  # noqa: ANN001
        raise RuntimeError("database away")

    monkeypatch.setattr("audit.services.audit_record_many", broken)
    assert pulls.pulls_flush() == 0
    assert AuditLog.objects.count() == 0
    monkeypatch.undo()
    assert pulls.pulls_flush() == 1
    assert [row[0] for row in _audit_rows()] == ["alice"]
    artifact.repository.refresh_from_db()
    assert artifact.repository.pull_count == 1  # the counts rolled back with the audit rows, then came again


def test_the_manifest_get_path_writes_nothing_and_the_flush_audits_it(client, django_assert_num_queries):
    artifact = ArtifactFactory(repository=RepositoryFactory(name="hot/app", project=ProjectFactory(name="hot")))
    TagFactory(repository=artifact.repository, artifact=artifact, name="v1")
    token, _, _ = token_issue(subject="someone", access=[Scope("repository", "hot/app", frozenset({"pull"}))])
    client.get("/v2/hot/app/manifests/v1", HTTP_AUTHORIZATION=f"Bearer {token}")  # warm the token cache
    pulls.pulls_discard()
    with django_assert_num_queries(1):  # the one read; no write
        response = client.get("/v2/hot/app/manifests/v1", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert AuditLog.objects.count() == 0
    assert pulls.pulls_flush() == 1
    assert _audit_rows() == [
        ("someone", False, "127.0.0.1", artifact.repository.project_id, "pull", "artifact", "hot/app:v1")
    ]
