"""/api/v2.0 system endpoints through real Basic credentials: systeminfo, volumes, health, ping,
statistics, search, configurations, and the project creation restriction."""

from __future__ import annotations

import os
import tomllib

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import FileSystemStorage

from common.configuration import config_get
from common.testing.api import basic_client
from projects.models import Role
from projects.tests.factories import PASSWORD, MemberFactory, ProjectFactory, SysadminFactory, UserFactory
from registry.storage import FilesystemBlobStore
from registry.tests.factories import ArtifactFactory, BlobFactory, RepositoryFactory
from system import health
from system import info as system
from system.configuration import config_update

pytestmark = pytest.mark.django_db

PUBLIC_INFO = {"auth_mode", "primary_auth_mode", "self_registration", "banner_message", "oidc_provider_name"}
PROTECTED_INFO = {
    "harbor_version",
    "external_url",
    "registry_url",
    "project_creation_restriction",
    "has_ca_root",
    "read_only",
    "registry_storage_provider_name",
    "current_time",
}


@pytest.fixture
def people():
    return {"admin": SysadminFactory(username="root"), "alice": UserFactory(username="alice")}


def as_user(name: str | None):
    return basic_client(name, PASSWORD)


def error_code(response) -> str:
    return response.json()["errors"][0]["code"]


# --- systeminfo ---------------------------------------------------------------------------


def test_systeminfo_anonymous_gets_the_public_fields_only(people):
    response = as_user(None).get("/api/v2.0/systeminfo")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PUBLIC_INFO
    assert body["auth_mode"] == "db_auth"
    assert body["self_registration"] is False
    assert body["primary_auth_mode"] is False


def test_systeminfo_for_users(people, settings):
    settings.EXTERNAL_URL = ""
    config_update(changes={"self_registration": True, "banner_message": "maintenance at 5"}, user=None)
    body = as_user("alice").get("/api/v2.0/systeminfo").json()
    assert set(body) == PUBLIC_INFO | PROTECTED_INFO
    with open(os.path.join(django_settings.BASE_DIR, "pyproject.toml"), "rb") as handle:
        assert body["harbor_version"] == "v" + tomllib.load(handle)["project"]["version"]
    assert body["external_url"] == "http://testserver"  # derived from the request when not configured
    assert body["registry_url"] == "testserver"
    assert body["project_creation_restriction"] == "everyone"
    assert body["read_only"] is False
    assert body["has_ca_root"] is False
    assert body["registry_storage_provider_name"] == "filesystem"
    assert body["self_registration"] is True
    assert body["banner_message"] == "maintenance at 5"
    assert body["current_time"].endswith("Z")


def test_systeminfo_follows_external_url_and_configuration(people, settings):
    settings.EXTERNAL_URL = "https://registry.example.com"
    config_update(changes={"read_only": True, "project_creation_restriction": "adminonly"}, user=None)
    body = as_user("alice").get("/api/v2.0/systeminfo").json()
    assert body["external_url"] == "https://registry.example.com"
    assert body["registry_url"] == "registry.example.com"
    assert body["read_only"] is True
    assert body["project_creation_restriction"] == "adminonly"


def test_systeminfo_with_bad_credentials_is_401(people):
    response = basic_client("alice", "wrong").get("/api/v2.0/systeminfo")
    assert response.status_code == 401
    assert error_code(response) == "UNAUTHORIZED"


# --- volumes ------------------------------------------------------------------------------


def test_volumes_for_sysadmins(people):
    response = as_user("root").get("/api/v2.0/systeminfo/volumes")
    assert response.status_code == 200
    [volume] = response.json()["storage"]
    stat = os.statvfs(django_settings.STORAGES["blobs"]["OPTIONS"]["location"])
    assert volume["total"] == stat.f_blocks * stat.f_frsize
    assert 0 < volume["free"] <= volume["total"]


def test_volumes_refusals(people):
    forbidden = as_user("alice").get("/api/v2.0/systeminfo/volumes")
    assert forbidden.status_code == 403
    assert error_code(forbidden) == "FORBIDDEN"
    anonymous = as_user(None).get("/api/v2.0/systeminfo/volumes")
    assert anonymous.status_code == 401
    assert error_code(anonymous) == "UNAUTHORIZED"


def test_volumes_on_an_object_store_report_no_local_volume(people, monkeypatch):
    monkeypatch.setattr(system, "blob_store", lambda: object())  # not a filesystem store
    assert as_user("root").get("/api/v2.0/systeminfo/volumes").json() == {"storage": []}


# --- health -------------------------------------------------------------------------------


def components(body: dict) -> dict[str, dict]:
    return {c["name"]: c for c in body["components"]}


def test_health_reports_each_component_truthfully():
    # The test settings use the embedded filesystem broker and no worker runs in this process.
    response = as_user(None).get("/api/v2.0/health")
    assert response.status_code == 200
    body = response.json()
    assert [c["name"] for c in body["components"]] == ["broker", "core", "database", "jobservice", "storage"]
    found = components(body)
    for name in ("broker", "core", "database", "storage"):
        assert found[name] == {"name": name, "status": "healthy"}, found[name]
    assert found["jobservice"]["status"] == "unhealthy"
    assert "no Celery worker answered" in found["jobservice"]["error"]
    assert body["status"] == "unhealthy"


def test_health_with_an_unreachable_broker(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    found = components(as_user(None).get("/api/v2.0/health").json())
    assert found["broker"]["status"] == "unhealthy"
    assert "refused" in found["broker"]["error"].lower()
    assert found["jobservice"]["status"] == "unhealthy"
    assert "broker is unreachable" in found["jobservice"]["error"]
    assert found["database"]["status"] == "healthy"


@pytest.mark.skipif(not getattr(django_settings, "TEST_REDIS_URL", ""), reason="Redis is not answering")
def test_health_with_a_redis_broker(settings):
    # A Redis database of its own: workers of other test runs on the shared one would answer the ping.
    settings.CELERY_BROKER_URL = settings.TEST_REDIS_URL.rsplit("/", 1)[0] + "/12"
    found = components(as_user(None).get("/api/v2.0/health").json())
    assert found["broker"] == {"name": "broker", "status": "healthy"}
    assert found["jobservice"]["status"] == "unhealthy"  # the broker answers, no worker does


def test_health_with_a_broken_blob_store(monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the storage root should be")
    broken = FilesystemBlobStore(FileSystemStorage(location=str(blocker)))
    monkeypatch.setattr(health, "blob_store", lambda: broken)
    found = components(as_user(None).get("/api/v2.0/health").json())
    assert found["storage"]["status"] == "unhealthy"
    assert found["storage"]["error"]


def test_health_storage_probe_leaves_nothing_behind():
    location = django_settings.STORAGES["blobs"]["OPTIONS"]["location"]
    health.check_storage()
    probes = os.path.join(location, health.PROBE_PREFIX)
    assert not os.path.isdir(probes) or not os.listdir(probes)


def test_health_with_a_failing_database(monkeypatch):
    def broken():
        raise health.Unhealthy("connection to server at 127.0.0.1 failed")

    monkeypatch.setattr(health, "check_database", broken)
    body = as_user(None).get("/api/v2.0/health").json()
    assert components(body)["database"] == {
        "name": "database",
        "status": "unhealthy",
        "error": "connection to server at 127.0.0.1 failed",
    }
    assert body["status"] == "unhealthy"


# --- ping ---------------------------------------------------------------------------------


def test_ping_answers_pong_as_text_to_anyone():
    response = as_user(None).get("/api/v2.0/ping")
    assert response.status_code == 200
    assert response.content == b"Pong"
    assert response["Content-Type"].startswith("text/plain")


# --- statistics ---------------------------------------------------------------------------


@pytest.fixture
def catalogue(people):
    """Public p0..p2 (one repository each), private q0..q3 (two each); alice is a member of q0 and q1."""
    for i in range(3):
        RepositoryFactory(project=ProjectFactory(name=f"p{i}", public=True), name=f"p{i}/app")
    for i in range(4):
        project = ProjectFactory(name=f"q{i}")
        for j in range(2):
            ArtifactFactory.create_batch(j + 1, repository=RepositoryFactory(project=project, name=f"q{i}/svc{j}"))
    for name in ("q0", "q1"):
        MemberFactory(project=ProjectFactory._meta.model.objects.get(name=name), user=people["alice"])
    BlobFactory(size=1000)
    BlobFactory(size=234)


def test_statistics_for_a_member(catalogue, django_assert_max_num_queries):
    # With a stale Basic-auth cache entry: one more; the login's audit record reads the (cold) configuration: two.
    with django_assert_max_num_queries(8):
        response = as_user("alice").get("/api/v2.0/statistics")
    assert response.status_code == 200
    assert response.json() == {
        "private_project_count": 2,
        "private_repo_count": 4,
        "public_project_count": 3,
        "public_repo_count": 3,
        "total_project_count": 0,
        "total_repo_count": 0,
        "total_storage_consumption": 0,
    }


def test_statistics_for_a_sysadmin(catalogue, django_assert_max_num_queries):
    # The login's audit record reads the (cold) configuration for syslog forwarding: two of these.
    with django_assert_max_num_queries(7):
        body = as_user("root").get("/api/v2.0/statistics").json()
    assert body == {
        "private_project_count": 4,
        "private_repo_count": 8,
        "public_project_count": 3,
        "public_repo_count": 3,
        "total_project_count": 7,
        "total_repo_count": 11,
        "total_storage_consumption": 1234,
    }


def test_statistics_need_authentication(catalogue):
    response = as_user(None).get("/api/v2.0/statistics")
    assert response.status_code == 401
    assert error_code(response) == "UNAUTHORIZED"


# --- search -------------------------------------------------------------------------------


def test_search_is_scoped_to_visible_projects(catalogue):
    anonymous = as_user(None).get("/api/v2.0/search", {"q": "svc"}).json()
    assert anonymous == {"project": [], "repository": []}  # svc repositories are all private
    alice = as_user("alice").get("/api/v2.0/search", {"q": "svc"}).json()
    assert [r["repository_name"] for r in alice["repository"]] == ["q0/svc0", "q0/svc1", "q1/svc0", "q1/svc1"]
    first = alice["repository"][1]
    assert first == {
        "project_id": first["project_id"],
        "project_name": "q0",
        "project_public": False,
        "repository_name": "q0/svc1",
        "pull_count": 0,
        "artifact_count": 2,
    }
    admin = as_user("root").get("/api/v2.0/search", {"q": "svc"}).json()
    assert len(admin["repository"]) == 8


def test_search_projects_have_the_project_shape(catalogue):
    body = as_user("alice").get("/api/v2.0/search", {"q": "q"}).json()
    assert [p["name"] for p in body["project"]] == ["q0", "q1"]
    project = body["project"][0]
    assert project["repo_count"] == 2
    assert project["current_user_role_id"] == Role.DEVELOPER
    assert project["metadata"]["public"] == "false"
    assert {"project_id", "owner_name", "creation_time", "cve_allowlist"} <= set(project)
    public = as_user(None).get("/api/v2.0/search", {"q": "p"}).json()
    assert [p["name"] for p in public["project"]] == ["p0", "p1", "p2"]
    assert [r["repository_name"] for r in public["repository"]] == ["p0/app", "p1/app", "p2/app"]


def test_search_query_budget(people, django_assert_max_num_queries):
    alice = people["alice"]
    for i in range(15):
        project = ProjectFactory(name=f"big{i:02d}", public=i % 3 == 0)
        MemberFactory(project=project, user=alice, role=Role.GUEST)
        for j in range(3):
            ArtifactFactory.create_batch(2, repository=RepositoryFactory(project=project, name=f"big{i:02d}/r{j}"))
    client = as_user("alice")
    # The same at any number of projects and repositories (the cold configuration read included).
    with django_assert_max_num_queries(7):
        body = client.get("/api/v2.0/search", {"q": "big"}).json()
    assert len(body["project"]) == 15
    assert len(body["repository"]) == 45
    assert all(r["artifact_count"] == 2 for r in body["repository"])


def test_search_requires_q(people):
    for params in ({}, {"q": ""}):
        response = as_user("alice").get("/api/v2.0/search", params)
        assert response.status_code == 422
        assert error_code(response) == "UNPROCESSABLE_ENTITY"


# --- configurations -----------------------------------------------------------------------


def test_get_configurations(people, settings):
    response = as_user("root").get("/api/v2.0/configurations")
    assert response.status_code == 200
    assert response.json() == {
        "auth_mode": {"value": "db_auth", "editable": False},
        "project_creation_restriction": {"value": "everyone", "editable": True},
        "self_registration": {"value": False, "editable": True},
        "token_expiration": {"value": settings.TOKEN_EXPIRATION // 60, "editable": True},
        "robot_token_duration": {"value": 30, "editable": True},
        "robot_name_prefix": {"value": "robot$", "editable": False},
        "read_only": {"value": False, "editable": True},
        "banner_message": {"value": "", "editable": True},
        "audit_log_forward_endpoint": {"value": "", "editable": True},
    }


def test_update_configurations(people):
    admin = as_user("root")
    changes = {"self_registration": True, "token_expiration": 45, "project_creation_restriction": "adminonly"}
    response = admin.put("/api/v2.0/configurations", changes, format="json")
    assert response.status_code == 200, response.content
    body = admin.get("/api/v2.0/configurations").json()
    assert {key: body[key]["value"] for key in changes} == changes
    assert config_get("self_registration") is True  # what the users API reads
    assert admin.put("/api/v2.0/configurations", {}, format="json").status_code == 200  # nothing to change


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"no_such_key": True}, "unknown or unsupported configuration item"),
        ({"read_only": "yes"}, "read_only must be a boolean"),
        ({"token_expiration": -1}, "token_expiration value must be at least 1"),
        ({"token_expiration": "30"}, "token_expiration must be an integer"),
        ({"project_creation_restriction": "nobody"}, "invalid project_creation_restriction"),
        ({"robot_name_prefix": "bot-"}, "robot_name_prefix cannot be modified"),
        (["read_only"], "must be a JSON object"),
    ],
)
def test_update_configurations_bad_input(people, body, message):
    response = as_user("root").put("/api/v2.0/configurations", body, format="json")
    assert response.status_code == 400
    assert error_code(response) == "BAD_REQUEST"
    assert message in response.json()["errors"][0]["message"]
    assert config_get("read_only") is False


def test_update_configurations_malformed_json(people):
    response = as_user("root").put("/api/v2.0/configurations", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "BAD_REQUEST"


def test_configurations_refusals(people):
    for method in ("get", "put"):
        forbidden = getattr(as_user("alice"), method)("/api/v2.0/configurations", {"read_only": True}, format="json")
        assert forbidden.status_code == 403
        assert error_code(forbidden) == "FORBIDDEN"
        anonymous = getattr(as_user(None), method)("/api/v2.0/configurations", {"read_only": True}, format="json")
        assert anonymous.status_code == 401
        assert error_code(anonymous) == "UNAUTHORIZED"
    assert config_get("read_only") is False


# --- project creation restriction ---------------------------------------------------------


def test_adminonly_restricts_project_creation_to_sysadmins(people):
    config_update(changes={"project_creation_restriction": "adminonly"}, user=None)
    refused = as_user("alice").post("/api/v2.0/projects", {"project_name": "mine"}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {"errors": [{"code": "FORBIDDEN", "message": "Only system admin can create project"}]}
    assert as_user("root").post("/api/v2.0/projects", {"project_name": "theirs"}, format="json").status_code == 201
    config_update(changes={"project_creation_restriction": "everyone"}, user=None)
    assert as_user("alice").post("/api/v2.0/projects", {"project_name": "mine"}, format="json").status_code == 201
