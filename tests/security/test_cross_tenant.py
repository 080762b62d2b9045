"""Cross-tenant: callers with every right in project A (`priv`) ask for project B's (`tenantb`) objects.

Generated from the routes, as the matrix: every project-scoped operation through B's path; every
operation with an object in its path through A's path but with B's object. Always 404 (403 only for
the sysadmin-only quota API, where refusing says nothing about B), and B's rows unchanged. Then every
GET (lists, details, searches) as A's callers and as callers of lesser reach (anonymous, outsider,
robots, a group member): no body carries a row of a project the caller cannot see.
"""

from __future__ import annotations

import json

import pytest

from audit.models import WebhookPolicy
from common.models import Execution
from policies.models import ImmutabilityRule, RetentionPolicy
from projects.models import Member, Project, Quota, Robot
from registry.models import Artifact, ArtifactLabel, Label, Repository, Tag
from tests.security.policy import SYSTEM_POLICY
from tests.security.requests import Call, call_for
from tests.security.routes import Operation, harbor_operations
from tests.security.world import PRINCIPAL, PROJECTS, TENANT_A_CALLERS, Who, World

pytestmark = pytest.mark.django_db
# Refusals that don't depend on the project: the quota API is for sysadmins whatever the quota.
SYSADMIN_ONLY = frozenset({"getQuota", "updateQuota"})
# Path parameters that name an object of a project (tag names and metadata keys are names, not ids).
OBJECT_PARAMS = ("mid", "repository_name", "reference", "label_id", "robot_id", "immutable_rule_id", "eid", "tid")
OBJECT_PARAMS += ("webhook_policy_id", "execution_id", "task_id")


def _project_scoped(op: Operation) -> bool:
    return isinstance(op.rule, tuple) or "private" in SYSTEM_POLICY.get(op.operation_id, {})


B_PATH_OPS = [op for op in harbor_operations() if _project_scoped(op)]
MIXED = [
    (op, param)
    for op in harbor_operations()
    if isinstance(op.rule, tuple)
    for param in op.params
    if param in OBJECT_PARAMS and not (op.operation_id == "CopyArtifact" and param == "repository_name")
]
GET_OPS = [
    (op, variant)
    for op in harbor_operations()
    if op.method == "GET"
    for variant in ("private", "public", "global", "-", "self", "other")
]


def _b_value(world: World, param: str) -> object:
    b = world.projects["tenantb"]
    return {
        "mid": b.member_id,
        "repository_name": b.repository,
        "reference": b.digest,
        "label_id": b.label_id,
        "robot_id": b.robot_id,
        "immutable_rule_id": b.immutable_rule_id,
        "eid": world.extra["retention"]["tenantb"]["eid"],
        "tid": world.extra["retention"]["tenantb"]["tid"],
        "webhook_policy_id": world.extra["webhook"]["tenantb"]["policy"],
        "execution_id": world.extra["webhook"]["tenantb"]["execution"],
        "task_id": world.extra["webhook"]["tenantb"]["task"],
    }[param]


def _snapshot() -> tuple:
    """B's rows as they are; compared after each refused write."""
    return (
        list(Project.objects.filter(name="tenantb").values()),
        list(Quota.objects.filter(project__name="tenantb").values()),
        list(Repository.objects.filter(project__name="tenantb").order_by("pk").values()),
        list(Artifact.objects.filter(repository__project__name="tenantb").order_by("pk").values("pk", "digest")),
        list(Member.objects.filter(project__name="tenantb").order_by("pk").values()),
        list(Robot.objects.filter(project__name="tenantb").order_by("pk").values()),
        list(Label.objects.filter(project__name="tenantb").order_by("pk").values()),
        list(Tag.objects.filter(repository__project__name="tenantb").order_by("pk").values()),
        list(ArtifactLabel.objects.filter(artifact__repository__project__name="tenantb").order_by("pk").values()),
        list(ImmutabilityRule.objects.filter(project__name="tenantb").order_by("pk").values()),
        list(RetentionPolicy.objects.filter(project__name="tenantb").values()),
        list(Execution.objects.filter(kind="RETENTION", vendor_id__in=_b_retention()).order_by("pk").values()),
        list(WebhookPolicy.objects.filter(project__name="tenantb").order_by("pk").values()),
        list(Execution.objects.filter(kind="WEBHOOK", vendor_id__in=_b_webhooks()).order_by("pk").values()),
    )


def _b_webhooks() -> list[int]:
    return list(WebhookPolicy.objects.filter(project__name="tenantb").values_list("pk", flat=True))


def _b_retention() -> list[int]:
    return list(RetentionPolicy.objects.filter(project__name="tenantb").values_list("pk", flat=True))


def _assert_refused(response, expected: int, call: Call, *, quiet_about: str | None = None) -> None:  # noqa: ANN001
    """The refusal; with `quiet_about`, its body must not name that project (the caller never did)."""
    assert response.status_code == expected, (
        f"{call.method} {call.url}: {response.status_code} {response.content[:300]!r}"
    )
    if quiet_about is not None:
        assert quiet_about not in response.content.decode(errors="replace"), response.content[:300]


@pytest.mark.parametrize("caller", TENANT_A_CALLERS, ids=lambda w: w.name)
@pytest.mark.parametrize("op", B_PATH_OPS, ids=lambda op: op.name)
def test_b_objects_through_b_path(world, op, caller):
    call = call_for(op, "tenantb", world, caller)
    before = _snapshot()
    response = call.send(caller.client())
    _assert_refused(response, 403 if op.operation_id in SYSADMIN_ONLY else 404, call)
    assert _snapshot() == before


@pytest.mark.parametrize("caller", TENANT_A_CALLERS, ids=lambda w: w.name)
@pytest.mark.parametrize(("op", "param"), MIXED, ids=lambda v: v.name if isinstance(v, Operation) else v)
def test_b_objects_through_a_path(world, op, param, caller):
    call = call_for(op, "private", world, caller, path={param: _b_value(world, param)})
    before = _snapshot()
    response = call.send(caller.client())
    _assert_refused(response, 404, call, quiet_about="tenantb")
    assert _snapshot() == before


TRAVERSALS = ["../tenantb/hidden", "..%2Ftenantb%2Fhidden", "/../tenantb/hidden", "%2E%2E/tenantb/hidden"]


@pytest.mark.parametrize("caller", TENANT_A_CALLERS, ids=lambda w: w.name)
@pytest.mark.parametrize("name", TRAVERSALS)
def test_repository_names_do_not_climb_out_of_a(world, caller, name):
    op = next(op for op in harbor_operations() if op.operation_id == "listArtifacts")
    for candidate in (op, next(o for o in harbor_operations() if o.operation_id == "getRepository")):
        call = call_for(candidate, "private", world, caller, path={"repository_name": name})
        assert call.send(caller.client()).status_code == 404, call.url


@pytest.mark.parametrize("caller", TENANT_A_CALLERS, ids=lambda w: w.name)
def test_b_objects_in_a_bodies_and_queries(world, caller):
    a, b = world.projects["private"], world.projects["tenantb"]
    client = caller.client()
    base = f"/api/v2.0/projects/{a.name}/repositories/{a.repository}/artifacts"
    before = _snapshot()
    # B's label onto A's artifact; a copy out of B into A; B as the project of a label or a robot.
    assert client.post(f"{base}/{a.digest}/labels", {"id": b.label_id}, format="json").status_code == 404
    assert client.post(f"{base}?from=tenantb/hidden:v1", format="json").status_code == 404
    assert client.post(f"{base}?from=tenantb/hidden@{b.digest}", format="json").status_code == 404
    label = {"name": "sneaky", "scope": "p", "project_id": b.id}
    assert client.post("/api/v2.0/labels", label, format="json").status_code == 404
    access = [{"resource": "repository", "action": "pull"}]
    robot = {"name": "sneaky", "level": "project", "duration": -1}
    robot["permissions"] = [{"kind": "project", "namespace": "tenantb", "access": access}]
    assert client.post("/api/v2.0/robots", robot, format="json").status_code == 404
    assert client.get(f"/api/v2.0/robots?q=Level=project,ProjectID={b.id}").status_code == 404
    assert client.get(f"/api/v2.0/labels?scope=p&project_id={b.id}").status_code == 404
    # B by id, with Harbor's header saying the id is a name (and the reverse).
    headers = {"HTTP_X_IS_RESOURCE_NAME": "true"}
    assert client.get(f"/api/v2.0/projects/{b.id}", **headers).status_code == 404
    assert client.get(f"/api/v2.0/projects/{b.id}/members").status_code == 404
    permissions = client.get(f"/api/v2.0/users/current/permissions?scope=/project/{b.id}")
    assert permissions.status_code in (200, 412)
    if permissions.status_code == 200:
        assert permissions.json() == []
    assert _snapshot() == before
    assert not Label.objects.filter(name="sneaky").exists()
    assert not Robot.objects.filter(name="sneaky").exists()


def _markers(world: World, key: str) -> list[str]:
    """Strings only project `key`'s own rows carry (names of its repository, label, robots, users; digests)."""
    project = world.projects[key]
    _, _, _, admin, spare = PROJECTS[key]
    return [
        f'"{project.name}"',
        f"{project.name}/{project.repository}",
        f"{project.name}-label",
        f"robot${project.name}+",
        project.digest.split(":")[1],
        project.accessory_digest.split(":")[1],
        f'"{admin}"',
        f'"{spare}"',
        *((world.extra["spy_digest"].split(":")[1], f'"{world.extra["twin_tag"]}"') if key == "tenantb" else ()),
    ]


def _ids_in(body: object, project_id: int) -> list[str]:
    """JSON values naming a project by id."""
    found = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "project_id" and value == project_id:
                found.append(f"{key}={value}")
            found += _ids_in(value, project_id)
    elif isinstance(body, list):
        for item in body:
            found += _ids_in(item, project_id)
    return found


# Who sweeps, and the projects they must see nothing of.
SWEEPERS = [
    *((who, ("tenantb",)) for who in TENANT_A_CALLERS),
    (PRINCIPAL["robot"], ("tenantb",)),
    (PRINCIPAL["limitedGuest"], ("tenantb",)),
    (PRINCIPAL["groupGuest"], ("tenantb",)),
    (PRINCIPAL["outsider"], ("private", "tenantb")),
    (PRINCIPAL["anonymous"], ("private", "tenantb")),
]
SEARCHES = ("search", "listProjects", "listAllRepositories", "listArtifacts", "listRepositories")


def _sweep_urls(world: World, who: Who, hidden: tuple[str, ...]) -> list[str]:
    urls = []
    for op, variant in GET_OPS:
        policy = SYSTEM_POLICY.get(op.operation_id)
        if (
            variant in hidden
            or (policy and variant not in policy)
            or (not policy and variant not in ("private", "public"))
        ):
            continue  # a hidden project's own paths: refused, as the matrix proves
        call = call_for(op, variant, world, who)
        urls.append(call.url)
        if op.operation_id in SEARCHES:
            sep = "&" if "?" in call.url else "?"
            urls += [f"{call.url}{sep}q=name=~{n}" for n in ("tenantb", "priv", "hidden")]
            urls.append(f"{call.url}{sep}with_label=true&with_accessory=true&with_tag=true")
    return urls + [f"/api/v2.0/search?q={n}" for n in ("tenantb", "hidden", "priv", "app")]


@pytest.mark.parametrize(("who", "hidden"), SWEEPERS, ids=lambda v: v.name if isinstance(v, Who) else "+".join(v))
def test_no_read_or_list_shows_a_project_the_caller_cannot_see(world, who, hidden):
    """Every GET of the API (every list, detail and search) as the caller: no row of a hidden project."""
    client = who.client()
    markers = [m for key in hidden for m in _markers(world, key)]
    urls = _sweep_urls(world, who, hidden)
    answered = 0
    for url in urls:
        response = client.get(url)
        answered += response.status_code < 300
        raw = b"".join(response.streaming_content) if response.streaming else response.content  # exports stream
        text = raw.decode(errors="replace")
        leaked = [m for m in markers if m in text]
        assert not leaked, f"{url} ({response.status_code}) shows {leaked}: {text[:300]}"
        if response.get("Content-Type", "").startswith("application/json") and text:
            body = json.loads(text)
            for key in hidden:
                assert not _ids_in(body, world.projects[key].id), url
    assert len(urls) >= len({op for op, _ in GET_OPS})
    assert answered >= 15, "the sweep saw too few answers to mean anything"


def test_a_caller_is_what_the_tests_assume(world):
    """The callers do hold everything in A (else the 404s above could be A's refusals)."""
    for caller in TENANT_A_CALLERS:
        client = caller.client()
        a = world.projects["private"]
        assert client.get(f"/api/v2.0/projects/{a.name}/members/{a.member_id}").status_code == 200
        assert client.get(f"/api/v2.0/robots/{a.robot_id}").status_code == 200
        assert client.get(f"/api/v2.0/labels/{a.label_id}").status_code == 200
        url = f"/api/v2.0/projects/{a.name}/repositories/{a.repository}/artifacts/{a.digest}"
        assert client.get(url).status_code == 200
        assert client.get(f"{url}/tags").status_code == 200
