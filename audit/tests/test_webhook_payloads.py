"""Webhook payloads: Harbor's Default JSON and CloudEvents 1.0 shapes, and the HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from audit.webhooks import payloads
from common import events

WHEN = datetime(2023, 4, 3, 6, 4, 46, tzinfo=UTC)
DIGEST = "sha256:" + "ab" * 32
PUSH_DATA = {
    "project": "harbor",
    "repository": {"name": "alpine", "namespace": "harbor", "repo_full_name": "harbor/alpine", "repo_type": "private"},
    "digest": DIGEST,
    "tags": ["3.8"],
    "resources": [{"digest": DIGEST, "tag": "3.8", "resource_url": "localhost/harbor/alpine:3.8"}],
}


def test_the_ten_event_types_map_to_harbors_names():
    assert payloads.HARBOR_EVENT_TYPES == {
        "artifact.pushed": "PUSH_ARTIFACT",
        "artifact.pulled": "PULL_ARTIFACT",
        "artifact.deleted": "DELETE_ARTIFACT",
        "quota.exceeded": "QUOTA_EXCEED",
        "quota.warning": "QUOTA_WARNING",
        "scan.failed": "SCANNING_FAILED",
        "scan.stopped": "SCANNING_STOPPED",
        "scan.completed": "SCANNING_COMPLETED",
        "replication.completed": "REPLICATION",
        "retention.completed": "TAG_RETENTION",
    }
    assert set(payloads.HARBOR_EVENT_TYPES) <= events.EVENT_TYPES
    assert set(payloads.HARBOR_EVENT_TYPES.values()) == set(payloads.EVENT_TYPES) == set(payloads.CLOUDEVENT_TYPES)


def test_default_push_payload_is_harbors():
    body = payloads.payload_default(harbor_type="PUSH_ARTIFACT", operator="admin", occurred=WHEN, data=PUSH_DATA)
    assert body == {
        "type": "PUSH_ARTIFACT",
        "occur_at": 1680501886,
        "operator": "admin",
        "event_data": {
            "resources": [{"digest": DIGEST, "tag": "3.8", "resource_url": "localhost/harbor/alpine:3.8"}],
            "repository": {
                "date_created": 1680501886,
                "name": "alpine",
                "namespace": "harbor",
                "repo_full_name": "harbor/alpine",
                "repo_type": "private",
            },
        },
    }


def test_cloudevents_push_payload():
    body = payloads.payload_cloudevents(
        harbor_type="PUSH_ARTIFACT",
        operator="admin",
        occurred=WHEN,
        data=PUSH_DATA,
        event_id="66e18103-09c1-41f6-982f-37df223f3eeb",
        project_id=2,
        policy_id=15,
    )
    default = payloads.payload_default(harbor_type="PUSH_ARTIFACT", operator="admin", occurred=WHEN, data=PUSH_DATA)
    assert body == {
        "specversion": "1.0",
        "id": "66e18103-09c1-41f6-982f-37df223f3eeb",
        "source": "/projects/2/webhook/policies/15",
        "type": "harbor.artifact.pushed",
        "datacontenttype": "application/json",
        "time": "2023-04-03T06:04:46Z",
        "data": default["event_data"],
        "operator": "admin",
    }
    assert payloads.content_type("CloudEvents") == "application/cloudevents+json"
    assert payloads.content_type("Default") == "application/json"


def test_quota_payload_carries_the_details():
    data = {"project": "harbor", "used": 900, "hard": 1000, "size": 200, "details": "quota exceeded: ...",
            "resources": [{"digest": DIGEST}]}  # fmt: skip
    body = payloads.payload_default(harbor_type="QUOTA_EXCEED", operator="", occurred=WHEN, data=data)
    assert body["type"] == "QUOTA_EXCEED"
    assert body["event_data"] == {
        "resources": [{"digest": DIGEST}],
        "repository": {"name": "", "namespace": "harbor", "repo_full_name": "", "repo_type": ""},
        "custom_attributes": {"Details": "quota exceeded: ..."},
    }
    warned = payloads.payload_cloudevents(
        harbor_type="QUOTA_WARNING", operator="", occurred=WHEN, data=data, event_id="x", project_id=1, policy_id=1
    )
    assert warned["type"] == "harbor.quota.warned"


def test_scan_payload_has_the_overview_and_no_creation_date():
    overview = {"application/vnd.security.vulnerability.report; version=1.1": {"scan_status": "Success"}}
    body = payloads.payload_default(
        harbor_type="SCANNING_COMPLETED", operator="auto", occurred=WHEN, data={**PUSH_DATA, "scan_overview": overview}
    )
    assert body["event_data"]["resources"][0]["scan_overview"] == overview
    assert "date_created" not in body["event_data"]["repository"]


def test_replication_payload_wraps_its_data():
    inner = {"job_status": "Success", "trigger_type": "MANUAL", "src_resource": {"namespace": "library"}}
    for data in ({"replication": inner}, inner):  # the publisher may or may not wrap it already
        body = payloads.payload_default(harbor_type="REPLICATION", operator="admin", occurred=WHEN, data=data)
        assert body["event_data"] == {"replication": inner}
    ce = payloads.payload_cloudevents(
        harbor_type="REPLICATION", operator="admin", occurred=WHEN, data=inner, event_id="e", project_id=1, policy_id=2
    )
    assert ce["type"] == "harbor.replication.status.changed"
    assert ce["data"] == {"replication": inner}


def test_retention_payload_is_harbors_from_the_retention_event():
    data = {  # what policies.retention.runs publishes
        "execution_id": 9, "retention_id": 4, "project_name": "harbor", "status": "Succeeded", "trigger": "MANUAL",
        "dry_run": False, "total": 3, "retained": 1,
        "deleted": [{"repository": "harbor/alpine", "tags": ["3.8"], "digest": DIGEST},
                    {"repository": "harbor/alpine", "tags": [], "digest": DIGEST}],
    }  # fmt: skip
    body = payloads.payload_default(harbor_type="TAG_RETENTION", operator="admin", occurred=WHEN, data=data)
    assert body["event_data"] == {
        "retention": {
            "total": 3,
            "retained": 1,
            "harbor_hostname": "",
            "project_name": "harbor",
            "retention_policy_id": 4,
            "result": "SUCCESS",
            "deleted_artifact": [
                {"type": "image", "status": "SUCCESS", "name_tag": "alpine:3.8"},
                {"type": "image", "status": "SUCCESS", "name_tag": f"alpine@{DIGEST}"},
            ],
        }
    }
    ce = payloads.payload_cloudevents(
        harbor_type="TAG_RETENTION", operator="admin", occurred=WHEN, data=data, event_id="e", project_id=1, policy_id=2
    )
    assert ce["type"] == "harbor.tag_retention.finished"
    assert ce["data"] == body["event_data"]


def test_rendering_is_compact_and_stable():
    body = payloads.payload_default(harbor_type="PUSH_ARTIFACT", operator="a", occurred=WHEN, data=PUSH_DATA)
    text = payloads.payload_render(body)
    assert json.loads(text) == body
    assert text == payloads.payload_render(json.loads(text))
    assert ", " not in text


def test_signature_is_hmac_sha256_over_timestamp_and_body():
    body = b'{"type":"PUSH_ARTIFACT"}'
    signature = payloads.signature_compute(secret="s3cr3t", timestamp=1700000000, body=body)
    expected = hmac.new(b"s3cr3t", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert payloads.signature_verify(secret="s3cr3t", timestamp=1700000000, body=body, signature=signature)
    assert not payloads.signature_verify(secret="other", timestamp=1700000000, body=body, signature=signature)
    assert not payloads.signature_verify(secret="s3cr3t", timestamp=1700000001, body=body, signature=signature)
    assert not payloads.signature_verify(secret="s3cr3t", timestamp=1700000000, body=body + b" ", signature=signature)


def test_event_serialize_is_plain_json():
    event = events.Event(type=events.ARTIFACT_PUSHED, project_id=3, operator="bob", data=PUSH_DATA, occurred=WHEN)
    plain = payloads.event_serialize(event)
    assert json.loads(json.dumps(plain)) == plain
    assert plain["occurred"] == "2023-04-03T06:04:46+00:00"
