"""`/users`: list, create, get, update profile, delete, current user, permissions, search, sysadmin, password."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from common.api.bodies import body_validated
from common.api.errors import BadRequest
from common.api.filters import Field, queryset_query, queryset_sort
from common.api.params import id_param
from projects import accounts
from projects.api.authentication import SessionAuthentication
from projects.api.users.serializers import (
    PasswordReqSerializer,
    PermissionSerializer,
    UserCreationReqSerializer,
    UserProfileSerializer,
    UserRespSerializer,
    UserSearchRespItemSerializer,
    UserSysAdminFlagSerializer,
)
from projects.drf import principal_of

# Never `password` or anything reaching it: a key outside these is a 400.
USER_QUERY_FIELDS = {
    "user_id": Field("pk", "int"),
    "username": Field("username"),
    "email": Field("email"),
    "realname": Field("harbor_profile__realname"),
    "comment": Field("harbor_profile__comment"),
    "sysadmin_flag": Field("is_superuser", "bool"),
    "creation_time": Field("date_joined", "datetime"),
    "update_time": Field("harbor_profile__updated", "datetime"),
}
USER_SORT_FIELDS = {
    "user_id": "pk",
    "username": "username",
    "email": "email",
    "realname": "harbor_profile__realname",
    "sysadmin_flag": "is_superuser",
    "creation_time": "date_joined",
    "update_time": "harbor_profile__updated",
}


USER_ID = OpenApiParameter("user_id", int, OpenApiParameter.PATH)


def _id(value: str) -> int:
    return id_param(value, "user id")


def _bool(value: str | None, name: str) -> bool:
    if value in (None, "", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise BadRequest(f"{name} must be true or false")


def _carries_session(request: Request) -> bool:
    """A browser session with its CSRF token (Harbor's UI sign-up page) rather than a plain API call."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    session = getattr(request._request, "session", None)
    if not key or session is None or not session.exists(key):
        return False
    try:
        SessionAuthentication().enforce_csrf(request)
    except exceptions.PermissionDenied:
        return False
    return True


class UserViewSet(viewsets.GenericViewSet):
    serializer_class = UserRespSerializer
    # Past authentication, projects.accounts decides as Harbor does: the system resource `user`
    # (sysadmins; system robots granted it), "yourself" for reads and edits, self-registration.
    permission_required = {
        "list": "authenticated",
        "create": "anyone",
        "retrieve": "authenticated",
        "update": "authenticated",
        "destroy": "authenticated",
        "current": "authenticated",
        "current_permissions": "authenticated",
        "search": "authenticated",
        "sysadmin": "authenticated",
        "password": "authenticated",
    }

    def get_queryset(self):  # noqa: ANN201
        params = self.request.query_params
        queryset = accounts.user_list(
            principal=principal_of(self.request), username=params.get("username", ""), email=params.get("email", "")
        )
        queryset = queryset_query(queryset, q=params.get("q"), fields=USER_QUERY_FIELDS)
        return queryset_sort(queryset, sort=params.get("sort"), fields=USER_SORT_FIELDS, default=accounts.USER_ORDER)

    @extend_schema(operation_id="listUsers", responses={200: UserRespSerializer(many=True)})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(UserRespSerializer(page, many=True).data)

    @extend_schema(operation_id="createUser", request=UserCreationReqSerializer, responses={201: None})
    def create(self, request: Request) -> Response:
        values = body_validated(UserCreationReqSerializer, request)
        user = accounts.user_create(
            principal=principal_of(request), carries_session=_carries_session(request), **values
        )
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"{request.path.rstrip('/')}/{user.pk}"
        return response

    @extend_schema(operation_id="getUser", parameters=[USER_ID], responses={200: UserRespSerializer})
    def retrieve(self, request: Request, user_id: str) -> Response:
        user = accounts.user_get_for(principal=principal_of(request), user_id=_id(user_id))
        return Response(UserRespSerializer(user).data)

    @extend_schema(
        operation_id="updateUserProfile", parameters=[USER_ID], request=UserProfileSerializer, responses={200: None}
    )
    def update(self, request: Request, user_id: str) -> Response:
        values = body_validated(UserProfileSerializer, request)
        accounts.user_profile_update(principal=principal_of(request), user_id=_id(user_id), **values)
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteUser", parameters=[USER_ID], responses={200: None})
    def destroy(self, request: Request, user_id: str) -> Response:
        accounts.user_delete(principal=principal_of(request), user_id=_id(user_id))
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="getCurrentUserInfo", responses={200: UserRespSerializer})
    def current(self, request: Request) -> Response:
        return Response(UserRespSerializer(accounts.user_current(principal=principal_of(request))).data)

    @extend_schema(
        operation_id="getCurrentUserPermissions",
        parameters=[OpenApiParameter("scope", str), OpenApiParameter("relative", bool)],
        responses={200: PermissionSerializer(many=True)},
    )
    def current_permissions(self, request: Request) -> Response:
        params = request.query_params
        permissions = accounts.user_permissions(
            principal=principal_of(request),
            scope=params.get("scope", ""),
            relative=_bool(params.get("relative"), "relative"),
        )
        return Response(permissions)

    @extend_schema(
        operation_id="searchUsers",
        parameters=[OpenApiParameter("username", str, required=True)],
        responses={200: UserSearchRespItemSerializer(many=True)},
    )
    def search(self, request: Request) -> Response:
        username = request.query_params.get("username", "")
        if not username:
            raise BadRequest("username is required")
        page = self.paginate_queryset(accounts.user_search(username=username))
        return self.get_paginated_response(UserSearchRespItemSerializer(page, many=True).data)

    @extend_schema(
        operation_id="setUserSysAdmin", parameters=[USER_ID], request=UserSysAdminFlagSerializer, responses={200: None}
    )
    def sysadmin(self, request: Request, user_id: str) -> Response:
        values = body_validated(UserSysAdminFlagSerializer, request)
        accounts.user_sysadmin_set(
            principal=principal_of(request), user_id=_id(user_id), sysadmin=values["sysadmin_flag"]
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(
        operation_id="updateUserPassword", parameters=[USER_ID], request=PasswordReqSerializer, responses={200: None}
    )
    def password(self, request: Request, user_id: str) -> Response:
        values = body_validated(PasswordReqSerializer, request)
        user = accounts.user_password_update(principal=principal_of(request), user_id=_id(user_id), **values)
        if isinstance(request.successful_authenticator, SessionAuthentication) and request.user.pk == user.pk:
            update_session_auth_hash(request, user)  # keep the caller's own browser session
        return Response(status=status.HTTP_200_OK)
