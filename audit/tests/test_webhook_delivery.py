"""Events to deliveries: the subscriber's rows, then attempts against a real receiver on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from audit import tasks
from audit.models import WebhookDelivery
from audit.tests.receiver import Answer, Receiver
from audit.webhooks import payloads
from audit.webhooks.delivery import backoff_seconds, webhook_delivery_attempt
from audit.webhooks.selectors import webhook_last_triggers
from audit.webhooks.services import webhook_delivery_redeliver, webhook_policy_create, webhook_policy_update
from common.events import (
    ARTIFACT_PULLED,
    ARTIFACT_PUSHED,
    QUOTA_EXCEEDED,
    TAG_DELETED,
    Event,
    event_dispatch,
    event_publish,
)
from common.models import Execution, ExecutionStatus, Task
from common.testing.api import basic_client

pytestmark = pytest.mark.django_db
DIGEST = "sha256:" + "cd" * 32


def push_event(project, tag: str = "v1") -> Event:  # noqa: ANN001
    return Event(
        type=ARTIFACT_PUSHED,
        project_id=project.pk,
        operator="padmin",
        data={
            "project": "lib",
            "repository": {"name": "app", "namespace": "lib", "repo_full_name": "lib/app", "repo_type": "private"},
            "digest": DIGEST,
            "tags": [tag],
            "resources": [{"digest": DIGEST, "tag": tag, "resource_url": f"lib/app:{tag}"}],
        },
    )


@pytest.fixture
def receiver():
    with Receiver() as running, override_settings(HARBOR_EGRESS_ALLOW=[f"127.0.0.1:{running.port}"]):
        yield running


def make_policy(project, url: str, *, payload_format: str = "Default", auth: str = "Bearer hook-token", **kw):  # noqa: ANN001, ANN003
    target = {"address": url, "auth_header": auth, "payload_format": payload_format}
    policy, secret = webhook_policy_create(
        project=project, name=kw.pop("name", "hook"), event_types=kw.pop("event_types", ["PUSH_ARTIFACT"]),
        targets=[target], **kw,
    )  # fmt: skip
    return policy, secret


def deliver(event: Event, django_capture_on_commit_callbacks) -> list[Task]:  # noqa: ANN001
    """Dispatch as the dispatcher does after commit; the enqueue itself is captured, not sent."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event_dispatch(event)
    assert len(callbacks) <= 1  # one enqueue callback per event, whatever the number of targets
    return list(Task.objects.filter(execution__kind="WEBHOOK").order_by("pk"))


def test_push_event_creates_one_execution_and_task_per_target_then_delivers_signed(
    lib, receiver, django_capture_on_commit_callbacks
):
    policy, secret = make_policy(lib, f"{receiver.url}/hook")
    (task,) = deliver(push_event(lib), django_capture_on_commit_callbacks)
    execution = task.execution
    assert (execution.kind, execution.vendor_id, execution.trigger, execution.status) == (
        "WEBHOOK", policy.pk, "EVENT", ExecutionStatus.PENDING,
    )  # fmt: skip
    assert execution.parameters["event_type"] == "PUSH_ARTIFACT"
    assert task.webhook_delivery.event_type == "PUSH_ARTIFACT"

    assert webhook_delivery_attempt(task_id=task.pk) is None
    (received,) = receiver.requests
    assert received.method == "POST"
    assert received.path == "/hook"
    assert received.headers["authorization"] == "Bearer hook-token"
    assert received.headers["content-type"] == "application/json"
    timestamp = int(received.headers["x-harbor-signature-timestamp"])
    assert payloads.signature_verify(
        secret=secret, timestamp=timestamp, body=received.body, signature=received.headers["x-harbor-signature"]
    )
    sent = json.loads(received.body)
    assert sent["type"] == "PUSH_ARTIFACT"
    assert sent["operator"] == "padmin"
    assert sent["event_data"]["resources"] == [{"digest": DIGEST, "tag": "v1", "resource_url": "lib/app:v1"}]
    assert sent["event_data"]["repository"]["repo_full_name"] == "lib/app"
    task.refresh_from_db()
    execution.refresh_from_db()
    assert task.status == execution.status == ExecutionStatus.SUCCEEDED
    assert "attempt 1: POST" in task.log
    assert "-> 200" in task.log
    assert "hook-token" not in task.log
    assert execution.counts == {"total": 1, "succeed": 1, "failed": 0}
    # The message again (a redelivered Celery message) sends nothing more.
    assert webhook_delivery_attempt(task_id=task.pk) is None
    assert len(receiver.requests) == 1


def test_the_fan_out_fills_in_the_repository_type_a_publisher_left_out(
    lib, receiver, django_capture_on_commit_callbacks
):
    make_policy(lib, f"{receiver.url}/hook")
    event = push_event(lib)
    unknown = {**event.data, "repository": {**event.data["repository"], "repo_type": ""}}
    (task,) = deliver(
        Event(type=event.type, project_id=event.project_id, operator=event.operator, data=unknown),
        django_capture_on_commit_callbacks,
    )
    webhook_delivery_attempt(task_id=task.pk)
    (received,) = receiver.requests
    assert json.loads(received.body)["event_data"]["repository"]["repo_type"] == "private"


def test_cloudevents_format(lib, receiver, django_capture_on_commit_callbacks):
    policy, secret = make_policy(lib, receiver.url, payload_format="CloudEvents", auth="")
    (task,) = deliver(push_event(lib), django_capture_on_commit_callbacks)
    webhook_delivery_attempt(task_id=task.pk)
    (received,) = receiver.requests
    assert "authorization" not in received.headers
    assert received.headers["content-type"] == "application/cloudevents+json"
    sent = json.loads(received.body)
    assert sent["specversion"] == "1.0"
    assert sent["type"] == "harbor.artifact.pushed"
    assert sent["source"] == f"/projects/{lib.pk}/webhook/policies/{policy.pk}"
    assert sent["datacontenttype"] == "application/json"
    assert sent["data"]["resources"][0]["digest"] == DIGEST
    assert sent["id"]
    assert payloads.signature_verify(
        secret=secret,
        timestamp=int(received.headers["x-harbor-signature-timestamp"]),
        body=received.body,
        signature=received.headers["x-harbor-signature"],
    )


def test_only_enabled_subscribed_policies_of_the_project_fire(lib, receiver, django_capture_on_commit_callbacks):
    make_policy(lib, receiver.url, name="pulls", event_types=["PULL_ARTIFACT"])
    disabled, _ = make_policy(lib, receiver.url, name="off")
    webhook_policy_update(policy=disabled, enabled=False)
    assert deliver(push_event(lib), django_capture_on_commit_callbacks) == []
    pulled = Event(type=ARTIFACT_PULLED, project_id=lib.pk, operator="x", data={"resources": []})
    assert len(deliver(pulled, django_capture_on_commit_callbacks)) == 1
    other = Event(type=ARTIFACT_PULLED, project_id=lib.pk + 1000, operator="x", data={})
    event_dispatch(other)
    event_dispatch(Event(type=TAG_DELETED, project_id=lib.pk, operator="x", data={}))  # not a webhook type
    assert Task.objects.filter(execution__kind="WEBHOOK").count() == 1


def test_the_handler_is_one_query_when_nothing_subscribes(lib, django_assert_num_queries):
    with django_assert_num_queries(1):
        event_dispatch(push_event(lib))


def test_a_burst_of_pulls_in_a_project_without_pull_policies_costs_one_query(
    lib, receiver, django_assert_num_queries, django_capture_on_commit_callbacks, monkeypatch
):
    from audit import subscribers

    pulled = Event(type=ARTIFACT_PULLED, project_id=lib.pk, operator="x", data={"resources": []})
    with django_assert_num_queries(1):
        for _ in range(50):
            event_dispatch(pulled)
    # A pull policy created now hears pulls once the remembered answer expires (pulls are late anyway).
    make_policy(lib, receiver.url, name="pulls", event_types=["PULL_ARTIFACT"])
    assert deliver(pulled, django_capture_on_commit_callbacks) == []
    monkeypatch.setattr(subscribers, "PULL_POLICY_SECONDS", 0.0)
    subscribers.pull_policies_forget()
    assert len(deliver(pulled, django_capture_on_commit_callbacks)) == 1
    # Projects with pull policies, and other event types, always look up: nothing stale is sent.
    with django_assert_num_queries(1):
        event_dispatch(push_event(lib))


def test_published_events_fan_out_only_on_commit(lib, receiver, django_capture_on_commit_callbacks):
    make_policy(lib, receiver.url)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event_publish(push_event(lib))
    assert not Execution.objects.filter(kind="WEBHOOK").exists()
    assert len(callbacks) == 1  # the dispatch; the delivery enqueue comes from running it


def test_retries_5xx_with_backoff_then_succeeds(lib, receiver, django_capture_on_commit_callbacks):
    receiver.answers.extend([Answer(500, b"boom"), Answer(503, b"later")])
    make_policy(lib, receiver.url)
    (task,) = deliver(push_event(lib), django_capture_on_commit_callbacks)
    assert webhook_delivery_attempt(task_id=task.pk) == 2
    assert webhook_delivery_attempt(task_id=task.pk) == 4
    task.refresh_from_db()
    assert task.status == ExecutionStatus.RUNNING
    assert webhook_delivery_attempt(task_id=task.pk) is None
    task.refresh_from_db()
    delivery = WebhookDelivery.objects.get(task=task)
    assert (task.status, delivery.attempts, delivery.last_status_code) == (ExecutionStatus.SUCCEEDED, 3, 200)
    assert [line.split(" ")[2] for line in task.log.splitlines() if " attempt " in line] == ["1:", "2:", "3:"]
    for seen in ("-> 500", "'boom'", "-> 503", "-> 200"):
        assert seen in task.log
    assert len({r.body for r in receiver.requests}) == 1  # the same bytes each time


def test_429_is_retried_and_other_4xx_are_final(lib, receiver, django_capture_on_commit_callbacks):
    receiver.answers.extend([Answer(429), Answer(404, b"no such hook")])
    make_policy(lib, receiver.url)
    (task,) = deliver(push_event(lib), django_capture_on_commit_callbacks)
    assert webhook_delivery_attempt(task_id=task.pk) == 2
    assert webhook_delivery_attempt(task_id=task.pk) is None
    task.refresh_from_db()
    assert task.status == ExecutionStatus.FAILED
    assert Execution.objects.get(pk=task.execution_id).status == ExecutionStatus.FAILED
    assert "not retried" in task.log
    assert len(receiver.requests) == 2


def test_gives_up_after_the_configured_retries(lib, receiver, django_capture_on_commit_callbacks):
    receiver.default = Answer(502)
    make_policy(lib, receiver.url)
    (task,) = deliver(push_event(lib), django_capture_on_commit_callbacks)
    with override_settings(HARBOR_WEBHOOK_MAX_RETRIES=2):
        delays = [webhook_delivery_attempt(task_id=task.pk) for _ in range(3)]
    assert delays == [2, 4, None]
    task.refresh_from_db()
    assert task.status == ExecutionStatus.FAILED
    assert "gave up after 3 attempt(s)" in task.log
    assert len(receiver.requests) == 3


def test_connection_errors_are_retried(lib, django_capture_on_commit_callbacks):
    with Receiver() as gone:
        url, port = gone.url, gone.port
    with override_settings(HARBOR_EGRESS_ALLOW=[f"127.0.0.1:{port}"]):
        make_policy(lib, url)
        (task,) = deliver(push_event(lib), django_capture_on_commit_callbacks)
        assert webhook_delivery_attempt(task_id=task.pk) == 2
    task.refresh_from_db()
    assert "ConnectError" in task.log


def test_backoff_is_exponential_and_capped():
    assert [backoff_seconds(n) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 16, 32]
    assert backoff_seconds(30) == 300


def test_the_egress_guard_refuses_delivery_without_the_allowlist(lib, receiver, django_capture_on_commit_callbacks):
    make_policy(lib, receiver.url)  # accepted while allowlisted
    (task,) = deliver(push_event(lib), django_capture_on_commit_callbacks)
    with override_settings(HARBOR_EGRESS_ALLOW=[]):
        assert webhook_delivery_attempt(task_id=task.pk) is None
    task.refresh_from_db()
    assert task.status == ExecutionStatus.FAILED
    assert "refused by the egress guard" in task.log
    assert "not a public address" in task.log
    assert receiver.requests == []


def test_a_removed_target_fails_the_delivery(lib, receiver, django_capture_on_commit_callbacks):
    policy, _ = make_policy(lib, receiver.url)
    (task,) = deliver(push_event(lib), django_capture_on_commit_callbacks)
    webhook_policy_update(policy=policy, targets=[{"address": "https://hooks.example.test/new"}])
    assert webhook_delivery_attempt(task_id=task.pk) is None
    task.refresh_from_db()
    assert task.status == ExecutionStatus.FAILED
    assert "no longer configured" in task.log


def test_two_targets_settle_the_execution_once_both_are_final(lib, django_capture_on_commit_callbacks):
    with Receiver() as ok, Receiver(default=Answer(400)) as bad:
        allow = [f"127.0.0.1:{ok.port}", f"127.0.0.1:{bad.port}"]
        with override_settings(HARBOR_EGRESS_ALLOW=allow):
            webhook_policy_create(
                project=lib, name="two", event_types=["PUSH_ARTIFACT"],
                targets=[{"address": ok.url}, {"address": bad.url, "payload_format": "CloudEvents"}],
            )  # fmt: skip
            first, second = deliver(push_event(lib), django_capture_on_commit_callbacks)
            assert first.execution_id == second.execution_id
            webhook_delivery_attempt(task_id=first.pk)
            assert Execution.objects.get(pk=first.execution_id).status == ExecutionStatus.RUNNING
            webhook_delivery_attempt(task_id=second.pk)
    execution = Execution.objects.get(pk=first.execution_id)
    assert execution.status == ExecutionStatus.FAILED
    assert execution.counts == {"total": 2, "succeed": 1, "failed": 1}
    assert json.loads(bad.requests[0].body)["specversion"] == "1.0"
    assert "specversion" not in json.loads(ok.requests[0].body)


def test_redeliver_sends_the_same_body_as_a_new_execution(lib, receiver, django_capture_on_commit_callbacks):
    policy, _ = make_policy(lib, receiver.url)
    (task,) = deliver(push_event(lib), django_capture_on_commit_callbacks)
    webhook_delivery_attempt(task_id=task.pk)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        execution = webhook_delivery_redeliver(task=task)
    assert len(callbacks) == 1
    assert (execution.trigger, execution.vendor_id, execution.parameters["redelivery_of"]) == (
        "MANUAL",
        policy.pk,
        task.pk,
    )
    (copy,) = execution.tasks.all()
    tasks.webhook_deliver(copy.pk)  # the Celery task itself, called directly
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    copy.refresh_from_db()
    assert copy.status == ExecutionStatus.SUCCEEDED


def test_quota_exceeded_inside_the_refused_transaction_is_fanned_out_by_the_worker(lib, receiver):
    make_policy(lib, receiver.url, event_types=["QUOTA_EXCEED"])
    event = Event(type=QUOTA_EXCEEDED, project_id=lib.pk, operator="bob", data={"project": "lib", "details": "over"})
    # As the worker does with the message the handler sends when dispatched inside a transaction.
    tasks.webhook_fan_out(payloads.event_serialize(event))
    (task,) = Task.objects.filter(execution__kind="WEBHOOK")
    webhook_delivery_attempt(task_id=task.pk)
    sent = json.loads(receiver.requests[0].body)
    assert sent["type"] == "QUOTA_EXCEED"
    assert sent["event_data"]["custom_attributes"] == {"Details": "over"}


def test_deliveries_through_the_api(lib, receiver, django_capture_on_commit_callbacks):
    receiver.answers.append(Answer(500, b"oops"))
    policy, _ = make_policy(lib, receiver.url)
    (task,) = deliver(push_event(lib), django_capture_on_commit_callbacks)
    webhook_delivery_attempt(task_id=task.pk)
    webhook_delivery_attempt(task_id=task.pk)
    base = f"/api/v2.0/projects/lib/webhook/policies/{policy.pk}"
    admin = basic_client("padmin")
    executions = admin.get(f"{base}/executions")
    assert executions.status_code == 200, executions.content
    (execution,) = executions.json()
    assert execution["vendor_type"] == "WEBHOOK"
    assert execution["vendor_id"] == policy.pk
    assert execution["trigger"] == "EVENT"
    assert execution["status"] == "Success"
    assert execution["metrics"]["task_count"] == execution["metrics"]["success_task_count"] == 1
    assert execution["extra_attrs"]["event_type"] == "PUSH_ARTIFACT"
    listed = admin.get(f"{base}/executions/{execution['id']}/tasks")
    (row,) = listed.json()
    assert row["run_count"] == 2
    assert row["status"] == "Success"
    assert row["extra_attrs"]["address"] == receiver.url
    log = admin.get(f"{base}/executions/{execution['id']}/tasks/{row['id']}/log")
    assert log.status_code == 200
    assert log["Content-Type"].startswith("text/plain")
    assert "-> 500" in log.content.decode()
    assert "-> 200" in log.content.decode()
    assert basic_client("maintainer").get(f"{base}/executions").status_code == 200
    assert basic_client("developer").get(f"{base}/executions").status_code == 403
    assert admin.get(f"{base}/executions/999999/tasks").status_code == 404
    assert admin.get(f"{base}/executions/{execution['id']}/tasks/999999/log").status_code == 404
    triggers = admin.get("/api/v2.0/projects/lib/webhook/lasttrigger").json()
    assert triggers == [
        {
            "policy_name": "hook",
            "event_type": "PUSH_ARTIFACT",
            "enabled": True,
            "creation_time": triggers[0]["creation_time"],
            "last_trigger_time": triggers[0]["last_trigger_time"],
        }
    ]
    assert triggers[0]["last_trigger_time"] is not None
    assert webhook_last_triggers(project=lib)[0]["last_trigger_time"] == Execution.objects.get().started


def test_execution_list_has_a_query_budget(
    lib, receiver, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    policy, _ = make_policy(lib, receiver.url)
    for tag in ("a", "b", "c", "d"):
        deliver(push_event(lib, tag), django_capture_on_commit_callbacks)
    admin = basic_client("padmin")
    url = f"/api/v2.0/projects/lib/webhook/policies/{policy.pk}/executions"
    admin.get(url)
    with django_assert_max_num_queries(8):
        assert len(admin.get(url).json()) == 4


def test_redeliver_through_the_api(lib, receiver, django_capture_on_commit_callbacks):
    policy, _ = make_policy(lib, receiver.url)
    (task,) = deliver(push_event(lib), django_capture_on_commit_callbacks)
    base = f"/api/v2.0/projects/lib/webhook/policies/{policy.pk}/executions/{task.execution_id}/tasks/{task.pk}"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = basic_client("padmin").post(f"{base}/redeliver")
    assert response.status_code == 201, response.content
    new = Execution.objects.get(pk=response.json()["id"])
    assert response["Location"] == f"/api/v2.0/projects/lib/webhook/policies/{policy.pk}/executions/{new.pk}"
    assert (new.trigger, new.vendor_id) == ("MANUAL", policy.pk)
    assert len(callbacks) == 1
    assert basic_client("maintainer").post(f"{base}/redeliver").status_code == 403
    assert basic_client("padmin").post(f"{base.rsplit('/', 1)[0]}/999999999/redeliver").status_code == 404
    bare = Task.objects.create(execution=task.execution, name="no delivery")
    bare_url = f"/api/v2.0/projects/lib/webhook/policies/{policy.pk}/executions/{task.execution_id}/tasks/{bare.pk}"
    refused = basic_client("padmin").post(f"{bare_url}/redeliver")
    assert refused.status_code == 400
    assert "no recorded delivery" in refused.json()["errors"][0]["message"]
