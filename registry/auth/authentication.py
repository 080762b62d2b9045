"""Who is calling /v2/ and /service/token, and whether they may do what they ask."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model

from projects.models import Project
from projects.permissions import REGISTRY_ACTIONS, Principal, can
from registry.auth.scopes import access_allows
from registry.auth.token import TokenInvalid, VerifiedToken, token_verify
from registry.errors import Denied, Unauthorized

_BASIC_CACHE: OrderedDict[str, tuple[int, float]] = OrderedDict()
_BASIC_LOCK = threading.Lock()
_BASIC_MAX = 1024


def basic_credentials(header: str) -> tuple[str, str] | None:
    """Decode an `Authorization: Basic` header value; None when it is not Basic or malformed."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def user_authenticate(*, username: str, password: str):  # noqa: ANN201 - a user model instance
    """Check credentials through Django's backends, remembering successes for a short while."""
    key = hmac.new(settings.SECRET_KEY.encode(), f"{username}\0{password}".encode(), hashlib.sha256).hexdigest()
    now = time.monotonic()
    with _BASIC_LOCK:
        hit = _BASIC_CACHE.get(key)
    user_model = get_user_model()
    if hit is not None and hit[1] > now:
        user = user_model.objects.filter(pk=hit[0], is_active=True).first()
        if user is not None:
            return user
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        with _BASIC_LOCK:
            _BASIC_CACHE.pop(key, None)
        return None
    with _BASIC_LOCK:
        _BASIC_CACHE[key] = (user.pk, now + settings.BASIC_AUTH_CACHE_SECONDS)
        while len(_BASIC_CACHE) > _BASIC_MAX:
            _BASIC_CACHE.popitem(last=False)
    return user


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
        if self.token is not None and self.principal.user is None and self.subject:
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
    user = user_authenticate(username=credentials[0], password=credentials[1])
    if user is None:
        raise Unauthorized("invalid username or password", headers=challenge(request))
    return RegistryAuth(Principal(user), user.get_username())


def registry_require(request, auth: RegistryAuth, *, repository: str, project: str, action: str) -> None:  # noqa: ANN001
    """Allow `action` (pull, push, delete) on a repository, or raise the right challenge or denial."""
    scope = f"repository:{repository}:{'pull,push' if action == 'push' else action}"
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
