"""`/labels[/{label_id}]`: global labels (sysadmins) and project labels (the project's label permissions)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.errors import BadRequest, Forbidden, Unauthorized
from projects.drf import principal_of, project_authorize
from projects.models import Project
from registry.api.filters import label_filter
from registry.api.serializers import LabelReqSerializer, LabelSerializer
from registry.api_selectors.labels import label_get, label_list
from registry.models import Label
from registry.services.labels import label_create, label_delete, label_update


def _project(project_id: int | None) -> Project | None:
    return Project.objects.filter(pk=project_id).first() if project_id else None


class LabelViewSet(viewsets.GenericViewSet):
    # The scope decides: global labels are the system's (sysadmins), project labels the project's.
    permission_required = {
        "list": "anyone",
        "retrieve": "anyone",
        "create": "authenticated",
        "update": "authenticated",
        "destroy": "authenticated",
    }

    def _authorize(self, scope: str, project: Project | None, action: str) -> None:
        principal = principal_of(self.request)
        if scope == Label.PROJECT:
            project_authorize(principal, project, "label", action)
        elif not principal.is_sysadmin:
            raise Unauthorized("authentication required") if principal.is_anonymous else Forbidden()

    @extend_schema(
        operation_id="ListLabels",
        parameters=[OpenApiParameter("name", str), OpenApiParameter("scope", str), OpenApiParameter("project_id", int)],
        responses={200: LabelSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        params = request.query_params
        scope = params.get("scope", "")
        if scope not in (Label.GLOBAL, Label.PROJECT):
            raise BadRequest(f"invalid scope: {scope[:20]}")
        project = None
        if scope == Label.PROJECT:
            project_id = params.get("project_id", "")
            if not project_id.isdigit() or int(project_id) == 0:
                raise BadRequest("must with project ID when to query project labels")
            project = _project(int(project_id))
            self._authorize(scope, project, "list")
        queryset = label_list(scope=scope, project=project)
        if params.get("name"):
            queryset = queryset.filter(name__icontains=params["name"])
        page = self.paginate_queryset(label_filter(queryset, q=params.get("q"), sort=params.get("sort")))
        return self.get_paginated_response(LabelSerializer(page, many=True).data)

    @extend_schema(operation_id="CreateLabel", request=LabelReqSerializer, responses={201: None})
    def create(self, request: Request) -> Response:
        body = LabelReqSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        project = _project(values["project_id"]) if values["scope"] == Label.PROJECT else None
        if values["scope"] == Label.PROJECT and project is not None:
            self._authorize(Label.PROJECT, project, "create")
        elif values["scope"] == Label.GLOBAL:
            self._authorize(Label.GLOBAL, None, "create")
        values = {k: values[k] for k in ("name", "scope", "description", "color")}
        label = label_create(**values, project=project)
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"{request.path.rstrip('/')}/{label.pk}"
        return response

    @extend_schema(operation_id="GetLabelByID", responses={200: LabelSerializer})
    def retrieve(self, request: Request, label_id: int) -> Response:
        label = label_get(label_id=label_id)
        self._authorize(label.scope, label.project, "read")
        return Response(LabelSerializer(label).data)

    @extend_schema(operation_id="UpdateLabel", request=LabelReqSerializer, responses={200: None})
    def update(self, request: Request, label_id: int) -> Response:
        body = LabelReqSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        label = label_get(label_id=label_id)
        self._authorize(label.scope, label.project, "update")
        values = body.validated_data
        label_update(label=label, name=values["name"], description=values["description"], color=values["color"])
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="DeleteLabel", responses={200: None})
    def destroy(self, request: Request, label_id: int) -> Response:
        label = label_get(label_id=label_id)
        self._authorize(label.scope, label.project, "delete")
        label_delete(label=label)
        return Response(status=status.HTTP_200_OK)
