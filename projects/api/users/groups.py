"""`/usergroups`: list, create, get, rename, delete, search (writes and reads for sysadmins; search for all)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.bodies import body_validated
from common.api.errors import BadRequest
from common.api.params import id_param
from projects import accounts
from projects.api.users.serializers import (
    UserGroupReqSerializer,
    UserGroupSearchItemSerializer,
    UserGroupSerializer,
)
from projects.drf import principal_of

GROUP_ID = OpenApiParameter("group_id", int, OpenApiParameter.PATH)


def _id(value: str) -> int:
    return id_param(value, "group id")


class UserGroupViewSet(viewsets.GenericViewSet):
    serializer_class = UserGroupSerializer
    # Past authentication, projects.accounts checks the system resource `user-group` (sysadmins;
    # system robots granted it); search is open to every authenticated caller, as in Harbor.
    permission_required = {
        "list": "authenticated",
        "create": "authenticated",
        "retrieve": "authenticated",
        "update": "authenticated",
        "destroy": "authenticated",
        "search": "authenticated",
    }

    @extend_schema(
        operation_id="listUserGroups",
        parameters=[OpenApiParameter("ldap_group_dn", str), OpenApiParameter("group_name", str)],
        responses={200: UserGroupSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        params = request.query_params
        queryset = accounts.usergroup_list(
            principal=principal_of(request),
            group_name=params.get("group_name", ""),
            ldap_group_dn=params.get("ldap_group_dn", ""),
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(UserGroupSerializer(page, many=True).data)

    @extend_schema(operation_id="createUserGroup", request=UserGroupSerializer, responses={201: None})
    def create(self, request: Request) -> Response:
        values = body_validated(UserGroupReqSerializer, request)
        group = accounts.usergroup_create(
            principal=principal_of(request),
            name=values["group_name"],
            group_type=values["group_type"],
            ldap_group_dn=values["ldap_group_dn"],
        )
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"{request.path.rstrip('/')}/{group.pk}"
        return response

    @extend_schema(operation_id="getUserGroup", parameters=[GROUP_ID], responses={200: UserGroupSerializer})
    def retrieve(self, request: Request, group_id: str) -> Response:
        group = accounts.usergroup_get(principal=principal_of(request), group_id=_id(group_id))
        return Response(UserGroupSerializer(group).data)

    @extend_schema(
        operation_id="updateUserGroup", parameters=[GROUP_ID], request=UserGroupSerializer, responses={200: None}
    )
    def update(self, request: Request, group_id: str) -> Response:
        name = body_validated(UserGroupReqSerializer, request)["group_name"]
        accounts.usergroup_update(principal=principal_of(request), group_id=_id(group_id), name=name)
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteUserGroup", parameters=[GROUP_ID], responses={200: None})
    def destroy(self, request: Request, group_id: str) -> Response:
        accounts.usergroup_delete(principal=principal_of(request), group_id=_id(group_id))
        return Response(status=status.HTTP_200_OK)

    @extend_schema(
        operation_id="searchUserGroups",
        parameters=[OpenApiParameter("groupname", str, required=True)],
        responses={200: UserGroupSearchItemSerializer(many=True)},
    )
    def search(self, request: Request) -> Response:
        name = request.query_params.get("groupname", "")
        if not name:
            raise BadRequest("need to provide groupname to search user group")
        page = self.paginate_queryset(accounts.usergroup_search(group_name=name))
        return self.get_paginated_response(UserGroupSearchItemSerializer(page, many=True).data)
