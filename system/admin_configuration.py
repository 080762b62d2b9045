"""Operator console page for the system configuration (Harbor's /configurations): changes via config_update.

The Setting rows are never edited one by one (a raw JSON value would skip the item's type and
rules): the "Settings" entry of the admin is this one typed form, validated by the service.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path

from common.configuration import ITEMS, ConfigError, Item, config_all
from common.models import Setting
from system.configuration import config_update, config_validate

HELP = {
    "auth_mode": "How users authenticate (fixed).",
    "project_creation_restriction": "Who may create projects: everyone, or system administrators only.",
    "self_registration": "Let visitors sign up in the web UI.",
    "token_expiration": "Lifetime of registry tokens, in minutes.",
    "robot_token_duration": "Default lifetime of new robot accounts, in days.",
    "robot_name_prefix": "Prefix of robot account names (fixed).",
    "read_only": "Refuse every push and delete (maintenance mode).",
    "banner_message": "A message shown to every user of the UI.",
}


def _field(item: Item, value: Any, *, locked: bool) -> forms.Field:
    options = {"label": item.key, "initial": value, "disabled": locked or not item.editable}
    options["help_text"] = HELP.get(item.key, "")
    # Fields only parse the input; the item's rules (minimum, ranges...) are the service's to enforce.
    if item.kind is bool:
        return forms.BooleanField(required=False, **options)
    if item.kind is int:
        return forms.IntegerField(**options)
    if item.choices:
        return forms.ChoiceField(choices=[(c, c) for c in item.choices], **options)
    return forms.CharField(required=False, strip=False, **options)


class ConfigurationForm(forms.Form):
    """One field per configuration item, holding its current value."""

    def __init__(self, *args, values: dict[str, tuple[Any, bool]], locked: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current = {key: value for key, (value, _) in values.items()}
        for key, item in ITEMS.items():
            self.fields[key] = _field(item, self.current[key], locked=locked)

    def changes(self) -> dict[str, Any]:
        """The editable items whose value differs from the current one."""
        return {
            key: value
            for key, value in self.cleaned_data.items()
            if not self.fields[key].disabled and value != self.current[key]
        }

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        # The service's validation, item by item, so each refusal shows at its field.
        for key, value in self.changes().items():
            try:
                config_validate({key: value})
            except ConfigError as exc:
                self.add_error(key, str(exc))
        return cleaned


@admin.register(Setting)
class SettingAdmin(admin.ModelAdmin):
    """Only the configuration page: no per-row add, change or delete pages."""

    # The configuration is the system administrators' (Harbor: sysadmin only, no project role reaches it).
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return False

    def get_urls(self) -> list:
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:  # noqa: ANN001
        """View and change the configuration; config_update validates and stores."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else None
        form = ConfigurationForm(data, values=config_all(), locked=not self.has_change_permission(request))
        if form.is_valid():
            try:
                changed = config_update(changes=form.changes(), user=request.user)
            except ConfigError as exc:
                form.add_error(None, str(exc))
            else:
                text = f"Changed: {', '.join(sorted(changed))}." if changed else "Nothing changed."
                self.message_user(request, text, messages.SUCCESS)
                return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": "Configuration",
            "intro": "System configuration, as Harbor's /configurations. Greyed-out items can't be changed.",
            "form": form,
            "opts": self.opts,
            "submit_label": "Save",
        }
        return TemplateResponse(request, "admin/console/form.html", context)
