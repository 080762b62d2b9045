"""Reads behind the system endpoints (statistics, search), scoped to what the principal may see."""

from __future__ import annotations

from django.db.models import Count, Q, Sum

from projects.models import Project
from projects.permissions import Principal
from projects.selectors import project_list, project_visible
from registry.models import Blob, Repository


def statistic_get(*, principal: Principal) -> dict[str, int]:
    """Harbor's Statistic: public counts for everyone, the caller's private ones, totals for sysadmins."""
    projects = Project.objects.aggregate(public=Count("pk", filter=Q(public=True)), total=Count("pk"))
    repos = Repository.objects.aggregate(public=Count("pk", filter=Q(project__public=True)), total=Count("pk"))
    result = {
        "public_project_count": projects["public"],
        "public_repo_count": repos["public"],
        "private_project_count": 0,
        "private_repo_count": 0,
        "total_project_count": 0,
        "total_repo_count": 0,
        "total_storage_consumption": 0,
    }
    if principal.is_sysadmin:
        result.update(
            {
                "total_project_count": projects["total"],
                "private_project_count": projects["total"] - projects["public"],
                "total_repo_count": repos["total"],
                "private_repo_count": repos["total"] - repos["public"],
                "total_storage_consumption": Blob.objects.aggregate(total=Sum("size"))["total"] or 0,
            }
        )
    elif principal.user is not None:
        private = project_visible(principal=principal).filter(public=False)  # private ones they are a member of
        result["private_project_count"] = private.count()
        result["private_repo_count"] = Repository.objects.filter(project__in=private.values("pk")).count()
    return result


def search_projects(*, principal: Principal, q: str) -> list[Project]:
    """Visible projects whose name contains `q`, with what the Project JSON shows, roles preloaded."""
    projects = list(project_list(principal=principal).filter(name__icontains=q).order_by("name"))
    principal.preload_roles(projects)
    return projects


def search_repositories(*, principal: Principal, q: str) -> list[dict]:
    """Repositories in visible projects whose name contains `q`, as Harbor's SearchRepository."""
    rows = (
        Repository.objects.filter(name__icontains=q, project__in=project_visible(principal=principal).values("pk"))
        .annotate(artifact_count=Count("artifacts"))
        .values("project_id", "project__name", "project__public", "name", "pull_count", "artifact_count")
        .order_by("name")
    )
    return [
        {
            "project_id": row["project_id"],
            "project_name": row["project__name"],
            "project_public": row["project__public"],
            "repository_name": row["name"],
            "pull_count": row["pull_count"],
            "artifact_count": row["artifact_count"],
        }
        for row in rows
    ]
