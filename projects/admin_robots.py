"""Operator console for robot accounts: every write through `projects.robots.services`.

A robot's secret is shown once, in the response that created or refreshed it, never afterwards:
it is not kept in the session, in a message or in the database (only its hash, never displayed).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Case, CharField, F, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Concat
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from common.console import SERVICE_ERRORS, ServiceAdminMixin, ServiceForm, each_through_service, error_message
from projects.console import SystemResourceAdminMixin, principal_of_admin
from projects.models import Robot
from projects.robots.catalogue import ROBOT_PREFIX
from projects.robots.services import robot_create, robot_delete, robot_secret_refresh, robot_update

PERMISSIONS_HELP = (
    "Harbor's robot permissions: a list of {kind, namespace, access: [{resource, action}]}. A project robot has "
    'one entry of kind "project" whose namespace is its project; a system robot may add kind "system" '
    '(namespace "/") and projects by name or "*" for every project.'
)
PERMISSIONS_EXAMPLE = [
    {
        "kind": "project",
        "namespace": "library",
        "access": [{"resource": "repository", "action": "pull"}, {"resource": "repository", "action": "push"}],
    }
]
DURATION_HELP = "Days until it expires: -1 never, 0 the configured default (robot_token_duration)."


def _full_name() -> Concat:
    """`robot$<project>+<name>` or `robot$<name>`, computed in SQL (for sorting and creator names)."""
    project_part = Case(
        When(project__isnull=False, then=Concat(F("project__name"), Value("+"))),
        default=Value(""),
        output_field=CharField(),
    )
    return Concat(Value(ROBOT_PREFIX), project_part, F("name"), output_field=CharField())


class RobotCreateForm(ServiceForm):
    """A new robot, through `robot_create`; the secret it returns is kept on the form for the one response."""

    duration = forms.IntegerField(initial=0, help_text=DURATION_HELP)
    permissions = forms.JSONField(
        initial=PERMISSIONS_EXAMPLE, help_text=PERMISSIONS_HELP, widget=forms.Textarea(attrs={"rows": 10})
    )

    class Meta:
        model = Robot
        fields = ("name", "level", "description", "duration", "disabled", "permissions")

    def submit(self) -> Robot:
        data = self.cleaned_data
        robot, secret = robot_create(
            principal=principal_of_admin(self.request),
            name=data["name"],
            level=data["level"],
            permissions=data["permissions"],
            description=data["description"],
            duration=data["duration"],
            disabled=data["disabled"],
        )
        # In memory only, for RobotAdmin.response_add of this request; never saved anywhere.
        robot._one_time_secret = secret
        return robot


class RobotChangeForm(ServiceForm):
    """Description, disabled flag, duration and permissions, through `robot_update` (name and level stay)."""

    duration = forms.IntegerField(help_text=DURATION_HELP)
    permissions = forms.JSONField(help_text=PERMISSIONS_HELP, widget=forms.Textarea(attrs={"rows": 10}))

    class Meta:
        model = Robot
        fields = ("description", "disabled", "duration", "permissions")

    def submit(self) -> Robot:
        data, robot = self.cleaned_data, self.instance
        return robot_update(
            principal=principal_of_admin(self.request),
            robot_id=robot.pk,
            name=robot.name,
            level=robot.level,
            permissions=data["permissions"],
            description=data["description"],
            duration=data["duration"],
            disabled=data["disabled"],
        )


class ExpiredFilter(admin.SimpleListFilter):
    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):  # noqa: ANN001, ANN201
        return (("yes", "Expired"), ("no", "Not expired"))

    def queryset(self, request, queryset):  # noqa: ANN001, ANN201
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(expires_at__lte=now)
        if self.value() == "no":
            return queryset.exclude(expires_at__lte=now)
        return queryset


@admin.register(Robot)
class RobotAdmin(SystemResourceAdminMixin, ServiceAdminMixin, admin.ModelAdmin):
    oracle_resource = "robot"
    form = RobotChangeForm
    add_form = RobotCreateForm
    list_display = ("full_name", "level", "project", "disabled", "expires", "creator", "created")
    list_filter = ("level", "disabled", ExpiredFilter)
    search_fields = ("name", "project__name", "description")
    list_select_related = ("project",)
    show_full_result_count = False
    actions = ["disable_robots", "enable_robots", "refresh_secrets"]
    # secret_hash is in no field list: never rendered.
    change_fields = ("full_name", "level", "project", "description", "disabled", "duration", "expires")
    change_readonly = ("full_name", "level", "project", "expires", "creator", "created", "updated")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Robot]:
        users = get_user_model().objects.filter(pk=OuterRef("creator_ref")).values("username")[:1]
        robots = Robot.objects.filter(pk=OuterRef("creator_ref")).annotate(n=_full_name()).values("n")[:1]
        creator = Case(
            When(creator_type="local", then=Subquery(users)),
            When(creator_type="robot", then=Subquery(robots)),
            default=Value(""),
            output_field=CharField(),
        )
        return super().get_queryset(request).annotate(_full_name=_full_name(), _creator=creator)

    def get_form(self, request, obj=None, **kwargs):  # noqa: ANN001, ANN201
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        if obj is None:
            return RobotCreateForm.Meta.fields
        return (*self.change_fields, "permissions", "creator", "created", "updated")

    def get_readonly_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        return () if obj is None else self.change_readonly

    @admin.display(description="name", ordering="_full_name")
    def full_name(self, obj: Robot) -> str:
        return obj.full_name

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj: Robot) -> object:
        return obj.expires_at or "never"

    @admin.display(description="creator", ordering="_creator")
    def creator(self, obj: Robot) -> str:
        name = getattr(obj, "_creator", "") or ""
        return f"{name} ({obj.creator_type})" if obj.creator_type else name

    def response_add(self, request: HttpRequest, obj: Robot, post_url_continue=None) -> HttpResponse:  # noqa: ANN001
        secret = obj.__dict__.pop("_one_time_secret", "")
        return self._secrets_page(request, [(obj, secret)], title=f"Robot {obj.full_name} created")

    def _secrets_page(self, request: HttpRequest, shown: list[tuple[Robot, str]], *, title: str) -> HttpResponse:
        # Rendered into this response only (not a message: messages outlive the response in a cookie or
        # the session); no-store keeps it out of caches and the back button.
        rows = [
            (robot, secret, reverse("admin:projects_robot_change", args=[robot.pk], current_app=self.admin_site.name))
            for robot, secret in shown
        ]
        context = {**self.admin_site.each_context(request), "title": title, "opts": self.opts, "rows": rows}
        response = TemplateResponse(request, "admin/projects/robot/secrets.html", context)
        add_never_cache_headers(response)
        return response

    def service_delete(self, request: HttpRequest, obj: Robot) -> None:
        robot_delete(principal=principal_of_admin(request), robot_id=obj.pk)

    def _set_disabled(self, request: HttpRequest, queryset: QuerySet[Robot], disabled: bool, done: str) -> None:
        principal = principal_of_admin(request)

        def update(robot: Robot) -> None:
            robot_update(
                principal=principal,
                robot_id=robot.pk,
                name=robot.name,
                level=robot.level,
                permissions=robot.permissions,
                description=robot.description,
                disabled=disabled,
            )

        each_through_service(self, request, queryset, update, done=done)

    @admin.action(description="Disable selected robots", permissions=["change"])
    def disable_robots(self, request: HttpRequest, queryset: QuerySet[Robot]) -> None:
        self._set_disabled(request, queryset, True, "Disabled")

    @admin.action(description="Enable selected robots", permissions=["change"])
    def enable_robots(self, request: HttpRequest, queryset: QuerySet[Robot]) -> None:
        self._set_disabled(request, queryset, False, "Enabled")

    @admin.action(description="Refresh the secrets of selected robots (shown once)", permissions=["change"])
    def refresh_secrets(self, request: HttpRequest, queryset: QuerySet[Robot]) -> HttpResponse | None:
        principal = principal_of_admin(request)
        shown = []
        for robot in queryset:
            try:
                secret = robot_secret_refresh(principal=principal, robot_id=robot.pk)
            except SERVICE_ERRORS as exc:
                self.message_user(request, f"{robot}: {error_message(exc)}", messages.ERROR)
            else:
                shown.append((robot, secret))
        return self._secrets_page(request, shown, title="New robot secrets") if shown else None
