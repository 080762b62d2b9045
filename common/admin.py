"""Operator console for jobs (Execution/Task rows, read-only) and the system configuration."""

from django.contrib import admin

from common import admin_configuration  # noqa: F401 - registers the configuration page
from common.models import Execution, Task


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0
    can_delete = False
    readonly_fields = ("name", "status", "started", "ended", "counts", "log")


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "trigger", "status", "dry_run", "started", "ended", "counts")
    list_filter = ("kind", "status", "trigger", "dry_run")
    search_fields = ("kind",)
    show_full_result_count = False
    readonly_fields = ("kind", "trigger", "status", "dry_run", "started", "ended", "counts", "log")
    inlines = [TaskInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
