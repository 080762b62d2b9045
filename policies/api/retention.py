"""`/retentions[...]`: Harbor's tag retention API (tag "Retention").

Policies are project-scoped through their body (`scope: {level: "project", ref: <project id>}`) or,
for the routes with `{id}`, through the stored policy: every view names the project for the
permission glue, which checks ("tag-retention", action) there (404 where the caller can't see it).
Actions are Harbor's handler's: trigger and stop need update, lists need list, the task log read.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.bodies import body_validated
from common.api.errors import BadRequest
from common.api.pagination import HarborPagination
from common.api.params import id_param
from common.models import Execution, Task
from policies.models import RetentionPolicy
from policies.retention import selectors, services
from projects.models import Project

RESOURCE = "tag-retention"
TAGS = ["Retention"]


# --- shapes (Harbor's definitions) ---------------------------------------------------------------------------


class RetentionSelectorSerializer(serializers.Serializer):
    kind = serializers.CharField(required=False, allow_blank=True)
    decoration = serializers.CharField(required=False, allow_blank=True)
    pattern = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    extras = serializers.CharField(required=False, allow_blank=True)


class RetentionRuleSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False)
    priority = serializers.IntegerField(required=False)
    disabled = serializers.BooleanField(required=False)
    action = serializers.CharField(required=False)
    template = serializers.CharField(required=False)
    params = serializers.DictField(required=False)
    tag_selectors = RetentionSelectorSerializer(many=True, required=False)
    scope_selectors = serializers.DictField(child=RetentionSelectorSerializer(many=True), required=False)


class RetentionRuleTriggerSerializer(serializers.Serializer):
    kind = serializers.CharField(required=False, allow_blank=True)
    settings = serializers.DictField(required=False)
    references = serializers.DictField(required=False)


class RetentionPolicyScopeSerializer(serializers.Serializer):
    level = serializers.CharField(required=False)
    ref = serializers.IntegerField(required=False)


class RetentionPolicySerializer(serializers.Serializer):
    """Harbor's RetentionPolicy (rules are validated by the service, so their JSON is passed on as sent)."""

    id = serializers.IntegerField(required=False)
    algorithm = serializers.CharField(required=False, allow_blank=True)
    rules = RetentionRuleSerializer(many=True, required=False)
    trigger = RetentionRuleTriggerSerializer(required=False)
    scope = RetentionPolicyScopeSerializer(required=False)


class RetentionSelectorMetadataSerializer(serializers.Serializer):
    display_text = serializers.CharField()
    kind = serializers.CharField()
    decorations = serializers.ListField(child=serializers.CharField())


class RetentionRuleParamMetadataSerializer(serializers.Serializer):
    type = serializers.CharField()
    unit = serializers.CharField()
    required = serializers.BooleanField()


class RetentionRuleMetadataSerializer(serializers.Serializer):
    rule_template = serializers.CharField()
    display_text = serializers.CharField()
    action = serializers.CharField()
    params = RetentionRuleParamMetadataSerializer(many=True)


class RetentionMetadataSerializer(serializers.Serializer):
    templates = RetentionRuleMetadataSerializer(many=True)
    scope_selectors = RetentionSelectorMetadataSerializer(many=True)
    tag_selectors = RetentionSelectorMetadataSerializer(many=True)


class RetentionExecutionSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    policy_id = serializers.IntegerField(source="vendor_id")
    start_time = serializers.DateTimeField(source="started")
    end_time = serializers.DateTimeField(source="ended", allow_null=True)
    status = serializers.SerializerMethodField()
    trigger = serializers.CharField()
    dry_run = serializers.BooleanField()

    def get_status(self, obj: Execution) -> str:
        return selectors.harbor_status(obj.status)


class RetentionExecutionTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    execution_id = serializers.IntegerField()
    repository = serializers.SerializerMethodField()
    job_id = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    status_code = serializers.SerializerMethodField()
    status_revision = serializers.SerializerMethodField()
    start_time = serializers.DateTimeField(source="started", allow_null=True)
    end_time = serializers.DateTimeField(source="ended", allow_null=True)
    total = serializers.SerializerMethodField()
    retained = serializers.SerializerMethodField()

    def get_repository(self, obj: Task) -> str:
        return obj.name.split("/", 1)[1] if "/" in obj.name else obj.name  # Harbor: without the project

    def get_job_id(self, obj: Task) -> str:
        return f"retention-{obj.execution_id}-{obj.pk}"

    def get_status(self, obj: Task) -> str:
        return selectors.harbor_status(obj.status)

    def get_status_code(self, obj: Task) -> int:
        return selectors.status_code(obj.status)

    def get_status_revision(self, obj: Task) -> int:
        return int(obj.ended.timestamp()) if obj.ended else 0

    def get_total(self, obj: Task) -> int:
        return int((obj.counts or {}).get("total", 0))

    def get_retained(self, obj: Task) -> int:
        return int((obj.counts or {}).get("retained", 0))


class TriggerSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(required=False, default=False)


class OperateSerializer(serializers.Serializer):
    action = serializers.CharField(required=False, allow_blank=True, default="")


def policy_json(policy: RetentionPolicy) -> dict:
    """Harbor's RetentionPolicy for a stored policy."""
    trigger = {"kind": services.SCHEDULE_KIND, "settings": {"cron": policy.cron}, "references": {}}
    return {
        "id": policy.pk,
        "algorithm": policy.algorithm,
        "rules": policy.rules,
        "trigger": trigger,
        "scope": {"level": "project", "ref": policy.project_id},
    }


# --- views ---------------------------------------------------------------------------------------------------


def _id(raw: str, what: str) -> int:
    return id_param(raw, what)


def _body(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise BadRequest("the body must be a retention policy object")
    body_validated(RetentionPolicySerializer, request)
    return request.data


def _scope_ref(body: dict) -> int | None:
    """The project id of the body's scope (None when absent); BadRequest unless it is a project scope."""
    scope = body.get("scope")
    if scope is None:
        return None
    if not isinstance(scope, dict) or scope.get("level") != "project":
        level = scope.get("level") if isinstance(scope, dict) else scope
        raise BadRequest(f"scope {str(level)[:50]!r} is not supported (only project)")
    ref = scope.get("ref")
    if isinstance(ref, bool) or not isinstance(ref, int) or ref <= 0:
        raise BadRequest(f"invalid Project id {str(ref)[:50]}")
    return ref


class _PolicyScoped(APIView):
    """The policy named by `{id}` and its project, loaded once for the permission check and the handler."""

    def get_permission_project(self) -> Project | None:
        if not hasattr(self, "_policy"):
            self._policy = selectors.retention_policy_find(policy_id=_id(self.kwargs["id"], "retention id"))
        return self._policy.project if self._policy is not None else None

    @property
    def policy(self) -> RetentionPolicy:
        self.get_permission_project()
        return self._policy  # not None: the permission check answered 404 otherwise

    def execution(self) -> Execution:
        return selectors.retention_execution_get(policy=self.policy, execution_id=_id(self.kwargs["eid"], "eid"))


class RetentionMetadataView(APIView):
    permission_required = {"get": "authenticated"}

    @extend_schema(operation_id="getRentenitionMetadata", tags=TAGS, responses={200: RetentionMetadataSerializer})
    def get(self, request: Request) -> Response:
        return Response(selectors.retention_metadata())


class RetentionCreateView(APIView):
    permission_required = {"post": (RESOURCE, "create")}

    def get_permission_project(self) -> Project | None:
        if not hasattr(self, "_project"):
            ref = _scope_ref(_body(self.request))
            if ref is None:
                raise BadRequest("scope is required")
            self._project = Project.objects.filter(pk=ref).first()
        return self._project

    @extend_schema(operation_id="createRetention", tags=TAGS, request=RetentionPolicySerializer, responses={201: None})
    def post(self, request: Request) -> Response:
        body = _body(request)
        policy = services.retention_policy_create(
            project=self.get_permission_project(),
            rules=body.get("rules"),
            algorithm=body.get("algorithm"),
            trigger=body.get("trigger"),
        )
        return Response(status=status.HTTP_201_CREATED, headers={"Location": f"{request.path}/{policy.pk}"})


class RetentionView(_PolicyScoped):
    permission_required = {"get": (RESOURCE, "read"), "put": (RESOURCE, "update"), "delete": (RESOURCE, "delete")}

    @extend_schema(operation_id="getRetention", tags=TAGS, responses={200: RetentionPolicySerializer})
    def get(self, request: Request, id: str) -> Response:  # noqa: A002 - Harbor's parameter name
        return Response(policy_json(self.policy))

    @extend_schema(operation_id="updateRetention", tags=TAGS, request=RetentionPolicySerializer, responses={200: None})
    def put(self, request: Request, id: str) -> Response:  # noqa: A002
        body = _body(request)
        ref = _scope_ref(body)
        if ref is not None and ref != self.policy.project_id:
            raise BadRequest("the scope of a retention policy can't change")
        services.retention_policy_update(
            policy=self.policy, rules=body.get("rules"), algorithm=body.get("algorithm"), trigger=body.get("trigger")
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteRetention", tags=TAGS, responses={200: None})
    def delete(self, request: Request, id: str) -> Response:  # noqa: A002
        services.retention_policy_delete(policy=self.policy)
        return Response(status=status.HTTP_200_OK)


class RetentionExecutionsView(_PolicyScoped):
    permission_required = {"get": (RESOURCE, "list"), "post": (RESOURCE, "update")}
    pagination_class = HarborPagination

    @extend_schema(
        operation_id="listRetentionExecutions", tags=TAGS, responses={200: RetentionExecutionSerializer(many=True)}
    )
    def get(self, request: Request, id: str) -> Response:  # noqa: A002
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.retention_execution_list(policy=self.policy), request, self)
        return paginator.get_paginated_response(RetentionExecutionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="triggerRetentionExecution", tags=TAGS, request=TriggerSerializer, responses={201: None}
    )
    def post(self, request: Request, id: str) -> Response:  # noqa: A002
        dry_run = body_validated(TriggerSerializer, request)["dry_run"]
        execution = services.retention_trigger(policy=self.policy, dry_run=dry_run)
        return Response(status=status.HTTP_201_CREATED, headers={"Location": f"{request.path}/{execution.pk}"})


class RetentionExecutionView(_PolicyScoped):
    permission_required = {"patch": (RESOURCE, "update")}

    @extend_schema(
        operation_id="operateRetentionExecution", tags=TAGS, request=OperateSerializer, responses={200: None}
    )
    def patch(self, request: Request, id: str, eid: str) -> Response:  # noqa: A002
        if body_validated(OperateSerializer, request)["action"] != "stop":
            raise BadRequest("action should be 'stop'")
        services.retention_execution_stop(execution=self.execution())
        return Response(status=status.HTTP_200_OK)


class RetentionTasksView(_PolicyScoped):
    permission_required = {"get": (RESOURCE, "list")}
    pagination_class = HarborPagination

    @extend_schema(
        operation_id="listRetentionTasks", tags=TAGS, responses={200: RetentionExecutionTaskSerializer(many=True)}
    )
    def get(self, request: Request, id: str, eid: str) -> Response:  # noqa: A002
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.retention_task_list(execution=self.execution()), request, self)
        return paginator.get_paginated_response(RetentionExecutionTaskSerializer(page, many=True).data)


class RetentionTaskLogView(_PolicyScoped):
    permission_required = {"get": (RESOURCE, "read")}

    @extend_schema(operation_id="getRetentionTaskLog", tags=TAGS, responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request: Request, id: str, eid: str, tid: str) -> HttpResponse:  # noqa: A002
        task = selectors.retention_task_get(execution=self.execution(), task_id=_id(tid, "tid"))
        return HttpResponse(task.log, content_type="text/plain; charset=utf-8")
