"""Operator console for projects and members; creation goes through the service."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from projects.models import Member, Project, Quota, UserGroup
from projects.services import project_create


class MemberInline(admin.TabularInline):
    model = Member
    extra = 0
    autocomplete_fields = ("user", "group")


class QuotaInline(admin.StackedInline):
    """Quota and usage; `used` is kept by the push path and the reconcile job, never typed in."""

    model = Quota
    can_delete = False
    fields = ("hard", "used_display", "updated")
    readonly_fields = ("used_display", "updated")

    @admin.display(description="used")
    def used_display(self, obj: Quota) -> str:
        return filesizeformat(obj.used)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "public", "owner", "created")
    list_filter = ("public",)
    search_fields = ("name",)
    list_select_related = ("owner",)
    inlines = [QuotaInline, MemberInline]

    def get_inlines(self, request, obj):
        # On add, project_create makes the quota (unlimited); it is edited afterwards.
        return [MemberInline] if obj is None else [QuotaInline, MemberInline]

    def get_readonly_fields(self, request, obj=None):
        return ("name", "created", "updated") if obj else ("created", "updated")

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = project_create(name=obj.name, public=obj.public, owner=obj.owner, metadata=obj.metadata)
        obj.pk, obj.created, obj.updated = created.pk, created.created, created.updated

    def has_delete_permission(self, request, obj=None):
        # A project holding repositories can't be removed (PROTECT); empty ones can.
        return obj is None or not obj.repositories.exists()


@admin.register(UserGroup)
class UserGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "group_type", "ldap_group_dn", "created")
    list_filter = ("group_type",)
    search_fields = ("name", "ldap_group_dn")
    filter_horizontal = ("users",)


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("user", "project", "role")
    list_filter = ("role",)
    search_fields = ("user__username", "project__name")
    list_select_related = ("user", "project")
    autocomplete_fields = ("user", "group", "project")
