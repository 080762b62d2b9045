"""listArtifacts, getArtifact, deleteArtifact: JSON shape, with_* options, q/sort, permissions, errors."""

from __future__ import annotations

import pytest

from common.testing.api import basic_client
from registry import artifact_types as types
from registry import media_types as mt
from registry.models import Artifact, ArtifactLabel, ArtifactReference, Label, Tag
from registry.tests.api import builders

pytestmark = pytest.mark.django_db
API = "/api/v2.0"
APP = f"{API}/projects/lib/repositories/app/artifacts"


@pytest.fixture
def app(lib):
    repo = builders.repository("lib/app")
    v1 = builders.image(repo, tag="v1", seed="1")
    Tag.objects.create(repository=repo, artifact=v1, name="stable")
    v2 = builders.image(repo, tag="v2", seed="2")
    untagged = builders.image(repo, seed="3")
    signature = builders.signature(repo, v1)
    amd = builders.image(repo, seed="amd")
    arm = builders.image(repo, seed="arm")
    multi = builders.index(
        repo,
        [
            (amd, {"architecture": "amd64", "os": "linux"}),
            (arm, {"architecture": "arm64", "os": "linux", "variant": "v8"}),
        ],
        tag="multi",
    )
    return {"repo": repo, "v1": v1, "v2": v2, "untagged": untagged, "sig": signature, "amd": amd, "multi": multi}


def test_list_shows_tagged_and_top_level_artifacts_newest_first(app):
    response = basic_client("limited").get(APP)
    assert response.status_code == 200, response.content
    digests = [a["digest"] for a in response.json()]
    # index children (untagged) and the signature (an accessory) are not listed, as in Harbor
    assert digests == [app["multi"].digest, app["untagged"].digest, app["v2"].digest, app["v1"].digest]
    assert response["X-Total-Count"] == "4"


def test_artifact_json_for_an_image(app):
    body = basic_client("guest").get(f"{APP}/v1").json()
    assert body["id"] == app["v1"].pk
    assert body["type"] == "IMAGE"
    assert body["media_type"] == mt.OCI_IMAGE_CONFIG
    assert body["manifest_media_type"] == mt.OCI_MANIFEST
    assert body["artifact_type"] == mt.OCI_IMAGE_CONFIG
    assert body["project_id"] == app["repo"].project_id
    assert body["repository_id"] == app["repo"].pk
    assert body["repository_name"] == "lib/app"
    assert body["digest"] == app["v1"].digest
    assert body["size"] == app["v1"].size
    assert body["pull_time"] == "0001-01-01T00:00:00.000Z"
    assert body["push_time"].endswith("Z")
    assert body["extra_attrs"] == {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-05-01T10:00:00Z",
        "author": "team-1",  # from the maintainer label, as Harbor falls back
        "config": {"Cmd": ["/app"], "Labels": {"maintainer": "team-1"}},
    }
    assert body["annotations"] == {}
    # Harbor's swagger has no x-nullable: empty lists are left out (as go-swagger's omitempty), not null.
    assert "references" not in body
    assert sorted(t["name"] for t in body["tags"]) == ["stable", "v1"]
    tag = body["tags"][0]
    assert set(tag) == {"id", "repository_id", "artifact_id", "name", "push_time", "pull_time", "immutable"}
    assert tag["immutable"] is False
    assert body["addition_links"] == {
        "build_history": {
            "href": f"/api/v2.0/projects/lib/repositories/app/artifacts/{app['v1'].digest}/additions/build_history",
            "absolute": False,
        }
    }
    assert "labels" not in body
    assert "accessories" not in body
    assert "scan_overview" not in body
    assert Artifact.objects.get(pk=app["v1"].pk).extra_attrs["os"] == "linux"  # remembered


def test_index_references_with_platform(app):
    body = basic_client("guest").get(f"{APP}/multi").json()
    assert body["type"] == "IMAGE"
    assert body["media_type"] == mt.OCI_INDEX
    assert body["artifact_type"] == ""
    assert body["addition_links"] == {}
    assert body["extra_attrs"] == {}
    refs = {r["child_digest"]: r for r in body["references"]}
    assert refs[app["amd"].digest] == {
        "parent_id": app["multi"].pk,
        "child_id": app["amd"].pk,
        "child_digest": app["amd"].digest,
        "platform": {"architecture": "amd64", "os": "linux"},
    }  # no annotations nor urls: left out, not null
    arm = next(r for r in body["references"] if r["child_digest"] != app["amd"].digest)
    assert arm["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}


def test_get_by_digest_and_options(app):
    label = Label.objects.create(name="prod", scope="g")
    ArtifactLabel.objects.create(artifact=app["v1"], label=label)
    guest = basic_client("guest")
    body = guest.get(
        f"{APP}/{app['v1'].digest}?with_tag=false&with_label=true&with_accessory=true"
        "&with_scan_overview=true&with_signature=true&with_immutable_status=true"
    ).json()
    assert "tags" not in body  # not asked for
    assert [lab["name"] for lab in body["labels"]] == ["prod"]
    assert body["labels"][0]["scope"] == "g"
    assert body["labels"][0]["project_id"] == 0
    assert body["scan_overview"] == {}
    (accessory,) = body["accessories"]
    assert accessory["digest"] == app["sig"].digest
    assert accessory["artifact_id"] == app["sig"].pk
    assert accessory["subject_artifact_id"] == app["v1"].pk
    assert accessory["subject_artifact_digest"] == app["v1"].digest
    assert accessory["subject_artifact_repo"] == "lib/app"
    assert accessory["type"] == "signature.cosign"
    assert accessory["size"] == app["sig"].size
    assert "accessories" not in guest.get(f"{APP}/v2?with_accessory=true").json()  # asked, none


def test_list_query_keys(app):
    guest = basic_client("guest")

    def digests(q: str) -> list[str]:
        response = guest.get(APP, {"q": q})
        assert response.status_code == 200, response.content
        return [a["digest"] for a in response.json()]

    assert digests("tags=*") == [app["multi"].digest, app["v2"].digest, app["v1"].digest]
    assert digests("tags=nil") == [app["untagged"].digest]
    assert digests("tags=stable") == [app["v1"].digest]
    assert digests("tags=~ult") == [app["multi"].digest]
    assert app["amd"].digest in digests("base=*")
    assert app["sig"].digest not in digests("base=*")  # accessories are never listed
    assert digests(f"digest={app['v2'].digest}") == [app["v2"].digest]
    assert digests(f"manifest_media_type={mt.OCI_INDEX}") == [app["multi"].digest]
    label_a = Label.objects.create(name="a", scope="g")
    label_b = Label.objects.create(name="b", scope="g")
    ArtifactLabel.objects.create(artifact=app["v1"], label=label_a)
    ArtifactLabel.objects.create(artifact=app["v1"], label=label_b)
    ArtifactLabel.objects.create(artifact=app["v2"], label=label_a)
    assert digests(f"labels=({label_a.pk} {label_b.pk})") == [app["v1"].digest]
    assert digests(f"labels=({label_a.pk})") == [app["v2"].digest, app["v1"].digest]
    by_size = [a["size"] for a in guest.get(APP, {"sort": "size"}).json()]
    assert by_size == sorted(by_size)
    for bad in ("tags=[a~b]", "labels=1", "labels=(x)", "base=all", "type=IMAGE", "repository__project__name=lib"):
        refused = guest.get(APP, {"q": bad})
        assert refused.status_code == 400, bad
        assert refused.json()["errors"][0]["code"] == "BAD_REQUEST"
    assert guest.get(APP, {"sort": "manifest"}).status_code == 400
    assert guest.get(APP, {"with_tag": "maybe"}).status_code == 400


def test_get_errors(app):
    guest = basic_client("guest")
    unknown = guest.get(f"{APP}/sha256:{'0' * 64}")
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["code"] == "NOT_FOUND"
    assert guest.get(f"{APP}/nosuchtag").status_code == 404
    for bad in ("sha256:xyz", "md5:" + "0" * 32, "-bad-tag"):
        response = guest.get(f"{APP}/{bad}")
        assert response.status_code == 400, bad
        assert response.json()["errors"][0]["code"] == "BAD_REQUEST"
    assert guest.get(f"{API}/projects/lib/repositories/nope/artifacts").status_code == 404
    assert basic_client("outsider").get(APP).status_code == 404
    assert basic_client(None).get(APP).status_code == 401


def test_delete_by_tag_removes_artifact_tags_and_accessories(app):
    assert basic_client("developer").delete(f"{APP}/v1").status_code == 403
    assert basic_client("guest").delete(f"{APP}/v1").status_code == 403
    response = basic_client("maintainer").delete(f"{APP}/stable")
    assert response.status_code == 200, response.content
    assert not Artifact.objects.filter(pk__in=[app["v1"].pk, app["sig"].pk]).exists()
    assert not Tag.objects.filter(name__in=["v1", "stable"]).exists()
    assert basic_client("maintainer").delete(f"{APP}/{app['v1'].digest}").status_code == 404


def test_delete_index_child_is_refused_then_index_deletes_children(app):
    refused = basic_client("padmin").delete(f"{APP}/{app['amd'].digest}")
    assert refused.status_code == 412
    assert refused.json()["errors"][0]["code"] == "PRECONDITION"
    Tag.objects.create(repository=app["repo"], artifact=app["amd"], name="amd-only")
    assert basic_client("padmin").delete(f"{APP}/multi").status_code == 200
    assert not Artifact.objects.filter(pk=app["multi"].pk).exists()
    assert Artifact.objects.filter(pk=app["amd"].pk).exists()  # still tagged: kept, as Harbor does
    remaining = set(Artifact.objects.filter(repository=app["repo"]).values_list("pk", flat=True))
    assert not ArtifactReference.objects.filter(parent_id=app["multi"].pk).exists()
    assert app["amd"].pk in remaining
    assert not Artifact.objects.filter(repository=app["repo"], digest__in=[app["multi"].digest]).exists()
    assert len(remaining) == 5  # v1, sig, v2, untagged, amd (arm went with the index)


def test_chart_type_and_extra_attrs(lib):
    chart = builders.chart(builders.repository("lib/charts/mychart"))
    body = basic_client("guest").get(f"{API}/projects/lib/repositories/charts%252Fmychart/artifacts/1.2.3").json()
    assert body["type"] == "CHART"
    assert body["media_type"] == types.HELM_CONFIG
    assert body["extra_attrs"]["name"] == "mychart"
    assert body["extra_attrs"]["appVersion"] == "4.5"
    assert set(body["addition_links"]) == {"values.yaml", "readme.md", "dependencies"}
    assert body["addition_links"]["readme.md"]["href"] == (
        f"/api/v2.0/projects/lib/repositories/charts%252Fmychart/artifacts/{chart.digest}/additions/readme.md"
    )
