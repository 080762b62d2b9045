"""API authentication: Basic credentials (users; robots with the robot issue) and the session cookie."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from common.actor import client_ip
from projects.authentication import basic_credentials, user_authenticate


class BasicAuthentication(authentication.BaseAuthentication):
    """`Authorization: Basic` checked through the same path as /v2/ and the token service."""

    def authenticate(self, request):  # noqa: ANN001, ANN201
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("basic "):
            return None
        credentials = basic_credentials(header)
        if credentials is None:
            raise exceptions.AuthenticationFailed("malformed Basic credentials")
        user = user_authenticate(username=credentials[0], password=credentials[1], source_ip=client_ip(request))
        if user is None:
            raise exceptions.AuthenticationFailed("invalid username or password")
        return user, None

    def authenticate_header(self, request) -> str:  # noqa: ANN001
        return 'Basic realm="harbor"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser session (admin login), with CSRF enforced on unsafe methods."""
