"""`/projects/{project_name_or_id}/webhook/...`: Harbor's webhook policies and their deliveries."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.api.webhooks_serializers import (
    SupportedWebhookEventTypesSerializer,
    WebhookExecutionSerializer,
    WebhookLastTriggerSerializer,
    WebhookPolicyCreatedSerializer,
    WebhookPolicyInputSerializer,
    WebhookPolicySerializer,
    WebhookTaskSerializer,
)
from audit.models import WebhookPolicy
from audit.webhooks import payloads, selectors, services
from common.api.params import id_param
from common.models import Execution
from projects.drf import ProjectScopedMixin

POLICY = "notification-policy"


def _id(raw: str, what: str) -> int:
    return id_param(raw, what)


class WebhookPolicyScoped(ProjectScopedMixin):
    """The project and the policy named in the path (404 for another project's policy)."""

    def policy(self) -> WebhookPolicy:
        if not hasattr(self, "_policy"):
            policy_id = _id(self.kwargs["webhook_policy_id"], "webhook policy id")
            self._policy = selectors.webhook_policy_get(project=self.project, policy_id=policy_id)
        return self._policy

    def execution(self) -> Execution:
        execution_id = _id(self.kwargs["execution_id"], "execution id")
        return selectors.webhook_execution_get(policy=self.policy(), execution_id=execution_id)


class WebhookPolicyViewSet(WebhookPolicyScoped, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = WebhookPolicySerializer
    permission_required = {
        "list": (POLICY, "list"),
        "create": (POLICY, "create"),
        "retrieve": (POLICY, "read"),
        "update": (POLICY, "update"),
        "destroy": (POLICY, "delete"),
    }

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        return selectors.webhook_policy_list(project=self.project, q=params.get("q"), sort=params.get("sort"))

    def _input(self, request: Request) -> dict:
        data = WebhookPolicyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    @extend_schema(operation_id="ListWebhookPoliciesOfProject")
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        operation_id="CreateWebhookPolicyOfProject",
        request=WebhookPolicyInputSerializer,
        responses={201: WebhookPolicyCreatedSerializer},
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = self._input(request)
        policy, signing_secret = services.webhook_policy_create(
            project=self.project,
            name=data.get("name", ""),
            description=data.get("description", ""),
            enabled=data.get("enabled", True),
            event_types=request.data.get("event_types"),
            targets=request.data.get("targets"),
        )
        # The signing secret is shown this once (stored encrypted, never returned again): no caching.
        return Response(
            {"id": policy.pk, "signing_secret": signing_secret},
            status=status.HTTP_201_CREATED,
            headers={"Location": f"{request.path}/{policy.pk}", "Cache-Control": "no-store"},
        )

    @extend_schema(operation_id="GetWebhookPolicyOfProject")
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return Response(WebhookPolicySerializer(self.policy()).data)

    @extend_schema(
        operation_id="UpdateWebhookPolicyOfProject", request=WebhookPolicyInputSerializer, responses={200: None}
    )
    def update(self, request: Request, *args, **kwargs) -> Response:
        data = self._input(request)
        services.webhook_policy_update(
            policy=self.policy(),
            name=data.get("name"),
            description=data.get("description"),
            enabled=data.get("enabled"),
            event_types=request.data.get("event_types"),
            targets=request.data.get("targets"),
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="DeleteWebhookPolicyOfProject", responses={200: None})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.webhook_policy_delete(policy=self.policy())
        return Response(status=status.HTTP_200_OK)


class WebhookExecutionViewSet(WebhookPolicyScoped, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = WebhookExecutionSerializer
    permission_required = {"list": (POLICY, "list")}

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        return selectors.webhook_execution_list(policy=self.policy(), q=params.get("q"), sort=params.get("sort"))

    @extend_schema(operation_id="ListExecutionsOfWebhookPolicy")
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)


class WebhookTaskViewSet(WebhookPolicyScoped, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = WebhookTaskSerializer
    permission_required = {"list": (POLICY, "list")}

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        return selectors.webhook_task_list(execution=self.execution(), q=params.get("q"), sort=params.get("sort"))

    @extend_schema(operation_id="ListTasksOfWebhookExecution")
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)


class WebhookTaskLogView(WebhookPolicyScoped, APIView):
    permission_required = {"get": (POLICY, "read")}

    @extend_schema(operation_id="GetLogsOfWebhookTask", responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request: Request, *args, **kwargs) -> HttpResponse:
        task = selectors.webhook_task_get(execution=self.execution(), task_id=_id(kwargs["task_id"], "task id"))
        return HttpResponse(task.log, content_type="text/plain; charset=utf-8")


class WebhookLastTriggerView(ProjectScopedMixin, APIView):
    permission_required = {"get": (POLICY, "read")}

    @extend_schema(operation_id="LastTrigger", responses={200: WebhookLastTriggerSerializer(many=True)})
    def get(self, request: Request, *args, **kwargs) -> Response:
        rows = selectors.webhook_last_triggers(project=self.project)
        return Response(WebhookLastTriggerSerializer(rows, many=True).data)


class WebhookEventTypesView(ProjectScopedMixin, APIView):
    permission_required = {"get": (POLICY, "read")}

    @extend_schema(operation_id="GetSupportedEventTypes", responses={200: SupportedWebhookEventTypesSerializer})
    def get(self, request: Request, *args, **kwargs) -> Response:
        self.project  # noqa: B018 - 404 for a project that doesn't exist
        body = {
            "event_type": list(payloads.EVENT_TYPES),
            "notify_type": list(payloads.NOTIFY_TYPES),
            "payload_formats": [{"notify_type": "http", "formats": list(payloads.PAYLOAD_FORMATS)}],
        }
        return Response(SupportedWebhookEventTypesSerializer(body).data)


class WebhookTaskRedeliverView(WebhookPolicyScoped, APIView):
    """Ours, not Harbor's: send a past delivery again (same body, new signature) as a new MANUAL execution."""

    permission_required = {"post": (POLICY, "update")}

    @extend_schema(exclude=True)  # not a Harbor operation: kept out of Harbor's document
    def post(self, request: Request, *args, **kwargs) -> Response:
        task = selectors.webhook_task_get(execution=self.execution(), task_id=_id(kwargs["task_id"], "task id"))
        execution = services.webhook_delivery_redeliver(task=task)
        base = request.path.split("/executions/", 1)[0]
        return Response(
            {"id": execution.pk},
            status=status.HTTP_201_CREATED,
            headers={"Location": f"{base}/executions/{execution.pk}"},
        )
