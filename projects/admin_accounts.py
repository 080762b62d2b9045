"""Operator console for users: every write through `projects.accounts`; password hashes never shown.

Replaces Django's User admin, whose change form displays the hash's algorithm, salt and a part of
the hash, and whose forms save users directly (no password policy, no cached credentials dropped).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from common.console import SERVICE_ERRORS, ServiceAdminMixin, ServiceForm, each_through_service, error_message
from projects.accounts import (
    COMMENT_MAX,
    PASSWORD_RULE,
    REALNAME_MAX,
    user_create,
    user_delete,
    user_get,
    user_password_update,
    user_profile_update,
    user_sysadmin_set,
)
from projects.console import SystemResourceAdminMixin, principal_of_admin

User = get_user_model()

if admin.site.is_registered(User):
    admin.site.unregister(User)  # django.contrib.auth's: it shows the hash and saves without the services


class UserCreateForm(ServiceForm):
    """A new local user, through `user_create` (Harbor's name, email and password rules)."""

    realname = forms.CharField(label="Real name", max_length=REALNAME_MAX)
    comment = forms.CharField(max_length=COMMENT_MAX, required=False)
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput, help_text=PASSWORD_RULE)
    password2 = forms.CharField(label="Password confirmation", strip=False, widget=forms.PasswordInput)

    class Meta:
        model = User
        fields = ("username", "email")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned

    def submit(self) -> User:
        data = self.cleaned_data
        return user_create(
            principal=principal_of_admin(self.request),
            carries_session=True,
            username=data["username"],
            email=data["email"],
            password=data["password1"],
            realname=data["realname"],
            comment=data["comment"],
        )


class UserProfileForm(ServiceForm):
    """Email, real name and comment, through `user_profile_update`."""

    realname = forms.CharField(label="Real name", max_length=REALNAME_MAX)
    comment = forms.CharField(max_length=COMMENT_MAX, required=False)

    class Meta:
        model = User
        fields = ("email",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        profile = getattr(self.instance, "harbor_profile", None) if self.instance.pk else None
        if profile is not None:
            self.initial.setdefault("realname", profile.realname)
            self.initial.setdefault("comment", profile.comment)

    def submit(self) -> User:
        data = self.cleaned_data
        user_profile_update(
            principal=principal_of_admin(self.request),
            user_id=self.instance.pk,
            email=data["email"],
            realname=data["realname"],
            comment=data["comment"],
        )
        return user_get(user_id=self.instance.pk)


class PasswordChangeForm(forms.Form):
    """A new password, typed twice; your own needs the current one too."""

    old_password = forms.CharField(label="Your current password", strip=False, widget=forms.PasswordInput)
    password1 = forms.CharField(label="New password", strip=False, widget=forms.PasswordInput, help_text=PASSWORD_RULE)
    password2 = forms.CharField(label="New password confirmation", strip=False, widget=forms.PasswordInput)

    def __init__(self, *args, own: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not own:
            del self.fields["old_password"]  # an administrator resets another user's password without it

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


@admin.register(User)
class UserAdmin(SystemResourceAdminMixin, ServiceAdminMixin, admin.ModelAdmin):
    oracle_resource = "user"
    form = UserProfileForm
    add_form = UserCreateForm
    list_display = ("username", "email", "realname", "comment", "sysadmin", "is_active", "last_login", "date_joined")
    list_filter = ("is_superuser", "is_active")
    search_fields = ("username", "email", "harbor_profile__realname")
    list_select_related = ("harbor_profile",)
    ordering = ("username",)
    show_full_result_count = False
    actions = ["grant_sysadmin", "revoke_sysadmin"]
    fieldsets = (
        (None, {"fields": ("username", "password_link")}),
        ("Profile", {"fields": ("email", "realname", "comment")}),
        ("Status", {"fields": ("sysadmin", "active", "last_login", "date_joined", "password_changed")}),
    )
    add_fieldsets = ((None, {"fields": ("username", "email", "realname", "comment", "password1", "password2")}),)
    change_readonly = ("username", "password_link", "sysadmin", "active", "last_login", "date_joined")

    def get_form(self, request, obj=None, **kwargs):  # noqa: ANN001, ANN201
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):  # noqa: ANN001, ANN201
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        return () if obj is None else (*self.change_readonly, "password_changed")

    @admin.display(description="real name", ordering="harbor_profile__realname")
    def realname(self, obj: User) -> str:
        profile = getattr(obj, "harbor_profile", None)
        return profile.realname if profile else ""

    @admin.display(description="comment", ordering="harbor_profile__comment")
    def comment(self, obj: User) -> str:
        profile = getattr(obj, "harbor_profile", None)
        return profile.comment if profile else ""

    @admin.display(description="sysadmin", boolean=True, ordering="is_superuser")
    def sysadmin(self, obj: User) -> bool:
        return obj.is_superuser

    @admin.display(description="active", boolean=True)
    def active(self, obj: User) -> bool:
        # Shown, not edited: no service (de)activates a user; delete one instead.
        return obj.is_active

    @admin.display(description="password changed")
    def password_changed(self, obj: User) -> object:
        profile = getattr(obj, "harbor_profile", None)
        return (profile.password_changed if profile else None) or "-"

    @admin.display(description="password")
    def password_link(self, obj: User) -> str:
        # Only a link: the hash (algorithm, salt, digest) is never rendered.
        url = reverse("admin:auth_user_password_change", args=[obj.pk], current_app=self.admin_site.name)
        return format_html('<a href="{}">Set a new password</a>', url)

    def service_delete(self, request: HttpRequest, obj: User) -> None:
        user_delete(principal=principal_of_admin(request), user_id=obj.pk)

    def _sysadmin_set(self, request: HttpRequest, queryset, sysadmin: bool, done: str) -> None:  # noqa: ANN001
        principal = principal_of_admin(request)
        each_through_service(
            self,
            request,
            queryset.order_by("pk"),
            lambda user: user_sysadmin_set(principal=principal, user_id=user.pk, sysadmin=sysadmin),
            done=done,
        )

    @admin.action(description="Make selected users system administrators", permissions=["change"])
    def grant_sysadmin(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        self._sysadmin_set(request, queryset, True, "Made system administrators")

    @admin.action(description="Revoke system administrator from selected users", permissions=["change"])
    def revoke_sysadmin(self, request: HttpRequest, queryset) -> None:  # noqa: ANN001
        self._sysadmin_set(request, queryset, False, "No longer system administrators")

    def get_urls(self) -> list:
        view = self.admin_site.admin_view(self.password_change_view)
        return [path("<id>/password/", view, name="auth_user_password_change"), *super().get_urls()]

    def password_change_view(self, request: HttpRequest, id: str) -> HttpResponse:  # noqa: A002 - Django's name
        """Set a user's password through `user_password_update` (policy checked, cached credentials dropped)."""
        user = self.get_object(request, unquote(id))
        if user is None:
            raise Http404("no such user")
        own = user.pk == request.user.pk
        if not (own or self.has_change_permission(request, user)):
            raise PermissionDenied
        form = PasswordChangeForm(request.POST if request.method == "POST" else None, own=own)
        if form.is_valid():
            try:
                changed = user_password_update(
                    principal=principal_of_admin(request),
                    user_id=user.pk,
                    old_password=form.cleaned_data.get("old_password"),
                    new_password=form.cleaned_data["password1"],
                )
            except SERVICE_ERRORS as exc:
                form.add_error(None, error_message(exc))
            else:
                if own:
                    update_session_auth_hash(request, changed)  # stay signed in with the new password
                self.log_change(request, changed, "Changed password.")
                self.message_user(request, f"The password of {changed.get_username()} was changed.", messages.SUCCESS)
                change = reverse("admin:auth_user_change", args=[user.pk], current_app=self.admin_site.name)
                return HttpResponseRedirect(change)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change password: {user.get_username()}",
            "form": form,
            "opts": self.opts,
            "original": user,
            "submit_label": "Change password",
        }
        return TemplateResponse(request, "admin/console/form.html", context)
