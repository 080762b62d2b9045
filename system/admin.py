"""Operator console for jobs (Execution/Task rows, read-only, stop through the service), GC and the configuration.

The "Garbage collection" page (a link on the executions list) shows the schedule and the latest
runs and starts a run or a dry run through registry.services.gc_jobs, with the same one-at-a-time
rule and audit record as Harbor's API; the executions list filtered on kind "gc" is its history.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from common.console import SERVICE_ERRORS, error_message
from common.models import Execution, Task
from common.services import FINAL, execution_stop
from projects.console import principal_of_admin
from projects.permissions import can_system
from registry.services.gc_jobs import GC_KIND, gc_schedule_get, gc_start, gc_stop
from system import admin_configuration  # noqa: F401 - registers the configuration page

GC_RESOURCE = "garbage-collection"
GC_PAGE_RUNS = 20


def _can_gc(request: HttpRequest, action: str) -> bool:
    return can_system(principal_of_admin(request), action, GC_RESOURCE)


def _progress(counts: dict) -> str:
    """A one-line summary of a job's counts (GC: blobs and bytes; others: their own keys)."""
    if not counts:
        return "-"
    if "blobs_deleted" in counts:
        return (
            f"{counts.get('blobs_deleted', 0)} blob(s), {filesizeformat(counts.get('bytes_freed', 0))}, "
            f"{counts.get('artifacts_deleted', 0)} artifact(s), {counts.get('uploads_purged', 0)} upload(s)"
        )
    return ", ".join(f"{key}: {value}" for key, value in counts.items())


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0
    can_delete = False
    readonly_fields = ("name", "status", "started", "ended", "counts", "log")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "trigger", "status", "dry_run", "progress", "operator", "started", "updated", "ended")
    list_filter = ("kind", "status", "trigger", "dry_run")
    search_fields = ("kind", "operator")
    show_full_result_count = False
    fields = (
        ("kind", "trigger", "status", "dry_run"),
        ("operator", "vendor_id"),
        ("started", "updated", "ended"),
        "parameters",
        "progress",
        "counts",
        "log_text",
    )
    readonly_fields = (
        "kind",
        "trigger",
        "status",
        "dry_run",
        "operator",
        "vendor_id",
        "started",
        "updated",
        "ended",
        "parameters",
        "progress",
        "counts",
        "log_text",
    )
    inlines = [TaskInline]
    actions = ["stop_executions"]
    change_list_template = "admin/common/execution/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False

    @admin.display(description="progress")
    def progress(self, obj: Execution) -> str:
        return _progress(obj.counts)

    @admin.display(description="log")
    def log_text(self, obj: Execution) -> str:
        return format_html('<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>', obj.log)

    @admin.action(description="Stop the selected pending or running jobs")
    def stop_executions(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        stopped = refused = 0
        for execution in queryset.exclude(status__in=FINAL):
            # GC runs: the oracle's ("garbage-collection", "stop"); any other job: the superuser's.
            if execution.kind == GC_KIND and _can_gc(request, "stop"):
                gc_stop(execution=execution)
            elif execution.kind != GC_KIND and request.user.is_superuser:
                execution_stop(execution=execution)
            else:
                refused += 1
                continue
            stopped += 1
        self.message_user(request, f"Stopped {stopped} job(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Not allowed to stop {refused} job(s).", messages.WARNING)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        extra = {"gc_page": _can_gc(request, "read"), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def get_urls(self) -> list:
        gc_page = path("gc/", self.admin_site.admin_view(self.gc_view), name="common_execution_gc")
        return [gc_page, *super().get_urls()]

    def gc_view(self, request: HttpRequest) -> HttpResponse:
        """Garbage collection: the schedule, the latest runs, and buttons to run it now (or dry)."""
        if not _can_gc(request, "read"):
            raise PermissionDenied
        if request.method == "POST":
            if not _can_gc(request, "create"):
                raise PermissionDenied
            dry_run = "dry_run" in request.POST
            try:
                execution = gc_start(delete_untagged="delete_untagged" in request.POST, dry_run=dry_run)
            except SERVICE_ERRORS as exc:
                self.message_user(request, error_message(exc), messages.ERROR)
                return HttpResponseRedirect(request.path)
            kind = "Dry run" if dry_run else "Garbage collection"
            self.message_user(request, f"{kind} #{execution.pk} queued.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:common_execution_change", args=[execution.pk]))
        runs = Execution.objects.filter(kind=GC_KIND).order_by("-started", "-pk")[:GC_PAGE_RUNS]
        context = {
            **self.admin_site.each_context(request),
            "title": "Garbage collection",
            "opts": self.opts,
            "schedule": gc_schedule_get(),
            "runs": [(run, _progress(run.counts)) for run in runs],
            "can_run": _can_gc(request, "create"),
            "history_url": reverse("admin:common_execution_changelist") + f"?kind__exact={GC_KIND}",
        }
        return TemplateResponse(request, "admin/common/execution/gc.html", context)
