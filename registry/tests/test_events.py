"""Domain events of artifact and tag writes: published on commit, with plain data a webhook can use."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from common.actor import Actor, acting_as
from common.events import ARTIFACT_DELETED, ARTIFACT_PUSHED, TAG_DELETED, events_captured
from projects.services import project_create
from registry.services.artifacts import artifact_delete, tag_delete
from registry.services.manifests import manifest_delete
from registry.tests.api import builders

pytestmark = pytest.mark.django_db


@pytest.fixture
def repository():
    project_create(name="lib")
    return builders.repository("lib/app")


def test_a_push_publishes_artifact_pushed_after_commit(repository, django_capture_on_commit_callbacks, settings):
    settings.EXTERNAL_URL = "https://registry.example.test"
    alice = Actor("alice", "10.0.0.1")
    with events_captured(ARTIFACT_PUSHED) as seen, acting_as(alice), django_capture_on_commit_callbacks(execute=True):
        artifact = builders.image(repository, tag="v1")
        assert seen == []  # not before the commit
    assert len(seen) == 1
    event = seen[0]
    assert (event.type, event.project_id, event.operator) == (ARTIFACT_PUSHED, repository.project_id, "alice")
    assert event.data["repository"] == {
        "name": "app",
        "namespace": "lib",
        "repo_full_name": "lib/app",
        "repo_type": "private",  # the project came loaded with the repository (else the fan-out fills it)
    }
    assert event.data["resources"] == [
        {"digest": artifact.digest, "tag": "v1", "resource_url": "registry.example.test/lib/app:v1"}
    ]
    assert (event.data["digest"], event.data["tags"], event.data["project"]) == (artifact.digest, ["v1"], "lib")
    assert (event.data["media_type"], event.data["size"]) == (artifact.media_type, artifact.size)
    assert event.data["repository_created"] == int(repository.created.timestamp())
    json.dumps(event.data)  # plain values only


def test_a_rolled_back_push_publishes_nothing(repository, django_capture_on_commit_callbacks):
    with events_captured() as seen, django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                builders.image(repository, tag="v1")
                raise RuntimeError("the caller fails after the push")
        except RuntimeError:
            pass
    assert seen == []


def test_v2_deletes_publish_tag_deleted_and_artifact_deleted(repository, django_capture_on_commit_callbacks):
    artifact = builders.image(repository, tag="v1")
    builders.image(repository, tag="v2", seed="x")  # the same content: v2 tags the same artifact
    with events_captured(TAG_DELETED, ARTIFACT_DELETED) as seen, django_capture_on_commit_callbacks(execute=True):
        manifest_delete(repository_name="lib/app", reference="v1")
        manifest_delete(repository_name="lib/app", reference=artifact.digest)
    assert [(e.type, e.data["digest"], e.data["tags"]) for e in seen] == [
        (TAG_DELETED, artifact.digest, ["v1"]),
        (ARTIFACT_DELETED, artifact.digest, ["v2"]),
    ]
    assert seen[1].data["resources"][0]["resource_url"] == "lib/app:v2"


def test_api_deletes_publish_tag_deleted_and_artifact_deleted(repository, django_capture_on_commit_callbacks):
    artifact = builders.image(repository, tag="v1")
    builders.image(repository, tag="v2", seed="x")
    with events_captured(TAG_DELETED, ARTIFACT_DELETED) as seen, django_capture_on_commit_callbacks(execute=True):
        tag_delete(artifact=artifact, name="v2")
        artifact_delete(artifact=artifact)
    assert [(e.type, e.data["tags"], e.data["repository"]["repo_full_name"]) for e in seen] == [
        (TAG_DELETED, ["v2"], "lib/app"),
        (ARTIFACT_DELETED, ["v1"], "lib/app"),
    ]
