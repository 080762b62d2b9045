"""Operator console for the registry: browse, with digests and sizes read-only; deletes via services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count
from django.template.defaultfilters import filesizeformat

from registry import admin_labels  # noqa: F401 - registers the label admin
from registry.errors import RegistryError
from registry.models import Artifact, Blob, Repository, Tag, Upload
from registry.services.artifacts import repository_update
from registry.services.manifests import manifest_delete
from registry.services.uploads import upload_cancel


class ReadOnlyMixin:
    """Browse only: no add, no edit, and no generic delete (deletes are actions that call services)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class TagInline(ReadOnlyMixin, admin.TabularInline):
    model = Tag
    extra = 0
    fields = readonly_fields = ("name", "push_time", "pull_time")
    can_delete = False


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "artifact_count", "pull_count", "created", "updated")
    # No project filter: its sidebar would list every project. A repository's name starts with its project's.
    search_fields = ("name",)
    list_select_related = ("project",)
    readonly_fields = ("name", "project", "pull_count", "created", "updated")
    fields = ("name", "project", "description", "pull_count", "created", "updated")
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_artifacts=Count("artifacts"))

    @admin.display(description="artifacts", ordering="_artifacts")
    def artifact_count(self, obj: Repository) -> int:
        return obj._artifacts

    def save_model(self, request, obj, form, change):
        repository_update(repository=obj, description=obj.description)  # the only editable field

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # repositories are removed through the API (with their artifacts)


@admin.register(Artifact)
class ArtifactAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "digest",
        "repository",
        "media_type",
        "artifact_type",
        "human_size",
        "tag_list",
        "push_time",
        "pull_time",
    )
    list_filter = ("media_type", "artifact_type")
    search_fields = ("digest", "repository__name", "tags__name")
    list_select_related = ("repository",)
    readonly_fields = (
        "repository",
        "digest",
        "media_type",
        "artifact_type",
        "size",
        "manifest_size",
        "subject_digest",
        "annotations",
        "push_time",
        "pull_time",
        "manifest_text",
    )
    exclude = ("manifest",)
    inlines = [TagInline]
    actions = ["delete_artifacts"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    @admin.display(description="size", ordering="size")
    def human_size(self, obj: Artifact) -> str:
        return filesizeformat(obj.size)

    @admin.display(description="tags")
    def tag_list(self, obj: Artifact) -> str:
        return ", ".join(sorted(t.name for t in obj.tags.all()))

    @admin.display(description="manifest")
    def manifest_text(self, obj: Artifact) -> str:
        return bytes(obj.manifest).decode("utf-8", errors="replace")

    @admin.action(description="Delete selected artifacts (and their tags)")
    def delete_artifacts(self, request, queryset):
        deleted = 0
        for artifact in queryset.select_related("repository"):
            try:
                manifest_delete(repository_name=artifact.repository.name, reference=artifact.digest)
                deleted += 1
            except RegistryError as exc:
                self.message_user(request, f"{artifact}: {exc.message}", messages.ERROR)
        self.message_user(request, f"deleted {deleted} artifact(s)")


@admin.register(Tag)
class TagAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "repository", "artifact_digest", "push_time", "pull_time")
    search_fields = ("name", "repository__name")
    list_select_related = ("repository", "artifact")
    readonly_fields = ("name", "repository", "artifact", "push_time", "pull_time")
    actions = ["delete_tags"]
    show_full_result_count = False

    @admin.display(description="artifact", ordering="artifact__digest")
    def artifact_digest(self, obj: Tag) -> str:
        return obj.artifact.digest

    @admin.action(description="Delete selected tags (artifacts stay)")
    def delete_tags(self, request, queryset):
        for tag in queryset.select_related("repository"):
            manifest_delete(repository_name=tag.repository.name, reference=tag.name)
        self.message_user(request, "tags deleted")


@admin.register(Blob)
class BlobAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("digest", "human_size", "created")
    search_fields = ("digest",)
    readonly_fields = ("digest", "size", "created")
    show_full_result_count = False

    @admin.display(description="size", ordering="size")
    def human_size(self, obj: Blob) -> str:
        return filesizeformat(obj.size)


@admin.register(Upload)
class UploadAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "repository", "owner", "size", "created", "updated")
    search_fields = ("id", "repository__name", "owner")
    list_select_related = ("repository",)
    readonly_fields = ("id", "repository", "owner", "size", "parts", "sha256_so_far", "created", "updated")
    actions = ["cancel_uploads"]
    show_full_result_count = False

    @admin.action(description="Cancel selected uploads (drop their data)")
    def cancel_uploads(self, request, queryset):
        for upload in queryset:
            upload_cancel(upload=upload)
        self.message_user(request, "uploads cancelled")
