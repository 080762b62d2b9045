"""Users and user groups: the writes (services) and reads (selectors) behind `/users` and `/usergroups`.

Who may do what follows Harbor's handlers: the system resources `user` and `user-group` (held by
sysadmins, and by system robots granted them) manage everyone; a user reads and edits their own
profile and password; anyone authenticated may search.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.services import audit_record
from common.api.errors import BadRequest, Conflict, Forbidden, NotFound, Precondition, Unauthorized
from common.configuration import config_get
from projects.authentication import basic_cache_forget
from projects.models import GroupType, Project, UserGroup, UserProfile
from projects.permissions import Principal, can_system, project_permissions, system_permissions

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser

# Harbor's rule and message (server/v2.0/handler/user.go requireValidSecret).
PASSWORD_RULE = (
    "the password or secret must be longer than 8 chars with at least 1 uppercase letter, "
    "1 lowercase letter and 1 number"
)
# Harbor's email pattern (validateUserProfile).
_EMAIL_RE = re.compile(
    r"^(([^<>()\[\]\\.,;:\s@\"]+(\.[^<>()\[\]\\.,;:\s@\"]+)*)|(\".+\"))@"
    r"((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$"
)
_ILLEGAL_NAME_CHARS = frozenset(",~#$%")
# ":" can't travel in Basic credentials; Harbor doesn't refuse it, but such a user could never log in.
_ILLEGAL_USERNAME_CHARS = _ILLEGAL_NAME_CHARS | {":"}
USERNAME_MAX = 150  # Django's auth_user.username column (Harbor: 255)
EMAIL_MAX = 254  # Django's auth_user.email column (Harbor: 255)
COMMENT_MAX = 30  # Harbor's limit
REALNAME_MAX = 255


# --- validation (Harbor's rules and messages) ----------------------------------------------------


def password_validate(password: str) -> None:
    """At least 8 characters with an uppercase letter, a lowercase letter and a digit (400 otherwise)."""
    if not (
        len(password) >= 8
        and re.search(r"[a-z]", password)
        and re.search(r"[A-Z]", password)
        and re.search(r"[0-9]", password)
    ):
        raise BadRequest(PASSWORD_RULE)


def profile_validate(*, email: str, realname: str, comment: str) -> None:
    """Harbor's profile rules: a well-formed email, a realname of 1-255 characters, a short comment."""
    if not email:
        raise BadRequest("email can't be empty")
    if len(email) > EMAIL_MAX or not _EMAIL_RE.match(email):
        raise BadRequest("email with illegal format")
    if not 1 <= len(realname) <= REALNAME_MAX:
        raise BadRequest("realname with illegal length")
    if _ILLEGAL_NAME_CHARS & set(realname):
        raise BadRequest("realname contains illegal characters")
    if len(comment) > COMMENT_MAX:
        raise BadRequest("comment with illegal length")


def username_validate(username: str) -> None:
    """1-150 characters, none of `, ~ # $ % :` and no surrounding whitespace."""
    if not 1 <= len(username) <= USERNAME_MAX or username != username.strip():
        raise BadRequest("username with illegal length")
    if _ILLEGAL_USERNAME_CHARS & set(username):
        raise BadRequest("username contains illegal characters")


# --- authorization (Harbor's RequireSystemAccess, requireReadable, requireModifiable) --------------


def system_authorize(principal: Principal, action: str, resource: str) -> None:
    """401 for anonymous, 403 unless the principal holds the system (resource, action)."""
    if principal.is_anonymous:
        raise Unauthorized("authentication required")
    if not can_system(principal, action, resource):
        raise Forbidden(f"not allowed to {action} {resource}")


def _is_self(principal: Principal, user_id: int) -> bool:
    # Robots have no user: their ids never match a user's.
    return principal.user is not None and principal.user.pk == user_id


def _require_self_or(principal: Principal, user_id: int, action: str, message: str) -> None:
    if principal.is_anonymous:
        raise Unauthorized("authentication required")
    if not _is_self(principal, user_id) and not can_system(principal, action, "user"):
        raise Forbidden(message)


# --- selectors -------------------------------------------------------------------------------------


USER_ORDER = ("-date_joined", "-pk")  # Harbor's default: newest first


def user_list(*, principal: Principal, username: str = "", email: str = "") -> QuerySet:
    """Users (fuzzy by name and email) with the profile the response shows, in one query per page."""
    system_authorize(principal, "list", "user")
    queryset = get_user_model().objects.select_related("harbor_profile").order_by(*USER_ORDER)
    if username:
        queryset = queryset.filter(username__icontains=username)
    if email:
        queryset = queryset.filter(email__icontains=email)
    return queryset


def user_get(*, user_id: int) -> AbstractUser:
    """A user by id (404 when there is none)."""
    user = get_user_model().objects.select_related("harbor_profile").filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def user_get_for(*, principal: Principal, user_id: int) -> AbstractUser:
    """A user the principal may read: themselves, or anyone with `user` read (403 before 404, as Harbor)."""
    _require_self_or(principal, user_id, "read", f"Not authorized to read user: {user_id}")
    return user_get(user_id=user_id)


def user_current(*, principal: Principal) -> AbstractUser:
    """The calling user; 412 for a robot, which has no user profile (Harbor: non-local security context)."""
    if principal.user is None:
        raise Precondition("get current user not available for this security context")
    return user_get(user_id=principal.user.pk)


def user_search(*, username: str) -> QuerySet:
    """Users whose name contains `username` (ids and names only)."""
    return get_user_model().objects.filter(username__icontains=username).order_by(*USER_ORDER).only("pk", "username")


def _scope_pairs(principal: Principal, scope: str) -> tuple[str, frozenset[tuple[str, str]]]:
    """The namespace a scope names (`/system`, `/project/{id}`) and the pairs the principal holds there."""
    if re.match(r"^/system(/|$)", scope):
        return "/system", system_permissions(principal)
    match = re.match(r"^/project/([0-9]+)(/|$)", scope)
    project = Project.objects.filter(pk=int(match.group(1))).first() if match else None
    if project is None:
        return "", frozenset()
    return f"/project/{project.pk}", project_permissions(principal, project)


def user_permissions(*, principal: Principal, scope: str, relative: bool) -> list[dict[str, str]]:
    """The (resource, action) pairs the principal holds under a scope, in Harbor's shape.

    Resources are absolute (`/project/1/repository`; the project itself is `/project/1`) or, with
    `relative`, relative to the scope (`repository`, `.`), as Harbor's getCurrentUserPermissions.
    """
    base, pairs = _scope_pairs(principal, scope)
    prefix = scope.rstrip("/")
    permissions = []
    for resource, action in sorted(pairs):
        absolute = base if resource == "project" and base != "/system" else f"{base}/{resource}"
        if not relative:
            permissions.append({"resource": absolute, "action": action})
        elif absolute == prefix or absolute.startswith(prefix + "/"):
            permissions.append({"resource": absolute[len(prefix) :].lstrip("/") or ".", "action": action})
    return permissions


# --- services --------------------------------------------------------------------------------------


def _profile(user: AbstractUser) -> UserProfile:
    profile, _ = UserProfile.objects.get_or_create(user=user)
    return profile


def user_create(
    *,
    principal: Principal,
    carries_session: bool,
    username: str,
    email: str,
    password: str,
    realname: str = "",
    comment: str = "",
) -> AbstractUser:
    """Create a local user: with `user` create (sysadmins); others only by self-registration in a browser session."""
    if not can_system(principal, "create", "user"):
        if not config_get("self_registration"):
            system_authorize(principal, "create", "user")
        if not carries_session:
            # Harbor: with self-registration on, sign-up is for the UI; plain API calls are refused.
            raise Forbidden("self-registration cannot be triggered via API")
    password_validate(password)
    username_validate(username)
    profile_validate(email=email, realname=realname, comment=comment)
    user_model = get_user_model()
    conflict = Conflict(f"user {username} or email {email} already exists")
    try:
        with transaction.atomic():
            if user_model.objects.filter(Q(username=username) | Q(email=email)).exists():
                raise conflict
            user = user_model.objects.create_user(username=username, email=email, password=password)
            UserProfile.objects.create(user=user, realname=realname, comment=comment)
            audit_record(operation="create", resource_type="user", resource=username)
    except IntegrityError as exc:  # a concurrent create of the same username
        raise conflict from exc
    return user


def user_profile_update(*, principal: Principal, user_id: int, email: str, realname: str, comment: str) -> None:
    """Replace a user's email, realname and comment (the user themselves, or with `user` update)."""
    _require_self_or(principal, user_id, "update", f"User with ID {user_id} can't be updated")
    profile_validate(email=email, realname=realname, comment=comment)
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound(f"user with id {user_id} not found")
        if get_user_model().objects.filter(email=email).exclude(pk=user_id).exists():
            raise Conflict(f"email {email} already exists")
        user.email = email
        user.save(update_fields=["email"])
        profile = _profile(user)
        profile.realname, profile.comment = realname, comment
        profile.save(update_fields=["realname", "comment", "updated"])
        audit_record(operation="update", resource_type="user", resource=user.get_username(), description="profile")


def user_password_update(
    *, principal: Principal, user_id: int, old_password: str | None, new_password: str
) -> AbstractUser:
    """Change a password: your own with the current one; `user` update (sysadmins) resets others' without it.

    Remembered Basic credential checks of the user are forgotten.
    """
    _require_self_or(principal, user_id, "update", f"User with ID {user_id} can't be updated")
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound(f"user with id {user_id} not found")
        if _is_self(principal, user_id) and not user.check_password(old_password or ""):
            raise Forbidden("Current password is incorrect")
        password_validate(new_password)
        if user.check_password(new_password):
            raise BadRequest("New password is identical to old password")
        user.set_password(new_password)
        user.save(update_fields=["password"])
        profile = _profile(user)
        profile.password_changed = timezone.now()
        profile.save(update_fields=["password_changed", "updated"])
        audit_record(operation="update", resource_type="user", resource=user.get_username(), description="password")
    # Entries made with the old password would fail their stamp check anyway; drop them here at once.
    basic_cache_forget(user_id=user_id)
    return user


def user_sysadmin_set(*, principal: Principal, user_id: int, sysadmin: bool) -> None:
    """Grant or revoke system admin (and with it the operator console); the last sysadmin stays one."""
    system_authorize(principal, "update", "user")
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound(f"user with id {user_id} not found")
        if not sysadmin and user.is_superuser:
            others = user_model.objects.select_for_update().filter(is_superuser=True, is_active=True)
            if not others.exclude(pk=user_id).exists():
                raise Forbidden("the last system administrator can't be demoted")
        user.is_superuser = user.is_staff = sysadmin
        user.save(update_fields=["is_superuser", "is_staff"])
        _profile(user).save(update_fields=["updated"])
        audit_record(
            operation="update",
            resource_type="user",
            resource=user.get_username(),
            description=f"sysadmin {'granted' if sysadmin else 'revoked'}",
        )


def user_delete(*, principal: Principal, user_id: int) -> None:
    """Delete a user with their memberships (`user` delete); nobody deletes themselves."""
    system_authorize(principal, "delete", "user")
    if _is_self(principal, user_id):
        raise Forbidden(f"User with ID {user_id} cannot be deleted")
    with transaction.atomic():
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is None:
            raise NotFound(f"user {user_id} not found")
        audit_record(operation="delete", resource_type="user", resource=user.get_username())
        user.delete()
    basic_cache_forget(user_id=user_id)


# --- user groups -----------------------------------------------------------------------------------


def usergroup_list(*, principal: Principal, group_name: str = "", ldap_group_dn: str = "") -> QuerySet[UserGroup]:
    """Groups, optionally by fuzzy name and exact LDAP DN, newest first (Harbor's default order)."""
    system_authorize(principal, "list", "user-group")
    return _usergroups(group_name=group_name, ldap_group_dn=ldap_group_dn)


def usergroup_search(*, group_name: str) -> QuerySet[UserGroup]:
    """Groups whose name contains `group_name` (open to every authenticated caller, as Harbor)."""
    return _usergroups(group_name=group_name)


def _usergroups(*, group_name: str = "", ldap_group_dn: str = "") -> QuerySet[UserGroup]:
    queryset = UserGroup.objects.order_by("-created", "-pk")
    if group_name:
        queryset = queryset.filter(name__icontains=group_name)
    if ldap_group_dn:
        queryset = queryset.filter(ldap_group_dn=ldap_group_dn.strip().lower())
    return queryset


def usergroup_get(*, principal: Principal, group_id: int) -> UserGroup:
    """A group by id (400 for a non-positive id, 404 when there is none)."""
    system_authorize(principal, "read", "user-group")
    if group_id <= 0:
        raise BadRequest("the group id should be provided")
    group = UserGroup.objects.filter(pk=group_id).first()
    if group is None:
        raise NotFound(f"the user group with id {group_id} is not found")
    return group


def _group_type(value: int | None) -> int:
    if value not in GroupType.values:
        raise BadRequest("group_type must be 1 (LDAP), 2 (HTTP) or 3 (OIDC)")
    return int(value)


def usergroup_create(*, principal: Principal, name: str, group_type: int | None, ldap_group_dn: str = "") -> UserGroup:
    """Create a group; (name, type) is unique. LDAP groups need their DN (kept trimmed and lower-case)."""
    system_authorize(principal, "create", "user-group")
    if not name:
        raise BadRequest("group_name is required")
    if len(name) > 255:
        raise BadRequest("group_name with illegal length")
    group_type = _group_type(group_type)
    ldap_group_dn = ldap_group_dn.strip().lower()
    if group_type == GroupType.LDAP and not ldap_group_dn:
        raise BadRequest("ldap_group_dn is required for an LDAP group")
    if len(ldap_group_dn) > 512:
        raise BadRequest("ldap_group_dn with illegal length")
    conflict = Conflict(
        f"duplicate user group, group name:{name}, group type: {group_type}, ldap group DN: {ldap_group_dn}"
    )
    try:
        with transaction.atomic():
            group = UserGroup.objects.create(name=name, group_type=group_type, ldap_group_dn=ldap_group_dn)
            audit_record(operation="create", resource_type="user_group", resource=name)
            return group
    except IntegrityError as exc:
        raise conflict from exc


def usergroup_update(*, principal: Principal, group_id: int, name: str) -> UserGroup:
    """Rename a group (the only field Harbor lets change)."""
    system_authorize(principal, "update", "user-group")
    if group_id <= 0 or not name:
        raise BadRequest("the group id and group_name should be provided")
    if len(name) > 255:
        raise BadRequest("group_name with illegal length")
    try:
        with transaction.atomic():
            group = UserGroup.objects.select_for_update().filter(pk=group_id).first()
            if group is None:
                raise NotFound(f"the user group with id {group_id} is not found")
            old, group.name = group.name, name
            group.save(update_fields=["name", "updated"])
            audit_record(
                operation="update", resource_type="user_group", resource=name, description=f"renamed from {old}"
            )
    except IntegrityError as exc:
        raise Conflict(f"duplicate user group name {name}") from exc
    return group


def usergroup_delete(*, principal: Principal, group_id: int) -> None:
    """Delete a group and its project memberships; an unknown id is a no-op, as in Harbor."""
    system_authorize(principal, "delete", "user-group")
    if group_id <= 0:
        raise BadRequest("the group id should be provided")
    with transaction.atomic():
        group = UserGroup.objects.filter(pk=group_id).first()
        if group is not None:
            audit_record(operation="delete", resource_type="user_group", resource=group.name)
            group.delete()
