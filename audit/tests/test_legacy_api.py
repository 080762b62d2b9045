"""listAuditLogs (`/audit-logs`) and getLogs (`/projects/{project_name}/logs`): Harbor's older audit routes.

The same store, scoping, `q`, sort and paging as the auditlog-exts routes; Harbor's AuditLog shape; only
the events Harbor's older log held (successful project, repository, artifact and tag events).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Q

from audit.models import AuditLog
from audit.tests.test_api import _robot
from common.testing.api import basic_client
from projects.services import project_create

pytestmark = pytest.mark.django_db
LOGS = "/api/v2.0/audit-logs"
EVENTS = "/api/v2.0/auditlog-exts/events"
HARBOR_FIELDS = {"id", "username", "resource", "resource_type", "operation", "op_time"}  # Harbor's AuditLog
T0 = datetime(2024, 1, 1, tzinfo=UTC)
LIB = ["lib/old", "lib/web@sha256:ab", "lib/app:v2", "lib/app:v1"]  # lib's older-log records, newest first
OTHER = ["other/x@sha256:cd", "other"]


def row(project_id, minutes: int, operation: str, resource_type: str, resource: str, **fields) -> AuditLog:  # noqa: ANN001, ANN003
    values = {"username": "alice", "source_ip": "10.0.0.1", "op_time": T0 + timedelta(minutes=minutes)}
    return AuditLog(
        project_id=project_id,
        operation=operation,
        resource_type=resource_type,
        resource=resource,
        **{**values, **fields},
    )


@pytest.fixture
def logs(lib):
    """lib and `other` records Harbor's older log held, and records it never held (left out)."""
    other = project_create(name="other")
    for name in ("root", "padmin", "maintainer", "developer", "guest", "limited", "outsider"):
        basic_client(name).get(EVENTS)  # each first Basic login is audited (then remembered): log them in now
    AuditLog.objects.all().purge()
    AuditLog.objects.bulk_create(
        [
            row(lib.pk, 1, "create", "artifact", "lib/app:v1"),  # a push
            row(lib.pk, 2, "delete", "tag", "lib/app:v2", username="bob"),
            row(lib.pk, 3, "pull", "artifact", "lib/web@sha256:ab"),
            row(lib.pk, 4, "pull", "artifact", "lib/web:denied", operation_result=False),  # failed: not there
            row(lib.pk, 5, "create", "member", "dave"),  # not an older-log event
            row(lib.pk, 6, "delete", "repository", "lib/old"),
            row(lib.pk, 7, "update", "project", "lib"),  # not an older-log event
            row(other.pk, 8, "create", "project", "other"),
            row(other.pk, 9, "delete", "artifact", "other/x@sha256:cd"),
            row(None, 10, "login", "user", "carol"),
            row(None, 11, "create", "user", "erin"),
            row(None, 12, "update", "configuration", "configurations"),
        ]
    )
    return {"lib": lib, "other": other}


def resources(response) -> list[str]:  # noqa: ANN001
    assert response.status_code == 200, response.content
    return [item["resource"] for item in response.json()]


def test_sysadmin_sees_the_older_logs_events_newest_first_in_harbors_shape(logs):
    response = basic_client("root").get(LOGS)
    assert resources(response) == OTHER + LIB
    assert response["X-Total-Count"] == "6"
    first = response.json()[0]
    assert set(first) == HARBOR_FIELDS
    assert first == {
        "id": first["id"],
        "username": "alice",
        "resource": "other/x@sha256:cd",
        "resource_type": "artifact",
        "operation": "delete",
        "op_time": first["op_time"],
    }
    assert first["op_time"].startswith("2024-01-01T00:09:00")
    operations = {(item["operation"], item["resource_type"]) for item in response.json()}
    assert operations == {
        ("delete", "artifact"),
        ("create", "project"),
        ("delete", "repository"),
        ("pull", "artifact"),
        ("delete", "tag"),
        ("create", "artifact"),
    }


def test_scoped_like_auditlog_exts(logs):
    assert resources(basic_client("padmin").get(LOGS)) == LIB
    for name in ("maintainer", "developer", "guest", "limited", "outsider"):
        response = basic_client(name).get(LOGS)
        assert resources(response) == [], name
        assert response["X-Total-Count"] == "0"
    assert basic_client(None).get(LOGS).status_code == 401


def test_project_route_lists_that_project_to_whoever_may_list_its_logs(logs):
    url = "/api/v2.0/projects/lib/logs"
    assert resources(basic_client("padmin").get(url)) == LIB
    assert resources(basic_client("root").get("/api/v2.0/projects/other/logs")) == OTHER
    assert basic_client("maintainer").get(url).status_code == 403
    assert basic_client("outsider").get(url).status_code == 404  # a private project's existence does not leak
    assert basic_client("padmin").get("/api/v2.0/projects/other/logs").status_code == 404
    assert basic_client(None).get(url).status_code == 401
    assert basic_client("root").get("/api/v2.0/projects/nope/logs").status_code == 404
    assert basic_client("root").get(f"/api/v2.0/projects/{logs['lib'].pk}/logs").status_code == 404  # a name


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("operation=pull", ["lib/web@sha256:ab"]),
        ("operation=delete", ["other/x@sha256:cd", "lib/old", "lib/app:v2"]),
        ("resource_type=artifact", ["other/x@sha256:cd", "lib/web@sha256:ab", "lib/app:v1"]),
        ("resource=~app", ["lib/app:v2", "lib/app:v1"]),
        ("username=bob", ["lib/app:v2"]),
        ("op_time=[2024-01-01 00:02:00~2024-01-01 00:06:00]", ["lib/old", "lib/web@sha256:ab", "lib/app:v2"]),
        ("resource_type=member", []),  # never in the older log
        ("operation=login", []),
    ],
)
def test_harbors_query_language(logs, q, expected):
    assert resources(basic_client("root").get(LOGS, {"q": q})) == expected
    lib_only = [resource for resource in expected if resource.startswith("lib")]
    assert resources(basic_client("padmin").get("/api/v2.0/projects/lib/logs", {"q": q})) == lib_only


def test_sort_paging_and_refusals(logs):
    root = basic_client("root")
    assert resources(root.get(LOGS, {"sort": "op_time", "page_size": 2})) == ["lib/app:v1", "lib/app:v2"]
    names = [item["username"] for item in root.get(LOGS, {"sort": "username,-op_time"}).json()]
    assert names == ["alice"] * 5 + ["bob"]
    response = root.get(LOGS, {"page": 2, "page_size": 2})
    assert resources(response) == ["lib/old", "lib/web@sha256:ab"]
    assert response["X-Total-Count"] == "6"
    assert 'rel="prev"' in response["Link"]
    assert 'rel="next"' in response["Link"]
    for url in (LOGS, "/api/v2.0/projects/lib/logs"):
        for params in ({"q": "source_ip=10.0.0.1"}, {"sort": "source_ip"}, {"q": "op_time=[yesterday~]"}):
            response = root.get(url, params)
            assert response.status_code == 400, (url, params)
            assert response.json()["errors"][0]["code"] == "BAD_REQUEST"


def test_robots_see_what_their_grants_give(logs, users):
    auditor = _robot(users, "auditor", "project", "lib", [("log", "list")], "Robot-Secret-1x")
    puller = _robot(users, "puller", "project", "lib", [("repository", "pull")], "Robot-Secret-2x")
    system = _robot(users, "sysaudit", "system", "/", [("audit-log", "list")], "Robot-Secret-3x")
    for name, secret in ((auditor, "Robot-Secret-1x"), (puller, "Robot-Secret-2x"), (system, "Robot-Secret-3x")):
        basic_client(name, secret).get(EVENTS)
    AuditLog.objects.filter(Q(operation="login") | Q(resource_type="robot")).purge()
    assert resources(basic_client(auditor, "Robot-Secret-1x").get(LOGS)) == LIB
    assert resources(basic_client(auditor, "Robot-Secret-1x").get("/api/v2.0/projects/lib/logs")) == LIB
    assert resources(basic_client(puller, "Robot-Secret-2x").get(LOGS)) == []
    assert basic_client(puller, "Robot-Secret-2x").get("/api/v2.0/projects/lib/logs").status_code == 403
    assert resources(basic_client(system, "Robot-Secret-3x").get(LOGS)) == OTHER + LIB


def test_what_services_record_shows_in_harbors_older_vocabulary(users):
    basic_client("root").get(EVENTS)  # a login: audited, but not an older-log event
    project_create(name="fresh")
    response = basic_client("root").get(LOGS, {"q": "resource=fresh"})
    assert [(i["operation"], i["resource_type"], i["resource"]) for i in response.json()] == [
        ("create", "project", "fresh")
    ]
    assert AuditLog.objects.filter(operation="login").exists()
    assert not basic_client("root").get(LOGS, {"q": "operation=login"}).json()


@pytest.mark.parametrize("who", ["root", "padmin"])
@pytest.mark.parametrize("url", [LOGS, "/api/v2.0/projects/lib/logs"])
def test_list_query_budget_is_independent_of_rows(lib, who, url, django_assert_max_num_queries):
    AuditLog.objects.bulk_create([row(lib.pk, i, "pull", "artifact", f"lib/app:{i}") for i in range(100)])
    client = basic_client(who)
    client.get(url)  # warm the per-process caches (configuration, credentials)
    # Authentication, (the project,) count and page; the scope is a subquery, never a query per project.
    with django_assert_max_num_queries(5 if "projects/" in url else 4):
        response = client.get(url, {"page_size": 100, "q": "operation=pull"})
    assert len(response.json()) == 100


def test_the_openapi_document_carries_harbors_older_operations():
    document = basic_client(None).get("/api/v2.0/openapi.json").json()
    for path, operation_id in (("/audit-logs", "listAuditLogs"), ("/projects/{project_name}/logs", "getLogs")):
        operation = document["paths"][path]["get"]
        assert operation["operationId"] == operation_id
        assert {p["name"] for p in operation["parameters"]} >= {"q", "sort", "page", "page_size"}
        assert set(operation["responses"]["200"]["headers"]) >= {"X-Total-Count", "Link"}
    assert set(document["components"]["schemas"]["AuditLog"]["properties"]) == HARBOR_FIELDS
