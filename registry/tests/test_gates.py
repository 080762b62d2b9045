"""registry/gates.py: gates asked in order, refusals mapped to /v2/ and the API, no cost without gates."""

from __future__ import annotations

import pytest

from common.actor import Actor, acting_as
from common.testing.api import basic_client
from policies.gates import IMMUTABILITY
from registry.auth.scopes import Scope
from registry.auth.token import token_issue
from registry.errors import GateRefusal, TagImmutable
from registry.gates import (
    DELETE,
    PULL,
    PUSH,
    Gate,
    GateRequest,
    gate_register,
    gate_unregister,
    gates_check,
    gates_for,
    gates_held,
    gates_replaced,
)
from registry.tests.api import builders
from registry.tests.api.conftest import lib, users  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
APP = "/api/v2.0/projects/lib/repositories/app"


class Recorder(Gate):
    """Holds `holds`, refuses when `refuse` is set, and writes down every request it is asked."""

    def __init__(self, name: str, seen: list, *, holds: frozenset[str] = frozenset(), refuse: bool = False):
        self.name, self.seen, self.holds, self.refuse = name, seen, holds, refuse

    def held(self, request: GateRequest) -> frozenset[str]:
        self.seen.append((self.name, request))
        return request.tags & self.holds

    def check(self, request: GateRequest) -> frozenset[str]:
        held = self.held(request)
        if self.refuse:
            raise GateRefusal(f"{self.name} says no to {request.operation}", detail={"gate": self.name})
        return held


def _ask(action: str = PUSH, tags: tuple[str, ...] = ("v1", "v2")) -> frozenset[str]:
    return gates_check(
        action=action, project_id=1, repository_name="lib/app", tags=tags, digest="sha256:0", operation="push it"
    )


def test_without_gates_asking_costs_nothing(django_assert_num_queries):
    with gates_replaced(), django_assert_num_queries(0):
        assert _ask(PULL) == frozenset()
        assert _ask(PUSH) == frozenset()
        assert gates_held(action=DELETE, project_id=1, repository_name="lib/app", tags={"v1"}) == frozenset()


def test_gates_are_asked_in_registration_order_and_their_holds_add_up():
    seen: list = []
    first, second = Recorder("first", seen, holds=frozenset({"v1"})), Recorder("second", seen, holds=frozenset({"v2"}))
    with gates_replaced((first, (PUSH,)), (second, (PUSH, DELETE))):
        gate_register(gate=first, actions=(PUSH,))  # registering again changes nothing
        assert gates_for(PUSH) == (first, second)
        assert gates_for(DELETE) == (second,)
        assert gates_for(PULL) == ()
        assert _ask(PUSH) == {"v1", "v2"}
    assert [name for name, _request in seen] == ["first", "second"]
    request = seen[0][1]
    assert (request.action, request.project_id, request.repository_name) == (PUSH, 1, "lib/app")
    assert (request.tags, request.digest, request.operation) == (frozenset({"v1", "v2"}), "sha256:0", "push it")


def test_a_refusal_stops_the_gates_after_it():
    seen: list = []
    gates = ((Recorder("no", seen, refuse=True), (PUSH,)), (Recorder("later", seen), (PUSH,)))
    with gates_replaced(*gates), pytest.raises(GateRefusal) as refused:
        _ask(PUSH)
    assert refused.value.message == "no says no to push it"
    assert (refused.value.code, refused.value.status, refused.value.detail) == ("DENIED", 412, {"gate": "no"})
    assert [name for name, _request in seen] == ["no"]


def test_the_default_check_refuses_held_tags_on_pull_and_delete_but_not_on_push():
    class Holds(Gate):
        name = "holder"

        def held(self, request: GateRequest) -> frozenset[str]:
            return request.tags & {"v1"}

    gate = Holds()
    with gates_replaced((gate, (PULL, PUSH, DELETE))):
        assert _ask(PUSH) == {"v1"}  # the registry creates it, never moves it
        assert _ask(DELETE, tags=("v2",)) == frozenset()
        for action in (PULL, DELETE):
            with pytest.raises(GateRefusal, match="holder: cannot push it: tag v1 is held in lib/app"):
                _ask(action)
        gate_unregister(gate=gate, actions=(DELETE,))
        assert _ask(DELETE) == frozenset()


def test_gates_see_the_principal_not_the_client():
    seen: list = []
    with gates_replaced((Recorder("who", seen), (PULL,))), acting_as(Actor("robot$lib+ci", "10.0.0.1", is_robot=True)):
        _ask(PULL)
    assert seen[0][1].actor == Actor("robot$lib+ci", "10.0.0.1", is_robot=True)


def test_unknown_actions_are_refused_at_registration():
    with gates_replaced(), pytest.raises(ValueError, match="gate actions"):
        gate_register(gate=Gate(), actions=("scan",))


def test_the_policies_app_registers_tag_immutability_on_push_and_delete():
    assert IMMUTABILITY in gates_for(PUSH)
    assert IMMUTABILITY in gates_for(DELETE)
    assert IMMUTABILITY not in gates_for(PULL)


# --- a refusal through the doors ----------------------------------------------------------------------------


@pytest.fixture
def image(lib):  # noqa: F811 - the fixture imported above
    return builders.image(builders.repository("lib/app"), tag="v1", seed="1")


def test_a_pull_gate_refusal_is_the_oci_error_with_the_reason(client, image, django_assert_max_num_queries):
    seen: list = []
    token, _, _ = token_issue(subject="padmin", access=[Scope("repository", "lib/app", frozenset({"pull"}))])
    auth = f"Bearer {token}"
    with gates_replaced((Recorder("vulnerability", seen, refuse=True), (PULL,))):
        response = client.get("/v2/lib/app/manifests/v1", HTTP_AUTHORIZATION=auth)
        head = client.head("/v2/lib/app/manifests/v1", HTTP_AUTHORIZATION=auth)  # a probe, not a pull
    assert response.status_code == 412, response.content
    assert response.json() == {
        "errors": [{"code": "DENIED", "message": "vulnerability says no to pull", "detail": {"gate": "vulnerability"}}]
    }
    assert head.status_code == 200
    request = seen[0][1]
    assert (request.tags, request.digest, request.project_id) == (
        frozenset({"v1"}),
        image.digest,
        image.repository.project_id,
    )
    with gates_replaced(), django_assert_max_num_queries(1):  # nothing registered: the pull costs what it did
        assert client.get("/v2/lib/app/manifests/v1", HTTP_AUTHORIZATION=auth).status_code == 200


def test_a_delete_gate_refusal_is_precondition_on_the_api_and_denied_on_v2(client, image):
    seen: list = []
    with gates_replaced((Recorder("legal hold", seen, refuse=True), (DELETE,))):
        api = basic_client("padmin").delete(f"{APP}/artifacts/v1/tags/v1")
        token, _, _ = token_issue(subject="padmin", access=[Scope("repository", "lib/app", frozenset({"delete"}))])
        v2 = client.delete(f"/v2/lib/app/manifests/{image.digest}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.status_code == 412, api.content
    assert api.json() == {"errors": [{"code": "PRECONDITION", "message": "legal hold says no to delete tag v1"}]}
    assert v2.status_code == 412, v2.content
    assert v2.json()["errors"][0] == {
        "code": "DENIED",
        "message": f"legal hold says no to delete {image.digest}",
        "detail": {"gate": "legal hold"},
    }
    assert image.tags.filter(name="v1").exists()


def test_a_tag_held_on_push_is_created_but_never_moved(image):
    seen: list = []
    repo = image.repository
    other = builders.image(builders.repository("lib/other"), tag="v1", seed="other")
    with gates_replaced((Recorder("pin", seen, holds=frozenset({"v1", "v9"})), (PUSH,))):
        builders.image(repo, tag="v9", seed="9")  # held, new: created
        with pytest.raises(TagImmutable, match="the tag v1 is immutable and cannot be overwritten in lib/app"):
            builders.image(repo, tag="v1", seed="other")  # held, would move
        copied = basic_client("padmin").post(f"{APP}/artifacts?from=lib/other:v1")  # would move v1 too
    assert repo.tags.filter(name="v9").exists()
    assert repo.tags.get(name="v1").artifact_id == image.pk
    assert copied.status_code == 412, copied.content
    assert copied.json()["errors"][0] == {
        "code": "PRECONDITION",
        "message": "the tag v1 is immutable and cannot be overwritten in lib/app",
    }
    assert not repo.artifacts.filter(digest=other.digest).exists()
