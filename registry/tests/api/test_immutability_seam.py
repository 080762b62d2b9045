"""Every API write that moves or removes a tag asks one seam (the registry's gates); listings show its answer.

The immutability rules themselves are the policies app's gate: here a stand-in gate protects `v1`.
"""

from __future__ import annotations

import pytest

from common.testing.api import basic_client
from projects.models import Role
from projects.services import member_set, project_create
from registry.gates import DELETE, PUSH, Gate, GateRequest, gates_replaced
from registry.models import Artifact, Repository, Tag
from registry.tests.api import builders

pytestmark = pytest.mark.django_db
APP = "/api/v2.0/projects/lib/repositories/app"


class HoldsV1(Gate):
    name = "immutable tags (a stand-in)"

    def held(self, request: GateRequest) -> frozenset[str]:
        return request.tags & {"v1"}


@pytest.fixture
def protected(lib):
    repo = builders.repository("lib/app")
    v1 = builders.image(repo, tag="v1", seed="1")
    builders.image(repo, tag="v2", seed="2")
    with gates_replaced((HoldsV1(), (PUSH, DELETE))):
        yield v1


def _refused(response) -> None:  # noqa: ANN001
    assert response.status_code == 412, response.content
    assert response.json()["errors"][0]["code"] == "PRECONDITION"
    assert "immutable" in response.json()["errors"][0]["message"]


def test_writes_on_an_immutable_tag_are_refused(protected, users):
    admin = basic_client("padmin")
    _refused(admin.delete(f"{APP}/artifacts/v1/tags/v1"))
    _refused(admin.delete(f"{APP}/artifacts/v1"))
    _refused(admin.delete(APP))
    assert Tag.objects.filter(name="v1").exists()
    assert Repository.objects.filter(name="lib/app").exists()
    assert admin.delete(f"{APP}/artifacts/v2").status_code == 200  # not protected
    # a copy that would move the protected tag in the target
    target = project_create(name="prod")
    member_set(project=target, user=users["padmin"], role=Role.PROJECT_ADMIN)
    other = builders.image(builders.repository("prod/app"), tag="v1", seed="other")
    Tag.objects.create(repository=builders.repository("lib/app"), artifact=protected, name="v1-copy")
    _refused(admin.post("/api/v2.0/projects/prod/repositories/app/artifacts?from=lib/app:v1"))
    assert Tag.objects.get(repository__name="prod/app", name="v1").artifact == other
    assert not Artifact.objects.filter(repository__name="prod/app", digest=protected.digest).exists()


def test_listings_show_the_immutable_status(protected):
    guest = basic_client("guest")
    tags = guest.get(f"{APP}/artifacts/v1/tags?with_immutable_status=true").json()
    assert [(t["name"], t["immutable"]) for t in tags] == [("v1", True)]
    assert guest.get(f"{APP}/artifacts/v1/tags").json()[0]["immutable"] is False  # not asked
    listed = guest.get(f"{APP}/artifacts?with_immutable_status=true").json()
    assert {t["name"]: t["immutable"] for a in listed for t in a["tags"]} == {"v1": True, "v2": False}
