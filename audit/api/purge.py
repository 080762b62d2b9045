"""`/system/purgeaudit[...]`: Harbor's audit log retention purge (runs, log, stop, schedule); system-level."""

from __future__ import annotations

import json

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import selectors, services
from audit.api.serializers import (
    PURGE_JOB_NAME,
    PurgeExecHistorySerializer,
    PurgeScheduleHistorySerializer,
    PurgeScheduleSerializer,
)
from common.api.bodies import body_validated
from common.api.errors import BadRequest
from common.api.params import id_param
from common.models import Execution
from common.schedules import schedule_get, schedule_object
from projects.accounts import system_authorize
from projects.drf import principal_of

RESOURCE = "purge-audit"  # Harbor's rbac.ResourcePurgeAuditLog
PURGE_ID = OpenApiParameter(
    "purge_id", OpenApiTypes.INT64, OpenApiParameter.PATH, description="The ID of the purge log"
)


def _require(request: Request, action: str) -> None:
    # Harbor's RequireSystemAccess: sysadmins, and system robots granted the pair.
    system_authorize(principal_of(request), action, RESOURCE)


def _purge_id(raw: str) -> int:
    return id_param(raw, "purge id")


class PurgeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = PurgeExecHistorySerializer
    # System rules are decided per action by can_system (purge-audit list/read/stop).
    permission_required = {"list": "authenticated", "retrieve": "authenticated", "update": "authenticated"}

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        return selectors.purge_execution_list(q=params.get("q"), sort=params.get("sort"))

    def get_object(self) -> Execution:
        return selectors.purge_execution_get(execution_id=_purge_id(self.kwargs["purge_id"]))

    @extend_schema(operation_id="getPurgeHistory", tags=["purge"])
    def list(self, request: Request, *args, **kwargs) -> Response:
        _require(request, "list")
        return super().list(request, *args, **kwargs)

    @extend_schema(operation_id="getPurgeJob", tags=["purge"], parameters=[PURGE_ID])
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        _require(request, "read")
        return Response(PurgeExecHistorySerializer(self.get_object()).data)

    @extend_schema(operation_id="stopPurge", tags=["purge"], parameters=[PURGE_ID], request=None, responses={200: None})
    def update(self, request: Request, *args, **kwargs) -> Response:
        _require(request, "stop")
        services.audit_purge_stop(execution=self.get_object())
        return Response(status=status.HTTP_200_OK)


class PurgeLogView(APIView):
    permission_required = {"get": "authenticated"}

    @extend_schema(
        operation_id="getPurgeJobLog",
        tags=["purge"],
        parameters=[PURGE_ID],
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    def get(self, request: Request, purge_id: str) -> HttpResponse:
        _require(request, "read")
        execution = selectors.purge_execution_get(execution_id=_purge_id(purge_id))
        return HttpResponse(execution.log, content_type="text/plain; charset=utf-8")


class PurgeScheduleView(APIView):
    permission_required = {"get": "authenticated", "post": "authenticated", "put": "authenticated"}

    @extend_schema(operation_id="getPurgeSchedule", tags=["purge"], responses={200: PurgeScheduleHistorySerializer})
    def get(self, request: Request) -> Response:
        _require(request, "read")
        schedule = schedule_get(name=services.PURGE_SCHEDULE)
        if schedule is None:
            return Response({})  # nothing scheduled: an empty ExecHistory, as getGCSchedule answers
        history = {
            "job_name": PURGE_JOB_NAME,
            "job_kind": schedule["cron"],
            "job_parameters": json.dumps(schedule["kwargs"].get("parameters", {}), sort_keys=True),
            "schedule": schedule_object(schedule),
            "job_status": "Scheduled" if schedule["enabled"] else "Paused",
            "deleted": False,
            "update_time": schedule["update_time"],
        }
        return Response(PurgeScheduleHistorySerializer(history).data)

    @extend_schema(
        operation_id="createPurgeSchedule", tags=["purge"], request=PurgeScheduleSerializer, responses={201: None}
    )
    def post(self, request: Request) -> Response:
        _require(request, "create")
        body = body_validated(PurgeScheduleSerializer, request)
        schedule, parameters = body["schedule"], body.get("parameters")
        if schedule["type"] == services.SCHEDULE_MANUAL:
            execution = services.audit_purge_start(parameters=parameters)
            location = request.path.rstrip("/").rsplit("/", 1)[0] + f"/{execution.pk}"
            return Response(status=status.HTTP_201_CREATED, headers={"Location": location})
        services.audit_purge_schedule_set(
            schedule_type=schedule["type"], cron=schedule.get("cron"), parameters=parameters
        )
        return Response(status=status.HTTP_201_CREATED, headers={"Location": request.path})

    @extend_schema(
        operation_id="updatePurgeSchedule", tags=["purge"], request=PurgeScheduleSerializer, responses={200: None}
    )
    def put(self, request: Request) -> Response:
        _require(request, "update")
        body = body_validated(PurgeScheduleSerializer, request)
        schedule = body["schedule"]
        if schedule["type"] == services.SCHEDULE_MANUAL:
            raise BadRequest("a schedule can't be updated to Manual: create a manual run instead")
        services.audit_purge_schedule_set(
            schedule_type=schedule["type"], cron=schedule.get("cron"), parameters=body.get("parameters")
        )
        return Response(status=status.HTTP_200_OK)
