"""`/projects/{project_name_or_id}/members` and `/projects/{project_name_or_id}/metadatas`."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.params import id_param
from projects import members as services
from projects.api.serializers import metadata_validate
from projects.drf import ProjectScopedMixin
from projects.models import Member, Role

# --- serializers ------------------------------------------------------------------------------


class UserEntitySerializer(serializers.Serializer):
    user_id = serializers.IntegerField(required=False, allow_null=True)
    username = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class UserGroupRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False, allow_null=True)
    group_name = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    group_type = serializers.IntegerField(required=False, allow_null=True)
    ldap_group_dn = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class ProjectMemberSerializer(serializers.Serializer):
    """Harbor's ProjectMember: only these fields are read (a project_id or owner in the body is ignored)."""

    role_id = serializers.IntegerField(required=False, allow_null=True)
    member_user = UserEntitySerializer(required=False, allow_null=True)
    member_group = UserGroupRefSerializer(required=False, allow_null=True)


class RoleRequestSerializer(serializers.Serializer):
    role_id = serializers.IntegerField(required=False, allow_null=True)


class ProjectMemberEntitySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    project_id = serializers.IntegerField()
    entity_name = serializers.SerializerMethodField()
    role_name = serializers.SerializerMethodField()
    role_id = serializers.IntegerField(source="role")
    entity_id = serializers.SerializerMethodField()
    entity_type = serializers.SerializerMethodField()

    def get_entity_name(self, obj: Member) -> str:
        return obj.user.get_username() if obj.user_id else obj.group.name

    def get_role_name(self, obj: Member) -> str:
        return Role(obj.role).label

    def get_entity_id(self, obj: Member) -> int:
        return obj.user_id or obj.group_id

    def get_entity_type(self, obj: Member) -> str:
        return "u" if obj.user_id else "g"


# --- views ------------------------------------------------------------------------------------


def _member_id(raw: str) -> int:
    return id_param(raw, "member id")


class ProjectMemberViewSet(ProjectScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ProjectMemberEntitySerializer
    permission_required = {
        "list": ("member", "list"),
        "create": ("member", "create"),
        "retrieve": ("member", "read"),
        "update": ("member", "update"),
        "destroy": ("member", "delete"),
    }

    def get_queryset(self):  # noqa: ANN201
        return services.member_list(project=self.project, entityname=self.request.query_params.get("entityname"))

    def get_object(self) -> Member:
        return services.member_get(project=self.project, member_id=_member_id(self.kwargs["mid"]))

    @extend_schema(operation_id="listProjectMembers")
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(operation_id="getProjectMember")
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(operation_id="createProjectMember", request=ProjectMemberSerializer, responses={201: None})
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = ProjectMemberSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = services.member_create(
            project=self.project,
            role_id=data.validated_data.get("role_id"),
            member_user=_given(data.validated_data.get("member_user")),
            member_group=_given(data.validated_data.get("member_group")),
        )
        return Response(status=status.HTTP_201_CREATED, headers={"Location": f"{request.path}/{member.pk}"})

    @extend_schema(operation_id="updateProjectMember", request=RoleRequestSerializer, responses={200: None})
    def update(self, request: Request, *args, **kwargs) -> Response:
        data = RoleRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.member_update(member=self.get_object(), role_id=data.validated_data.get("role_id"))
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteProjectMember", responses={200: None})
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        services.member_delete(member=self.get_object())
        return Response(status=status.HTTP_200_OK)


def _given(spec: dict | None) -> dict | None:
    """A member_user / member_group with at least one non-empty field, else None."""
    given = {key: value for key, value in (spec or {}).items() if value}
    return given or None


class ProjectMetadataViewSet(ProjectScopedMixin, viewsets.ViewSet):
    permission_required = {
        "list": ("metadata", "list"),
        "create": ("metadata", "create"),
        "retrieve": ("metadata", "read"),
        "update": ("metadata", "update"),
        "destroy": ("metadata", "delete"),
    }

    @extend_schema(operation_id="listProjectMetadatas", responses={200: dict})
    def list(self, request: Request, *args, **kwargs) -> Response:
        return Response(services.project_metadata(project=self.project))

    @extend_schema(operation_id="addProjectMetadatas", request=dict, responses={200: None})
    def create(self, request: Request, *args, **kwargs) -> Response:
        services.project_metadata_add(project=self.project, values=metadata_validate(request.data))
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="getProjectMetadata", responses={200: dict})
    def retrieve(self, request: Request, *args, meta_name: str, **kwargs) -> Response:
        return Response(services.project_metadata_get(project=self.project, name=meta_name))

    @extend_schema(operation_id="updateProjectMetadata", request=dict, responses={200: None})
    def update(self, request: Request, *args, meta_name: str, **kwargs) -> Response:
        values = metadata_validate(request.data)
        services.project_metadata_update(project=self.project, name=meta_name, values=values)
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteProjectMetadata", responses={200: None})
    def destroy(self, request: Request, *args, meta_name: str, **kwargs) -> Response:
        services.project_metadata_delete(project=self.project, name=meta_name)
        return Response(status=status.HTTP_200_OK)
