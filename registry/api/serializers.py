"""Harbor v2.0 JSON shapes for repositories, artifacts, tags, accessories and labels (swagger field names).

Following Harbor's generated models: arrays that were not asked for (or are empty) are null, and a
time that never happened (an artifact never pulled) is Go's zero time.
"""

from __future__ import annotations

from datetime import datetime

from rest_framework import serializers

from registry.api_selectors.details import ArtifactView, ReferenceView
from registry.models import Label, Repository, Tag

ZERO_TIME = "0001-01-01T00:00:00.000Z"
# Harbor's Platform model spells these two keys with the quotes (swagger: '''os.version''').
_PLATFORM_KEYS = (
    ("architecture", "architecture"),
    ("os", "os"),
    ("os.version", "'os.version'"),
    ("os.features", "'os.features'"),
    ("variant", "variant"),
)


def _time(value: datetime | None) -> str:
    return ZERO_TIME if value is None else serializers.DateTimeField().to_representation(value)


class RepositorySerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="pk", read_only=True)
    artifact_count = serializers.IntegerField(read_only=True, default=0)
    creation_time = serializers.DateTimeField(source="created", read_only=True)
    update_time = serializers.DateTimeField(source="updated", read_only=True)

    class Meta:
        model = Repository
        fields = [
            "id",
            "project_id",
            "name",
            "description",
            "artifact_count",
            "pull_count",
            "creation_time",
            "update_time",
        ]


class RepositoryReqSerializer(serializers.Serializer):
    """updateRepository's body: a Repository, of which only the description is taken."""

    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=65536)


class TagSerializer(serializers.ModelSerializer):
    push_time = serializers.DateTimeField(read_only=True)
    pull_time = serializers.SerializerMethodField()
    immutable = serializers.SerializerMethodField()

    class Meta:
        model = Tag
        fields = ["id", "repository_id", "artifact_id", "name", "push_time", "pull_time", "immutable"]

    def get_pull_time(self, obj: Tag) -> str:
        return _time(obj.pull_time)

    def get_immutable(self, obj: Tag) -> bool:
        return bool(getattr(obj, "immutable", False))


class NewTagSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, allow_blank=False)


class LabelSerializer(serializers.ModelSerializer):
    project_id = serializers.SerializerMethodField()
    creation_time = serializers.DateTimeField(source="created", read_only=True)
    update_time = serializers.DateTimeField(source="updated", read_only=True)

    class Meta:
        model = Label
        fields = ["id", "name", "description", "color", "scope", "project_id", "creation_time", "update_time"]

    def get_project_id(self, obj: Label) -> int:
        return obj.project_id or 0


class LabelReqSerializer(serializers.Serializer):
    """A Label body (createLabel, updateLabel, addLabel): every field optional, checked by the service."""

    id = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=1024)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=65536)
    color = serializers.CharField(required=False, allow_blank=True, default="", max_length=32)
    scope = serializers.CharField(required=False, allow_blank=True, default="", max_length=8)
    project_id = serializers.IntegerField(required=False, default=0)


class AccessorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    artifact_id = serializers.IntegerField()
    subject_artifact_id = serializers.IntegerField()
    subject_artifact_digest = serializers.CharField()
    subject_artifact_repo = serializers.CharField()
    size = serializers.IntegerField()
    digest = serializers.CharField()
    type = serializers.CharField()
    icon = serializers.CharField()
    creation_time = serializers.DateTimeField()


def _platform(platform: dict | None) -> dict | None:
    if not isinstance(platform, dict):
        return None
    return {key: platform[source] for source, key in _PLATFORM_KEYS if platform.get(source)}


def _reference(ref: ReferenceView) -> dict:
    return _without_empty(
        {
            "parent_id": ref.parent_id,
            "child_id": ref.child_id,
            "child_digest": ref.child_digest,
            "platform": _platform(ref.platform),
            "annotations": ref.annotations,
            "urls": ref.urls,
        },
        ("platform", "annotations", "urls"),
    )


def _without_empty(body: dict, keys: tuple[str, ...]) -> dict:
    """`body` without those of `keys` that are None or empty: Harbor's swagger has no x-nullable on
    them, and Harbor's go-swagger models leave empty ones out (omitempty) rather than send null."""
    return {k: v for k, v in body.items() if k not in keys or v}


class PlatformSerializer(serializers.Serializer):
    architecture = serializers.CharField()
    os = serializers.CharField()
    variant = serializers.CharField()


class ReferenceSerializer(serializers.Serializer):
    parent_id = serializers.IntegerField()
    child_id = serializers.IntegerField()
    child_digest = serializers.CharField()
    platform = PlatformSerializer(required=False)
    annotations = serializers.DictField(child=serializers.CharField(), required=False)
    urls = serializers.ListField(child=serializers.CharField(), required=False)


class AdditionLinkSerializer(serializers.Serializer):
    href = serializers.CharField()
    absolute = serializers.BooleanField()


class ArtifactSerializer(serializers.Serializer):
    """The Artifact definition, rendered from an ArtifactView (all data fetched beforehand).

    The declared fields document the shape; `to_representation` writes it.
    """

    id = serializers.IntegerField()
    type = serializers.CharField()
    media_type = serializers.CharField()
    manifest_media_type = serializers.CharField()
    artifact_type = serializers.CharField()
    project_id = serializers.IntegerField()
    repository_id = serializers.IntegerField()
    repository_name = serializers.CharField()
    digest = serializers.CharField()
    size = serializers.IntegerField()
    icon = serializers.CharField()
    push_time = serializers.DateTimeField()
    pull_time = serializers.DateTimeField()
    extra_attrs = serializers.DictField()
    annotations = serializers.DictField(child=serializers.CharField())
    # Left out when empty or not asked for (with_tag, with_label, with_accessory), never null.
    references = ReferenceSerializer(many=True, required=False)
    tags = TagSerializer(many=True, required=False)
    addition_links = serializers.DictField(child=AdditionLinkSerializer())
    labels = LabelSerializer(many=True, required=False)
    scan_overview = serializers.DictField(required=False)
    accessories = AccessorySerializer(many=True, required=False)

    def to_representation(self, instance: ArtifactView) -> dict:
        artifact, kind = instance.artifact, instance.kind
        body = {
            "id": artifact.pk,
            "type": kind.type,
            "media_type": kind.media_type,
            "manifest_media_type": kind.manifest_media_type,
            "artifact_type": kind.artifact_type,
            "project_id": artifact.repository.project_id,
            "repository_id": artifact.repository_id,
            "repository_name": artifact.repository.name,
            "digest": artifact.digest,
            "size": artifact.size,
            "icon": "",
            "push_time": _time(artifact.push_time),
            "pull_time": _time(artifact.pull_time),
            "extra_attrs": instance.extra_attrs,
            "annotations": artifact.annotations or {},
            "references": [_reference(r) for r in instance.references],
            "tags": TagSerializer(instance.tags, many=True).data if instance.tags else None,
            "addition_links": instance.addition_links,
            "labels": LabelSerializer(instance.labels, many=True).data if instance.labels else None,
            "accessories": AccessorySerializer(instance.accessories, many=True).data if instance.accessories else None,
        }
        body = _without_empty(body, ("references", "tags", "labels", "accessories"))
        if instance.scan_overview is not None:
            body["scan_overview"] = instance.scan_overview
        return body
