"""Immutability rules enforced through every door: the REST API's seam and the /v2/ manifest PUT and DELETE."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.testing.api import basic_client
from policies.services import immutability_rule_create, immutability_rule_update
from projects.models import Role
from projects.services import member_set, project_create
from registry.auth.scopes import Scope
from registry.auth.token import token_issue
from registry.digest import Digest
from registry.models import Artifact, Repository, Tag
from registry.tests.api import builders

pytestmark = pytest.mark.django_db
APP = "/api/v2.0/projects/lib/repositories/app"


def _rule(
    project, tag: str, repo: str = "**", *, tag_decoration: str = "matches", repo_decoration: str = "repoMatches"
):  # noqa: ANN001, ANN202
    return immutability_rule_create(
        project=project,
        scope_selectors={"repository": [{"kind": "doublestar", "decoration": repo_decoration, "pattern": repo}]},
        tag_selectors=[{"kind": "doublestar", "decoration": tag_decoration, "pattern": tag}],
    )


@pytest.fixture
def images(lib):
    repo = builders.repository("lib/app")
    v1 = builders.image(repo, tag="v1", seed="1")
    v2 = builders.image(repo, tag="v2", seed="2")
    Tag.objects.create(repository=repo, artifact=v2, name="dev")
    return {"repo": repo, "v1": v1, "v2": v2}


def _precondition(response) -> None:  # noqa: ANN001
    assert response.status_code == 412, response.content
    error = response.json()["errors"][0]
    assert error["code"] == "PRECONDITION"
    assert "immutable" in error["message"]


# --- REST API -------------------------------------------------------------------------------------------


def test_rest_deletes_of_protected_tags_are_refused(lib, images):
    _rule(lib, "v*")
    admin = basic_client("padmin")
    _precondition(admin.delete(f"{APP}/artifacts/v1/tags/v1"))
    _precondition(admin.delete(f"{APP}/artifacts/v1"))
    _precondition(admin.delete(f"{APP}/artifacts/{images['v2'].digest}"))  # carries v2 (and dev)
    _precondition(admin.delete(APP))
    assert Tag.objects.filter(name__in=["v1", "v2"]).count() == 2
    assert admin.delete(f"{APP}/artifacts/v2/tags/dev").status_code == 200  # `dev` isn't protected


def test_rest_listing_marks_immutable_tags(lib, images):
    _rule(lib, "dev", tag_decoration="excludes")  # everything but `dev`
    tags = basic_client("guest").get(f"{APP}/artifacts/v2/tags?with_immutable_status=true").json()
    assert {t["name"]: t["immutable"] for t in tags} == {"v2": True, "dev": False}
    artifacts = basic_client("guest").get(f"{APP}/artifacts?with_tag=true&with_immutable_status=true").json()
    marks = {t["name"]: t["immutable"] for a in artifacts for t in a["tags"]}
    assert marks == {"v1": True, "v2": True, "dev": False}


def test_rest_respects_the_repository_selector_and_disabled_rules(lib, images):
    rule = _rule(lib, "**", repo="other")
    admin = basic_client("padmin")
    builders.image(builders.repository("lib/other"), tag="v1", seed="o")
    _precondition(admin.delete("/api/v2.0/projects/lib/repositories/other/artifacts/v1/tags/v1"))
    assert admin.delete(f"{APP}/artifacts/v2/tags/dev").status_code == 200  # lib/app isn't in scope
    immutability_rule_update(rule=rule, disabled=True)
    assert admin.delete("/api/v2.0/projects/lib/repositories/other/artifacts/v1/tags/v1").status_code == 200


def test_rest_repository_pattern_excludes_the_project(lib, images):
    _rule(lib, "v1", repo="lib/app")  # Harbor matches `app`, not `lib/app`
    assert basic_client("padmin").delete(f"{APP}/artifacts/v1/tags/v1").status_code == 200


# --- /v2/ -----------------------------------------------------------------------------------------------


def _auth(name: str = "lib/app") -> str:
    token, _, _ = token_issue(
        subject="padmin", access=[Scope("repository", name, frozenset({"pull", "push", "delete"}))]
    )
    return f"Bearer {token}"


def _manifest_of(artifact: Artifact) -> tuple[bytes, str]:
    return bytes(artifact.manifest), artifact.media_type


def _denied(response, tag: str) -> None:  # noqa: ANN001
    assert response.status_code == 412, response.content
    error = json.loads(response.content)["errors"][0]
    assert error["code"] == "DENIED"
    assert f"the tag {tag} is immutable" in error["message"]


def test_v2_push_cannot_move_an_immutable_tag(client, lib, images, django_assert_max_num_queries):
    _rule(lib, "v*")
    body, media_type = _manifest_of(images["v2"])
    auth = _auth()
    _denied(client.put("/v2/lib/app/manifests/v1", body, content_type=media_type, HTTP_AUTHORIZATION=auth), "v1")
    assert Tag.objects.get(name="v1").artifact == images["v1"]
    # re-pushing the same digest under the tag is fine
    same, same_type = _manifest_of(images["v1"])
    response = client.put("/v2/lib/app/manifests/v1", same, content_type=same_type, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 201, response.content
    # a new immutable tag may be created, and an unprotected one moved
    assert (
        client.put("/v2/lib/app/manifests/v9", body, content_type=media_type, HTTP_AUTHORIZATION=auth).status_code
        == 201
    )
    assert Tag.objects.get(name="v9").artifact == images["v2"]
    one, one_type = _manifest_of(images["v1"])
    assert (
        client.put("/v2/lib/app/manifests/dev", one, content_type=one_type, HTTP_AUTHORIZATION=auth).status_code == 201
    )
    assert Tag.objects.get(name="dev").artifact == images["v1"]
    # `?tag=` extra tags are checked too
    digest = str(Digest.of(body))
    _denied(
        client.put(f"/v2/lib/app/manifests/{digest}?tag=v1", body, content_type=media_type, HTTP_AUTHORIZATION=auth),
        "v1",
    )


def test_v2_push_asks_the_rules_once_per_process_and_policy_revision(client, lib, images):
    body, media_type = _manifest_of(images["v2"])
    auth = _auth()

    def push(tag: str) -> list[dict]:
        with CaptureQueriesContext(connection) as queries:
            response = client.put(
                f"/v2/lib/app/manifests/{tag}", body, content_type=media_type, HTTP_AUTHORIZATION=auth
            )
        assert response.status_code == 201, response.content
        return queries.captured_queries

    def rule_queries(queries: list[dict]) -> int:
        return len([q for q in queries if "policies_immutabilityrule" in q["sql"]])

    push("x1")  # warm up
    without_rules = push("x2")
    assert rule_queries(without_rules) == 0  # the project never had a rule: its policy revision is 0
    rule = _rule(lib, "release-*")
    first = push("x3")
    assert rule_queries(first) == 1  # a new revision: looked up once...
    assert len(first) == len(without_rules) + 1
    again = push("x4")
    assert rule_queries(again) == 0  # ...then remembered for that revision
    assert len(again) == len(without_rules)
    immutability_rule_update(rule=rule, disabled=True)
    assert rule_queries(push("x5")) == 1  # any rule write moves the revision on


def test_v2_get_paths_do_not_ask_the_rules(client, lib, images):
    _rule(lib, "v*")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/v2/lib/app/manifests/v1", HTTP_AUTHORIZATION=_auth()).status_code == 200
        assert client.get("/v2/lib/app/tags/list", HTTP_AUTHORIZATION=_auth()).status_code == 200
    assert not [q for q in queries.captured_queries if "policies_immutabilityrule" in q["sql"]]


def test_v2_delete_of_a_protected_tag_or_its_manifest_is_refused(client, lib, images):
    _rule(lib, "v1")
    auth = _auth()
    _denied(client.delete("/v2/lib/app/manifests/v1", HTTP_AUTHORIZATION=auth), "v1")
    _denied(client.delete(f"/v2/lib/app/manifests/{images['v1'].digest}", HTTP_AUTHORIZATION=auth), "v1")
    assert Artifact.objects.filter(pk=images["v1"].pk).exists()
    assert Tag.objects.filter(name="v1").exists()
    # unprotected tags and artifacts go
    Tag.objects.create(repository=images["repo"], artifact=images["v2"], name="spare")
    assert client.delete("/v2/lib/app/manifests/spare", HTTP_AUTHORIZATION=auth).status_code == 202
    assert client.delete(f"/v2/lib/app/manifests/{images['v2'].digest}", HTTP_AUTHORIZATION=auth).status_code == 202
    assert Repository.objects.filter(name="lib/app").exists()


def test_v2_delete_of_an_unknown_protected_tag_is_unknown(client, lib, images):
    _rule(lib, "**")
    response = client.delete("/v2/lib/app/manifests/nope", HTTP_AUTHORIZATION=_auth())
    assert response.status_code == 404, response.content
    assert json.loads(response.content)["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_rest_copy_cannot_move_an_immutable_tag_in_the_target(lib, users, images):
    target = project_create(name="prod")
    member_set(project=target, user=users["padmin"], role=Role.PROJECT_ADMIN)
    kept = builders.image(builders.repository("prod/app"), tag="v1", seed="prod")
    _rule(target, "v1")
    admin = basic_client("padmin")
    _precondition(admin.post("/api/v2.0/projects/prod/repositories/app/artifacts?from=lib/app:v1"))
    assert Tag.objects.get(repository__name="prod/app", name="v1").artifact == kept
    # the same copy into a repository the rule's scope leaves out goes through
    _rule(target, "**", repo="app")
    response = admin.post("/api/v2.0/projects/prod/repositories/other/artifacts?from=lib/app:v1")
    assert response.status_code == 201, response.content
