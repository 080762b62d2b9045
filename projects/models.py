"""Projects (namespaces) and their members."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from common.models import TimeStampedModel
from projects.names import is_valid_project_name


class Role(models.IntegerChoices):
    """Harbor's project roles, with Harbor's ids."""

    PROJECT_ADMIN = 1, "projectAdmin"
    DEVELOPER = 2, "developer"
    GUEST = 3, "guest"
    MAINTAINER = 4, "maintainer"
    LIMITED_GUEST = 5, "limitedGuest"


class Project(TimeStampedModel):
    """A namespace: the first component of every repository name under it."""

    name = models.CharField(max_length=255, unique=True)
    public = models.BooleanField(default=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    metadata = models.JSONField(default=dict, blank=True)
    # Bumped in the transaction of every write to a policy the push path consults (immutability
    # rules, webhook policies), by `project_policies_changed` only; 0 means the project never had
    # one. A push reads it in its own transaction (registry/services/manifests.py), under a lock that
    # orders it with those writes, and gates and event subscribers key per-process caches on it.
    policy_revision = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not is_valid_project_name(self.name):
            raise ValidationError({"name": "lowercase letters, digits and . _ - separators, at most 255 characters"})


class GroupType(models.IntegerChoices):
    """Harbor's user group types."""

    LDAP = 1, "LDAP"
    HTTP = 2, "HTTP"
    OIDC = 3, "OIDC"


class UserGroup(TimeStampedModel):
    """A group of users from an identity source; members of a group get the group's project roles."""

    name = models.CharField(max_length=255)
    group_type = models.PositiveSmallIntegerField(choices=GroupType.choices)
    ldap_group_dn = models.CharField(max_length=512, blank=True, default="")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="harbor_groups")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "group_type"], name="usergroup_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_group_type_display()})"


class Member(TimeStampedModel):
    """A user's or a group's role in a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="project_memberships"
    )
    group = models.ForeignKey(UserGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships")
    role = models.PositiveSmallIntegerField(choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="member_unique_user"),
            models.UniqueConstraint(fields=["project", "group"], name="member_unique_group"),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, group__isnull=True)
                | models.Q(user__isnull=True, group__isnull=False),
                name="member_user_xor_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.group} in {self.project} as {self.get_role_display()}"


class UserProfile(models.Model):
    """Harbor's user fields that Django's user model lacks."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="harbor_profile")
    realname = models.CharField(max_length=255, blank=True, default="")
    comment = models.CharField(max_length=1024, blank=True, default="")
    password_changed = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)  # the user's Harbor `update_time`

    def __str__(self) -> str:
        return f"profile of {self.user}"


class Robot(TimeStampedModel):
    """A robot account v2: `robot$<project>+<name>` (project level) or `robot$<name>` (system level)."""

    name = models.CharField(max_length=255)  # the short name; the full name is derived
    description = models.TextField(blank=True, default="")
    level = models.CharField(max_length=16, choices=[("system", "system"), ("project", "project")])
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="robots")
    secret_hash = models.CharField(max_length=255)  # a Django password hash; the secret itself is never kept
    disabled = models.BooleanField(default=False)
    duration = models.IntegerField(default=-1)  # days; -1 never expires
    expires_at = models.DateTimeField(null=True, blank=True)
    # [{"kind": "project"|"system", "namespace": "<project>"|"/", "access": [{"resource", "action", "effect"}]}]
    permissions = models.JSONField(default=list, blank=True)
    creator_type = models.CharField(max_length=16, blank=True, default="")  # "local" user or "robot"
    creator_ref = models.BigIntegerField(null=True, blank=True)

    # Basic credentials of a robot resolve to this row, which then stands where a user would
    # (DRF's request.user, `Principal(...)`): the duck-typed part of Django's user interface.
    is_authenticated = True
    is_anonymous = False

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="robot_unique_name"),
            # NULLs are distinct in a unique index, so system robots (no project) need their own.
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(project__isnull=True), name="robot_unique_system_name"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        prefix = "robot$"
        return f"{prefix}{self.project.name}+{self.name}" if self.project_id else f"{prefix}{self.name}"

    def get_username(self) -> str:
        return self.full_name

    @property
    def is_active(self) -> bool:
        """Usable: neither disabled nor past its expiry."""
        return not self.disabled and (self.expires_at is None or self.expires_at > timezone.now())


class Quota(TimeStampedModel):
    """A project's storage quota: `hard` bytes (-1 unlimited) and `used` bytes, plus its pending QuotaDelta rows."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="quota")
    hard = models.BigIntegerField(default=-1)
    used = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"quota of {self.project}: {self.used}/{self.hard}"


class QuotaDelta(models.Model):
    """A change of a project's used bytes not yet folded into its Quota row (registry/quotas.py).

    Pushes into a project without a storage limit append one of these in their transaction instead of
    updating the Quota row, so concurrent pushes never wait on that row; `quota_fold` moves them into
    `Quota.used` in batches. A project's usage is always `used` plus the sum of its deltas.
    """

    id = models.BigAutoField(primary_key=True)
    # No database constraint: an insert on the push path then costs no check of the project row.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    size = models.BigIntegerField()  # bytes: positive for a charge, negative for a release

    def __str__(self) -> str:
        return f"{self.size:+d} bytes for project {self.project_id}"
