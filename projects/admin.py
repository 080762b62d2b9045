"""Operator console for projects and members; creation goes through the service."""

from __future__ import annotations

from django.contrib import admin

from projects.models import Member, Project
from projects.services import project_create


class MemberInline(admin.TabularInline):
    model = Member
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "public", "owner", "created")
    list_filter = ("public",)
    search_fields = ("name",)
    list_select_related = ("owner",)
    inlines = [MemberInline]

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


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("user", "project", "role")
    list_filter = ("role",)
    search_fields = ("user__username", "project__name")
    list_select_related = ("user", "project")
    autocomplete_fields = ("user", "project")
