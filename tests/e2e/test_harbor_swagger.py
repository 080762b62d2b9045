"""Every operation we implement, against a live server, validated against Harbor's own swagger.

Harbor's clients are generated from Harbor's swagger (Swagger 2.0), not from our document, so each
answer must be what *that* document promises (`common.testing.harbor_swagger.check`): a status code it
declares for the operation (the success one we expect), the headers it declares (X-Request-Id on every
response, X-Total-Count and Link on lists, Location on creates), and a body valid against its schema,
formats (date-time as RFC 3339, int32/int64, ...) and `x-nullable` checked by bravado-core. Errors
are validated against Harbor's `Errors` definition the same way.

`CALLS` is the table: one `Call` per request, in order (later calls use ids saved by earlier ones).
Adding an operation is adding its `Call`; an operation of our OpenAPI document that no `Call`
exercises fails `test_every_implemented_operation_is_exercised`, and a route under /api/v2.0/ left
out of the document fails unless `OURS_ONLY` names it. A mismatch we keep on purpose goes into
`DEVIATIONS` with its reason, and into the README's "Deviations from Harbor".
"""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest
from bravado_core.spec import Spec

from common.testing.harbor_swagger import (
    API,
    METHODS,
    REFERENCE,
    Call,
    Ref,
    Step,
    api_routes,
    calls_run,
    first,
    load_spec,
    location,
    spec_operations,
)
from common.testing.server import RegistryServer, free_port
from common.testing.v2client import V2Client

PASSWORD = "S3cret-pass-123"
PROJECT = "swag"


def _extra_attrs(*operations: str) -> str:
    return rf"({'|'.join(operations)}) GET \S+ -> 200 \[body\] (\d+/)?extra_attrs/\w+: .* is not of type 'object'"


# Mismatches we keep, each with its reason (and in README's "Deviations from Harbor"): a regular
# expression that must match the whole mismatch line `<operationId> <METHOD> <path> -> <status> [<kind>]
# <detail>`, kinds being status, header, body, content-type. Keep them narrow: one field, one operation.
DEVIATIONS: dict[str, str] = {
    _extra_attrs("listArtifacts", "getArtifact"): (
        "Artifact.extra_attrs: Harbor's swagger types every value as an object (additionalProperties: "
        "{type: object}); Harbor itself sends the image config's architecture, os, author (strings), created "
        "(a date-time string) and config (an object): go-swagger maps the declaration to interface{}."
    ),
    _extra_attrs("ListExecutionsOfWebhookPolicy", "ListTasksOfWebhookExecution"): (
        "Execution.extra_attrs and Task.extra_attrs: the same additionalProperties {type: object} as Artifact's; "
        "Harbor sends event_type, address (strings), project_id (a number) there too."
    ),
    r"(getRetention GET \S+ -> 200 \[body\]|(createRetention POST|updateRetention PUT) \S+ -> 20\d \[request\])"
    r" rules/\d+/params/\w+: \d+ is not of type 'object'": (
        "RetentionRule.params: additionalProperties {type: object} again; Harbor's own templates take numbers "
        '({"latestPushedK": 10}), as its UI sends and reads them.'
    ),
    r"(create|update)(GC|Purge)Schedule (POST|PUT) \S+ -> 20\d \[request\]"
    r" parameters/\w+: .* is not of type 'object'": (
        "Schedule.parameters (the request of the GC and audit purge schedules): additionalProperties "
        "{type: object} again; Harbor's own parameters are booleans, numbers and strings "
        '({"delete_untagged": false, "workers": 1}, {"audit_retention_hour": 168, "include_event_types": "..."}).'
    ),
    r"getAddition GET \S+ -> 200 \[body\] \(body\): .* is not of type 'string'": (
        "getAddition: Harbor's swagger types the body as a string, but Harbor (and we) serve the addition "
        "document itself with its own Content-Type: build_history is a JSON array (null without history)."
    ),
    r"CreateWebhookPolicyOfProject POST \S+ -> 201 \[body\] should be empty: .*signing_secret.*": (
        "createWebhookPolicy answers {id, signing_secret}: the per-policy HMAC secret of X-Harbor-Signature "
        "is shown once, at creation (Harbor has no signed deliveries). A client reading only the status and "
        "Location is unaffected."
    ),
}

# Routes under /api/v2.0/ that are ours, not Harbor's (kept out of our document): never validated.
OURS_ONLY = {
    "GET /auditlog-exts/export": "streamed CSV/JSON export of the audit log",
    "GET /projects/{project_name}/auditlog-exts/export": "streamed CSV/JSON export of a project's audit log",
    "POST /projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}/executions/{execution_id}"
    "/tasks/{task_id}/redeliver": "redeliver one webhook delivery",
    "GET /openapi.json": "our OpenAPI 3 document",
    "GET /swagger-ui/": "Swagger UI over our document",
}


def password_changed(user: str, password: str):  # noqa: ANN201
    """The saver of updateUserPassword: later calls of `user` use the new password."""

    def save(ctx: dict, response: httpx.Response) -> None:
        ctx["credentials"][user] = (user, password)

    return save


def robot_created(ctx: dict, response: httpx.Response) -> None:
    """CreateRobot's saver: the id, the name that UpdateRobot must send back unchanged, the secret."""
    location("robot_id")(ctx, response)
    created = response.json()
    ctx["robot_name"] = created["name"]
    ctx["credentials"]["robot"] = (created["name"], created["secret"])


def _push_images(ctx: dict) -> None:
    v2 = V2Client(ctx["url"], *ctx["credentials"]["admin"])
    ctx["digest_v1"], manifest = v2.push_image(f"{PROJECT}/app", "v1", seed="one")
    ctx["digest_v2"], _ = v2.push_image(f"{PROJECT}/app", "v2", seed="two")
    # push_manifest sends json.dumps(manifest): that is the subject's size.
    subject = {"mediaType": manifest["mediaType"], "digest": ctx["digest_v1"], "size": len(json.dumps(manifest))}
    v2.push_image(f"{PROJECT}/app", "sbom", seed="sbom", subject=subject, artifact_type="application/spdx+json")
    v2.push_image(f"{PROJECT}/scratch", "old", seed="scratch")
    children = []
    for arch in ("amd64", "arm64"):
        digest, child = v2.push_image(f"{PROJECT}/app", f"multi-{arch}", seed=f"multi-{arch}")
        size = len(json.dumps(child).encode())
        children.append(
            {
                "mediaType": child["mediaType"],
                "digest": digest,
                "size": size,
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children}
    assert v2.push_manifest(f"{PROJECT}/app", "multi", index).status_code == 201


def _finished(ctx: dict, response: httpx.Response) -> bool:
    body = response.json()
    items = body if isinstance(body, list) else [body]
    return bool(items) and all(
        (item.get("job_status") or item.get("status")) in ("Success", "Error", "Stopped", "Succeed", "Failed")
        for item in items
    )


P = {"project_name_or_id": PROJECT}
R = {"project_name": PROJECT, "repository_name": "app"}
SCOPE = Ref("project_id", lambda i: f"/project/{i}")  # getCurrentUserPermissions' scope
SELECTORS = {
    "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
    "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}],
}
RETENTION_RULE = {
    "disabled": False,
    "action": "retain",
    "template": "latestPushedK",
    "params": {"latestPushedK": 10},
    **SELECTORS,
    "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**", "extras": '{"untagged":true}'}],
}
WEBHOOK = {
    "name": "swag-hook",
    "description": "e2e",
    "event_types": ["PUSH_ARTIFACT", "DELETE_ARTIFACT"],
    "targets": [{"type": "http", "address": Ref("hook_url"), "skip_cert_verify": True, "payload_format": "Default"}],
    "enabled": True,
}
ROBOT = {
    "name": "ci",
    "description": "e2e",
    "duration": 30,
    "level": "project",
    "disable": False,
    "permissions": [
        {
            "kind": "project",
            "namespace": PROJECT,
            "access": [
                {"resource": "repository", "action": "pull"},
                {"resource": "repository", "action": "list"},
                {"resource": "artifact", "action": "list"},
                {"resource": "artifact", "action": "read"},
                {"resource": "tag", "action": "list"},
            ],
        }
    ],
}
SYSTEM_ROBOT = {
    "name": "ops",
    "description": "system level",
    "duration": -1,
    "level": "system",
    "disable": False,
    "permissions": [
        {"kind": "system", "namespace": "/", "access": [{"resource": "project", "action": "list"}]},
        {"kind": "project", "namespace": "*", "access": [{"resource": "repository", "action": "pull"}]},
    ],
}
GC_PARAMETERS = {"delete_untagged": False, "dry_run": True, "workers": 1}
PURGE_PARAMETERS = {
    "audit_retention_hour": 168,
    "include_event_types": "create_artifact,delete_artifact",
    "dry_run": True,
}

CALLS: list[Call | Step] = [
    # --- system -----------------------------------------------------------------------------
    Call("getPing", accept="text/plain"),
    Call("getPing", accept="*/*", user=None),
    Call("getSystemInfo"),
    Call("getSystemInfo", user=None),
    Call("getVolumes"),
    Call("getHealth"),
    Call("getConfigurations"),
    Call("updateConfigurations", body={"robot_token_duration": 45}),
    Call("getPermissions"),
    Call("getRentenitionMetadata"),
    # --- users and groups -------------------------------------------------------------------
    Call(
        "createUser",
        body={
            "username": "swag-dev",
            "email": "dev@example.com",
            "realname": "Dev",
            "password": PASSWORD,
            "comment": "e2e",
        },
        status=201,
        save=location("user_id"),
    ),
    Call(
        "createUser",
        body={"username": "swag-dev", "email": "dev@example.com", "realname": "Dev", "password": PASSWORD},
        status=409,
    ),
    Call("listUsers", query={"q": "username=~swag", "sort": "-creation_time", "page": 1, "page_size": 10}),
    Call("listUsers", query={"page_size": 1}),  # Link: next
    Call("listUsers", user="swag-dev", status=403),
    Call("listUsers", user=None, status=401),
    Call("searchUsers", query={"username": "swag"}),
    Call("getUser", params={"user_id": Ref("user_id")}),
    Call("getUser", params={"user_id": 999999}, status=404),
    Call(
        "updateUserProfile",
        params={"user_id": Ref("user_id")},
        body={"email": "dev2@example.com", "realname": "Dev Two", "comment": "renamed"},
    ),
    Call(
        "updateUserPassword",
        params={"user_id": Ref("user_id")},
        body={"old_password": PASSWORD, "new_password": PASSWORD + "x"},
        save=password_changed("swag-dev", PASSWORD + "x"),
    ),
    Call(
        "updateUserPassword",
        params={"user_id": Ref("user_id")},
        user="swag-dev",
        body={"old_password": PASSWORD + "x", "new_password": PASSWORD},
        save=password_changed("swag-dev", PASSWORD),
    ),
    Call("setUserSysAdmin", params={"user_id": Ref("user_id")}, body={"sysadmin_flag": False}),
    Call("getCurrentUserInfo"),
    Call("getCurrentUserInfo", user="swag-dev"),
    Call("getCurrentUserInfo", user=None, status=401),
    Call("createUserGroup", body={"group_name": "swag-devs", "group_type": 3}, status=201, save=location("group_id")),
    Call("listUserGroups", query={"group_name": "swag"}),
    Call("searchUserGroups", query={"groupname": "swag"}),
    Call("getUserGroup", params={"group_id": Ref("group_id")}),
    Call("updateUserGroup", params={"group_id": Ref("group_id")}, body={"group_name": "swag-devs-2"}),
    # --- projects ---------------------------------------------------------------------------
    Call(
        "createProject",
        body={"project_name": PROJECT, "metadata": {"public": "false"}, "storage_limit": -1},
        status=201,
        save=location("project_id"),
    ),
    Call("createProject", body={"project_name": PROJECT}, status=409),
    Call("createProject", body={"project_name": "Not Valid!"}, status=400),
    Call("createProject", body={"project_name": "swag-tmp", "metadata": {"public": "true"}}, status=201),
    Call("headProject", query={"project_name": PROJECT}),
    Call("headProject", query={"project_name": "nope"}, status=404),
    Call("listProjects", query={"q": "name=~swag", "sort": "-creation_time", "with_detail": "true"}),
    Call("listProjects", user=None),
    Call("listProjects", query={"q": "nope=1"}, status=400),
    Call("listProjects", query={"sort": "nope"}, status=400),
    Call("listProjects", query={"page": 2, "page_size": 1}),  # Link: prev and next
    Call("getProject", params=P),
    Call("getProject", params={"project_name_or_id": Ref("project_id")}),
    Call("getProject", params={"project_name_or_id": "nope"}, status=404),
    # A private project is not found by a non-member (ours: its existence is not revealed; Harbor says 403).
    Call("getProject", params=P, user="swag-dev", status=404),
    Call("updateProject", params=P, body={"metadata": {"auto_scan": "false", "public": "false"}}),
    Call("getProjectSummary", params=P),
    Call("getProjectDeletable", params=P),
    Call("addProjectMetadatas", params=P, body={"severity": "high"}),
    Call("listProjectMetadatas", params=P),
    Call("getProjectMetadata", params={**P, "meta_name": "severity"}),
    Call("updateProjectMetadata", params={**P, "meta_name": "severity"}, body={"severity": "low"}),
    Call("deleteProjectMetadata", params={**P, "meta_name": "severity"}),
    Call(
        "createProjectMember",
        params=P,
        body={"role_id": 2, "member_user": {"username": "swag-dev"}},
        status=201,
        save=location("member_id"),
    ),
    Call(
        "createProjectMember",
        params=P,
        body={"role_id": 3, "member_group": {"id": Ref("group_id")}},
        status=201,
        save=location("group_member_id"),
    ),
    Call("createProjectMember", params=P, body={"role_id": 2, "member_user": {"username": "swag-dev"}}, status=409),
    Call("listProjectMembers", params=P, query={"entityname": "swag"}),
    Call("getProjectMember", params={**P, "mid": Ref("member_id")}),
    Call("updateProjectMember", params={**P, "mid": Ref("member_id")}, body={"role_id": 3}),
    Call("deleteProject", params=P, user="swag-dev", status=403),  # a guest now
    Call("getCurrentUserPermissions", query={"scope": SCOPE, "relative": "true"}),
    Call("getCurrentUserPermissions", user="swag-dev", query={"scope": SCOPE}),
    # --- webhooks (before the pushes, so they are delivered) --------------------------------
    Call("GetSupportedEventTypes", params=P),
    Call("CreateWebhookPolicyOfProject", params=P, body=WEBHOOK, status=201, save=location("webhook_id")),
    Call("ListWebhookPoliciesOfProject", params=P, query={"sort": "-creation_time", "q": "name=~swag"}),
    Call("GetWebhookPolicyOfProject", params={**P, "webhook_policy_id": Ref("webhook_id")}),
    Call(
        "UpdateWebhookPolicyOfProject",
        params={**P, "webhook_policy_id": Ref("webhook_id")},
        body={**WEBHOOK, "description": "e2e, updated"},
    ),
    # --- repositories, artifacts, tags ------------------------------------------------------
    Step(_push_images),
    Call("listAllRepositories", query={"q": "name=~swag", "sort": "name"}),
    Call("listRepositories", params={"project_name": PROJECT}, query={"sort": "-update_time"}),
    Call("getRepository", params=R),
    Call("getRepository", params={**R, "repository_name": "nope"}, status=404),
    Call("updateRepository", params=R, body={"description": "the app"}),
    Call(
        "listArtifacts",
        params=R,
        query={
            "with_tag": "true",
            "with_label": "true",
            "with_immutable_status": "true",
            "with_accessory": "true",
            "sort": "-push_time",
        },
    ),
    Call(
        "getArtifact",
        params={**R, "reference": "v1"},
        query={"with_tag": "true", "with_label": "true", "with_accessory": "true", "with_immutable_status": "true"},
    ),
    Call("getArtifact", params={**R, "reference": Ref("digest_v2")}),
    Call("getArtifact", params={**R, "reference": "multi"}),  # an index: references with platforms
    Call("listArtifacts", params=R, query={"page_size": 1, "with_tag": "false"}),
    Call("getArtifact", params={**R, "reference": "nope"}, status=404),
    Call("listAccessories", params={**R, "reference": "v1"}),
    Call("getAddition", params={**R, "reference": "v1", "addition": "build_history"}),
    Call("createTag", params={**R, "reference": "v1"}, body={"name": "v1-extra"}, status=201),
    Call("createTag", params={**R, "reference": "v1"}, body={"name": "v1-extra"}, status=409),
    Call("listTags", params={**R, "reference": "v1"}, query={"with_immutable_status": "true", "sort": "name"}),
    Call("deleteTag", params={**R, "reference": "v1", "tag_name": "v1-extra"}),
    Call(
        "CopyArtifact",
        params={"project_name": PROJECT, "repository_name": "copy"},
        query={"from": Ref("digest_v2", lambda d: f"{PROJECT}/app@{d}")},
        status=201,
    ),
    # --- labels -----------------------------------------------------------------------------
    Call(
        "CreateLabel",
        body={"name": "swag-label", "color": "#61717D", "description": "e2e", "scope": "g"},
        status=201,
        save=location("label_id"),
    ),
    Call("CreateLabel", body={"name": "swag-p", "scope": "p", "project_id": Ref("project_id")}, status=201),
    Call("CreateLabel", body={"name": "swag-label", "scope": "g"}, status=409),
    Call("ListLabels", query={"scope": "g", "name": "swag"}),
    Call("ListLabels", query={"scope": "p", "project_id": Ref("project_id")}),
    Call("GetLabelByID", params={"label_id": Ref("label_id")}),
    Call(
        "UpdateLabel",
        params={"label_id": Ref("label_id")},
        body={"name": "swag-label", "color": "#000000", "description": "updated", "scope": "g"},
    ),
    Call("addLabel", params={**R, "reference": "v1"}, body={"id": Ref("label_id")}),
    Call("addLabel", params={**R, "reference": "v1"}, body={"id": Ref("label_id")}, status=409),
    Call("listArtifacts", params=R, query={"with_label": "true", "q": "tags=v1"}),
    Call("removeLabel", params={**R, "reference": "v1", "label_id": Ref("label_id")}),
    # --- immutability -----------------------------------------------------------------------
    Call(
        "CreateImmuRule",
        params=P,
        body={"disabled": False, "action": "immutable", "template": "immutable_template", **SELECTORS},
        status=201,
        save=location("immu_id"),
    ),
    Call("ListImmuRules", params=P, query={"sort": "id"}),
    Call(
        "UpdateImmuRule",
        params={**P, "immutable_rule_id": Ref("immu_id")},
        body={
            "id": Ref("immu_id"),
            "disabled": True,
            "action": "immutable",
            "template": "immutable_template",
            **SELECTORS,
        },
    ),
    # --- robots -----------------------------------------------------------------------------
    Call("CreateRobot", body=ROBOT, status=201, save=robot_created),
    Call("CreateRobot", body=SYSTEM_ROBOT, status=201, save=location("system_robot_id")),
    Call("CreateRobot", body={**ROBOT, "permissions": []}, status=400),
    Call("GetRobotByID", params={"robot_id": Ref("system_robot_id")}),
    # The project robot (a CI puller of swag) as a client: what it may read, and what not.
    Call("listRepositories", params={"project_name": PROJECT}, user="robot"),
    Call("listArtifacts", params=R, user="robot", query={"with_tag": "true"}),
    Call("getCurrentUserPermissions", user="robot", query={"scope": SCOPE, "relative": "true"}),
    Call("listUsers", user="robot", status=403),
    Call("GetRobotByID", params={"robot_id": 999999}, status=404),
    Call("ListRobot", query={"q": Ref("project_id", lambda i: f"Level=project,ProjectID={i}")}),
    Call("ListRobot"),
    Call("GetRobotByID", params={"robot_id": Ref("robot_id")}),
    Call(
        "UpdateRobot",
        params={"robot_id": Ref("robot_id")},
        body={**ROBOT, "name": Ref("robot_name"), "description": "updated", "disable": True},
    ),
    Call("RefreshSec", params={"robot_id": Ref("robot_id")}, body={}),
    # --- quotas -----------------------------------------------------------------------------
    Call("listQuotas", query={"reference": "project", "reference_id": Ref("project_id")}, save=first("quota_id")),
    Call("listQuotas", query={"sort": "-hard.storage"}),
    Call("getQuota", params={"id": Ref("quota_id")}),
    Call("updateQuota", params={"id": Ref("quota_id")}, body={"hard": {"storage": 10737418240}}),
    # --- retention --------------------------------------------------------------------------
    Call(
        "createRetention",
        body={
            "algorithm": "or",
            "rules": [RETENTION_RULE],
            "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
            "scope": {"level": "project", "ref": Ref("project_id")},
        },
        status=201,
        save=location("retention_id"),
    ),
    Call("getRetention", params={"id": Ref("retention_id")}),
    Call(
        "updateRetention",
        params={"id": Ref("retention_id")},
        body={
            "id": Ref("retention_id"),
            "algorithm": "or",
            "rules": [RETENTION_RULE],
            "trigger": {"kind": "Schedule", "settings": {"cron": "0 0 0 * * 0"}},
            "scope": {"level": "project", "ref": Ref("project_id")},
        },
    ),
    Call(
        "triggerRetentionExecution",
        params={"id": Ref("retention_id")},
        body={"dry_run": True},
        status=201,
        accept="text/plain",
        save=location("retention_eid"),
    ),
    Call("listRetentionExecutions", params={"id": Ref("retention_id")}, wait=_finished),
    Call(
        "listRetentionTasks",
        params={"id": Ref("retention_id"), "eid": Ref("retention_eid")},
        save=first("retention_tid"),
        wait=_finished,
    ),
    Call(
        "getRetentionTaskLog",
        accept="text/plain",
        params={"id": Ref("retention_id"), "eid": Ref("retention_eid"), "tid": Ref("retention_tid")},
    ),
    Call(
        "operateRetentionExecution",
        params={"id": Ref("retention_id"), "eid": Ref("retention_eid")},
        body={"action": "stop"},
    ),
    # --- garbage collection and audit purge -------------------------------------------------
    Call("getGCSchedule"),
    Call(
        "createGCSchedule",
        body={"schedule": {"type": "Manual"}, "parameters": GC_PARAMETERS},
        status=201,
        save=location("gc_id"),
    ),
    Call("getGC", params={"gc_id": Ref("gc_id")}, wait=_finished),
    Call("getGCHistory", query={"sort": "-creation_time"}),
    Call("getGCLog", params={"gc_id": Ref("gc_id")}, accept="text/plain"),
    Call("stopGC", params={"gc_id": Ref("gc_id")}),
    Call("updateGCSchedule", body={"schedule": {"type": "Custom", "cron": "0 0 0 * * 0"}, "parameters": GC_PARAMETERS}),
    Call("getGCSchedule"),
    Call("getPurgeSchedule"),
    Call(
        "createPurgeSchedule",
        body={"schedule": {"type": "Manual"}, "parameters": PURGE_PARAMETERS},
        status=201,
        save=location("purge_id"),
    ),
    Call("getPurgeJob", params={"purge_id": Ref("purge_id")}, wait=_finished),
    Call("getPurgeHistory", query={"sort": "-creation_time"}),
    Call("getPurgeJobLog", params={"purge_id": Ref("purge_id")}, accept="text/plain"),
    Call("stopPurge", params={"purge_id": Ref("purge_id")}),
    Call(
        "updatePurgeSchedule",
        body={"schedule": {"type": "Custom", "cron": "0 0 0 * * 0"}, "parameters": PURGE_PARAMETERS},
    ),
    Call("getPurgeSchedule"),
    # --- webhook deliveries (of the pushes above) -------------------------------------------
    Call(
        "ListExecutionsOfWebhookPolicy",
        params={**P, "webhook_policy_id": Ref("webhook_id")},
        save=first("webhook_eid"),
        wait=_finished,
    ),
    Call(
        "ListTasksOfWebhookExecution",
        params={**P, "webhook_policy_id": Ref("webhook_id"), "execution_id": Ref("webhook_eid")},
        save=first("webhook_tid"),
    ),
    Call(
        "GetLogsOfWebhookTask",
        accept="text/plain",
        params={
            **P,
            "webhook_policy_id": Ref("webhook_id"),
            "execution_id": Ref("webhook_eid"),
            "task_id": Ref("webhook_tid"),
        },
    ),
    Call("LastTrigger", params=P),
    # --- read-outs across everything --------------------------------------------------------
    Call("getStatistic"),
    Call("getStatistic", user="swag-dev"),
    Call("listProjects", user="swag-dev", query={"with_detail": "true"}),
    Call("listArtifacts", params=R, user="swag-dev", query={"with_tag": "true", "with_label": "true"}),
    Call("listArtifacts", params=R, query={"q": "nope=1"}, status=400),
    Call("listAuditLogExts", user="swag-dev"),
    Call("getGCHistory", user="swag-dev", status=403),
    Call("getStatistic", user=None, status=401),
    Call("search", query={"q": PROJECT}),
    Call("listAuditLogExts", query={"q": "resource_type=project", "sort": "-op_time"}),
    Call("listAuditLogEventTypes"),
    Call("getLogExts", params={"project_name": PROJECT}, query={"sort": "-op_time"}),
    Call("listAuditLogs", query={"q": "operation=create", "sort": "-op_time", "page_size": "1"}),
    Call("listAuditLogs", user="swag-dev"),
    Call("getLogs", params={"project_name": PROJECT}, query={"sort": "-op_time"}),
    Call("getLogs", params={"project_name": PROJECT}, query={"q": "nope=1"}, status=400),
    # --- deletes ----------------------------------------------------------------------------
    Call("deleteProject", params=P, status=412),
    Call("deleteArtifact", params={"project_name": PROJECT, "repository_name": "copy", "reference": Ref("digest_v2")}),
    Call("deleteRepository", params={"project_name": PROJECT, "repository_name": "scratch"}),
    Call("deleteRepository", params={"project_name": PROJECT, "repository_name": "scratch"}, status=404),
    Call("DeleteImmuRule", params={**P, "immutable_rule_id": Ref("immu_id")}),
    Call("deleteRetention", params={"id": Ref("retention_id")}),
    Call("DeleteWebhookPolicyOfProject", params={**P, "webhook_policy_id": Ref("webhook_id")}),
    Call("DeleteRobot", params={"robot_id": Ref("robot_id")}),
    Call("DeleteRobot", params={"robot_id": Ref("system_robot_id")}),
    Call("DeleteRobot", params={"robot_id": Ref("system_robot_id")}, status=404),
    Call("DeleteLabel", params={"label_id": Ref("label_id")}),
    Call("deleteProjectMember", params={**P, "mid": Ref("member_id")}),
    Call("deleteProjectMember", params={**P, "mid": Ref("group_member_id")}),
    Call("deleteUserGroup", params={"group_id": Ref("group_id")}),
    Call("deleteUser", params={"user_id": Ref("user_id")}),
    Call("deleteProject", params={"project_name_or_id": "swag-tmp"}),
]


# --- the run -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def harbor_spec() -> Spec:
    if not REFERENCE.exists():
        pytest.skip(f"Harbor's swagger is not at {REFERENCE} (set HARBOR_REFERENCE_SWAGGER)")
    return load_spec()


@pytest.fixture(scope="module")
def server():
    # Its own server (and worker, for GC, purge, retention and webhook jobs): the data seeded here
    # would otherwise show in other tests' listings. Webhooks go to a closed local port, allowed.
    server = RegistryServer.create(extra_env={"HARBOR_EGRESS_ALLOW": "127.0.0.1", "HARBOR_WEBHOOK_MAX_RETRIES": "0"})
    with server.serving(worker=True):
        yield server


@pytest.fixture(scope="module")
def run(server, harbor_spec) -> tuple[list[str], set[str]]:
    ctx = {
        "url": server.url,
        "credentials": {"admin": ("admin", server.admin_password), "swag-dev": ("swag-dev", PASSWORD)},
        "hook_url": f"http://127.0.0.1:{free_port()}/hook",
    }
    return calls_run(base_url=server.url, calls=CALLS, spec=harbor_spec, deviations=DEVIATIONS, ctx=ctx)


def test_every_response_is_valid_against_harbors_swagger(run):
    mismatches, _ = run
    kinds = Counter(line.split("[", 1)[1].split("]", 1)[0] if " -> " in line else "stale" for line in mismatches)
    assert not mismatches, f"{len(mismatches)} mismatches {dict(kinds)}:\n" + "\n".join(mismatches)


# --- completeness --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def our_document(server) -> dict:
    response = httpx.get(f"{server.url}{API}/openapi.json", timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_implemented_operation_is_exercised(our_document, harbor_spec, run):
    ours = {
        op["operationId"] for item in our_document["paths"].values() for method, op in item.items() if method in METHODS
    }
    harbors = set(spec_operations(harbor_spec))
    _, exercised = run
    missing = sorted((ours & harbors) - exercised)
    assert not missing, f"operations we serve that CALLS does not exercise (add a Call for each): {missing}"
    not_harbors = sorted(ours - harbors)
    assert not not_harbors, f"operations in our document that Harbor's swagger does not have: {not_harbors}"


def test_routes_outside_the_document_are_known_to_be_ours_only(our_document):
    documented = {
        f"{method.upper()} {route}"
        for route, item in our_document["paths"].items()
        for method in item
        if method in METHODS
    }
    # A route served with and without a trailing slash is one operation (documented once).
    documented |= {route.rstrip("/") for route in documented}
    routes = api_routes()
    undocumented = sorted(r for r in routes if r.rstrip("/") not in documented)
    unknown = [r for r in undocumented if r not in OURS_ONLY]
    assert not unknown, f"routes neither in our document (so not validated) nor listed in OURS_ONLY: {unknown}"
    assert not sorted(set(OURS_ONLY) - routes), "OURS_ONLY lists routes that no longer exist"
