"""Turning (operation, variant, principal) into a concrete request on the seeded world.

Path parameters are filled by name from the world, so a new route whose parameters are known gets
cases with no edit here; a new parameter name, or a write whose body the matrix can't guess, makes
the coverage tests fail until it is described below.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from projects.models import Role
from tests.security.routes import Operation
from tests.security.world import ProjectData, Who, World


@dataclass(frozen=True)
class Context:
    op: Operation
    variant: str
    world: World
    who: Who

    @property
    def project(self) -> ProjectData:
        """The variant's project (`global` and `-` variants: the private project, for parameters only)."""
        return self.world.projects.get(self.variant) or self.world.projects["private"]

    @property
    def slug(self) -> str:
        return self.who.name.lower()


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    body: object | None = None

    def send(self, client):  # noqa: ANN001, ANN201
        if self.body is None:
            return client.generic(self.method, self.url)
        return client.generic(self.method, self.url, json.dumps(self.body), content_type="application/json")


def _user_id(ctx: Context) -> int:
    own = ctx.world.user_id(ctx.who) if ctx.variant == "self" else None
    return own or ctx.world.users["target"]


# Path parameter name -> its value in the world.
PATH_VALUES: dict[str, Callable[[Context], object]] = {
    "project_name_or_id": lambda c: c.project.name if c.variant != "public" else c.project.id,  # both forms
    "project_name": lambda c: c.project.name,
    "repository_name": lambda c: c.project.repository,
    "reference": lambda c: c.project.digest,
    "tag_name": lambda c: c.project.spare_tag,
    "mid": lambda c: c.project.member_id,
    "meta_name": lambda c: c.project.meta_name,
    "addition": lambda c: "build_history",
    "label_id": lambda c: c.world.global_label_id if c.variant == "global" else c.project.label_id,
    "robot_id": lambda c: c.world.system_robot_id if c.variant == "global" else c.project.robot_id,
    "user_id": _user_id,
    "group_id": lambda c: c.world.group_id,
    "id": lambda c: c.project.quota_id,
    "immutable_rule_id": lambda c: c.project.immutable_rule_id,
    "gc_id": lambda c: c.world.extra["gc_id"],
    "purge_id": lambda c: c.world.extra["purge_id"],
    "eid": lambda c: c.world.extra["retention"][c.project.key]["eid"],
    "tid": lambda c: c.world.extra["retention"][c.project.key]["tid"],
    "webhook_policy_id": lambda c: c.world.extra["webhook"][c.project.key]["policy"],
}
# (operationId, parameter) -> a value other than the generic one.
PATH_OVERRIDES: dict[tuple[str, str], Callable[[Context], object]] = {
    ("CopyArtifact", "repository_name"): lambda c: "copied",  # a new repository in the same project
    # The variant project's webhook delivery (execution and task of its policy).
    **{
        (op_id, "execution_id"): lambda c: c.world.extra["webhook"][c.project.key]["execution"]
        for op_id in ("ListTasksOfWebhookExecution", "GetLogsOfWebhookTask", "redeliverWebhookTask")
    },
    **{
        (op_id, "task_id"): lambda c: c.world.extra["webhook"][c.project.key]["task"]
        for op_id in ("GetLogsOfWebhookTask", "redeliverWebhookTask")
    },
    # `{id}` of /retentions is the variant project's retention policy (elsewhere, a quota id).
    **{
        (op_id, "id"): lambda c: c.world.extra["retention"][c.project.key]["id"]
        for op_id in (
            "getRetention",
            "updateRetention",
            "deleteRetention",
            "listRetentionExecutions",
            "triggerRetentionExecution",
            "operateRetentionExecution",
            "listRetentionTasks",
            "getRetentionTaskLog",
        )
    },
}


def _robot_permissions(ctx: Context) -> list[dict]:
    if ctx.variant == "global":
        return [{"kind": "system", "namespace": "/", "access": [{"resource": "project", "action": "list"}]}]
    access = [{"resource": "repository", "action": "pull"}]
    return [{"kind": "project", "namespace": ctx.project.name, "access": access}]


def _robot_body(ctx: Context, name: str) -> dict:
    level = "system" if ctx.variant == "global" else "project"
    return {"name": name, "level": level, "duration": -1, "permissions": _robot_permissions(ctx)}


def _labels_query(ctx: Context) -> dict:
    return {"scope": "g"} if ctx.variant == "global" else {"scope": "p", "project_id": ctx.project.id}


def _robots_query(ctx: Context) -> dict:
    return {} if ctx.variant == "global" else {"q": f"Level=project,ProjectID={ctx.project.id}"}


def _retention_body(ctx: Context, template: str) -> dict:
    return {
        "algorithm": "or",
        "rules": [
            {
                "action": "retain",
                "template": template,
                "params": {template: 5},
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
                "scope_selectors": {
                    "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
                },
            }
        ],
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
        "scope": {"level": "project", "ref": ctx.project.id},
    }


def _immutable_rule_body(tag_pattern: str) -> dict:
    return {
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": tag_pattern}],
    }


QUERIES: dict[str, Callable[[Context], dict]] = {
    "headProject": lambda c: {"project_name": c.world.projects["private"].name},
    "search": lambda c: {"q": "app"},
    "searchUsers": lambda c: {"username": "target"},
    "searchUserGroups": lambda c: {"groupname": "devs"},
    "getCurrentUserPermissions": lambda c: {"scope": f"/project/{c.world.projects['private'].id}"},
    "ListRobot": _robots_query,
    "ListLabels": _labels_query,
    "CopyArtifact": lambda c: {"from": f"{c.project.name}/{c.project.repository}:{c.project.tag}"},
}
BODIES: dict[str, Callable[[Context], object]] = {
    "createProject": lambda c: {"project_name": f"new-{c.slug}", "public": False},
    "updateProject": lambda c: {"metadata": {"auto_scan": "true"}},
    "createProjectMember": lambda c: {"role_id": Role.GUEST, "member_user": {"username": "target"}},
    "updateProjectMember": lambda c: {"role_id": Role.GUEST},
    "addProjectMetadatas": lambda c: {"prevent_vul": "true"},
    "updateProjectMetadata": lambda c: {c.project.meta_name: "true"},
    "updateRepository": lambda c: {"description": "changed"},
    "createTag": lambda c: {"name": "v9"},
    "addLabel": lambda c: {"id": c.world.global_label_id},
    "updateQuota": lambda c: {"hard": {"storage": 1 << 30}},
    "updateConfigurations": lambda c: {"banner_message": "security matrix"},
    "createUser": lambda c: {
        "username": "newbie",
        "email": "newbie@example.test",
        "password": "N3w-Passw0rd",
        "realname": "New Bie",
    },
    "updateUserProfile": lambda c: {"email": f"{c.slug}-changed@example.test", "realname": "Changed", "comment": ""},
    "updateUserPassword": lambda c: {"old_password": c.who.password, "new_password": "N3w-Passw0rd"},
    "setUserSysAdmin": lambda c: {"sysadmin_flag": True},
    "createUserGroup": lambda c: {"group_name": "newgroup", "group_type": 2},
    "updateUserGroup": lambda c: {"group_name": "renamed"},
    "CreateRobot": lambda c: _robot_body(c, "newbot"),
    "UpdateRobot": lambda c: _robot_body(c, "sysbot" if c.variant == "global" else "target"),
    "RefreshSec": lambda c: {},
    "CreateLabel": lambda c: {"name": "newlabel", **_labels_query(c)},
    "UpdateLabel": lambda c: {"name": "renamed-label", "color": "#ffffff"},
    "CreateImmuRule": lambda c: _immutable_rule_body("nightly-*"),
    "UpdateImmuRule": lambda c: {**_immutable_rule_body("stable-*"), "disabled": True},
    "CreateWebhookPolicyOfProject": lambda c: {
        "name": f"new-{c.slug}",
        "event_types": ["PUSH_ARTIFACT"],
        "targets": [{"address": "https://hooks.example.test/new", "auth_header": "Bearer new"}],
    },
    "UpdateWebhookPolicyOfProject": lambda c: {"enabled": False, "event_types": ["PULL_ARTIFACT"]},
    "redeliverWebhookTask": lambda c: {},  # enqueued only on a commit that never comes
    "createRetention": lambda c: _retention_body(c, "latestPushedK"),
    "updateRetention": lambda c: _retention_body(c, "nDaysSinceLastPull"),
    # A dry run: the execution row is created, its task is enqueued only on a commit that never comes.
    "triggerRetentionExecution": lambda c: {"dry_run": True},
    "operateRetentionExecution": lambda c: {"action": "stop"},
    # A cron schedule, not Manual: the matrix must not start collections.
    "stopGC": lambda c: {},  # no body: stops the world's finished run, which stays as it was
    "createGCSchedule": lambda c: {"schedule": {"type": "Hourly"}, "parameters": {"dry_run": True}},
    "updateGCSchedule": lambda c: {"schedule": {"type": "Daily"}, "parameters": {"delete_untagged": True}},
    "stopPurge": lambda c: {},
    # A manual dry run: the execution row is created, its task is enqueued only on a commit that never comes.
    "createPurgeSchedule": lambda c: {
        "schedule": {"type": "Manual"},
        "parameters": {"audit_retention_hour": 168, "include_event_types": "pull_artifact", "dry_run": True},
    },
    "updatePurgeSchedule": lambda c: {
        "schedule": {"type": "Daily", "cron": "0 0 0 * * *"},
        "parameters": {"audit_retention_hour": 168, "include_event_types": "create_artifact,pull_artifact"},
    },
}


class Unfillable(LookupError):
    """A path parameter the world has no value for."""


def call_for(op: Operation, variant: str, world: World, who: Who, *, path: dict | None = None) -> Call:
    """The request `who` sends for this operation and variant (`path`: parameter values to use instead)."""
    ctx = Context(op, variant, world, who)
    values = {}
    for name in op.params:
        filler = PATH_OVERRIDES.get((op.operation_id, name)) or PATH_VALUES.get(name)
        if path and name in path:
            filler = lambda c, value=path[name]: value  # noqa: E731
        if filler is None:
            raise Unfillable(f"{op.name}: no world value for path parameter {name!r}")
        values[name] = quote(str(filler(ctx)), safe="")
    url = op.template.format(**values)
    query = QUERIES[op.operation_id](ctx) if op.operation_id in QUERIES else {}
    if query:
        url += "?" + urlencode(query)
    body = BODIES[op.operation_id](ctx) if op.operation_id in BODIES else None
    return Call(op.method, url, body)
