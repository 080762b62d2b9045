"""listAccessories and getAddition (build history; chart values, readme, dependencies from a real .tgz)."""

from __future__ import annotations

import json

import pytest

from common.testing.api import basic_client
from registry import helm
from registry.models import Artifact
from registry.tests.api import builders

pytestmark = pytest.mark.django_db
API = "/api/v2.0"
APP = f"{API}/projects/lib/repositories/app/artifacts"
CHARTS = f"{API}/projects/lib/repositories/charts%252Fmychart/artifacts"


@pytest.fixture
def app(lib):
    repo = builders.repository("lib/app")
    subject = builders.image(repo, tag="v1", seed="1")
    return {
        "repo": repo,
        "subject": subject,
        "cosign": builders.signature(repo, subject),
        "notation": builders.signature(repo, subject, kind="notation"),
        "legacy": builders.signature(repo, subject, kind="cosign-tag"),
        "sbom": builders.sbom(repo, subject),
        "other": builders.image(repo, tag="v2", seed="2"),
    }


def test_list_accessories(app):
    response = basic_client("limited").get(f"{APP}/v1/accessories")
    assert response.status_code == 200, response.content
    assert response["X-Total-Count"] == "4"
    by_digest = {a["digest"]: a for a in response.json()}
    assert {d: a["type"] for d, a in by_digest.items()} == {
        app["cosign"].digest: "signature.cosign",
        app["notation"].digest: "signature.notation",
        app["legacy"].digest: "signature.cosign",
        app["sbom"].digest: "sbom.harbor",
    }
    one = by_digest[app["notation"].digest]
    assert set(one) == {
        "id",
        "artifact_id",
        "subject_artifact_id",
        "subject_artifact_digest",
        "subject_artifact_repo",
        "size",
        "digest",
        "type",
        "icon",
        "creation_time",
    }
    assert one["subject_artifact_id"] == app["subject"].pk
    assert one["subject_artifact_repo"] == "lib/app"
    guest = basic_client("guest")
    signatures = guest.get(f"{APP}/v1/accessories", {"q": "type={signature.cosign signature.notation}"}).json()
    assert len(signatures) == 3
    assert guest.get(f"{APP}/v1/accessories", {"q": "type=sbom.harbor"}).json()[0]["digest"] == app["sbom"].digest
    assert guest.get(f"{APP}/v2/accessories").json() == []
    assert guest.get(f"{APP}/v1/accessories", {"q": "subject_digest=x"}).status_code == 400
    assert basic_client(None).get(f"{APP}/v1/accessories").status_code == 401
    # the artifact list hides every accessory, the legacy tagged one included
    listed = [a["digest"] for a in guest.get(APP).json()]
    assert listed == [app["other"].digest, app["subject"].digest]
    art = guest.get(f"{APP}/v1?with_accessory=true").json()
    assert {a["digest"] for a in art["accessories"]} == {
        app["cosign"].digest,
        app["notation"].digest,
        app["legacy"].digest,
        app["sbom"].digest,
    }
    assert (
        guest.get(f"{APP}/v1", {"with_accessory": "true"}).json()["accessories"][0]["subject_artifact_id"]
        == app["subject"].pk
    )
    assert guest.get(f"{APP}/{app['cosign'].digest}").json()["type"] == "SIGNATURE"
    assert guest.get(f"{APP}/{app['sbom'].digest}").json()["type"] == "SBOM"


def test_build_history(app):
    response = basic_client("limited").get(f"{APP}/v1/additions/build_history")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(response.content) == [{"created": "2024-05-01T10:00:00Z", "created_by": "RUN build 1"}]
    wrong = basic_client("guest").get(f"{APP}/v1/additions/values.yaml")
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["code"] == "BAD_REQUEST"
    unknown = basic_client("guest").get(f"{APP}/v1/additions/secrets")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["code"] == "UNPROCESSABLE_ENTITY"
    assert basic_client("guest").get(f"{APP}/nosuch/additions/build_history").status_code == 404
    assert basic_client("outsider").get(f"{APP}/v1/additions/build_history").status_code == 404
    assert basic_client(None).get(f"{APP}/v1/additions/build_history").status_code == 401


def test_chart_additions_from_a_real_archive(lib):
    builders.chart(builders.repository("lib/charts/mychart"))
    guest = basic_client("guest")
    values = guest.get(f"{CHARTS}/1.2.3/additions/values.yaml")
    assert values.status_code == 200, values.content
    assert values["Content-Type"] == "text/plain; charset=utf-8"
    assert values.content == b"replicaCount: 2\nimage:\n  repository: nginx\n"
    readme = guest.get(f"{CHARTS}/1.2.3/additions/readme.md")
    assert readme["Content-Type"] == "text/markdown; charset=utf-8"
    assert readme.content == b"# mychart\n\nA chart for tests.\n"  # the top-level README, not templates/
    dependencies = guest.get(f"{CHARTS}/1.2.3/additions/dependencies")
    assert dependencies["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(dependencies.content) == [
        {
            "name": "redis",
            "version": "17.0.0",
            "repository": "https://charts.example.test",
            "condition": "redis.enabled",
        },
        {"name": "common", "version": "2.x.x", "repository": "oci://registry.example.test/charts"},
    ]
    assert guest.get(f"{CHARTS}/1.2.3/additions/build_history").status_code == 400


def test_chart_v1_dependencies_come_from_requirements(lib):
    files = {
        "Chart.yaml": "apiVersion: v1\nname: old\nversion: 0.1.0\n",
        "requirements.yaml": "dependencies:\n- name: mysql\n  version: 1.0.0\n  repository: '@stable'\n",
    }
    builders.chart(builders.repository("lib/charts/mychart"), files=files)
    guest = basic_client("guest")
    deps = guest.get(f"{CHARTS}/1.2.3/additions/dependencies")
    assert json.loads(deps.content) == [{"name": "mysql", "version": "1.0.0", "repository": "@stable"}]
    assert guest.get(f"{CHARTS}/1.2.3/additions/readme.md").content == b""


def test_chart_that_is_not_an_archive_or_too_big(lib, monkeypatch):
    repo = builders.repository("lib/charts/mychart")
    builders.chart(repo, archive=b"this is not gzip")
    broken = basic_client("guest").get(f"{CHARTS}/1.2.3/additions/values.yaml")
    assert broken.status_code == 422
    builders.chart(
        repo,
        tag="2.0.0",
        files={"Chart.yaml": "apiVersion: v2\nname: big\nversion: 2.0.0\n", "values.yaml": "x" * 5000},
    )
    monkeypatch.setattr(helm, "MAX_FILE", 1000)
    too_big = basic_client("guest").get(f"{CHARTS}/2.0.0/additions/values.yaml")
    assert too_big.status_code == 422
    assert "larger than" in too_big.json()["errors"][0]["message"]
    assert Artifact.objects.filter(repository=repo).count() == 2
