"""Harbor v2.0 JSON shapes for projects (field names as in the swagger)."""

from __future__ import annotations

from rest_framework import serializers

from projects.models import Project

# Project metadata keys Harbor accepts, all string-valued.
METADATA_KEYS = frozenset(
    {
        "public",
        "enable_content_trust",
        "enable_content_trust_cosign",
        "prevent_vul",
        "severity",
        "auto_scan",
        "auto_sbom_generation",
        "reuse_sys_cve_allowlist",
        "retention_id",
        "proxy_speed_kb",
        "max_upstream_conn",
    }
)
BOOLEAN_KEYS = frozenset(METADATA_KEYS - {"severity", "retention_id", "proxy_speed_kb", "max_upstream_conn"})
SEVERITIES = frozenset({"none", "low", "medium", "high", "critical"})
# Set by the retention API when a policy is created; writing it by hand could point a project
# at another project's policy (Harbor refuses it too).
MANAGED_KEYS = frozenset({"retention_id"})


def metadata_validate(value: dict) -> dict[str, str]:
    """Only known keys, string values, booleans spelled "true"/"false", known severities."""
    if not isinstance(value, dict):
        raise serializers.ValidationError("metadata must be an object")
    cleaned: dict[str, str] = {}
    for key, raw in value.items():
        if key not in METADATA_KEYS:
            raise serializers.ValidationError(f"unknown metadata key {key!r}")
        if key in MANAGED_KEYS:
            raise serializers.ValidationError(f"{key} is managed by its own API and cannot be set here")
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        if key in BOOLEAN_KEYS and text not in ("true", "false"):
            raise serializers.ValidationError(f'{key} must be "true" or "false"')
        if key == "severity" and text not in SEVERITIES:
            raise serializers.ValidationError(f"severity must be one of {', '.join(sorted(SEVERITIES))}")
        cleaned[key] = text
    return cleaned


class ProjectMetadataField(serializers.DictField):
    def to_internal_value(self, data):  # noqa: ANN001, ANN201
        return metadata_validate(data)


class ProjectReqSerializer(serializers.Serializer):
    project_name = serializers.CharField(max_length=255, required=False)
    public = serializers.BooleanField(required=False, allow_null=True)
    metadata = ProjectMetadataField(required=False)
    cve_allowlist = serializers.DictField(required=False)
    storage_limit = serializers.IntegerField(required=False, allow_null=True, min_value=-1)
    registry_id = serializers.IntegerField(required=False, allow_null=True)


class ProjectSerializer(serializers.ModelSerializer):
    project_id = serializers.IntegerField(source="pk", read_only=True)
    owner_id = serializers.IntegerField(read_only=True)
    owner_name = serializers.SerializerMethodField()
    creation_time = serializers.DateTimeField(source="created", read_only=True)
    update_time = serializers.DateTimeField(source="updated", read_only=True)
    deleted = serializers.SerializerMethodField()
    togglable = serializers.SerializerMethodField()
    registry_id = serializers.SerializerMethodField()
    repo_count = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()
    current_user_role_id = serializers.SerializerMethodField()
    current_user_role_ids = serializers.SerializerMethodField()
    cve_allowlist = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "project_id",
            "owner_id",
            "name",
            "registry_id",
            "creation_time",
            "update_time",
            "deleted",
            "owner_name",
            "togglable",
            "current_user_role_id",
            "current_user_role_ids",
            "repo_count",
            "metadata",
            "cve_allowlist",
        ]

    def get_owner_name(self, obj: Project) -> str:
        return obj.owner.get_username() if obj.owner_id else ""

    def get_deleted(self, obj: Project) -> bool:
        return False

    def get_togglable(self, obj: Project) -> bool:
        return True

    def get_registry_id(self, obj: Project) -> int:
        # Harbor's int64 without x-nullable: 0 is "no upstream registry" (not a proxy-cache project).
        return 0

    def get_repo_count(self, obj: Project) -> int:
        count = getattr(obj, "repo_count", None)
        return count if count is not None else obj.repositories.count()

    def get_metadata(self, obj: Project) -> dict[str, str]:
        return {**obj.metadata, "public": "true" if obj.public else "false"}

    def _roles(self, obj: Project) -> list[int]:
        principal = self.context.get("principal")
        return sorted(principal.roles_in(obj)) if principal is not None else []

    def get_current_user_role_id(self, obj: Project) -> int:
        roles = self._roles(obj)
        # Harbor's ids are not ordered by power; project admin (1) first, then maintainer (4), developer (2)...
        for role in (1, 4, 2, 3, 5):
            if role in roles:
                return role
        return 0

    def get_current_user_role_ids(self, obj: Project) -> list[int]:
        return self._roles(obj)

    def get_cve_allowlist(self, obj: Project) -> dict:
        return {"project_id": obj.pk, "items": [], "creation_time": obj.created, "update_time": obj.updated}


class ProjectDeletableSerializer(serializers.Serializer):
    """Harbor's ProjectDeletable (documents the `_deletable` response)."""

    deletable = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)


class ProjectSummaryQuotaSerializer(serializers.Serializer):
    hard = serializers.DictField(child=serializers.IntegerField())
    used = serializers.DictField(child=serializers.IntegerField())


class ProjectSummarySerializer(serializers.Serializer):
    """Harbor's ProjectSummary (documents the `summary` response): counts need member list, quota quota read."""

    repo_count = serializers.IntegerField()
    project_admin_count = serializers.IntegerField(required=False)
    maintainer_count = serializers.IntegerField(required=False)
    developer_count = serializers.IntegerField(required=False)
    guest_count = serializers.IntegerField(required=False)
    limited_guest_count = serializers.IntegerField(required=False)
    quota = ProjectSummaryQuotaSerializer(required=False)
