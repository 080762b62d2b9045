"""The audit log for real: push, pull, tag delete and a failed login against gunicorn, read back from its database."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from common.testing.server import RegistryServer
from common.testing.v2client import V2Client
from tests.e2e.conftest import PASSWORD

Row = tuple[str, bool, str, str, str, str, bool]  # username, is_robot, source_ip, operation, type, resource, result


def _rows(server: RegistryServer, *resources: str) -> list[Row]:
    """Audit rows naming one of `resources` (oldest first), read from the server's own database."""
    out = server.python(
        "import json; from audit.models import AuditLog; "
        f"rows = AuditLog.objects.filter(resource__in={list(resources)!r}).order_by('op_time', 'id'); "
        "print(json.dumps(list(rows.values_list('username', 'is_robot', 'source_ip', 'operation', "
        "'resource_type', 'resource', 'operation_result'))))"
    )
    return [tuple(row) for row in json.loads(out.strip().splitlines()[-1])]


def _poll(server: RegistryServer, resources: tuple[str, ...], until, timeout: float = 60) -> list[Row]:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        rows = _rows(server, *resources)
        if until(rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.5)


def _push_pull_delete(server: RegistryServer, name: str) -> dict[str, str]:
    maintainer = V2Client(server.url, "maint", PASSWORD)
    developer = V2Client(server.url, "dev", PASSWORD)
    digest, _manifest = maintainer.push_image(name, "v1", seed=name)
    pull = developer.bearer(f"repository:{name}:pull")
    assert developer.request("GET", f"/v2/{name}/manifests/v1", headers=pull).status_code == 200
    assert developer.request("GET", f"/v2/{name}/manifests/{digest}", headers=pull).status_code == 200
    deleted = maintainer.request("DELETE", f"/v2/{name}/manifests/v1", scopes=(f"repository:{name}:delete",))
    assert deleted.status_code == 202, deleted.text
    return {"tag": f"{name}:v1", "digest": f"{name}@{digest}"}


def test_pushes_pulls_deletes_and_failed_logins_are_audited(registry_server):
    name = f"team/audit-{uuid.uuid4().hex[:8]}"
    resources = _push_pull_delete(registry_server, name)
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    assert V2Client(registry_server.url, ghost, "Not-The-Pass-1").token().status_code == 401

    # Pulls reach the database with the flusher (every 2 s); poll for them, no fixed sleep.
    watched = (resources["tag"], resources["digest"])
    rows = _poll(registry_server, watched, lambda found: sum(r[3] == "pull" for r in found) == 2)
    # op_time is when each happened (a pull's is its request's, not its flush's): the requests' order.
    assert rows == [
        ("maint", False, "127.0.0.1", "create", "artifact", resources["tag"], True),
        ("dev", False, "127.0.0.1", "pull", "artifact", resources["tag"], True),
        ("dev", False, "127.0.0.1", "pull", "artifact", resources["digest"], True),
        ("maint", False, "127.0.0.1", "delete", "tag", resources["tag"], True),
    ]
    assert _rows(registry_server, ghost) == [(ghost, False, "127.0.0.1", "login", "user", ghost, False)]
    # The token service's successful checks of maint's password (once per worker; the rest hit the cache).
    assert ("maint", False, "127.0.0.1", "login", "user", "maint", True) in _rows(registry_server, "maint")


@pytest.fixture
def own_server():
    server = RegistryServer.create()
    try:
        server.python(
            "from django.contrib.auth import get_user_model; from projects.models import Role; "
            "from projects.services import member_set, project_create; "
            "team = project_create(name='team'); "
            "[member_set(project=team, user=get_user_model().objects.create_user(n, password="
            f"{PASSWORD!r}), role=r) for n, r in (('maint', Role.MAINTAINER), ('dev', Role.DEVELOPER))]"
        )
        server.start()
        yield server
    finally:
        server.destroy()


def test_pulls_buffered_at_a_clean_stop_are_written(own_server):
    resources = _push_pull_delete(own_server, "team/stopping")
    own_server.stop()  # SIGTERM at once: gunicorn's worker_exit flushes whatever the flusher has not
    pulls = [r for r in _rows(own_server, resources["tag"], resources["digest"]) if r[3] == "pull"]
    assert pulls == [
        ("dev", False, "127.0.0.1", "pull", "artifact", resources["tag"], True),
        ("dev", False, "127.0.0.1", "pull", "artifact", resources["digest"], True),
    ]
