"""listAuditLogExts, getLogExts, listAuditLogEventTypes: Harbor's fields, `q`/`sort`, paging and scoping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Q

from audit.models import AuditLog
from common.testing.api import basic_client
from projects.models import GroupType, Member, Role, UserGroup
from projects.permissions import Principal
from projects.robots.services import robot_create
from projects.services import project_create

pytestmark = pytest.mark.django_db
LOGS = "/api/v2.0/auditlog-exts"
EVENTS = "/api/v2.0/auditlog-exts/events"
HARBOR_FIELDS = {
    "id",
    "username",
    "resource",
    "resource_type",
    "operation",
    "operation_description",
    "operation_result",
    "op_time",
}
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def row(project_id, *, minutes: int = 0, **fields) -> AuditLog:  # noqa: ANN001, ANN003
    values = {
        "username": "alice",
        "source_ip": "10.0.0.1",
        "resource_type": "artifact",
        "resource": "lib/app:v1",
        "operation": "create",
        "op_time": T0 + timedelta(minutes=minutes),
    }
    return AuditLog(project_id=project_id, **{**values, **fields})


@pytest.fixture
def logs(lib):
    """A clean log: 3 rows in lib, 2 in `other`, 1 system-level row."""
    other = project_create(name="other")
    for name in ("root", "padmin", "maintainer", "developer", "guest", "limited", "outsider"):
        basic_client(name).get(EVENTS)  # each first Basic login is audited (then remembered): log them in now
    AuditLog.objects.all().purge()  # the fixtures' services and those logins audited themselves
    AuditLog.objects.bulk_create(
        [
            row(lib.pk, minutes=1, resource="lib/app:v1"),
            row(lib.pk, minutes=2, operation="delete", resource="lib/app:v2", username="bob"),
            row(lib.pk, minutes=3, operation="pull", resource="lib/web@sha256:ab", operation_result=False),
            row(other.pk, minutes=4, resource="other/x:1"),
            row(other.pk, minutes=5, operation="delete", resource="other/x:2"),
            row(None, minutes=6, resource_type="user", resource="carol"),
        ]
    )
    return {"lib": lib, "other": other}


def resources(response) -> list[str]:  # noqa: ANN001
    assert response.status_code == 200, response.content
    return [item["resource"] for item in response.json()]


def test_sysadmin_sees_every_record_newest_first_in_harbors_shape(logs):
    response = basic_client("root").get(LOGS)
    assert resources(response) == ["carol", "other/x:2", "other/x:1", "lib/web@sha256:ab", "lib/app:v2", "lib/app:v1"]
    assert response["X-Total-Count"] == "6"
    first = response.json()[0]
    assert set(first) == HARBOR_FIELDS
    assert first["op_time"].startswith("2024-01-01T00:06:00")
    assert first["username"] == "alice"
    assert response.json()[3]["operation_result"] is False


def test_project_admins_see_their_projects_only_and_others_nothing(logs, users):
    assert resources(basic_client("padmin").get(LOGS)) == ["lib/web@sha256:ab", "lib/app:v2", "lib/app:v1"]
    # Maintainers and below hold no ("log", "list"): an empty list, as in Harbor.
    for name in ("maintainer", "developer", "guest", "limited", "outsider"):
        response = basic_client(name).get(LOGS)
        assert resources(response) == [], name
        assert response["X-Total-Count"] == "0"
    assert basic_client(None).get(LOGS).status_code == 401


def test_project_admin_through_a_group_sees_that_project(logs):
    grouped = get_user_model().objects.create_user("grouped", password="pw-Secret-1")
    basic_client("grouped").get(EVENTS)
    AuditLog.objects.filter(username="grouped").purge()
    group = UserGroup.objects.create(name="ops", group_type=GroupType.HTTP)
    group.users.add(grouped)
    Member.objects.create(project=logs["other"], group=group, role=Role.PROJECT_ADMIN)
    assert resources(basic_client("grouped").get(LOGS)) == ["other/x:2", "other/x:1"]


def test_project_route_lists_that_project_to_whoever_may_list_its_logs(logs):
    url = "/api/v2.0/projects/lib/auditlog-exts"
    assert resources(basic_client("padmin").get(url)) == ["lib/web@sha256:ab", "lib/app:v2", "lib/app:v1"]
    assert resources(basic_client("root").get("/api/v2.0/projects/other/auditlog-exts")) == ["other/x:2", "other/x:1"]
    assert basic_client("maintainer").get(url).status_code == 403
    assert basic_client("outsider").get(url).status_code == 404  # existence of a private project does not leak
    assert basic_client("padmin").get("/api/v2.0/projects/other/auditlog-exts").status_code == 404
    assert basic_client(None).get(url).status_code == 401
    assert basic_client("root").get("/api/v2.0/projects/nope/auditlog-exts").status_code == 404
    # Harbor's route takes a name: an id is looked up as a name.
    assert basic_client("root").get(f"/api/v2.0/projects/{logs['lib'].pk}/auditlog-exts").status_code == 404


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("operation=delete", ["other/x:2", "lib/app:v2"]),
        ("resource=~app", ["lib/app:v2", "lib/app:v1"]),
        ("resource_type=user", ["carol"]),
        ("username=bob", ["lib/app:v2"]),
        ("operation={pull delete}", ["other/x:2", "lib/web@sha256:ab", "lib/app:v2"]),
        ("op_time=[2024-01-01 00:02:00~2024-01-01 00:04:00]", ["other/x:1", "lib/web@sha256:ab", "lib/app:v2"]),
        ("op_time=[2024-01-01 00:05:00~]", ["carol", "other/x:2"]),
        ("operation=create,resource=~other", ["other/x:1"]),
    ],
)
def test_harbors_query_language(logs, q, expected):
    assert resources(basic_client("root").get(LOGS, {"q": q})) == expected


def test_sort_and_refusals(logs):
    root = basic_client("root")
    assert resources(root.get(LOGS, {"sort": "op_time", "page_size": 2})) == ["lib/app:v1", "lib/app:v2"]
    names = [item["username"] for item in root.get(LOGS, {"sort": "username,-op_time"}).json()]
    assert names == ["alice"] * 5 + ["bob"]
    for params in ({"q": "source_ip=10.0.0.1"}, {"sort": "source_ip"}, {"q": "op_time=[yesterday~]"}):
        response = root.get(LOGS, params)
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["code"] == "BAD_REQUEST"


def test_paging_headers(logs):
    response = basic_client("root").get(LOGS, {"page": 2, "page_size": 2})
    assert resources(response) == ["other/x:1", "lib/web@sha256:ab"]
    assert response["X-Total-Count"] == "6"
    assert 'rel="prev"' in response["Link"]
    assert 'rel="next"' in response["Link"]


@pytest.mark.parametrize("who", ["root", "padmin"])
def test_list_query_budget_is_independent_of_rows(lib, who, django_assert_max_num_queries):
    AuditLog.objects.bulk_create([row(lib.pk, minutes=i) for i in range(100)])
    client = basic_client(who)
    client.get(LOGS)  # warm the per-process caches (configuration, credentials)
    # Authentication, count and page; the project scope is a subquery of both, never a query per project.
    with django_assert_max_num_queries(4):
        response = client.get(LOGS, {"page_size": 100, "q": "operation=create"})
    assert len(response.json()) == 100


def test_event_types(users):
    response = basic_client("guest").get(EVENTS)
    assert response.status_code == 200
    types = [item["event_type"] for item in response.json()]
    assert {"create_artifact", "delete_artifact", "pull_artifact", "login_user", "update_configuration"} <= set(types)
    assert all(set(item) == {"event_type"} for item in response.json())
    assert len(types) == len(set(types))
    assert basic_client(None).get(EVENTS).status_code == 401


def _robot(users, name: str, kind: str, namespace: str, pairs: list[tuple[str, str]], secret: str) -> str:  # noqa: ANN001
    access = [{"resource": resource, "action": action} for resource, action in pairs]
    robot, _ = robot_create(
        principal=Principal(users["root"]),
        name=name,
        level="project" if kind == "project" else "system",
        permissions=[{"kind": kind, "namespace": namespace, "access": access}],
        duration=-1,
        secret=secret,
    )
    return robot.full_name


def test_robots_see_what_their_grants_give(logs, users):
    auditor = _robot(users, "auditor", "project", "lib", [("log", "list")], "Robot-Secret-1x")
    puller = _robot(users, "puller", "project", "lib", [("repository", "pull")], "Robot-Secret-2x")
    system = _robot(users, "sysaudit", "system", "/", [("audit-log", "list")], "Robot-Secret-3x")
    for name, secret in ((auditor, "Robot-Secret-1x"), (puller, "Robot-Secret-2x"), (system, "Robot-Secret-3x")):
        basic_client(name, secret).get(EVENTS)  # audit the robots' logins before counting
    AuditLog.objects.filter(Q(operation="login") | Q(resource_type="robot")).purge()  # creating them was audited
    lib_rows = ["lib/web@sha256:ab", "lib/app:v2", "lib/app:v1"]
    assert resources(basic_client(auditor, "Robot-Secret-1x").get(LOGS)) == lib_rows
    assert resources(basic_client(puller, "Robot-Secret-2x").get(LOGS)) == []
    assert len(resources(basic_client(system, "Robot-Secret-3x").get(LOGS))) == 6  # system records included
