"""The operator console's admin site: Django's, except that nothing in it saves a password directly."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse


class ConsoleSite(AdminSite):
    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """Django's login page; every credential check on it is audited as a login (Harbor: login user)."""
        # Imported here: this module loads with the app registry, before models can be imported.
        from common.actor import client_ip
        from projects.authentication import login_record

        response = super().login(request, extra_context)
        if request.method == "POST" and request.POST.get("username"):
            login_record(
                username=request.POST["username"],
                source_ip=client_ip(request),
                success=request.user.is_authenticated,
            )
        return response

    def password_change(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """Your own password, on the users page that sets it through the accounts service."""
        # Django's page would save it directly: no Harbor password rule, remembered Basic checks kept.
        url = reverse("admin:auth_user_password_change", args=[request.user.pk], current_app=self.name)
        return HttpResponseRedirect(url)


class ConsoleAdminConfig(AdminConfig):
    default_site = "harbor_site.console.ConsoleSite"
