"""`/projects/{p}/repositories/{r}/artifacts[...]`: list, get, delete, copy, accessories, additions, labels."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.errors import BadRequest, Unprocessable
from projects.models import Project
from registry.api.base import RepositoryPathMixin, flag, repository_name_decode
from registry.api.filters import accessory_filter, artifact_filter, wants_base
from registry.api.serializers import AccessorySerializer, ArtifactSerializer, LabelReqSerializer
from registry.api_selectors.additions import addition_get
from registry.api_selectors.artifacts import artifact_get, artifact_list, reference_parse
from registry.api_selectors.details import ArtifactOptions, accessory_views, artifact_details
from registry.api_selectors.labels import label_usable
from registry.api_selectors.repositories import repository_get
from registry.errors import NameInvalid
from registry.names import RepositoryName
from registry.selectors import accessory_list
from registry.services.artifacts import artifact_copy, artifact_delete, artifact_label_add, artifact_label_remove

WITH_PARAMETERS = [
    OpenApiParameter("with_tag", bool, default=True),
    OpenApiParameter("with_label", bool, default=False),
    OpenApiParameter("with_scan_overview", bool, default=False),
    OpenApiParameter("with_immutable_status", bool, default=False),
    OpenApiParameter("with_accessory", bool, default=False),
]


def artifact_options(request: Request) -> ArtifactOptions:
    """The with_* flags, with the swagger's defaults (tags on, everything else off)."""
    return ArtifactOptions(
        with_tag=flag(request, "with_tag", True),
        with_label=flag(request, "with_label", False),
        with_accessory=flag(request, "with_accessory", False),
        with_immutable_status=flag(request, "with_immutable_status", False),
        with_scan_overview=flag(request, "with_scan_overview", False),
        with_signature=flag(request, "with_signature", False),
    )


def copy_source(value: str | None) -> tuple[RepositoryName, str]:
    """`from=project/repository:tag` or `project/repository@digest` -> (repository name, reference)."""
    if value is None:  # go-swagger: a missing required parameter is 422
        raise Unprocessable("from in query is required: project/repository:tag or project/repository@digest")
    name, at, digest = value.partition("@")
    if not at:
        name, colon, tag = value.rpartition(":")
        if not colon or "/" in tag:
            raise BadRequest(f"invalid input: {value[:300]} (a tag or digest is required)")
    reference = digest if at else tag
    reference_parse(reference)  # BAD_REQUEST for a malformed tag or digest
    return _name(name), reference


def _name(value: str) -> RepositoryName:
    try:
        return RepositoryName.parse(value)
    except NameInvalid as exc:
        raise BadRequest(f"invalid repository name: {exc.message}") from exc


class ArtifactViewSet(RepositoryPathMixin, viewsets.GenericViewSet):
    permission_required = {
        "list": ("artifact", "list"),
        "retrieve": ("artifact", "read"),
        "destroy": ("artifact", "delete"),
        "copy": ("artifact", "create"),
    }

    @extend_schema(
        operation_id="listArtifacts", parameters=[*WITH_PARAMETERS], responses={200: ArtifactSerializer(many=True)}
    )
    def list(self, request: Request, project_name: str, repository_name: str) -> Response:
        params = request.query_params
        queryset = artifact_list(repository=self.get_repository(), base=wants_base(params.get("q")))
        page = self.paginate_queryset(artifact_filter(queryset, q=params.get("q"), sort=params.get("sort")))
        details = artifact_details(artifacts=page, options=artifact_options(request))
        return self.get_paginated_response(ArtifactSerializer(details, many=True).data)

    @extend_schema(
        operation_id="getArtifact",
        parameters=[*WITH_PARAMETERS, OpenApiParameter("with_signature", bool)],
        responses={200: ArtifactSerializer},
    )
    def retrieve(self, request: Request, project_name: str, repository_name: str, reference: str) -> Response:
        details = artifact_details(artifacts=[self.get_artifact()], options=artifact_options(request))
        return Response(ArtifactSerializer(details[0]).data)

    @extend_schema(operation_id="deleteArtifact", responses={200: None})
    def destroy(self, request: Request, project_name: str, repository_name: str, reference: str) -> Response:
        artifact_delete(artifact=self.get_artifact())
        return Response(status=status.HTTP_200_OK)

    @extend_schema(
        operation_id="CopyArtifact",
        parameters=[OpenApiParameter("from", str, required=True)],
        request=None,
        responses={201: None},
    )
    def copy(self, request: Request, project_name: str, repository_name: str) -> Response:
        source_name, reference = copy_source(request.query_params.get("from"))
        source_project = Project.objects.filter(name=source_name.project).first()
        # Harbor asks for artifact read on the source and artifact create on the target; pull and push too.
        self.authorize(source_project, "artifact", "read")
        self.authorize(source_project, "repository", "pull")
        self.authorize(self.get_permission_project(), "repository", "push")
        source_repository = repository_get(project=source_project, name=source_name.full.partition("/")[2])
        source = artifact_get(repository=source_repository, reference=reference)
        artifact_copy(source=source, target=_name(f"{project_name}/{repository_name_decode(repository_name)}"))
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"{request.path.rstrip('/')}/{reference}"
        return response


class AccessoryViewSet(RepositoryPathMixin, viewsets.GenericViewSet):
    permission_required = {"list": ("accessory", "list")}

    @extend_schema(operation_id="listAccessories", responses={200: AccessorySerializer(many=True)})
    def list(self, request: Request, project_name: str, repository_name: str, reference: str) -> Response:
        subject = self.get_artifact()
        params = request.query_params
        queryset = accessory_filter(accessory_list(artifact=subject), q=params.get("q"), sort=params.get("sort"))
        page = self.paginate_queryset(queryset)
        views = accessory_views(page, {accessory.pk: subject for accessory in page})
        return self.get_paginated_response(AccessorySerializer(views, many=True).data)


class AdditionViewSet(RepositoryPathMixin, viewsets.GenericViewSet):
    permission_required = {"retrieve": ("artifact-addition", "read")}

    @extend_schema(operation_id="getAddition", responses={200: str})
    def retrieve(self, request: Request, project_name: str, repository_name: str, reference: str, addition: str):  # noqa: ANN201
        found = addition_get(artifact=self.get_artifact(), addition=addition)
        return HttpResponse(found.content, content_type=found.content_type)


class ArtifactLabelViewSet(RepositoryPathMixin, viewsets.GenericViewSet):
    permission_required = {"create": ("artifact-label", "create"), "destroy": ("artifact-label", "delete")}

    @extend_schema(operation_id="addLabel", request=LabelReqSerializer, responses={200: None})
    def create(self, request: Request, project_name: str, repository_name: str, reference: str) -> Response:
        body = LabelReqSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if not body.validated_data.get("id"):
            raise BadRequest("the label id is required")
        label = label_usable(label_id=body.validated_data["id"], project=self.get_permission_project())
        artifact_label_add(artifact=self.get_artifact(), label=label)
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="removeLabel", responses={200: None})
    def destroy(self, request: Request, project_name: str, repository_name: str, reference: str, label_id: int):  # noqa: ANN201
        artifact_label_remove(artifact=self.get_artifact(), label_id=label_id)
        return Response(status=status.HTTP_200_OK)
