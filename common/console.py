"""Helpers for the operator console (Django admin): every write goes through a service.

Two ways a service refusal reaches the operator:
- `ServiceForm`, for pages without inlines: the form's submission *is* the service call. Fields are
  cleaned as usual, then `submit()` runs in a savepoint instead of the model validation and save; a
  refusal becomes a form error (the page re-renders with what was typed) and leaves nothing behind.
  (With inlines it would save before the inline forms validate, so those pages use the mixin.)
- `ServiceAdminMixin`: services called from `save_model`/`save_formset`/`delete_model`, after every
  form validated. A refusal there aborts the admin's own transaction (nothing half-saved) and comes
  back as an error message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.actions import delete_selected
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from common.api.errors import ApiError
from common.configuration import ConfigError

# The domain errors services raise for a refused operation (never for a bug).
SERVICE_ERRORS: tuple[type[Exception], ...] = (ApiError, ConfigError)


def error_message(exc: Exception) -> str:
    """The operator-facing text of a service refusal."""
    if isinstance(exc, ApiError):
        return str(exc.detail)
    return str(getattr(exc, "message", None) or exc)


class ServiceForm(forms.ModelForm):
    """A model form saved by a service: `submit()` returns the saved instance or raises a domain error."""

    request: HttpRequest | None = None  # bound per request by ServiceFormAdminMixin.get_form

    def submit(self) -> models.Model:
        """Call the service with `self.cleaned_data`; subclasses implement it."""
        raise NotImplementedError

    def _post_clean(self) -> None:
        # Django's ModelForm validates and fills the instance here; the service is the validator instead.
        if self.errors:
            return
        try:
            with transaction.atomic():
                self.instance = self.submit()
        except SERVICE_ERRORS as exc:
            self.add_error(None, error_message(exc))


class ServiceAdminMixin:
    """ModelAdmin glue for service-backed writes.

    - `ServiceForm`s get the request bound and have already saved when `save_model` runs.
    - A refusal raised from `save_model`/`save_formset`/`delete_model` is rolled back with the page's
      transaction and shown as an error message.
    - Deletes, the object page's and the bulk action's (after Django's confirmation page), call
      `service_delete`, one object at a time, each refusal reported.
    """

    def service_delete(self, request: HttpRequest, obj: Any) -> None:
        """Delete one object through its service; admins that allow deletes implement it."""
        raise NotImplementedError

    def get_form(self, request, obj=None, change=False, **kwargs):  # noqa: ANN001, ANN201
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request = request  # modelform_factory builds a new class per call: bound to this request only
        return form

    def save_model(self, request, obj, form, change) -> None:  # noqa: ANN001
        if not isinstance(form, ServiceForm):
            super().save_model(request, obj, form, change)
        # else: ServiceForm.submit saved through the service during validation.

    def delete_model(self, request, obj) -> None:  # noqa: ANN001
        self.service_delete(request, obj)

    def delete_queryset(self, request, queryset) -> None:  # noqa: ANN001
        for obj in queryset:
            self.service_delete(request, obj)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if "delete_selected" in actions:  # the site-wide action, kept only where delete is permitted
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (type(self)._delete_selected_through_service, name, description)
        return actions

    def _delete_selected_through_service(self, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        if not request.POST.get("post"):
            return delete_selected(self, request, queryset)  # Django's confirmation page
        objects = list(queryset)
        each_through_service(self, request, objects, lambda obj: self.service_delete(request, obj), done="Deleted")
        return None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None) -> HttpResponse:  # noqa: ANN001
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SERVICE_ERRORS as exc:  # the admin's atomic block has rolled everything back
            self.message_user(request, error_message(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None) -> HttpResponse:  # noqa: ANN001
        try:
            return super().delete_view(request, object_id, extra_context)
        except SERVICE_ERRORS as exc:
            self.message_user(request, error_message(exc), messages.ERROR)
            opts = self.opts
            change = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id], current_app=self.admin_site.name
            )
            return HttpResponseRedirect(change)


def each_through_service(
    modeladmin: Any, request: HttpRequest, objects: Iterable[Any], call: Callable[[Any], object], *, done: str
) -> int:
    """An admin action's loop: `call(obj)` per object, each refusal an error message; reports how many succeeded."""
    count = 0
    for obj in objects:
        try:
            call(obj)
        except SERVICE_ERRORS as exc:
            modeladmin.message_user(request, f"{obj}: {error_message(exc)}", messages.ERROR)
        else:
            count += 1
    if count:
        modeladmin.message_user(request, f"{done}: {count}", messages.SUCCESS)
    return count
