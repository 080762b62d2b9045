"""`/projects`: list, existence check, create, get, update, delete, `_deletable`, `summary`."""

from __future__ import annotations

from django.db import IntegrityError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.bodies import body_validated
from common.api.errors import BadRequest, Conflict, Forbidden, NotFound
from common.api.filters import Field, queryset_query, queryset_sort
from common.configuration import config_get
from projects import selectors, services
from projects.api.serializers import (
    ProjectDeletableSerializer,
    ProjectReqSerializer,
    ProjectSerializer,
    ProjectSummarySerializer,
)
from projects.drf import principal_of
from projects.models import Project, Quota, Role
from projects.permissions import can, can_system
from projects.quotas import quota_fold

PROJECT_QUERY_FIELDS = {
    "name": Field("name"),
    "public": Field("public", "bool"),
    "owner": Field("owner__username"),
    "project_id": Field("pk", "int"),
    "creation_time": Field("created", "datetime"),
    "update_time": Field("updated", "datetime"),
}
PROJECT_SORT_FIELDS = {"name": "name", "creation_time": "created", "update_time": "updated", "project_id": "pk"}


def _is_name(request: Request) -> bool | None:
    header = request.headers.get("X-Is-Resource-Name")
    return None if header is None else header.lower() == "true"


def _visibility(values: dict) -> tuple[bool | None, dict[str, str]]:
    """`public` from metadata (Harbor's way) or the deprecated top-level flag; the other metadata keys."""
    metadata = dict(values.get("metadata") or {})
    public = values.get("public")
    if "public" in metadata:
        public = metadata.pop("public") == "true"
    return public, metadata


class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ProjectSerializer
    lookup_url_kwarg = "project_name_or_id"
    lookup_value_regex = "[^/]+"
    permission_required = {
        "list": "anyone",
        "head": "anyone",
        "create": "authenticated",
        "retrieve": ("project", "read"),
        "update": ("project", "update"),
        "destroy": ("project", "delete"),
        "deletable": ("project", "delete"),
        "summary": ("project", "read"),
    }

    def get_permission_project(self) -> Project | None:
        return selectors.project_get(name_or_id=self.kwargs[self.lookup_url_kwarg], is_name=_is_name(self.request))

    def get_object(self) -> Project:
        project = self.get_permission_project()
        if project is None:
            raise NotFound("project not found")
        return project

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "principal": principal_of(self.request)}

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        queryset = selectors.project_list(principal=principal_of(self.request))
        if params.get("name"):
            queryset = queryset.filter(name__icontains=params["name"])
        if params.get("public") not in (None, ""):
            queryset = queryset.filter(public=params["public"].lower() == "true")
        if params.get("owner"):
            queryset = queryset.filter(owner__username=params["owner"])
        queryset = queryset_query(queryset, q=params.get("q"), fields=PROJECT_QUERY_FIELDS)
        return queryset_sort(queryset, sort=params.get("sort"), fields=PROJECT_SORT_FIELDS, default=("name",))

    def paginate_queryset(self, queryset):  # noqa: ANN001, ANN201
        page = super().paginate_queryset(queryset)
        principal_of(self.request).preload_roles(page)
        return page

    @extend_schema(
        operation_id="listProjects",
        parameters=[
            OpenApiParameter("name", str, description="The name of project."),
            OpenApiParameter("public", bool, description="The project is public or private."),
            OpenApiParameter("owner", str, description="The name of project owner."),
        ],
    )
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(operation_id="getProject")
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        operation_id="headProject",
        parameters=[OpenApiParameter("project_name", str, required=True)],
        request=None,
        responses={200: None, 404: None},
    )
    def head(self, request: Request) -> Response:
        name = request.query_params.get("project_name", "")
        if not name:
            raise BadRequest("project_name is required")
        if not Project.objects.filter(name=name).exists():
            raise NotFound(f"project {name} not found")
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="createProject", request=ProjectReqSerializer, responses={201: None})
    def create(self, request: Request) -> Response:
        principal = principal_of(request)
        if config_get("project_creation_restriction") == "adminonly" and not principal.is_sysadmin:
            raise Forbidden("Only system admin can create project")
        if principal.robot is not None and not can_system(principal, "create", "project"):
            raise Forbidden("this robot may not create projects")
        values = body_validated(ProjectReqSerializer, request)
        public, metadata = _visibility(values)
        try:
            project = services.project_create(
                name=values.get("project_name", ""),
                public=bool(public),
                owner=principal.user,  # a robot creates ownerless projects
                metadata=metadata,
                # Only sysadmins choose a quota (as Harbor): anyone else gets the default, unlimited.
                storage_limit=values.get("storage_limit") if principal.is_sysadmin else None,
            )
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        except IntegrityError as exc:
            raise Conflict(f"project {values.get('project_name')} already exists") from exc
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v2.0/projects/{project.pk}"
        return response

    @extend_schema(operation_id="updateProject", request=ProjectReqSerializer, responses={200: None})
    def update(self, request: Request, *args, **kwargs) -> Response:
        values = body_validated(ProjectReqSerializer, request)
        public, metadata = _visibility(values)
        # Harbor's updateProject ignores storage_limit: quotas are the sysadmins' (updateQuota), and a
        # project admin must not lift their own.
        services.project_update(project=self.get_object(), public=public, metadata=metadata)
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteProject", responses={200: None})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.project_delete(project=self.get_object())
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="getProjectDeletable", responses={200: ProjectDeletableSerializer})
    @action(detail=True, methods=["get"], url_path="_deletable")
    def deletable(self, request: Request, *args, **kwargs) -> Response:
        project = self.get_object()
        if project.repositories.exists():
            return Response({"deletable": False, "message": "the project contains repositories"})
        return Response({"deletable": True, "message": ""})

    @extend_schema(operation_id="getProjectSummary", responses={200: ProjectSummarySerializer})
    @action(detail=True, methods=["get"])
    def summary(self, request: Request, *args, **kwargs) -> Response:
        project = self.get_object()
        principal = principal_of(request)
        summary: dict = {"repo_count": project.repositories.count()}
        # Harbor: the member counts need member list, the quota needs quota read (a public project's
        # readers see neither).
        if can(principal, "list", "member", project=project):
            counts = selectors.member_role_counts(project=project)
            summary.update(
                {
                    "project_admin_count": counts.get(Role.PROJECT_ADMIN, 0),
                    "maintainer_count": counts.get(Role.MAINTAINER, 0),
                    "developer_count": counts.get(Role.DEVELOPER, 0),
                    "guest_count": counts.get(Role.GUEST, 0),
                    "limited_guest_count": counts.get(Role.LIMITED_GUEST, 0),
                }
            )
        if can(principal, "read", "quota", project=project):
            quota_fold(project_id=project.pk)  # pending pushes' deltas into `used`
            quota = Quota.objects.filter(project=project).first()
            summary["quota"] = {
                "hard": {"storage": quota.hard if quota else -1},
                "used": {"storage": quota.used if quota else 0},
            }
        return Response(summary)
