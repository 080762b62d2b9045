"""Session fixtures: one real registry (gunicorn on 127.0.0.1) seeded with users and projects."""

from __future__ import annotations

import pytest

from common.testing.server import RegistryServer
from common.testing.v2client import V2Client

PASSWORD = "S3cret-pass-123"
# user -> (project, role) memberships; `team` is private, `library` public.
USERS = {
    "padmin": ("team", "projectAdmin"),
    "maint": ("team", "maintainer"),
    "dev": ("team", "developer"),
    "guest": ("team", "guest"),
    "limited": ("team", "limitedGuest"),
    "outsider": ("other", "developer"),
}

SEED = f"""
from django.contrib.auth import get_user_model
from projects.models import Role
from projects.services import member_set, project_create
User = get_user_model()
roles = {{label: value for value, label in Role.choices}}
projects = {{n: project_create(name=n) for n in ("team", "other")}}
for username, (project, role) in {USERS!r}.items():
    user = User.objects.create_user(username, password={PASSWORD!r})
    member_set(project=projects[project], user=user, role=roles[role])
"""


@pytest.fixture(scope="session")
def registry_server():
    server = RegistryServer.create()
    try:
        server.python(SEED)
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def admin(registry_server) -> V2Client:
    return V2Client(registry_server.url, "admin", registry_server.admin_password)


@pytest.fixture
def client_for(registry_server):
    def make(username: str | None) -> V2Client:
        return V2Client(registry_server.url, username, PASSWORD if username else None)

    return make
