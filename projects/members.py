"""Project members (users or groups with a role) and project metadata: services and selectors."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import CharField, QuerySet
from django.db.models.functions import Coalesce

from audit.services import audit_record
from common.api.errors import BadRequest, Conflict, NotFound
from projects.models import GroupType, Member, Project, Role, UserGroup

# --- members: selectors ---------------------------------------------------------------------


def member_list(*, project: Project, entityname: str | None = None) -> QuerySet[Member]:
    """The project's members with their user or group, ordered by entity name; `entityname` is a fuzzy match."""
    queryset = (
        Member.objects.filter(project=project)
        .select_related("user", "group")
        .annotate(entity_name=Coalesce("user__username", "group__name", output_field=CharField()))
    )
    if entityname:
        queryset = queryset.filter(entity_name__icontains=entityname)
    return queryset.order_by("entity_name", "pk")


def member_get(*, project: Project, member_id: int) -> Member:
    """One member of this project (a member of another project is NOT_FOUND here)."""
    member = Member.objects.select_related("user", "group").filter(project=project, pk=member_id).first()
    if member is None:
        raise NotFound(f"member {member_id} not found in project {project.name}")
    return member


# --- members: services ----------------------------------------------------------------------


def _role(role_id: object) -> Role:
    if not isinstance(role_id, int) or isinstance(role_id, bool) or role_id not in Role.values:
        raise BadRequest(f"invalid role ID {role_id}")
    return Role(role_id)


def _user(spec: dict):  # noqa: ANN202 - a user
    users = get_user_model().objects
    user_id, username = spec.get("user_id"), spec.get("username")
    if user_id:
        user = users.filter(pk=user_id).first()
    elif username:
        user = users.filter(**{users.model.USERNAME_FIELD: username}).first()
    else:
        raise BadRequest("member_user needs user_id or username")
    if user is None:
        raise BadRequest(f"user {user_id or username} does not exist")
    return user


def _group(spec: dict) -> UserGroup:
    group_id, dn, name, kind = spec.get("id"), spec.get("ldap_group_dn"), spec.get("group_name"), spec.get("group_type")
    if group_id:
        groups = UserGroup.objects.filter(pk=group_id)
    elif dn:
        groups = UserGroup.objects.filter(ldap_group_dn=dn, group_type=GroupType.LDAP)
    elif name:
        groups = UserGroup.objects.filter(name=name)
        if kind:
            groups = groups.filter(group_type=kind)
    else:
        raise BadRequest("member_group needs id, ldap_group_dn or group_name")
    found = list(groups[:2])
    if not found:
        raise BadRequest(f"user group {group_id or dn or name} does not exist")
    if len(found) > 1:
        raise BadRequest(f"more than one group is named {name}; give group_type")
    return found[0]


def member_create(
    *, project: Project, role_id: object, member_user: dict | None = None, member_group: dict | None = None
) -> Member:
    """Add a user (by id or name) or a group (by id, LDAP DN or name) to the project with a role."""
    role = _role(role_id)
    user = _user(member_user) if member_user else None
    group = _group(member_group) if member_group and user is None else None
    if user is None and group is None:
        raise BadRequest("give member_user or member_group")
    try:
        with transaction.atomic():
            member = Member.objects.create(project=project, user=user, group=group, role=role)
            _member_record(member, "create")
            return member
    except IntegrityError as exc:
        who = user.get_username() if user is not None else group.name
        raise Conflict(f"{who} is already a member of project {project.name}") from exc


def _keep_an_admin(member: Member) -> None:
    """Refuse to take the last project admin membership away (the project would have no admin)."""
    if member.role != Role.PROJECT_ADMIN:
        return
    others = Member.objects.filter(project_id=member.project_id, role=Role.PROJECT_ADMIN).exclude(pk=member.pk)
    if not others.exists():
        raise BadRequest(f"{_entity_name(member)} is the last project admin of this project; add another first")


def _locked(member: Member) -> Member:
    # Lock the project so two admins can't demote each other at once and leave none.
    Project.objects.select_for_update(no_key=True).filter(pk=member.project_id).first()
    current = Member.objects.select_related("user", "group").filter(pk=member.pk).first()
    if current is None:
        raise NotFound(f"member {member.pk} not found")
    return current


def member_update(*, member: Member, role_id: object) -> Member:
    """Change a member's role; the last project admin can't be demoted."""
    role = _role(role_id)
    with transaction.atomic():
        current = _locked(member)
        if role != Role.PROJECT_ADMIN:
            _keep_an_admin(current)
        current.role = role
        current.save(update_fields=["role", "updated"])
        _member_record(current, "update")
    return current


def member_delete(*, member: Member) -> None:
    """Remove a member from the project; the last project admin can't be removed."""
    with transaction.atomic():
        current = _locked(member)
        _keep_an_admin(current)
        _member_record(current, "delete")
        current.delete()


def _entity_name(member: Member) -> str:
    return member.user.get_username() if member.user_id else member.group.name


def _member_record(member: Member, operation: str) -> None:
    """Audit a membership change in the caller's transaction (resource: the user or group name)."""
    audit_record(
        operation=operation,
        resource_type="member",
        resource=_entity_name(member),
        project_id=member.project_id,
        description=f"role {Role(member.role).label}",
    )


# --- project metadata -----------------------------------------------------------------------


def project_metadata(*, project: Project) -> dict[str, str]:
    """All metadata of the project as strings, `public` included (it lives on Project.public)."""
    return {**project.metadata, "public": "true" if project.public else "false"}


def project_metadata_get(*, project: Project, name: str) -> dict[str, str]:
    """One metadata key as `{name: value}`, or NOT_FOUND."""
    values = project_metadata(project=project)
    if name not in values:
        raise NotFound(f"metadata {name} not found in project {project.name}")
    return {name: values[name]}


def _save(project: Project, values: dict[str, str]) -> None:
    keys = sorted(values)
    if "public" in values:
        project.public = values.pop("public") == "true"
    project.metadata = {**project.metadata, **values}
    project.save(update_fields=["public", "metadata", "updated"])
    _metadata_record(project, keys)


def _metadata_record(project: Project, keys: list[str]) -> None:
    """Audit a metadata change as Harbor's project update, naming the keys (values are not logged)."""
    audit_record(
        operation="update",
        resource_type="project",
        resource=project.name,
        project_id=project.pk,
        description=f"metadata: {', '.join(keys)}",
    )


def _lock(project: Project) -> Project:
    return Project.objects.select_for_update(no_key=True).get(pk=project.pk)


def project_metadata_add(*, project: Project, values: dict[str, str]) -> Project:
    """Add validated metadata keys; a key the project already has is a CONFLICT (update it instead)."""
    cleaned = dict(values)
    if not cleaned:
        raise BadRequest("no metadata given")
    with transaction.atomic():
        locked = _lock(project)
        existing = sorted(set(cleaned) & set(project_metadata(project=locked)))
        if existing:
            raise Conflict(f"metadata {', '.join(existing)} already exists in project {project.name}")
        _save(locked, cleaned)
    return locked


def project_metadata_update(*, project: Project, name: str, values: dict[str, str]) -> Project:
    """Change one existing metadata key to a validated value; the body must hold exactly that key."""
    cleaned = dict(values)
    if set(cleaned) != {name}:
        raise BadRequest(f"the body must hold exactly the metadata {name}")
    with transaction.atomic():
        locked = _lock(project)
        if name not in project_metadata(project=locked):
            raise NotFound(f"metadata {name} not found in project {project.name}")
        _save(locked, cleaned)
    return locked


def project_metadata_delete(*, project: Project, name: str) -> Project:
    """Remove one metadata key (`public` is a property of every project and can't be removed)."""
    if name == "public":
        raise BadRequest("public can't be deleted; set it to true or false")
    with transaction.atomic():
        locked = _lock(project)
        if name not in locked.metadata:
            raise NotFound(f"metadata {name} not found in project {project.name}")
        locked.metadata = {k: v for k, v in locked.metadata.items() if k != name}
        locked.save(update_fields=["metadata", "updated"])
        _metadata_record(locked, [name])
    return locked
