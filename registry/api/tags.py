"""`/projects/{p}/repositories/{r}/artifacts/{reference}/tags[/{tag_name}]`: list, create, delete."""

from __future__ import annotations

from urllib.parse import quote

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.errors import Unprocessable
from registry.api.base import RepositoryPathMixin, flag
from registry.api.filters import tag_filter
from registry.api.serializers import NewTagSerializer, TagSerializer
from registry.api_selectors import artifacts as artifact_selectors
from registry.services.artifacts import tag_create, tag_delete


class TagViewSet(RepositoryPathMixin, viewsets.GenericViewSet):
    permission_required = {
        "list": ("tag", "list"),
        "create": ("tag", "create"),
        "destroy": ("tag", "delete"),
    }

    @extend_schema(
        operation_id="listTags",
        parameters=[OpenApiParameter("with_immutable_status", bool, default=False)],
        responses={200: TagSerializer(many=True)},
    )
    def list(self, request: Request, project_name: str, repository_name: str, reference: str) -> Response:
        artifact = self.get_artifact()
        params = request.query_params
        page = self.paginate_queryset(
            tag_filter(artifact_selectors.tag_list(artifact=artifact), q=params.get("q"), sort=params.get("sort"))
        )
        if flag(request, "with_immutable_status", False):
            immutable = artifact_selectors.tags_immutable(repository=artifact.repository, names={t.name for t in page})
            for tag in page:
                tag.immutable = tag.name in immutable
        return self.get_paginated_response(TagSerializer(page, many=True).data)

    @extend_schema(operation_id="createTag", request=NewTagSerializer, responses={201: None})
    def create(self, request: Request, project_name: str, repository_name: str, reference: str) -> Response:
        if not isinstance(request.data, dict) or "name" not in request.data:
            raise Unprocessable("name in body is required")  # go-swagger: NewTag.name is required
        body = NewTagSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        name = body.validated_data["name"]
        tag_create(artifact=self.get_artifact(), name=name)
        # Harbor's swagger declares Location on a 201; there is no single-tag GET, so it points at the
        # artifact addressed by the new tag (getArtifact).
        artifacts = request.path.rsplit("/", 2)[0]
        return Response(status=status.HTTP_201_CREATED, headers={"Location": f"{artifacts}/{quote(name, safe='')}"})

    @extend_schema(operation_id="deleteTag", responses={200: None})
    def destroy(self, request: Request, project_name: str, repository_name: str, reference: str, tag_name: str):  # noqa: ANN201
        tag_delete(artifact=self.get_artifact(), name=tag_name)
        return Response(status=status.HTTP_200_OK)
