"""`/repositories` and `/projects/{project_name}/repositories[/{repository_name}]`."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from projects.drf import principal_of
from registry.api.base import RepositoryPathMixin
from registry.api.filters import repository_filter
from registry.api.serializers import RepositoryReqSerializer, RepositorySerializer
from registry.api_selectors.repositories import repository_list, repository_list_visible
from registry.services.artifacts import repository_delete, repository_update


class AllRepositoriesViewSet(viewsets.GenericViewSet):
    serializer_class = RepositorySerializer
    permission_required = {"list": "anyone"}

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        queryset = repository_list_visible(principal=principal_of(self.request))
        return repository_filter(queryset, q=params.get("q"), sort=params.get("sort"))

    @extend_schema(operation_id="listAllRepositories")
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RepositorySerializer(page, many=True).data)


class RepositoryViewSet(RepositoryPathMixin, viewsets.GenericViewSet):
    serializer_class = RepositorySerializer
    permission_required = {
        "list": ("repository", "list"),
        "retrieve": ("repository", "read"),
        "update": ("repository", "update"),
        "destroy": ("repository", "delete"),
    }

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        queryset = repository_list(project=self.get_permission_project())
        return repository_filter(queryset, q=params.get("q"), sort=params.get("sort"))

    @extend_schema(operation_id="listRepositories")
    def list(self, request: Request, project_name: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RepositorySerializer(page, many=True).data)

    @extend_schema(operation_id="getRepository")
    def retrieve(self, request: Request, project_name: str, repository_name: str) -> Response:
        return Response(RepositorySerializer(self.get_repository(counted=True)).data)

    @extend_schema(operation_id="updateRepository", request=RepositoryReqSerializer, responses={200: None})
    def update(self, request: Request, project_name: str, repository_name: str) -> Response:
        body = RepositoryReqSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        repository_update(repository=self.get_repository(), description=body.validated_data["description"])
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteRepository", responses={200: None})
    def destroy(self, request: Request, project_name: str, repository_name: str) -> Response:
        repository_delete(repository=self.get_repository())
        return Response(status=status.HTTP_200_OK)
