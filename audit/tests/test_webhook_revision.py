"""Push events carry the project's policy revision: the fan-out asks for policies at most once per revision."""

from __future__ import annotations

import json

import pytest

from audit.services import audit_record
from audit.tests.test_webhook_delivery import deliver, make_policy, push_event, receiver  # noqa: F401
from audit.webhooks.services import webhook_policy_delete, webhook_policy_update
from common.events import Event, event_dispatch
from common.models import Execution
from projects.models import Project
from registry.auth.scopes import Scope
from registry.auth.token import token_issue
from registry.tests.api import builders

pytestmark = pytest.mark.django_db


def _revision(project: Project) -> int:
    return Project.objects.values_list("policy_revision", flat=True).get(pk=project.pk)


def _at(project: Project) -> Event:
    """The push event as the manifest push publishes it: with the revision read in its transaction."""
    event = push_event(project)
    return Event(event.type, event.project_id, event.operator, event.data, policy_revision=_revision(project))


def test_every_webhook_policy_write_moves_the_project_revision(lib, receiver):  # noqa: F811
    assert _revision(lib) == 0
    policy, _secret = make_policy(lib, receiver.url)
    assert _revision(lib) == 1
    webhook_policy_update(policy=policy, enabled=False)
    assert _revision(lib) == 2
    webhook_policy_delete(policy=policy)
    assert _revision(lib) == 3
    audit_record(operation="create", resource_type="project", resource="unrelated", project_id=lib.pk)
    assert _revision(lib) == 3


def test_the_fan_out_asks_once_per_revision_and_never_misses_a_new_policy(
    lib,
    receiver,  # noqa: F811
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    event = _at(lib)
    with django_assert_num_queries(0):  # revision 0: the project never had a policy
        event_dispatch(event)
    make_policy(lib, receiver.url, name="pulls", event_types=["PULL_ARTIFACT"])
    event = _at(lib)
    with django_assert_num_queries(1):  # a new revision: the enabled policies, once...
        event_dispatch(event)
    with django_assert_num_queries(0):  # ...then what they hear is remembered for it
        event_dispatch(event)
    assert deliver(event, django_capture_on_commit_callbacks) == []
    pushes, _secret = make_policy(lib, receiver.url, name="pushes")  # written anywhere: the revision moves
    assert len(deliver(_at(lib), django_capture_on_commit_callbacks)) == 1
    assert len(deliver(_at(lib), django_capture_on_commit_callbacks)) == 2  # heard: looked up every time
    webhook_policy_update(policy=pushes, enabled=False)
    assert len(deliver(_at(lib), django_capture_on_commit_callbacks)) == 2
    # Events without a revision (every publisher but the manifest push) look policies up as before.
    webhook_policy_update(policy=pushes, enabled=True)
    assert len(deliver(push_event(lib), django_capture_on_commit_callbacks)) == 3


def test_a_v2_push_reaches_the_policies_of_its_project(
    client,
    lib,
    receiver,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    repo = builders.repository("lib/app")
    image = builders.image(repo, tag="v1")
    token, _, _ = token_issue(subject="padmin", access=[Scope("repository", "lib/app", frozenset({"pull", "push"}))])
    auth = f"Bearer {token}"
    body = bytes(image.manifest)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.put("/v2/lib/app/manifests/v2", body, content_type=image.media_type, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 201, response.content
    assert not Execution.objects.filter(kind="WEBHOOK").exists()
    make_policy(lib, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.put("/v2/lib/app/manifests/v3", body, content_type=image.media_type, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 201, response.content
    (execution,) = Execution.objects.filter(kind="WEBHOOK")
    assert execution.parameters["event_type"] == "PUSH_ARTIFACT"
    payload = json.loads(execution.tasks.get().webhook_delivery.payload)
    assert payload["event_data"]["repository"]["repo_type"] == "private"  # known from the push's first statement
    assert payload["event_data"]["resources"][0]["tag"] == "v3"
