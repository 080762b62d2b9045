"""Who is acting, for the audit log: set once at each entry point, read by services.

Services record the audit row themselves (ARCHITECTURE.md, Events), but the operator and the
source address are facts of the request, not of the operation. Threading them through every
service signature would touch every call site for a value only the audit row reads, so the
entry points (the middleware for the REST API and admin, the /v2/ base view and the token
service, Celery tasks) set a context variable and `audit_record` reads it. Outside any request
the actor is the system itself (`system`, e.g. a scheduled GC or retention run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True, slots=True)
class Actor:
    """The operator of an operation: a username (users), a robot's full name, `anonymous` or `system`."""

    username: str
    source_ip: str = ""
    is_robot: bool = False


SYSTEM = Actor("system")

_current: ContextVar[Actor | HttpRequest] = ContextVar("harbor_actor", default=SYSTEM)


def actor_current() -> Actor:
    """The actor of the running request or job (`SYSTEM` outside both)."""
    value = _current.get()
    if isinstance(value, Actor):
        return value
    return actor_from_request(value)


def actor_from_request(request: HttpRequest, principal: object | None = None) -> Actor:
    """The actor behind a request: `principal` if given, else whoever authentication put on `request.user`."""
    ip = client_ip(request)
    subject = principal if principal is not None else getattr(request, "user", None)
    robot = getattr(subject, "robot", None)
    if robot is None and subject is not None and type(subject).__name__ == "Robot":
        robot = subject
    if robot is not None:
        return Actor(robot.full_name, ip, is_robot=True)
    user = getattr(subject, "user", subject)
    if user is None or not getattr(user, "is_authenticated", False):
        return Actor("anonymous", ip)
    return Actor(user.get_username(), ip)


def client_ip(request: HttpRequest) -> str:
    """The peer address; behind a proxy, HARBOR_TRUSTED_PROXY_HOPS decides how far X-Forwarded-For is believed."""
    from django.conf import settings

    hops = getattr(settings, "HARBOR_TRUSTED_PROXY_HOPS", 0)
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    # Each trusted proxy appended the address it saw; the client is `hops` entries from the end.
    if len(forwarded) >= hops:
        return forwarded[-hops]
    return forwarded[0] if forwarded else remote


@contextmanager
def acting_as(actor: Actor | HttpRequest) -> Iterator[None]:
    """Run the block as `actor` (an Actor, or a request whose user is resolved when a record is written)."""
    token = _current.set(actor)
    try:
        yield
    finally:
        _current.reset(token)


def actor_set(actor: Actor | HttpRequest) -> None:
    """Set the actor for the rest of this request (the /v2/ base view, once authentication is known)."""
    _current.set(actor)


class ActorMiddleware:
    """Makes the request the actor: its user is read lazily, after DRF or the session resolved it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with acting_as(request):
            return self.get_response(request)
