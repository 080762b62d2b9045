"""registry/services/manifests.py `manifest_push`: the paths its few statements take (the /v2/ protocol is e2e)."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection

from common.events import ARTIFACT_PUSHED, events_captured
from common.testing.sessions import finishes_while_held
from projects.services import project_create
from registry.errors import ManifestBlobUnknown, NameUnknown, TagImmutable
from registry.gates import PUSH, Gate, GateRequest, gates_replaced
from registry.models import Artifact, ArtifactBlob, ArtifactReference, Repository, Tag
from registry.names import RepositoryName
from registry.services import manifests
from registry.services.manifests import manifest_push
from registry.tests.api import builders

pytestmark = pytest.mark.django_db


class HoldsV1(Gate):
    """A push gate that holds `v1` without refusing: the registry itself must not move it."""

    name = "holds v1"

    def held(self, request: GateRequest) -> frozenset[str]:
        return request.tags & {"v1"}


@pytest.fixture
def repo():
    project_create(name="lib")
    return builders.repository("lib/app")


def _push(repository, artifact: Artifact, tag: str, tags: tuple[str, ...] = ()):  # noqa: ANN001, ANN202
    body = bytes(artifact.manifest)
    return manifest_push(
        repository=repository, reference=tag, body=body, content_type=artifact.media_type, tags=list(tags)
    )


def test_a_tag_a_gate_holds_is_created_but_never_moved(repo):
    first = builders.image(repo, seed="first")
    second = builders.image(repo, seed="second")
    with gates_replaced((HoldsV1(), (PUSH,))):
        _push(repo, first, "v1", tags=("latest",))  # created
        _push(repo, first, "v1")  # the same digest again: fine
        with pytest.raises(TagImmutable, match="the tag v1 is immutable"):
            _push(repo, second, "latest", tags=("v1",))
    assert {t.name: t.artifact_id for t in Tag.objects.filter(repository=repo)} == {"v1": first.pk, "latest": first.pk}
    _push(repo, second, "v1", tags=("latest",))  # without the gate it moves, with `latest`
    assert set(Tag.objects.filter(repository=repo).values_list("artifact_id", flat=True)) == {second.pk}


def test_a_known_manifest_is_tagged_without_a_new_row_and_moves_the_repository_on(repo):
    image = builders.image(repo, tag="v1")
    before = Repository.objects.get(pk=repo.pk).updated
    pushed = _push(repo, image, "v2", tags=("v3", "v2"))
    assert pushed.artifact.pk == image.pk
    assert bytes(pushed.artifact.manifest) == bytes(image.manifest)  # loaded on access
    assert Artifact.objects.filter(repository=repo).count() == 1
    assert sorted(Tag.objects.filter(artifact=image).values_list("name", flat=True)) == ["v1", "v2", "v3"]
    assert Repository.objects.get(pk=repo.pk).updated > before


def test_a_new_image_gets_its_blob_links_and_an_index_its_children(repo):
    amd64 = builders.image(repo, seed="amd64")
    arm64 = builders.image(repo, seed="arm64")
    assert ArtifactBlob.objects.filter(artifact=amd64).count() == 2  # config and layer
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": a.media_type, "digest": a.digest, "size": a.manifest_size, "platform": {"os": "linux"}}
            for a in (amd64, arm64)
        ],
    }
    body = json.dumps(index).encode()
    pushed = manifest_push(repository=repo, reference="multi", body=body, content_type=None, tags=[])
    children = ArtifactReference.objects.filter(parent=pushed.artifact)
    assert {(r.child_id, json.dumps(r.platform)) for r in children} == {
        (amd64.pk, '{"os": "linux"}'),
        (arm64.pk, '{"os": "linux"}'),
    }
    stored = Artifact.objects.get(pk=pushed.artifact.pk)
    assert stored.size == len(body) + amd64.size + arm64.size
    assert bytes(stored.manifest) == body
    assert stored.push_time == pushed.artifact.push_time


def test_a_manifest_inserted_meanwhile_without_the_repository_lock_is_kept(repo, monkeypatch):
    # The API's copy inserts artifacts without the repository lock: the insert conflicts, and the
    # push takes the row that is there (the same content) instead of failing.
    image = builders.image(repo, tag="v1")
    known = manifests._known
    monkeypatch.setattr(manifests, "_known", lambda *a: manifests._Known(**{**known(*a).__dict__, "artifact": None}))
    pushed = _push(repo, image, "v2")
    assert pushed.artifact.pk == image.pk
    assert Tag.objects.get(repository=repo, name="v2").artifact_id == image.pk
    assert ArtifactBlob.objects.filter(artifact=image).count() == 2  # no link written twice


def test_a_push_by_name_creates_the_repository_in_its_project_or_is_name_unknown(repo):
    image = builders.image(repo, tag="v1")
    other = RepositoryName.parse("lib/other")
    # Its blobs are not linked there: refused, and the repository made for it goes with the transaction.
    with pytest.raises(ManifestBlobUnknown):
        _push(other, image, "v1")
    assert not Repository.objects.filter(name="lib/other").exists()
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    body = json.dumps(index).encode()
    pushed = manifest_push(repository=other, reference="empty", body=body, content_type=None, tags=[])
    assert pushed.artifact.repository.name == "lib/other"
    with pytest.raises(NameUnknown):
        manifest_push(
            repository=RepositoryName.parse("nope/app"), reference="v1", body=body, content_type=None, tags=[]
        )


def test_the_push_event_knows_the_repository_from_the_first_statement(repo, django_capture_on_commit_callbacks):
    image = builders.image(repo)
    with events_captured(ARTIFACT_PUSHED) as seen, django_capture_on_commit_callbacks(execute=True):
        _push(RepositoryName.parse("lib/app"), image, "v1")
    (event,) = seen
    stored = Repository.objects.get(pk=repo.pk)
    assert event.data["repository_created"] == int(stored.created.timestamp())
    assert event.data["repository"]["repo_type"] == "private"
    assert (event.data["artifact_id"], event.data["size"], event.data["media_type"]) == (
        image.pk,
        image.size,
        image.media_type,
    )
    assert event.policy_revision == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_two_pushes_into_one_repository_do_not_wait_for_each_other(repo, monkeypatch):
    """A manifest push whose transaction is still open (between its writes and its commit) doesn't
    hold up another push into the same repository: the repository row is only share-locked."""
    first, second = builders.image(repo, seed="first"), builders.image(repo, seed="second")
    written, finish = threading.Event(), threading.Event()
    record = manifests.artifact_pushed_record

    def held_record(**kwargs):  # noqa: ANN003, ANN202 - the first push stops here, its rows written
        record(**kwargs)
        if threading.current_thread().name == "held":
            written.set()
            assert finish.wait(30)

    monkeypatch.setattr(manifests, "artifact_pushed_record", held_record)

    finishes_while_held(
        lambda: _push(repo, first, "one"), lambda: _push(repo, second, "two"), ready=written, release=finish
    )
    assert {t.name: t.artifact_id for t in Tag.objects.filter(repository=repo, name__in=["one", "two"])} == {
        "one": first.pk,
        "two": second.pk,
    }
