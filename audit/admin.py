"""Admin for the audit log: read-only (ARCHITECTURE: the admin is not a back door), with CSV/JSON export."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, StreamingHttpResponse

import audit.admin_webhooks  # noqa: F401 - registers the webhook admin
from audit.export import export_response
from audit.models import AuditLog
from projects.console import SystemResourceAdminMixin


@admin.register(AuditLog)
class AuditLogAdmin(SystemResourceAdminMixin, admin.ModelAdmin):
    """Who did what, when: searchable and exportable, never edited (rows leave only by the retention purge)."""

    oracle_resource = "audit-log"
    oracle_view_action = "list"
    list_display = (
        "op_time",
        "username",
        "source_ip",
        "operation",
        "resource_type",
        "resource",
        "project_id",
        "operation_result",
    )
    list_filter = ("operation", "resource_type", "operation_result", "is_robot", ("op_time", admin.DateFieldListFilter))
    search_fields = ("username", "resource")
    date_hierarchy = "op_time"
    ordering = ("-op_time", "-id")
    show_full_result_count = False  # COUNT(*) over a large log on every page is the slow part
    actions = ("export_csv", "export_json")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    @admin.action(description="Export selected audit records as CSV")
    def export_csv(self, request: HttpRequest, queryset) -> StreamingHttpResponse:  # noqa: ANN001
        # "Select all N" hands over the whole filtered queryset: streamed in keyset pages all the same.
        return export_response(queryset, fmt="csv")

    @admin.action(description="Export selected audit records as JSON")
    def export_json(self, request: HttpRequest, queryset) -> StreamingHttpResponse:  # noqa: ANN001
        return export_response(queryset, fmt="json")
