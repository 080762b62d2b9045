"""Operator console for tag retention: policies (rules shown, edited as Harbor's JSON) and their runs.

Every write goes through policies.retention.services; "Run now" and "Dry run" start runs as the API
does (one active run per policy; the worker executes them), and runs are stopped through the service.
Actions on a policy also ask the oracle for ("tag-retention", "update") in its project.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from common.console import ServiceAdminMixin, ServiceForm, each_through_service
from common.models import ExecutionStatus, Task
from common.services import FINAL
from policies.models import RetentionExecution, RetentionPolicy
from policies.retention import services
from projects.console import principal_of_admin
from projects.permissions import can

EXAMPLE_RULES = [
    {
        "template": "latestPushedK",
        "params": {"latestPushedK": 10},
        "tag_selectors": [
            {"kind": "doublestar", "decoration": "matches", "pattern": "**", "extras": '{"untagged":true}'}
        ],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
    }
]


def describe_rule(rule: dict) -> str:
    """One line per rule: `latestPushedK=10 of tags matches ** (untagged) in repositories repoMatches **`."""
    param = rule.get("params", {}).get(rule.get("template"))
    head = rule.get("template", "?") + ("" if param is None else f"={param}")
    tags = ", ".join(
        f"{s.get('decoration')} {s.get('pattern')}"
        + (" (untagged)" if '"untagged":true' in (s.get("extras") or "").replace(" ", "") else "")
        for s in rule.get("tag_selectors", [])
    )
    repos = ", ".join(
        f"{s.get('decoration')} {s.get('pattern')}" for s in rule.get("scope_selectors", {}).get("repository", [])
    )
    disabled = " [disabled]" if rule.get("disabled") else ""
    return f"{head} of tags {tags} in repositories {repos}{disabled}"


class RetentionPolicyForm(ServiceForm):
    """The project, Harbor's rules JSON and the 6-field cron (empty: manual runs only)."""

    rules_json = forms.CharField(
        label="rules",
        widget=forms.Textarea(attrs={"rows": 14, "cols": 100}),
        initial=json.dumps(EXAMPLE_RULES, indent=2),
        help_text="Harbor's rule objects (template, params, tag_selectors, scope_selectors); at most 15.",
    )
    cron = forms.CharField(required=False, help_text='6 fields, seconds first, e.g. "0 0 0 * * *"; empty: manual')

    class Meta:
        model = RetentionPolicy
        fields = ("project",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial.update(rules_json=json.dumps(self.instance.rules, indent=2), cron=self.instance.cron)

    def clean_rules_json(self) -> object:
        try:
            return json.loads(self.cleaned_data["rules_json"])
        except ValueError as exc:
            raise forms.ValidationError(f"not JSON: {exc}") from exc

    def submit(self) -> RetentionPolicy:
        data = self.cleaned_data
        trigger = {"kind": services.SCHEDULE_KIND, "settings": {"cron": data.get("cron") or ""}}
        if self.instance.pk is None:
            return services.retention_policy_create(project=data["project"], rules=data["rules_json"], trigger=trigger)
        return services.retention_policy_update(policy=self.instance, rules=data["rules_json"], trigger=trigger)


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = RetentionPolicyForm
    list_display = ("id", "project", "rule_count", "schedule", "updated")
    search_fields = ("project__name",)
    list_select_related = ("project",)
    autocomplete_fields = ("project",)
    readonly_fields = ("rules_shown",)
    actions = ["run_now", "dry_run"]

    def get_readonly_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        return ("project", "rules_shown") if obj else ()

    def get_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        fields = ["project", "rules_json", "cron"]
        return [*fields, "rules_shown"] if obj else fields

    @admin.display(description="rules")
    def rule_count(self, obj: RetentionPolicy) -> int:
        return len(obj.rules)

    @admin.display(description="schedule")
    def schedule(self, obj: RetentionPolicy) -> str:
        return obj.cron or "manual"

    @admin.display(description="rules in effect")
    def rules_shown(self, obj: RetentionPolicy) -> str:
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((describe_rule(r),) for r in obj.rules)))

    def service_delete(self, request: HttpRequest, obj: RetentionPolicy) -> None:
        services.retention_policy_delete(policy=obj)

    def _trigger(self, request: HttpRequest, queryset, *, dry_run: bool) -> None:  # noqa: ANN001
        allowed, refused = [], 0
        for policy in queryset.select_related("project"):
            if can(principal_of_admin(request), "update", "tag-retention", project=policy.project):
                allowed.append(policy)
            else:
                refused += 1
        done = "Dry runs started" if dry_run else "Runs started"
        each_through_service(
            self, request, allowed, lambda p: services.retention_trigger(policy=p, dry_run=dry_run), done=done
        )
        if refused:
            self.message_user(request, f"Not allowed to run {refused} policy(ies).", messages.WARNING)

    @admin.action(description="Run now (delete what no rule retains)")
    def run_now(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        self._trigger(request, queryset, dry_run=False)

    @admin.action(description="Dry run (log only)")
    def dry_run(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        self._trigger(request, queryset, dry_run=True)


class RetentionTaskInline(admin.TabularInline):
    model = Task
    extra = 0
    can_delete = False
    fields = ("name", "status", "started", "ended", "counts", "log_text")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False

    @admin.display(description="log")
    def log_text(self, obj: Task) -> str:
        return format_html('<pre style="white-space: pre-wrap; max-height: 30em; overflow: auto">{}</pre>', obj.log)


@admin.register(RetentionExecution)
class RetentionExecutionAdmin(admin.ModelAdmin):
    list_display = ("id", "vendor_id", "trigger", "status", "dry_run", "progress", "operator", "started", "ended")
    list_filter = ("status", "trigger", "dry_run")
    search_fields = ("operator",)
    fields = (
        ("vendor_id", "trigger", "status", "dry_run"),
        ("operator", "started", "updated", "ended"),
        "progress",
        "log",
    )
    readonly_fields = (
        "vendor_id",
        "trigger",
        "status",
        "dry_run",
        "operator",
        "started",
        "updated",
        "ended",
        "progress",
        "log",
    )
    inlines = [RetentionTaskInline]
    actions = ["stop_runs"]

    def get_queryset(self, request: HttpRequest):  # noqa: ANN201
        return super().get_queryset(request).filter(kind=services.KIND)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False

    @admin.display(description="counts")
    def progress(self, obj: RetentionExecution) -> str:
        counts = obj.counts or {}
        if not counts:
            return "-" if obj.status in FINAL else "starting"
        return ", ".join(f"{key}: {value}" for key, value in counts.items())

    @admin.action(description="Stop the selected pending or running runs")
    def stop_runs(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        policies = RetentionPolicy.objects.select_related("project").in_bulk(
            set(queryset.values_list("vendor_id", flat=True))
        )
        allowed = [
            e
            for e in queryset.filter(status__in=[ExecutionStatus.PENDING, ExecutionStatus.RUNNING])
            if e.vendor_id in policies
            and can(principal_of_admin(request), "update", "tag-retention", project=policies[e.vendor_id].project)
        ]
        each_through_service(
            self, request, allowed, lambda e: services.retention_execution_stop(execution=e), done="Stopped"
        )
