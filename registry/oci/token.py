"""`GET /service/token`: Docker token authentication (Basic credentials or anonymous)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from common.actor import client_ip
from common.configuration import token_expiration_seconds
from projects.authentication import basic_credentials, user_authenticate
from projects.permissions import Principal
from registry.auth.scopes import Scope, scopes_parse
from registry.auth.token import token_issue
from registry.services.tokens import token_grant


def token_for(*, principal: Principal, scopes: list[Scope]) -> dict:
    """The token endpoint's response body: the granted scopes (the service decides), signed."""
    granted = token_grant(principal=principal, scopes=scopes)
    token, expires_in, issued = token_issue(
        subject=principal.name, access=granted, expires_in=token_expiration_seconds()
    )
    return {
        "token": token,
        "access_token": token,
        "expires_in": expires_in,
        "issued_at": datetime.fromtimestamp(issued, tz=UTC).isoformat().replace("+00:00", "Z"),
    }


def _unauthorized(message: str) -> JsonResponse:
    return JsonResponse({"errors": [{"code": "UNAUTHORIZED", "message": message}]}, status=401)


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        principal = Principal.anonymous()
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header:
            credentials = basic_credentials(header)
            if credentials is None:
                return _unauthorized("unsupported authorization header")
            user = user_authenticate(username=credentials[0], password=credentials[1], source_ip=client_ip(request))
            if user is None:
                return _unauthorized("invalid username or password")
            principal = Principal(user)
        scopes = scopes_parse(request.GET.getlist("scope"))
        return JsonResponse(token_for(principal=principal, scopes=scopes))

    def post(self, request: HttpRequest) -> HttpResponse:
        """OAuth2 password grant (used by some clients for `docker login`)."""
        if request.POST.get("grant_type") != "password":
            return JsonResponse({"error": "unsupported_grant_type"}, status=400)
        user = user_authenticate(
            username=request.POST.get("username", ""),
            password=request.POST.get("password", ""),
            source_ip=client_ip(request),
        )
        if user is None:
            return _unauthorized("invalid username or password")
        scopes = scopes_parse(request.POST.getlist("scope"))
        return JsonResponse(token_for(principal=Principal(user), scopes=scopes))
