"""Operator console for projects, quotas, members and user groups; every write goes through a service.

Users and robots have their own modules (registered on import, below).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat

from common.api.errors import BadRequest
from common.console import ServiceAdminMixin
from projects import admin_accounts, admin_robots  # noqa: F401 - registers the user and robot admins
from projects.accounts import usergroup_create, usergroup_delete, usergroup_update
from projects.console import principal_of_admin
from projects.members import member_create, member_delete, member_update, project_metadata_delete
from projects.models import Member, Project, Quota, UserGroup
from projects.quotas import quota_fold, quota_update
from projects.services import project_create, project_delete, project_update
from registry.quotas import quota_lock, quota_reconcile

DRIFTS_SHOWN = 20


class MemberInline(admin.TabularInline):
    model = Member
    extra = 0
    autocomplete_fields = ("user", "group")


class QuotaForm(forms.ModelForm):
    hard = forms.IntegerField(label="storage limit (bytes)", help_text="-1: unlimited")

    class Meta:
        model = Quota
        fields = ("hard",)


class QuotaInline(admin.StackedInline):
    """Quota and usage; `hard` is saved by quota_update, `used` is kept by the push path and the reconcile job."""

    model = Quota
    form = QuotaForm
    can_delete = False
    fields = ("hard", "hard_display", "used_display", "updated")
    readonly_fields = ("hard_display", "used_display", "updated")

    @admin.display(description="limit")
    def hard_display(self, obj: Quota) -> str:
        return "unlimited" if obj.hard == -1 else filesizeformat(obj.hard)

    @admin.display(description="used")
    def used_display(self, obj: Quota) -> str:
        return filesizeformat(obj.used)


@admin.register(Project)
class ProjectAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("name", "public", "owner", "repository_count", "quota_used", "quota_hard", "created")
    list_filter = ("public",)
    search_fields = ("name", "owner__username")
    list_select_related = ("owner", "quota")
    inlines = [QuotaInline, MemberInline]
    actions = ["reconcile_quotas_dry_run", "reconcile_quotas_fix"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Project]:
        quota_fold()  # the usage shown (and sorted by) is `used`: fold pending deltas into it first
        return super().get_queryset(request).annotate(_repositories=Count("repositories"))

    def get_inlines(self, request, obj):  # noqa: ANN001, ANN201
        # On add, project_create makes the quota (unlimited); it is edited afterwards.
        return [MemberInline] if obj is None else [QuotaInline, MemberInline]

    def get_readonly_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        # The owner is who created the project (project_update changes visibility and metadata only).
        return ("name", "owner", "created", "updated") if obj else ("created", "updated")

    @admin.display(description="repositories", ordering="_repositories")
    def repository_count(self, obj: Project) -> int:
        return obj._repositories

    @admin.display(description="used", ordering="quota__used")
    def quota_used(self, obj: Project) -> str:
        quota = getattr(obj, "quota", None)
        return filesizeformat(quota.used) if quota else "-"

    @admin.display(description="limit", ordering="quota__hard")
    def quota_hard(self, obj: Project) -> str:
        quota = getattr(obj, "quota", None)
        if quota is None:
            return "-"
        return "unlimited" if quota.hard == -1 else filesizeformat(quota.hard)

    def save_model(self, request, obj, form, change) -> None:  # noqa: ANN001
        if not change:
            created = project_create(name=obj.name, public=obj.public, owner=obj.owner, metadata=obj.metadata)
            obj.pk, obj.created, obj.updated = created.pk, created.created, created.updated
            return
        stored = Project.objects.get(pk=obj.pk)
        removed = sorted(set(stored.metadata) - set(obj.metadata))
        project_update(project=stored, public=obj.public, metadata=obj.metadata)
        for name in removed:
            project_metadata_delete(project=stored, name=name)

    def save_formset(self, request, form, formset, change) -> None:  # noqa: ANN001
        if formset.model is Quota:
            self._save_quota(formset, project=form.instance)
        elif formset.model is Member:
            _save_members(formset, project=form.instance)
        else:
            super().save_formset(request, form, formset, change)

    def _save_quota(self, formset, *, project: Project) -> None:  # noqa: ANN001
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []  # for the history
        for quota_form in formset.forms:
            if quota_form.has_changed():
                quota = quota_update(quota=quota_lock(project_id=project.pk), hard=quota_form.cleaned_data["hard"])
                formset.changed_objects.append((quota, quota_form.changed_data))

    def has_delete_permission(self, request, obj=None):  # noqa: ANN001, ANN201
        # A project holding repositories can't be removed (PROTECT); empty ones can.
        return obj is None or not obj.repositories.exists()

    def service_delete(self, request: HttpRequest, obj: Project) -> None:
        project_delete(project=obj)

    def _reconcile(self, request: HttpRequest, *, dry_run: bool) -> None:
        drifts = quota_reconcile(dry_run=dry_run)
        if not drifts:
            self.message_user(request, "Every project's recorded usage matches its blobs.", messages.SUCCESS)
            return
        listed = "; ".join(
            f"{d.project_name}: recorded {'none' if d.recorded is None else d.recorded}, actual {d.actual}"
            for d in drifts[:DRIFTS_SHOWN]
        )
        more = f" (and {len(drifts) - DRIFTS_SHOWN} more)" if len(drifts) > DRIFTS_SHOWN else ""
        if dry_run:
            self.message_user(
                request, f"{len(drifts)} project(s) drifted, nothing changed: {listed}{more}", messages.WARNING
            )
        else:
            self.message_user(request, f"Fixed the usage of {len(drifts)} project(s): {listed}{more}", messages.SUCCESS)

    @admin.action(description="Reconcile the quota usage of every project (dry run)", permissions=["change"])
    def reconcile_quotas_dry_run(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        self._reconcile(request, dry_run=True)

    @admin.action(description="Reconcile the quota usage of every project (fix)", permissions=["change"])
    def reconcile_quotas_fix(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        self._reconcile(request, dry_run=False)


def _member_spec(cleaned: dict) -> dict:
    if cleaned.get("user"):
        return {"member_user": {"user_id": cleaned["user"].pk}}
    return {"member_group": {"id": cleaned["group"].pk}} if cleaned.get("group") else {}


def _save_members(formset, *, project: Project) -> None:  # noqa: ANN001
    """A project's member rows through the member services (the last project admin stays)."""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []  # for the history
    deleted = set(map(id, formset.deleted_forms))
    for member_form in formset.forms:
        member = member_form.instance
        if id(member_form) in deleted:
            if member.pk:
                member_delete(member=member)
                formset.deleted_objects.append(member)
        elif member.pk is None:
            if member_form.has_changed():
                spec = _member_spec(member_form.cleaned_data)
                created = member_create(project=project, role_id=member_form.cleaned_data["role"], **spec)
                formset.new_objects.append(created)
        elif member_form.has_changed():
            formset.changed_objects.append((_member_update(member, member_form), member_form.changed_data))


def _member_update(member: Member, member_form: forms.ModelForm) -> Member:
    if {"user", "group"} & set(member_form.changed_data):
        raise BadRequest(f"{member}: a membership's user or group can't change; remove it and add another")
    return member_update(member=member, role_id=member_form.cleaned_data["role"])


@admin.register(UserGroup)
class UserGroupAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("name", "group_type", "ldap_group_dn", "user_count", "created")
    list_filter = ("group_type",)
    search_fields = ("name", "ldap_group_dn")
    filter_horizontal = ("users",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[UserGroup]:
        return super().get_queryset(request).annotate(_users=Count("users"))

    def get_readonly_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        # Harbor renames a group; its type and LDAP DN are what identify it.
        return ("group_type", "ldap_group_dn", "created", "updated") if obj else ("created", "updated")

    @admin.display(description="users", ordering="_users")
    def user_count(self, obj: UserGroup) -> int:
        return obj._users

    def save_model(self, request, obj, form, change) -> None:  # noqa: ANN001
        principal = principal_of_admin(request)
        if change:
            usergroup_update(principal=principal, group_id=obj.pk, name=obj.name)
            return
        created = usergroup_create(
            principal=principal, name=obj.name, group_type=obj.group_type, ldap_group_dn=obj.ldap_group_dn
        )
        obj.pk, obj.created, obj.updated, obj.ldap_group_dn = (
            created.pk,
            created.created,
            created.updated,
            created.ldap_group_dn,
        )
        # The group's users (save_related) are plain membership rows: no service owns them.

    def service_delete(self, request: HttpRequest, obj: UserGroup) -> None:
        usergroup_delete(principal=principal_of_admin(request), group_id=obj.pk)


@admin.register(Member)
class MemberAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("entity", "project", "role", "created")
    list_filter = ("role",)
    search_fields = ("user__username", "group__name", "project__name")
    list_select_related = ("user", "group", "project")
    autocomplete_fields = ("user", "group", "project")
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):  # noqa: ANN001, ANN201
        return ("project", "user", "group", "created", "updated") if obj else ("created", "updated")

    @admin.display(description="member", ordering="user__username")
    def entity(self, obj: Member) -> str:
        return obj.user.get_username() if obj.user_id else f"{obj.group.name} (group)"

    def save_model(self, request, obj, form, change) -> None:  # noqa: ANN001
        if change:
            updated = member_update(member=obj, role_id=obj.role)
        else:
            spec = _member_spec({"user": obj.user, "group": obj.group})
            updated = member_create(project=obj.project, role_id=obj.role, **spec)
        obj.pk, obj.created, obj.updated = updated.pk, updated.created, updated.updated

    def service_delete(self, request: HttpRequest, obj: Member) -> None:
        member_delete(member=obj)
