"""Role x resource x action: every /api/v2.0/ operation, called by every principal, against the tables.

The cases are generated: operations from the URL resolver (tests/security/routes.py), requirements
from each view's `permission_required` (project-scoped) or Harbor's system policy (policy.py),
principals from the seeded world. Each (operation, variant, principal) is its own test, in its own
savepoint. Guard tests make the suite fail when a route escapes the permission glue, when a project
route's declared pair drifts from its REST shape, or when a role's table drifts from Harbor's.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from projects.models import Role
from projects.permissions import PUBLIC_PERMISSIONS, ROLE_PERMISSIONS
from projects.tests.test_permissions import EXPECTED, EXPECTED_PUBLIC
from tests.security.policy import (
    ALLOWED_STATUSES,
    EXTRA_PAIRS,
    OK,
    PROJECT_TARGETS,
    SYSTEM_POLICY,
    ProjectPairs,
    Requirement,
    Target,
    project_pairs,
    rest_pair,
)
from tests.security.requests import BODIES, QUERIES, call_for
from tests.security.routes import DOCUMENTATION_ROUTES, Operation, api_operations, harbor_operations
from tests.security.world import PRINCIPALS, Who

pytestmark = pytest.mark.django_db
ERROR_CODES = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND"}


@dataclass(frozen=True)
class Case:
    op: Operation
    variant: str
    target: Target
    requirement: Requirement
    who: Who

    def __str__(self) -> str:
        return f"{self.op.name}[{self.variant}]-{self.who.name}"


def variants(op: Operation) -> dict[str, tuple[Target, Requirement]] | None:
    """The variants of an operation and what each requires; None when the matrix can't tell."""
    if op.operation_id in SYSTEM_POLICY:
        return SYSTEM_POLICY[op.operation_id]
    if isinstance(op.rule, tuple) and len(op.rule) == 2:
        requirement = ProjectPairs(
            (op.rule, *EXTRA_PAIRS.get(op.operation_id, ())), ALLOWED_STATUSES.get(op.operation_id, OK)
        )
        return {name: (target, requirement) for name, target in PROJECT_TARGETS.items()}
    return None


def generate() -> list[Case]:
    return [
        Case(op, name, target, requirement, who)
        for op in harbor_operations()
        for name, (target, requirement) in (variants(op) or {}).items()
        for who in PRINCIPALS
    ]


CASES = generate()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_matrix(world, case):
    call = call_for(case.op, case.variant, world, case.who)
    response = call.send(case.who.client())
    expect = case.requirement.expect(case.who, case.target)
    assert response.status_code in expect.statuses, (
        f"{case}: {call.method} {call.url} expected {expect.word} {sorted(expect.statuses)}, "
        f"got {response.status_code}: {response.content[:300]!r}"
    )
    if not expect.allowed and call.method != "HEAD":
        assert response.json()["errors"][0]["code"] == ERROR_CODES[response.status_code]


# --- guards: the matrix covers everything, and its oracle is Harbor's -------------------------------------


def test_every_route_is_behind_the_permission_glue():
    """A route without a `permission_required` entry (or outside `Authorized`) fails here, by name."""
    problems = []
    for op in api_operations():
        if op.template in DOCUMENTATION_ROUTES:
            if op.method != "GET":
                problems.append(f"{op.name}: documentation routes are read-only")
            continue
        if not op.uses_authorized:
            problems.append(f"{op.name}: {op.view.__name__} bypasses projects.drf.Authorized")
        if op.rule is None:
            problems.append(f"{op.name}: {op.view.__name__} declares no permission_required[{op.action!r}]")
        if not op.operation_id:
            problems.append(f"{op.method} {op.template}: not in the OpenAPI document")
    assert not problems, "\n".join(problems)


def test_every_operation_has_cases_for_every_principal():
    covered = {(case.op, case.variant, case.who.name) for case in CASES}
    missing = [op.name for op in harbor_operations() if variants(op) is None]
    assert not missing, f"no matrix policy (add it to tests/security/policy.py SYSTEM_POLICY): {missing}"
    for op in harbor_operations():
        for name in variants(op):
            assert {(op, name, who.name) for who in PRINCIPALS} <= covered
    assert len(CASES) >= len(harbor_operations()) * len(PRINCIPALS)


def test_every_case_can_be_built_on_the_world(world):
    """Every path parameter fills from the world; writes that take a body have one."""
    for case in CASES:
        call = call_for(case.op, case.variant, world, case.who)
        if case.op.method in ("POST", "PUT") and case.op.operation_id not in ("CopyArtifact",):
            assert call.body is not None, f"{case.op.name}: describe its body in tests/security/requests.py"


def test_the_tables_hold_no_stale_entries():
    ids = {op.operation_id for op in harbor_operations()}
    for table in (SYSTEM_POLICY, EXTRA_PAIRS, ALLOWED_STATUSES, BODIES, QUERIES):
        assert set(table) <= ids, set(table) - ids


def test_project_routes_declare_the_pair_of_their_rest_shape():
    """GET collection -> list, GET item -> read, POST -> create, PUT -> update, DELETE -> delete."""
    wrong = []
    for op in harbor_operations():
        if isinstance(op.rule, tuple):
            expected = rest_pair(op.template, op.method)
            if op.rule != expected:
                wrong.append(f"{op.name}: declares {op.rule}, the route's shape needs {expected}")
        elif op.operation_id not in SYSTEM_POLICY:
            wrong.append(f"{op.name}: declares {op.rule!r} outside a project without a system policy")
    assert not wrong, "\n".join(wrong)


def test_the_oracle_tables_are_harbors():
    """Loosening (or tightening) a role fails here, against the table written from Harbor's rbac_role.go."""
    assert {Role(role).label: sorted(pairs) for role, pairs in ROLE_PERMISSIONS.items()} == {
        Role(role).label: sorted(pairs) for role, pairs in EXPECTED.items()
    }
    assert PUBLIC_PERMISSIONS == EXPECTED_PUBLIC


@pytest.mark.parametrize("template", sorted({op.template for op in harbor_operations()}))
def test_undeclared_methods_are_refused(world, template):
    """OPTIONS maps to no declared action anywhere: denied by default, even for a sysadmin."""
    op = next(op for op in harbor_operations() if op.template == template)
    url = call_for(op, "private", world, PRINCIPALS[0]).url.split("?")[0]
    by_name = {who.name: who for who in PRINCIPALS}
    assert by_name["anonymous"].client().options(url).status_code == 401
    assert by_name["sysadmin"].client().options(url).status_code == 403


def test_a_view_without_declarations_refuses_everyone(world):
    """The default itself: a view that declares nothing refuses anonymous (401) and sysadmins (403)."""

    class Undeclared(APIView):
        def get(self, request):  # noqa: ANN001, ANN202
            return Response({"reached": True})

    view = Undeclared.as_view()
    assert view(APIRequestFactory().get("/api/v2.0/undeclared")).status_code == 401
    request = APIRequestFactory().get("/api/v2.0/undeclared")
    force_authenticate(request, user=get_user_model().objects.get(username="root"))
    assert view(request).status_code == 403


# --- fields within an allowed response ---------------------------------------------------------------------


@pytest.mark.parametrize("who", PRINCIPALS, ids=lambda w: w.name)
@pytest.mark.parametrize("variant", list(PROJECT_TARGETS))
def test_project_summary_shows_what_the_caller_may_read(world, who, variant):
    """Harbor's getProjectSummary: member counts need member list, the quota needs quota read."""
    project = world.projects[variant]
    held = project_pairs(who, PROJECT_TARGETS[variant])
    response = who.client().get(f"/api/v2.0/projects/{project.name}/summary")
    if ("project", "read") not in held:
        assert response.status_code in (401, 403, 404)
        return
    body = response.json()
    assert "repo_count" in body
    assert ("quota" in body) == (("quota", "read") in held), body
    counts = {"project_admin_count", "maintainer_count", "developer_count", "guest_count", "limited_guest_count"}
    assert (counts <= set(body)) == (("member", "list") in held), body
    assert not (counts & set(body)) or counts <= set(body)


# --- the same rules through the other doors: session (CSRF) and implicit HEAD ------------------------------

UNSAFE = [op for op in harbor_operations() if op.method in ("POST", "PUT", "PATCH", "DELETE")]


@pytest.mark.parametrize("op", UNSAFE, ids=lambda op: op.name)
def test_session_writes_need_the_csrf_token(world, op):
    """A browser session (the admin's) writes only with the CSRF token; Basic callers are unaffected."""
    variant, (target, requirement) = next(iter(variants(op).items()))
    sysadmin = next(who for who in PRINCIPALS if who.kind == "sysadmin")
    call = call_for(op, variant, world, sysadmin)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username=sysadmin.username))
    refused = call.send(client)
    assert refused.status_code == 403, refused.content[:300]
    assert "CSRF" in refused.json()["errors"][0]["message"]
    token = secrets.token_hex(16)
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    client.credentials(HTTP_X_CSRFTOKEN=token)
    accepted = call.send(client)
    assert accepted.status_code in requirement.expect(sysadmin, target).statuses, accepted.content[:300]


HEADED = {op.template for op in harbor_operations() if op.method == "HEAD"}  # an explicit HEAD (headProject)
GETS = [op for op in harbor_operations() if op.method == "GET" and op.template not in HEADED]


@pytest.mark.parametrize("who", [w for w in PRINCIPALS if w.name in ("anonymous", "outsider", "limitedGuest")])
@pytest.mark.parametrize("op", GETS, ids=lambda op: op.name)
def test_implicit_head_is_never_looser_than_get(world, op, who):
    """HEAD of a GET route: refused exactly where GET is; never a success where GET is refused."""
    variant = next(iter(variants(op)))
    url = call_for(op, variant, world, who).url
    client = who.client()
    head, get = client.head(url).status_code, client.get(url).status_code
    if get in (401, 403, 404):
        assert head == get
    if head < 300:
        assert get < 300
