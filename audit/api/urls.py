"""Routes of the audit log under /api/v2.0/ (webhooks route in webhook_urls.py)."""

from django.urls import path

from audit.api.purge import PurgeLogView, PurgeScheduleView, PurgeViewSet
from audit.api.views import (
    AuditLogEventTypesView,
    AuditLogExportView,
    AuditLogExtViewSet,
    AuditLogViewSet,
    ProjectAuditLogExportView,
    ProjectAuditLogExtViewSet,
    ProjectLogViewSet,
)

purges = PurgeViewSet.as_view({"get": "list"})
purge = PurgeViewSet.as_view({"get": "retrieve", "put": "update"})

urlpatterns = [
    path("auditlog-exts", AuditLogExtViewSet.as_view({"get": "list"}), name="auditlog-exts"),
    path("auditlog-exts/events", AuditLogEventTypesView.as_view(), name="auditlog-event-types"),
    path("auditlog-exts/export", AuditLogExportView.as_view(), name="auditlog-exts-export"),
    path(
        "projects/<str:project_name>/auditlog-exts",
        ProjectAuditLogExtViewSet.as_view({"get": "list"}),
        name="project-auditlog-exts",
    ),
    path(
        "projects/<str:project_name>/auditlog-exts/export",
        ProjectAuditLogExportView.as_view(),
        name="project-auditlog-exts-export",
    ),
    # Harbor's older audit routes (deprecated there, still called): the same records, Harbor's AuditLog.
    path("audit-logs", AuditLogViewSet.as_view({"get": "list"}), name="audit-logs"),
    path("projects/<str:project_name>/logs", ProjectLogViewSet.as_view({"get": "list"}), name="project-logs"),
    # `schedule` before `{purge_id}`: the id route would take the word as an id.
    path("system/purgeaudit/schedule", PurgeScheduleView.as_view(), name="purgeaudit-schedule"),
    path("system/purgeaudit", purges, name="purgeaudit-history"),
    path("system/purgeaudit/<str:purge_id>", purge, name="purgeaudit"),
    path("system/purgeaudit/<str:purge_id>/log", PurgeLogView.as_view(), name="purgeaudit-log"),
]
