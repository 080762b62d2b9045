"""Reads on projects, scoped by what the principal may see."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from common.api.errors import NotFound
from common.api.params import is_int64
from projects.models import Member, Project
from projects.permissions import Principal


def project_visible(*, principal: Principal) -> QuerySet[Project]:
    """Projects the principal may read: all for sysadmins, else public ones and their memberships (robots: grants)."""
    queryset = Project.objects.all()
    if principal.is_sysadmin:
        return queryset
    condition = Q(public=True)
    if principal.robot is not None:
        # A robot sees public projects and those it holds something in (all with a `*` grant).
        grants = principal.robot_grants()
        if grants.every:
            return queryset
        return queryset.filter(condition | Q(pk__in=[pk for pk, pairs in grants.projects.items() if pairs]))
    if principal.user is not None:
        member_of = Member.objects.filter(Q(user_id=principal.user.pk) | Q(group__users=principal.user.pk))
        condition |= Q(pk__in=member_of.values("project_id"))
    return queryset.filter(condition)


def project_list(*, principal: Principal) -> QuerySet[Project]:
    """Visible projects with what the list shows (owner, repository count)."""
    return project_visible(principal=principal).select_related("owner").annotate(repo_count=Count("repositories"))


def project_get(*, name_or_id: str, is_name: bool | None = None) -> Project | None:
    """A project by name or id (Harbor: numeric means id unless `X-Is-Resource-Name: true`)."""
    queryset = Project.objects.select_related("owner")
    if not is_name:  # absent or false (Harbor's default, sent by generated clients): a number is an id
        is_name = not is_int64(name_or_id)
    return queryset.filter(name=name_or_id).first() if is_name else queryset.filter(pk=int(name_or_id)).first()


def project_get_or_404(*, name_or_id: str, is_name: bool | None = None) -> Project:
    project = project_get(name_or_id=name_or_id, is_name=is_name)
    if project is None:
        raise NotFound(f"project {name_or_id} not found")
    return project


def member_role_counts(*, project: Project) -> dict[int, int]:
    rows = Member.objects.filter(project=project).values("role").annotate(n=Count("pk"))
    return {row["role"]: row["n"] for row in rows}
