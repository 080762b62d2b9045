"""Users in every project role, and a private project `lib` they belong to."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from projects.models import Role
from projects.services import member_set, project_create

PW = "pw-Secret-1"
ROLES = {
    "padmin": Role.PROJECT_ADMIN,
    "maintainer": Role.MAINTAINER,
    "developer": Role.DEVELOPER,
    "guest": Role.GUEST,
    "limited": Role.LIMITED_GUEST,
}


@pytest.fixture
def users(db):
    model = get_user_model()
    created = {"root": model.objects.create_superuser("root", "root@example.test", PW)}
    for name in [*ROLES, "outsider"]:
        created[name] = model.objects.create_user(name, password=PW)
    return created


@pytest.fixture
def lib(users):
    """The private project `lib`, with one member per role."""
    project = project_create(name="lib", public=False)
    for name, role in ROLES.items():
        member_set(project=project, user=users[name], role=role)
    return project
