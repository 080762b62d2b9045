"""Harbor's JSON shapes for the system endpoints, named as its swagger's definitions (for the OpenAPI document)."""

from __future__ import annotations

from rest_framework import serializers

from common.configuration import ITEMS

# Search returns the projects API's Project objects; it renders them with the same serializer.
from projects.api.serializers import ProjectSerializer


class GeneralInfo(serializers.Serializer):
    banner_message = serializers.CharField(required=False)
    current_time = serializers.DateTimeField(required=False)
    registry_url = serializers.CharField(required=False)
    external_url = serializers.CharField(required=False)
    auth_mode = serializers.CharField(required=False)
    primary_auth_mode = serializers.BooleanField(required=False)
    project_creation_restriction = serializers.CharField(required=False)
    self_registration = serializers.BooleanField(required=False)
    has_ca_root = serializers.BooleanField(required=False)
    harbor_version = serializers.CharField(required=False)
    registry_storage_provider_name = serializers.CharField(required=False)
    read_only = serializers.BooleanField(required=False)
    oidc_provider_name = serializers.CharField(required=False)


class Storage(serializers.Serializer):
    total = serializers.IntegerField()
    free = serializers.IntegerField()


class SystemInfo(serializers.Serializer):
    storage = Storage(many=True)


class ComponentHealthStatus(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.CharField()
    error = serializers.CharField(required=False)


class OverallHealthStatus(serializers.Serializer):
    status = serializers.CharField()
    components = ComponentHealthStatus(many=True)


class Statistic(serializers.Serializer):
    private_project_count = serializers.IntegerField()
    private_repo_count = serializers.IntegerField()
    public_project_count = serializers.IntegerField()
    public_repo_count = serializers.IntegerField()
    total_project_count = serializers.IntegerField()
    total_repo_count = serializers.IntegerField()
    total_storage_consumption = serializers.IntegerField()


class SearchRepository(serializers.Serializer):
    project_id = serializers.IntegerField()
    project_name = serializers.CharField()
    project_public = serializers.BooleanField()
    repository_name = serializers.CharField()
    pull_count = serializers.IntegerField()
    artifact_count = serializers.IntegerField()


class Search(serializers.Serializer):
    project = ProjectSerializer(many=True)
    repository = SearchRepository(many=True)


class BoolConfigItem(serializers.Serializer):
    value = serializers.BooleanField()
    editable = serializers.BooleanField()


class IntegerConfigItem(serializers.Serializer):
    value = serializers.IntegerField()
    editable = serializers.BooleanField()


class StringConfigItem(serializers.Serializer):
    value = serializers.CharField()
    editable = serializers.BooleanField()


_ITEM_SERIALIZERS = {bool: BoolConfigItem, int: IntegerConfigItem, str: StringConfigItem}
_VALUE_FIELDS = {bool: serializers.BooleanField, int: serializers.IntegerField, str: serializers.CharField}

# One field per configuration item, so the document lists exactly the keys this registry has.
ConfigurationsResponse = type(
    "ConfigurationsResponse",
    (serializers.Serializer,),
    {key: _ITEM_SERIALIZERS[item.kind](required=False) for key, item in ITEMS.items()},
)
Configurations = type(
    "Configurations",
    (serializers.Serializer,),
    {key: _VALUE_FIELDS[item.kind](required=False) for key, item in ITEMS.items() if item.editable},
)
