"""Harbor v2.0 JSON shapes for users and user groups (field names as in the swagger).

Request serializers list exactly the fields an operation accepts: anything else in the body
(`sysadmin_flag`, `user_id`, `password` on a profile update...) is ignored, never assigned.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from projects.models import UserGroup, UserProfile


def _profile(user) -> UserProfile | None:  # noqa: ANN001
    try:
        return user.harbor_profile
    except UserProfile.DoesNotExist:
        return None


class UserRespSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="pk", read_only=True)
    username = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True)
    realname = serializers.SerializerMethodField()
    comment = serializers.SerializerMethodField()
    sysadmin_flag = serializers.BooleanField(source="is_superuser", read_only=True)
    admin_role_in_auth = serializers.SerializerMethodField()
    creation_time = serializers.DateTimeField(source="date_joined", read_only=True)
    update_time = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = [
            "user_id",
            "username",
            "email",
            "realname",
            "comment",
            "sysadmin_flag",
            "admin_role_in_auth",
            "creation_time",
            "update_time",
        ]
        read_only_fields = fields

    def get_realname(self, obj) -> str:  # noqa: ANN001
        profile = _profile(obj)
        return profile.realname if profile else ""

    def get_comment(self, obj) -> str:  # noqa: ANN001
        profile = _profile(obj)
        return profile.comment if profile else ""

    def get_admin_role_in_auth(self, obj) -> bool:  # noqa: ANN001
        return False  # set by an authenticator (LDAP admin group); local users never have it

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_update_time(self, obj) -> str:  # noqa: ANN001
        profile = _profile(obj)
        value = profile.updated if profile else obj.date_joined
        return serializers.DateTimeField().to_representation(value)


class UserSearchRespItemSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(source="pk")
    username = serializers.CharField()


class UserCreationReqSerializer(serializers.Serializer):
    username = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")
    email = serializers.CharField(required=False, allow_blank=True, default="")
    password = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")
    realname = serializers.CharField(required=False, allow_blank=True, default="")
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class UserProfileSerializer(serializers.Serializer):
    email = serializers.CharField(required=False, allow_blank=True, default="")
    realname = serializers.CharField(required=False, allow_blank=True, default="")
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class UserSysAdminFlagSerializer(serializers.Serializer):
    sysadmin_flag = serializers.BooleanField()


class PasswordReqSerializer(serializers.Serializer):
    old_password = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")
    new_password = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")


class PermissionSerializer(serializers.Serializer):
    resource = serializers.CharField()
    action = serializers.CharField()


class UserGroupSerializer(serializers.ModelSerializer):
    # Harbor's `UserGroup` serves as both request body and response: nothing is required in its shape.
    group_name = serializers.CharField(source="name", required=False)
    group_type = serializers.IntegerField(required=False)
    ldap_group_dn = serializers.CharField(required=False)

    class Meta:
        model = UserGroup
        fields = ["id", "group_name", "group_type", "ldap_group_dn"]


class UserGroupSearchItemSerializer(serializers.ModelSerializer):
    group_name = serializers.CharField(source="name")
    group_type = serializers.IntegerField()

    class Meta:
        model = UserGroup
        fields = ["id", "group_name", "group_type"]


class UserGroupReqSerializer(serializers.Serializer):
    group_name = serializers.CharField(required=False, allow_blank=True, default="")
    group_type = serializers.IntegerField(required=False, allow_null=True, default=None)
    ldap_group_dn = serializers.CharField(required=False, allow_blank=True, default="")
