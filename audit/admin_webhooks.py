"""Operator console for webhook policies and deliveries; writes go through audit.webhooks.services.

Secrets are never shown in clear: auth headers appear masked, the signing secret only once, in the
message after the policy is created (as the API's create answer does).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html_join

from audit.models import WebhookDelivery, WebhookPolicy
from audit.webhooks import payloads
from audit.webhooks.services import (
    AUTH_HEADER_MASK,
    webhook_delivery_redeliver,
    webhook_policy_create,
    webhook_policy_delete,
    webhook_policy_update,
)
from common.console import ServiceAdminMixin, ServiceForm, each_through_service


class WebhookPolicyForm(ServiceForm):
    """The policy and its first target (further targets, made through the API, are kept as they are)."""

    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in payloads.EVENT_TYPES], widget=forms.CheckboxSelectMultiple
    )
    address = forms.CharField(max_length=2048, help_text="http(s) URL; private addresses need HARBOR_EGRESS_ALLOW")
    auth_header = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="sent as the Authorization header; leave empty to keep the stored one",
    )
    clear_auth_header = forms.BooleanField(required=False, help_text="remove the stored auth header")
    payload_format = forms.ChoiceField(choices=[(f, f) for f in payloads.PAYLOAD_FORMATS])
    skip_cert_verify = forms.BooleanField(required=False)

    class Meta:
        model = WebhookPolicy
        fields = ("project", "name", "description", "enabled")

    signing_secret: str | None = None

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            first = (self.instance.targets or [{}])[0]
            self.initial.update(
                event_types=self.instance.event_types,
                address=first.get("address", ""),
                payload_format=first.get("payload_format", "Default"),
                skip_cert_verify=first.get("skip_cert_verify", False),
            )

    def submit(self) -> WebhookPolicy:
        data = self.cleaned_data
        auth = "" if data["clear_auth_header"] else (data["auth_header"] or AUTH_HEADER_MASK)
        target = {
            "type": "http",
            "address": data["address"],
            "auth_header": auth,
            "payload_format": data["payload_format"],
            "skip_cert_verify": data["skip_cert_verify"],
        }
        if self.instance.pk is None:
            policy, self.signing_secret = webhook_policy_create(
                project=data["project"],
                name=data["name"],
                description=data["description"],
                enabled=data["enabled"],
                event_types=list(data["event_types"]),
                targets=[target],
            )
            return policy
        return webhook_policy_update(
            policy=self.instance,
            name=data["name"],
            description=data["description"],
            enabled=data["enabled"],
            event_types=list(data["event_types"]),
            targets=[target, *self.instance.targets[1:]],
        )


def _targets_masked(policy: WebhookPolicy) -> str:
    rows = [
        (t["address"], t.get("payload_format", "Default"), "auth header set" if t.get("auth_header") else "no auth")
        for t in policy.targets or []
    ]
    return format_html_join("", "<div>{} ({}, {})</div>", rows)


@admin.register(WebhookPolicy)
class WebhookPolicyAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = WebhookPolicyForm
    list_display = ("id", "name", "project", "enabled", "event_list", "targets_masked", "creator", "update_time")
    list_filter = ("enabled",)
    search_fields = ("name", "project__name")
    list_select_related = ("project",)
    autocomplete_fields = ("project",)
    actions = ("enable", "disable")

    def get_readonly_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        return ("project", "targets_masked", "creator") if obj else ()

    @admin.display(description="events")
    def event_list(self, obj: WebhookPolicy) -> str:
        return ", ".join(obj.event_types)

    @admin.display(description="targets")
    def targets_masked(self, obj: WebhookPolicy) -> str:
        return _targets_masked(obj)

    def save_model(self, request, obj, form, change) -> None:  # noqa: ANN001
        super().save_model(request, obj, form, change)
        if getattr(form, "signing_secret", None):
            self.message_user(
                request,
                f"Signing secret of {obj.name} (shown this once; deliveries carry X-Harbor-Signature): "
                f"{form.signing_secret}",
                messages.WARNING,
            )

    def service_delete(self, request: HttpRequest, obj: WebhookPolicy) -> None:
        webhook_policy_delete(policy=obj)

    @admin.action(description="Enable the selected policies")
    def enable(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        each_through_service(
            self, request, queryset, lambda p: webhook_policy_update(policy=p, enabled=True), done="Enabled"
        )

    @admin.action(description="Disable the selected policies")
    def disable(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        each_through_service(
            self, request, queryset, lambda p: webhook_policy_update(policy=p, enabled=False), done="Disabled"
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Each delivery of an event to a target: its task's status and log; redeliver sends it again."""

    list_display = ("id", "event_type", "policy", "address", "status", "attempts", "last_status_code", "created")
    list_filter = ("event_type", "task__status", "payload_format")
    search_fields = ("policy__name", "event_type")
    list_select_related = ("policy", "task", "task__execution")
    show_full_result_count = False
    readonly_fields = (
        "policy",
        "event_type",
        "address",
        "payload_format",
        "status",
        "execution",
        "attempts",
        "last_status_code",
        "response_excerpt",
        "payload",
        "log",
        "created",
    )
    exclude = ("task",)
    actions = ("redeliver",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False

    @admin.display(description="status", ordering="task__status")
    def status(self, obj: WebhookDelivery) -> str:
        return obj.task.status

    @admin.display(description="execution")
    def execution(self, obj: WebhookDelivery) -> str:
        execution = obj.task.execution
        return f"#{execution.pk} {execution.trigger} {execution.status}"

    @admin.display(description="log")
    def log(self, obj: WebhookDelivery) -> str:
        return obj.task.log

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        each_through_service(
            self, request, queryset, lambda d: webhook_delivery_redeliver(task=d.task), done="Redelivery queued"
        )
