"""Projects (namespaces) and their members."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from common.models import TimeStampedModel
from registry.names import is_valid_project_name


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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not is_valid_project_name(self.name):
            raise ValidationError({"name": "lowercase letters, digits and . _ - separators, at most 255 characters"})


class Member(TimeStampedModel):
    """A user's role in a project (groups come with the identity work)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships")
    role = models.PositiveSmallIntegerField(choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="member_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.get_role_display()}"
