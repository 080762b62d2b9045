"""System endpoints: systeminfo, volumes, health, ping, statistics, search, configurations."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import BadRequest, Unprocessable
from common.configuration import ConfigError, config_all
from projects.drf import principal_of
from system import selectors
from system.api import serializers
from system.configuration import config_update
from system.health import health_check
from system.info import system_info, volume_capacity


class SystemInfoView(APIView):
    permission_required = {"get": "anyone"}

    @extend_schema(operation_id="getSystemInfo", tags=["systeminfo"], responses={200: serializers.GeneralInfo})
    def get(self, request: Request) -> Response:
        authenticated = not principal_of(request).is_anonymous
        return Response(system_info(base_url=request.build_absolute_uri("/"), authenticated=authenticated))


class VolumesView(APIView):
    permission_required = {"get": "sysadmin"}

    @extend_schema(operation_id="getVolumes", tags=["systeminfo"], responses={200: serializers.SystemInfo})
    def get(self, request: Request) -> Response:
        return Response({"storage": volume_capacity()})


class HealthView(APIView):
    permission_required = {"get": "anyone"}

    @extend_schema(operation_id="getHealth", tags=["health"], responses={200: serializers.OverallHealthStatus})
    def get(self, request: Request) -> Response:
        return Response(health_check())


class PingView(APIView):
    permission_required = {"get": "anyone"}

    @extend_schema(operation_id="getPing", tags=["ping"], responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse("Pong", content_type="text/plain")


class StatisticView(APIView):
    permission_required = {"get": "authenticated"}

    @extend_schema(operation_id="getStatistic", tags=["statistic"], responses={200: serializers.Statistic})
    def get(self, request: Request) -> Response:
        return Response(selectors.statistic_get(principal=principal_of(request)))


class SearchView(APIView):
    permission_required = {"get": "anyone"}

    @extend_schema(
        operation_id="search",
        tags=["search"],
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, required=True, description="Project and repository name.")],
        responses={200: serializers.Search},
    )
    def get(self, request: Request) -> Response:
        q = request.query_params.get("q", "")
        if not q:
            raise Unprocessable("q in query is required")
        principal = principal_of(request)
        projects = selectors.search_projects(principal=principal, q=q)
        return Response(
            {
                "project": serializers.ProjectSerializer(projects, many=True, context={"principal": principal}).data,
                "repository": selectors.search_repositories(principal=principal, q=q),
            }
        )


class ConfigurationsView(APIView):
    permission_required = {"get": "sysadmin", "put": "sysadmin"}
    read_only_exempt = True  # Harbor: PUT /configurations works in read-only mode, or it could not be left

    @extend_schema(
        operation_id="getConfigurations", tags=["configure"], responses={200: serializers.ConfigurationsResponse}
    )
    def get(self, request: Request) -> Response:
        items = config_all()
        return Response({key: {"value": value, "editable": editable} for key, (value, editable) in items.items()})

    @extend_schema(
        operation_id="updateConfigurations",
        tags=["configure"],
        request=serializers.Configurations,
        responses={200: None},
    )
    def put(self, request: Request) -> Response:
        try:
            config_update(changes=request.data, user=request.user)
        except ConfigError as exc:
            raise BadRequest(str(exc)) from exc
        return Response(status=200)
