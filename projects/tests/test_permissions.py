"""projects/permissions.py: the whole role x (resource, action) matrix against Harbor's RBAC table.

EXPECTED is written from Harbor's project role policies (src/common/rbac/project/rbac_role.go,
`rolePoliciesMap`) and public-project policies (rbac_util.go, `publicProjectPolicies`), with
Harbor's "self" resource spelled `project`. It is deliberately not derived from the code under test.
"""

from __future__ import annotations

import pytest

from projects.models import Role
from projects.permissions import (
    ALL_PROJECT_PERMISSIONS,
    PUBLIC_PERMISSIONS,
    ROLE_PERMISSIONS,
    Principal,
    can,
    project_permissions,
    registry_actions_allowed,
)
from projects.tests.factories import MemberFactory, ProjectFactory, SysadminFactory, UserFactory


def _table(spec: str) -> frozenset[tuple[str, str]]:
    pairs = set()
    for line in spec.strip().splitlines():
        resource, actions = line.split(":")
        pairs |= {(resource.strip(), action) for action in actions.split()}
    return frozenset(pairs)


EXPECTED = {
    Role.PROJECT_ADMIN: _table(
        """
        project: read update delete
        member: create read update delete list
        metadata: create read update delete list
        log: list
        label: create read update delete list
        quota: read
        repository: create read update delete list pull push
        tag-retention: create read update delete list operate
        immutable-tag: create update delete list
        configuration: read update
        robot: create read update delete list
        notification-policy: create read update delete list
        scan: create read stop
        sbom: create read stop
        scanner: create read
        artifact: create read delete list
        artifact-addition: read
        tag: create delete list
        accessory: list
        artifact-label: create delete
        preheat-policy: create read update delete list
        export-cve: create read list
        """
    ),
    Role.MAINTAINER: _table(
        """
        project: read
        member: read list
        metadata: read
        quota: read
        label: create read update delete list
        repository: create read update delete list pull push
        tag-retention: create read update delete list operate
        immutable-tag: create update delete list
        configuration: read
        robot: read list
        notification-policy: read list
        scan: create read stop
        sbom: create read stop
        scanner: read
        artifact: create read delete list
        artifact-addition: read
        tag: create delete list
        accessory: list
        artifact-label: create delete
        export-cve: create read list
        """
    ),
    Role.DEVELOPER: _table(
        """
        project: read
        member: read list
        label: read list
        quota: read
        repository: create read update list pull push
        tag-retention: create read update delete list operate
        configuration: read
        robot: read list
        scan: read
        sbom: read
        scanner: read
        artifact: create read list
        artifact-addition: read
        tag: create list
        accessory: list
        artifact-label: create delete
        export-cve: create read list
        """
    ),
    Role.GUEST: _table(
        """
        project: read
        member: read list
        label: read list
        quota: read
        repository: read list pull
        configuration: read
        robot: read list
        scan: read
        sbom: read
        scanner: read
        tag: list
        accessory: list
        artifact: read list
        artifact-addition: read
        """
    ),
    Role.LIMITED_GUEST: _table(
        """
        project: read
        quota: read
        repository: read list pull
        configuration: read
        scan: read
        sbom: read
        scanner: read
        tag: list
        accessory: list
        artifact: read list
        artifact-addition: read
        """
    ),
}
EXPECTED_PUBLIC = _table(
    """
    project: read
    label: read list
    repository: list pull
    scan: read
    scanner: read
    tag: list
    artifact: read list
    artifact-addition: read
    accessory: list
    """
)
EVERY_PAIR = frozenset().union(*EXPECTED.values())

# The matrix walked: every resource and action any table (expected or actual) mentions, plus a few
# that no role holds, crossed with each other.
RESOURCES = sorted(
    {r for r, _ in EVERY_PAIR | ALL_PROJECT_PERMISSIONS | PUBLIC_PERMISSIONS}
    | {"audit-log", "user", "catalog", "garbage-collection", "replication", "nonexistent"}
)
ACTIONS = sorted(
    {a for _, a in EVERY_PAIR | ALL_PROJECT_PERMISSIONS | PUBLIC_PERMISSIONS} | {"*", "scanner-pull", "frobnicate"}
)
MATRIX = [(r, a) for r in RESOURCES for a in ACTIONS]


def _mismatches(principal: Principal, project, expected: frozenset) -> list[str]:
    wrong = []
    for resource, action in MATRIX:
        allowed = can(principal, action, resource, project=project)
        if allowed != ((resource, action) in expected):
            wrong.append(f"{'granted' if allowed else 'denied'} {resource}:{action}")
    return wrong


pytestmark = pytest.mark.django_db


@pytest.fixture
def private_project():
    return ProjectFactory(public=False)


@pytest.fixture
def public_project():
    return ProjectFactory(public=True)


def _member(project, role) -> Principal:
    return Principal(MemberFactory(project=project, role=role).user)


@pytest.mark.parametrize("role", list(EXPECTED), ids=lambda r: Role(r).label)
def test_role_matrix_in_a_private_project(private_project, role):
    assert _mismatches(_member(private_project, role), private_project, EXPECTED[role]) == []


@pytest.mark.parametrize("role", list(EXPECTED), ids=lambda r: Role(r).label)
def test_role_matrix_in_a_public_project_adds_public_grants(public_project, role):
    expected = EXPECTED[role] | EXPECTED_PUBLIC
    assert _mismatches(_member(public_project, role), public_project, expected) == []


@pytest.mark.parametrize("role", list(EXPECTED), ids=lambda r: Role(r).label)
def test_role_table_is_harbors(role):
    """The data table itself, for a readable diff when the matrix test fails."""
    assert sorted(ROLE_PERMISSIONS[role] - EXPECTED[role]) == []  # granted beyond Harbor
    assert sorted(EXPECTED[role] - ROLE_PERMISSIONS[role]) == []  # missing from Harbor


def test_public_table_is_harbors():
    assert sorted(PUBLIC_PERMISSIONS ^ EXPECTED_PUBLIC) == []


def test_anonymous_in_a_public_project(public_project):
    assert _mismatches(Principal.anonymous(), public_project, EXPECTED_PUBLIC) == []


def test_anonymous_in_a_private_project_gets_nothing(private_project):
    assert _mismatches(Principal.anonymous(), private_project, frozenset()) == []


def test_non_member_user_in_a_private_project_gets_nothing(private_project):
    assert _mismatches(Principal(UserFactory()), private_project, frozenset()) == []


def test_non_member_user_in_a_public_project_gets_public_grants(public_project):
    assert _mismatches(Principal(UserFactory()), public_project, EXPECTED_PUBLIC) == []


def test_membership_elsewhere_grants_nothing_here(private_project):
    user = MemberFactory(role=Role.PROJECT_ADMIN).user  # admin of another project
    assert _mismatches(Principal(user), private_project, frozenset()) == []


@pytest.mark.parametrize("public", [False, True])
def test_sysadmin_has_everything_without_membership(public, django_assert_num_queries):
    project = ProjectFactory(public=public)
    principal = Principal(SysadminFactory())
    with django_assert_num_queries(0):  # no role lookup needed
        assert _mismatches(principal, project, EVERY_PAIR) == []
    assert project_permissions(principal, project) == ALL_PROJECT_PERMISSIONS


def test_project_admin_holds_every_pair_any_role_holds():
    assert EXPECTED[Role.PROJECT_ADMIN] == EVERY_PAIR
    assert ROLE_PERMISSIONS[Role.PROJECT_ADMIN] == ALL_PROJECT_PERMISSIONS


def test_staff_flag_does_not_make_a_sysadmin(private_project):
    staff = UserFactory(is_staff=True)  # staff is not sysadmin
    assert not can(Principal(staff), "pull", "repository", project=private_project)


@pytest.mark.parametrize(
    "principal_factory",
    [Principal.anonymous, lambda: Principal(UserFactory()), lambda: Principal(SysadminFactory())],
    ids=["anonymous", "user", "sysadmin"],
)
def test_can_with_no_project_is_false(principal_factory):
    principal = principal_factory()
    assert not any(can(principal, action, resource, project=None) for resource, action in MATRIX)


# --- the examples Harbor's documentation gives ------------------------------------------


def test_developer_can_push_but_not_delete(private_project):
    dev = _member(private_project, Role.DEVELOPER)
    assert can(dev, "push", "repository", project=private_project)
    assert can(dev, "create", "tag", project=private_project)
    assert not can(dev, "delete", "repository", project=private_project)
    assert not can(dev, "delete", "artifact", project=private_project)
    assert not can(dev, "delete", "tag", project=private_project)


def test_guest_pulls_only(private_project):
    guest = _member(private_project, Role.GUEST)
    assert can(guest, "pull", "repository", project=private_project)
    assert not can(guest, "push", "repository", project=private_project)
    assert not can(guest, "create", "artifact", project=private_project)


def test_limited_guest_pulls_but_lists_no_members_or_logs(private_project):
    limited = _member(private_project, Role.LIMITED_GUEST)
    assert can(limited, "pull", "repository", project=private_project)
    assert not can(limited, "push", "repository", project=private_project)
    for resource in ("member", "log", "label", "robot"):
        assert not can(limited, "list", resource, project=private_project)


def test_maintainer_deletes_but_does_not_manage_members_or_metadata(private_project):
    maintainer = _member(private_project, Role.MAINTAINER)
    assert can(maintainer, "delete", "repository", project=private_project)
    assert not can(maintainer, "create", "member", project=private_project)
    assert not can(maintainer, "update", "metadata", project=private_project)


def test_roles_are_looked_up_once_per_project(private_project, public_project, django_assert_num_queries):
    user = MemberFactory(project=private_project, role=Role.GUEST).user
    principal = Principal(user)
    with django_assert_num_queries(2):
        for _ in range(3):
            can(principal, "pull", "repository", project=private_project)
            can(principal, "pull", "repository", project=public_project)
    assert principal.roles_in(private_project) == frozenset({Role.GUEST})
    assert principal.roles_in(public_project) == frozenset()


# --- registry token actions -------------------------------------------------------------------

ALL_REGISTRY = {"pull", "push", "delete"}


@pytest.mark.parametrize(
    ("role", "requested", "granted"),
    [
        (Role.PROJECT_ADMIN, {"pull", "push", "delete"}, {"pull", "push", "delete"}),
        (Role.PROJECT_ADMIN, {"*"}, {"pull", "push", "delete", "*"}),
        (Role.MAINTAINER, {"*"}, {"pull", "push", "delete", "*"}),
        (Role.MAINTAINER, {"delete"}, {"delete"}),
        (Role.DEVELOPER, {"pull", "push"}, {"pull", "push"}),
        (Role.DEVELOPER, {"pull", "push", "delete"}, {"pull", "push"}),
        (Role.DEVELOPER, {"*"}, {"pull", "push"}),  # `*` is granted only when every action is
        (Role.DEVELOPER, {"delete"}, set()),
        (Role.GUEST, {"pull", "push"}, {"pull"}),
        (Role.GUEST, {"*"}, {"pull"}),
        (Role.LIMITED_GUEST, {"pull", "push", "delete"}, {"pull"}),
        (Role.LIMITED_GUEST, {"push"}, set()),
        (Role.DEVELOPER, {"frobnicate", "pull"}, {"pull"}),  # unknown actions are dropped
        (Role.DEVELOPER, {"metadata-read"}, set()),
        (Role.PROJECT_ADMIN, set(), set()),
    ],
)
def test_registry_actions_are_downscoped_to_the_role(private_project, role, requested, granted):
    assert registry_actions_allowed(_member(private_project, role), private_project, set(requested)) == granted


def test_registry_actions_for_anonymous(private_project, public_project):
    anonymous = Principal.anonymous()
    assert registry_actions_allowed(anonymous, private_project, ALL_REGISTRY) == set()
    assert registry_actions_allowed(anonymous, public_project, {"pull", "push"}) == {"pull"}
    assert registry_actions_allowed(anonymous, public_project, {"*"}) == {"pull"}


def test_registry_actions_for_sysadmin(private_project):
    admin = Principal(SysadminFactory())
    assert registry_actions_allowed(admin, private_project, {"*"}) == ALL_REGISTRY | {"*"}
    assert registry_actions_allowed(admin, private_project, {"push"}) == {"push"}


def test_registry_actions_without_a_project():
    assert registry_actions_allowed(Principal(SysadminFactory()), None, {"*", "pull"}) == set()


def test_registry_actions_do_not_mutate_the_request(private_project):
    requested = {"*"}
    registry_actions_allowed(_member(private_project, Role.DEVELOPER), private_project, requested)
    assert requested == {"*"}
