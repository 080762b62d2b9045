"""`/robots` (robot accounts v2) and `/permissions` (what robots may be granted), as in Harbor's swagger.

A robot's secret leaves the server twice at most: in CreateRobot's and RefreshSec's response bodies
(sent with `Cache-Control: no-store`). No other response, and no log line, carries it.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.errors import BadRequest
from common.api.filters import Field, queryset_query, queryset_sort
from common.api.params import id_param
from common.api.query import Match, query_parse
from projects.api.users.serializers import PermissionSerializer
from projects.drf import principal_of
from projects.models import Robot
from projects.robots import selectors, services
from projects.robots.catalogue import LEVEL_PROJECT, LEVEL_SYSTEM, LEVELS

# Harbor's robot list keys: `Level` and `ProjectID` pick the scope (as its UI sends them), the rest filter.
ROBOT_QUERY_FIELDS = {
    "Level": Field("level"),
    "level": Field("level"),
    "ProjectID": Field("project_id", "int"),
    "project_id": Field("project_id", "int"),
    "name": Field("name"),
    "description": Field("description"),
    "disable": Field("disabled", "bool"),
}
ROBOT_SORT_FIELDS = {
    "id": "pk",
    "name": "name",
    "creation_time": "created",
    "update_time": "updated",
    "expires_at": "expires_at",
    "duration": "duration",
}
ROBOT_ID = OpenApiParameter("robot_id", OpenApiTypes.INT64, OpenApiParameter.PATH, description="Robot ID")
NO_STORE = {"Cache-Control": "no-store"}


class AccessSerializer(serializers.Serializer):
    resource = serializers.CharField()
    action = serializers.CharField()
    effect = serializers.CharField(required=False, allow_blank=True)


class RobotPermissionSerializer(serializers.Serializer):
    kind = serializers.CharField()
    namespace = serializers.CharField()
    access = AccessSerializer(many=True)


class RobotCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    secret = serializers.CharField(required=False, allow_blank=True, write_only=True, trim_whitespace=False)
    level = serializers.CharField()
    disable = serializers.BooleanField(required=False, default=False)
    duration = serializers.IntegerField(required=False, default=0)
    permissions = RobotPermissionSerializer(many=True, required=False, default=list)


class RobotUpdateSerializer(serializers.Serializer):
    """The `Robot` body of UpdateRobot; `secret` and the read-only fields are ignored."""

    name = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True, default="")
    level = serializers.CharField()
    disable = serializers.BooleanField(required=False, default=False)
    duration = serializers.IntegerField(required=False, allow_null=True, default=None)
    permissions = RobotPermissionSerializer(many=True, required=False, default=list)


class RobotSecSerializer(serializers.Serializer):
    secret = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class RobotCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    secret = serializers.CharField()
    creation_time = serializers.DateTimeField()
    expires_at = serializers.IntegerField()


class PermissionsSerializer(serializers.Serializer):
    system = PermissionSerializer(many=True)
    project = PermissionSerializer(many=True)


def _expires_at(robot: Robot) -> int:
    return -1 if robot.expires_at is None else int(robot.expires_at.timestamp())


class RobotSerializer(serializers.ModelSerializer):
    """Harbor's `Robot`, without `secret`: a secret is shown only when created or refreshed."""

    name = serializers.CharField(source="full_name", read_only=True)
    editable = serializers.SerializerMethodField()
    disable = serializers.BooleanField(source="disabled", read_only=True)
    expires_at = serializers.SerializerMethodField()
    permissions = serializers.SerializerMethodField()
    creation_time = serializers.DateTimeField(source="created", read_only=True)
    update_time = serializers.DateTimeField(source="updated", read_only=True)

    class Meta:
        model = Robot
        fields = [
            "id",
            "name",
            "description",
            "level",
            "duration",
            "editable",
            "disable",
            "expires_at",
            "permissions",
            "creator_type",
            "creator_ref",
            "creation_time",
            "update_time",
        ]

    def get_editable(self, obj: Robot) -> bool:
        return True  # every robot here is a v2 robot

    def get_expires_at(self, obj: Robot) -> int:
        return _expires_at(obj)

    @extend_schema_field(RobotPermissionSerializer(many=True))
    def get_permissions(self, obj: Robot) -> list[dict]:
        # The stored project id binds grants to the project row; Harbor's shape has no such field.
        return [
            {"kind": e.get("kind"), "namespace": e.get("namespace"), "access": e.get("access", [])}
            for e in obj.permissions or []
        ]


def _robot_id(raw: str) -> int:
    return id_param(raw, "robot id")


def _scope(q: str | None) -> tuple[str, int | None]:
    """Harbor's ListRobot: no `Level` lists system robots; `Level=project` needs `ProjectID`."""
    terms = {term.key.lower(): term for term in query_parse(q)}
    level_term = terms.get("level")
    if level_term is None:
        return LEVEL_SYSTEM, None
    if level_term.match is not Match.EXACT or level_term.values[0] not in LEVELS:
        raise BadRequest("bad request error level input")
    if level_term.values[0] == LEVEL_SYSTEM:
        return LEVEL_SYSTEM, None
    project_term = terms.get("projectid") or terms.get("project_id")
    if project_term is None:
        raise BadRequest("must with project ID when to query project robots")
    if project_term.match is not Match.EXACT or not project_term.values[0].isdigit():
        raise BadRequest("Project ID must be int type.")
    return LEVEL_PROJECT, int(project_term.values[0])


class RobotViewSet(viewsets.GenericViewSet):
    serializer_class = RobotSerializer
    # Who may manage robots depends on the robot's level and project: the selectors and services decide.
    permission_required = {
        "list": "authenticated",
        "create": "authenticated",
        "retrieve": "authenticated",
        "update": "authenticated",
        "refresh": "authenticated",
        "destroy": "authenticated",
    }

    @extend_schema(operation_id="ListRobot", responses={200: RobotSerializer(many=True)})
    def list(self, request: Request) -> Response:
        params = request.query_params
        level, project_id = _scope(params.get("q"))
        queryset = selectors.robot_list(principal=principal_of(request), level=level, project_id=project_id)
        queryset = queryset_query(queryset, q=params.get("q"), fields=ROBOT_QUERY_FIELDS)
        queryset = queryset_sort(queryset, sort=params.get("sort"), fields=ROBOT_SORT_FIELDS, default=("-created",))
        page = self.paginate_queryset(queryset.order_by(*queryset.query.order_by, "pk"))
        return self.get_paginated_response(RobotSerializer(page, many=True).data)

    @extend_schema(operation_id="CreateRobot", request=RobotCreateSerializer, responses={201: RobotCreatedSerializer})
    def create(self, request: Request) -> Response:
        data = RobotCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        robot, secret = services.robot_create(
            principal=principal_of(request),
            name=values["name"],
            level=values["level"],
            permissions=values["permissions"],
            description=values["description"],
            duration=values["duration"],
            disabled=values["disable"],
            secret=values.get("secret") or None,
        )
        body = {
            "id": robot.pk,
            "name": robot.full_name,
            "secret": secret,
            "creation_time": robot.created,
            "expires_at": _expires_at(robot),
        }
        location = {"Location": f"/api/v2.0/robots/{robot.pk}"}
        return Response(RobotCreatedSerializer(body).data, status=status.HTTP_201_CREATED, headers=location | NO_STORE)

    @extend_schema(operation_id="GetRobotByID", parameters=[ROBOT_ID])
    def retrieve(self, request: Request, robot_id: str) -> Response:
        robot = selectors.robot_get(principal=principal_of(request), robot_id=_robot_id(robot_id))
        return Response(RobotSerializer(robot).data)

    @extend_schema(
        operation_id="UpdateRobot", parameters=[ROBOT_ID], request=RobotUpdateSerializer, responses={200: None}
    )
    def update(self, request: Request, robot_id: str) -> Response:
        data = RobotUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        services.robot_update(
            principal=principal_of(request),
            robot_id=_robot_id(robot_id),
            name=values["name"],
            level=values["level"],
            permissions=values["permissions"],
            description=values["description"],
            duration=values["duration"],
            disabled=values["disable"],
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(
        operation_id="RefreshSec",
        parameters=[ROBOT_ID],
        request=RobotSecSerializer,
        responses={200: RobotSecSerializer},
    )
    def refresh(self, request: Request, robot_id: str) -> Response:
        data = RobotSecSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        secret = services.robot_secret_refresh(
            principal=principal_of(request),
            robot_id=_robot_id(robot_id),
            secret=data.validated_data.get("secret") or None,
        )
        return Response({"secret": secret}, headers=NO_STORE)

    @extend_schema(operation_id="DeleteRobot", parameters=[ROBOT_ID], responses={200: None})
    def destroy(self, request: Request, robot_id: str) -> Response:
        services.robot_delete(principal=principal_of(request), robot_id=_robot_id(robot_id))
        return Response(status=status.HTTP_200_OK)


class PermissionsView(APIView):
    """The catalogue robots are granted from: system admins see both levels, project admins the project one."""

    permission_required = {"get": "authenticated"}

    @extend_schema(operation_id="getPermissions", responses={200: PermissionsSerializer})
    def get(self, request: Request) -> Response:
        return Response(selectors.robot_catalogue(principal=principal_of(request)))
