"""The operator console's admin site: Django's, except that nothing in it saves a password directly."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse


class ConsoleSite(AdminSite):
    def password_change(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """Your own password, on the users page that sets it through the accounts service."""
        # Django's page would save it directly: no Harbor password rule, remembered Basic checks kept.
        url = reverse("admin:auth_user_password_change", args=[request.user.pk], current_app=self.name)
        return HttpResponseRedirect(url)


class ConsoleAdminConfig(AdminConfig):
    default_site = "harbor_site.console.ConsoleSite"
