"""Who is calling /v2/ and /service/token, and whether they may do what they ask."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model

from common.actor import client_ip
from projects.authentication import basic_credentials, user_authenticate
from projects.models import Project
from projects.permissions import REGISTRY_ACTIONS, Principal, can
from projects.robots.catalogue import ROBOT_PREFIX
from projects.robots.selectors import robot_by_full_name
from registry.auth.scopes import access_allows
from registry.auth.token import TokenInvalid, VerifiedToken, token_verify
from registry.errors import Denied, Unauthorized


def realm(request) -> str:  # noqa: ANN001
    base = settings.EXTERNAL_URL or f"{request.scheme}://{request.get_host()}"
    return f"{base}/service/token"


def challenge(request, scope: str | None = None, *, error: str | None = None) -> dict[str, str]:  # noqa: ANN001
    value = f'Bearer realm="{realm(request)}",service="{settings.REGISTRY_SERVICE}"'
    if scope:
        value += f',scope="{scope}"'
    if error:
        value += f',error="{error}"'
    return {"WWW-Authenticate": value}


@dataclass
class RegistryAuth:
    """The caller of a /v2/ request: a verified token, Basic credentials, or nobody."""

    principal: Principal
    subject: str  # who, for binding upload sessions: username or token subject
    token: VerifiedToken | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.token is None and self.principal.is_anonymous

    def full_principal(self) -> Principal:
        """A principal with its user loaded (token callers carry only a subject)."""
        if self.token is not None and self.principal.is_anonymous and self.subject:
            if self.subject.startswith(ROBOT_PREFIX):  # a robot's token: its rights, while it is usable
                robot = robot_by_full_name(full_name=self.subject)
                self.principal = Principal(robot if robot is not None and robot.is_active else None)
            else:
                user = get_user_model().objects.filter(username=self.subject, is_active=True).first()
                self.principal = Principal(user)
        return self.principal


def registry_authenticate(request) -> RegistryAuth:  # noqa: ANN001
    """Resolve the caller; raise UNAUTHORIZED for bad credentials or a bad token."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return RegistryAuth(Principal.anonymous(), "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        try:
            token = token_verify(value.strip())
        except TokenInvalid as exc:
            raise Unauthorized(f"invalid token: {exc}", headers=challenge(request, error="invalid_token")) from exc
        return RegistryAuth(Principal.anonymous(), token.subject, token)
    credentials = basic_credentials(header)
    if credentials is None:
        raise Unauthorized("unsupported authorization header", headers=challenge(request))
    user = user_authenticate(username=credentials[0], password=credentials[1], source_ip=client_ip(request))
    if user is None:
        raise Unauthorized("invalid username or password", headers=challenge(request))
    return RegistryAuth(Principal(user), user.get_username())


def registry_require(  # noqa: ANN001
    request, auth: RegistryAuth, *, repository: str, project: str, action: str, also: tuple[str, ...] = ()
) -> None:
    """Allow `action` (pull, push, delete) on a repository, or raise the right challenge or denial.

    `also`: further scopes the request can use (a mount's source), named in the challenge so that
    a client asking for exactly what the challenge lists gets a token that allows all of it."""
    scope = " ".join((f"repository:{repository}:{'pull,push' if action == 'push' else action}", *also))
    if auth.token is not None:
        if access_allows(auth.token.access, "repository", repository, action):
            return
        raise Unauthorized(
            "insufficient scope",
            headers=challenge(request, scope, error="insufficient_scope"),
            detail=[{"Type": "repository", "Name": repository, "Action": action}],
        )
    project_row = Project.objects.filter(name=project).first()
    resource, verb = REGISTRY_ACTIONS[action]
    if can(auth.principal, verb, resource, project=project_row):
        return
    if auth.is_anonymous:
        raise Unauthorized(headers=challenge(request, scope))
    raise Denied(detail=[{"Type": "repository", "Name": repository, "Action": action}])
