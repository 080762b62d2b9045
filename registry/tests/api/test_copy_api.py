"""CopyArtifact: across projects, with index children, accessories and tags; permissions on both ends."""

from __future__ import annotations

import pytest

from common.testing.api import basic_client
from projects.models import Role
from projects.quotas import quota_usage
from projects.services import member_set, project_create
from registry.models import Artifact, ArtifactReference, Repository, RepositoryBlob, Tag
from registry.tests.api import builders

pytestmark = pytest.mark.django_db
API = "/api/v2.0"


@pytest.fixture
def source(lib):
    repo = builders.repository("lib/app")
    amd = builders.image(repo, seed="amd")
    arm = builders.image(repo, seed="arm")
    multi = builders.index(
        repo,
        [(amd, {"architecture": "amd64", "os": "linux"}), (arm, {"architecture": "arm64", "os": "linux"})],
        tag="1.0",
    )
    Tag.objects.create(repository=repo, artifact=multi, name="latest")
    signature = builders.signature(repo, multi)
    single = builders.image(repo, tag="single", seed="single")
    return {"repo": repo, "multi": multi, "amd": amd, "arm": arm, "sig": signature, "single": single}


@pytest.fixture
def target(users):
    project = project_create(name="prod", public=False)
    member_set(project=project, user=users["developer"], role=Role.DEVELOPER)
    member_set(project=project, user=users["guest"], role=Role.DEVELOPER)
    member_set(project=project, user=users["outsider"], role=Role.DEVELOPER)
    return project


def test_copy_index_by_tag_into_another_project(source, target):
    url = f"{API}/projects/prod/repositories/team%252Fapp/artifacts?from=lib/app:1.0"
    response = basic_client("developer").post(url)
    assert response.status_code == 201, response.content
    assert response["Location"] == "/api/v2.0/projects/prod/repositories/team%2Fapp/artifacts/1.0"
    copied_repo = Repository.objects.get(name="prod/team/app")
    assert copied_repo.project == target
    copied = Artifact.objects.get(repository=copied_repo, digest=source["multi"].digest)
    assert bytes(copied.manifest) == bytes(source["multi"].manifest)
    assert set(copied.tags.values_list("name", flat=True)) == {"1.0", "latest"}  # every tag, as Harbor
    children = ArtifactReference.objects.filter(parent=copied).select_related("child")
    assert {(r.child.digest, r.child.repository_id) for r in children} == {
        (source["amd"].digest, copied_repo.pk),
        (source["arm"].digest, copied_repo.pk),
    }
    assert {r.platform["architecture"] for r in children} == {"amd64", "arm64"}
    # the accessory came along, attached to the copy
    assert Artifact.objects.filter(repository=copied_repo, digest=source["sig"].digest).exists()
    # every blob is readable in the target repository, and counted in the target's quota
    needed = set(
        RepositoryBlob.objects.filter(repository=source["repo"])
        .exclude(blob__artifact_refs__artifact=source["single"])
        .values_list("blob_id", flat=True)
    )
    linked = set(RepositoryBlob.objects.filter(repository=copied_repo).values_list("blob_id", flat=True))
    assert needed <= linked
    assert quota_usage(project_id=target.pk) > 0
    listed = basic_client("developer").get(
        f"{API}/projects/prod/repositories/team%252Fapp/artifacts/1.0?with_accessory=true"
    )
    assert listed.json()["accessories"][0]["digest"] == source["sig"].digest


def test_copy_by_digest_and_again_is_idempotent(source, target):
    url = f"{API}/projects/prod/repositories/app/artifacts?from=lib/app@{source['single'].digest}"
    client = basic_client("developer")
    assert client.post(url).status_code == 201
    assert client.post(url).status_code == 201
    repo = Repository.objects.get(name="prod/app")
    assert Artifact.objects.filter(repository=repo).count() == 1
    assert list(Tag.objects.filter(repository=repo).values_list("name", flat=True)) == ["single"]


def test_copy_permissions(source, target, users):
    url = f"{API}/projects/prod/repositories/app/artifacts?from=lib/app:single"
    # outsider may push to prod but cannot see lib: the source is not found
    refused = basic_client("outsider").post(url)
    assert refused.status_code == 404
    assert refused.json()["errors"][0]["code"] == "NOT_FOUND"
    # a lib guest may pull, and is a developer in prod: allowed
    assert basic_client("guest").post(url).status_code == 201
    # a lib member without any role in prod: prod is not found
    assert basic_client("maintainer").post(url).status_code == 404
    member_set(project=target, user=users["maintainer"], role=Role.GUEST)
    forbidden = basic_client("maintainer").post(url)
    assert forbidden.status_code == 403
    assert forbidden.json()["errors"][0]["code"] == "FORBIDDEN"
    assert basic_client(None).post(url).status_code == 401


def test_copy_bad_input(source, target):
    client = basic_client("developer")
    base = f"{API}/projects/prod/repositories/app/artifacts"
    for bad in ("", "lib/app", "lib/app@sha256:nothex", "Lib/App:1", "app:1", "lib/app:-x"):
        response = client.post(f"{base}?from={bad}")
        assert response.status_code == 400, bad
        assert response.json()["errors"][0]["code"] == "BAD_REQUEST"
    missing = client.post(base)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["code"] == "UNPROCESSABLE_ENTITY"
    assert client.post(f"{base}?from=lib/app:nosuchtag").status_code == 404
    assert client.post(f"{base}?from=lib/nope:1").status_code == 404
    assert client.post(f"{base}?from=lib/app@sha256:{'0' * 64}").status_code == 404
    accessory = client.post(f"{base}?from=lib/app@{source['sig'].digest}")
    assert accessory.status_code == 403
    assert (
        client.post(f"{API}/projects/prod/repositories/Bad%2520Name/artifacts?from=lib/app:single").status_code == 400
    )
    assert not Repository.objects.filter(project=target).exists()
