"""`/system/gc[...]`: garbage collection history, log, stop and schedule (Harbor's "gc" tag).

System resource "garbage-collection": sysadmins, and system robots granted the action (Harbor's
RequireSystemAccess), checked through the permission oracle for every call.
"""

from __future__ import annotations

import json

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.bodies import body_validated
from common.api.pagination import HarborPagination
from common.models import Execution
from common.schedules import schedule_object
from projects.accounts import system_authorize
from projects.drf import principal_of
from registry.api_selectors.gc import gc_get, gc_history_list, harbor_status
from registry.services.gc_jobs import GC_JOB_NAME, gc_schedule_get, gc_schedule_set, gc_stop

RESOURCE = "garbage-collection"
SCHEDULE_TYPES = ("Hourly", "Daily", "Weekly", "Custom", "Manual", "None", "Schedule")


class GCScheduleObjSerializer(serializers.Serializer):
    """Harbor's ScheduleObj."""

    type = serializers.ChoiceField(choices=SCHEDULE_TYPES)
    cron = serializers.CharField(required=False, allow_blank=True, default="")
    next_scheduled_time = serializers.DateTimeField(read_only=True, required=False)


class GCParametersSerializer(serializers.Serializer):
    delete_untagged = serializers.BooleanField(required=False, default=False)
    dry_run = serializers.BooleanField(required=False, default=False)
    workers = serializers.IntegerField(required=False, default=1, min_value=1, max_value=5)


class GCScheduleSerializer(serializers.Serializer):
    """Harbor's Schedule (the request body of createGCSchedule / updateGCSchedule)."""

    schedule = GCScheduleObjSerializer()
    parameters = GCParametersSerializer(required=False)


class GCHistorySerializer(serializers.Serializer):
    """Harbor's GCHistory, for one run (an Execution of kind "gc")."""

    id = serializers.IntegerField(source="pk")
    job_name = serializers.SerializerMethodField()
    job_kind = serializers.CharField(source="trigger")
    job_parameters = serializers.SerializerMethodField()
    schedule = serializers.SerializerMethodField()
    job_status = serializers.SerializerMethodField()
    deleted = serializers.SerializerMethodField()
    creation_time = serializers.DateTimeField(source="started")
    update_time = serializers.DateTimeField(source="updated")

    def get_job_name(self, obj: Execution) -> str:
        return GC_JOB_NAME

    def get_job_parameters(self, obj: Execution) -> str:
        return json.dumps(obj.parameters or {}, sort_keys=True)

    @extend_schema_field(GCScheduleObjSerializer)
    def get_schedule(self, obj: Execution) -> dict:
        # Harbor: the trigger, title-cased, as the schedule type of a run (Manual, Schedule).
        # next_scheduled_time is left out: a run has none, and Harbor's date-time is not nullable.
        return {"type": obj.trigger.title(), "cron": ""}

    def get_job_status(self, obj: Execution) -> str:
        return harbor_status(obj.status)

    def get_deleted(self, obj: Execution) -> bool:
        return False


def _schedule_history(schedule: dict | None) -> dict:
    """getGCSchedule: the schedule in GCHistory's shape ({} when nothing is scheduled, as Harbor)."""
    if schedule is None:
        return {}
    return {
        "job_name": GC_JOB_NAME,
        "job_kind": schedule["type"],
        "job_parameters": json.dumps(schedule["kwargs"], sort_keys=True),
        "schedule": schedule_object(schedule),
        "job_status": "",
        "deleted": False,
        "creation_time": schedule["update_time"],
        "update_time": schedule["update_time"],
    }


class _GCView(APIView):
    """Authenticated callers, then the oracle on ("garbage-collection", action) for the method."""

    permission_required = {"get": "authenticated", "post": "authenticated", "put": "authenticated"}
    actions: dict[str, str] = {}

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        method = request.method.lower()
        # HEAD asks what GET would; a method without an action (OPTIONS) is refused by the oracle.
        action = self.actions.get(method) or (self.actions.get("get") if method == "head" else None)
        system_authorize(principal_of(request), action or "-", RESOURCE)


class GCHistoryView(_GCView):
    """Harbor's GC history: every run, newest first."""

    actions = {"get": "list"}
    pagination_class = HarborPagination

    @extend_schema(operation_id="getGCHistory", tags=["gc"], responses={200: GCHistorySerializer(many=True)})
    def get(self, request: Request) -> Response:
        params = request.query_params
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(gc_history_list(q=params.get("q"), sort=params.get("sort")), request, self)
        return paginator.get_paginated_response(GCHistorySerializer(page, many=True).data)


class GCView(_GCView):
    """One GC run: read it, or stop it after its current batch."""

    actions = {"get": "read", "put": "stop"}

    @extend_schema(operation_id="getGC", tags=["gc"], responses={200: GCHistorySerializer})
    def get(self, request: Request, gc_id: int) -> Response:
        return Response(GCHistorySerializer(gc_get(gc_id=gc_id)).data)

    @extend_schema(operation_id="stopGC", tags=["gc"], request=None, responses={200: None})
    def put(self, request: Request, gc_id: int) -> Response:
        gc_stop(execution=gc_get(gc_id=gc_id))
        return Response(status=status.HTTP_200_OK)


class GCLogView(_GCView):
    """The log of one GC run: what was (or, dry run, would be) deleted."""

    actions = {"get": "read"}

    @extend_schema(operation_id="getGCLog", tags=["gc"], responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request: Request, gc_id: int) -> HttpResponse:
        return HttpResponse(gc_get(gc_id=gc_id).log, content_type="text/plain; charset=utf-8")


class GCScheduleView(_GCView):
    """The GC schedule; type Manual runs a collection now."""

    actions = {"get": "read", "post": "create", "put": "update"}

    @extend_schema(operation_id="getGCSchedule", tags=["gc"], responses={200: GCHistorySerializer})
    def get(self, request: Request) -> Response:
        return Response(_schedule_history(gc_schedule_get()))

    def _set(self, request: Request) -> Execution | None:
        body = body_validated(GCScheduleSerializer, request)
        return gc_schedule_set(
            type=body["schedule"]["type"],
            cron=body["schedule"].get("cron", ""),
            parameters=dict(body.get("parameters") or {}),
        )

    @extend_schema(operation_id="createGCSchedule", tags=["gc"], request=GCScheduleSerializer, responses={201: None})
    def post(self, request: Request) -> Response:
        execution = self._set(request)
        response = Response(status=status.HTTP_201_CREATED)
        if execution is not None:  # Manual: where to follow the run
            response["Location"] = f"{request.path.removesuffix('/schedule')}/{execution.pk}"
        return response

    @extend_schema(operation_id="updateGCSchedule", tags=["gc"], request=GCScheduleSerializer, responses={200: None})
    def put(self, request: Request) -> Response:
        self._set(request)
        return Response(status=status.HTTP_200_OK)
