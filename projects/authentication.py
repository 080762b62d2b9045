"""Who is calling: local users (through Django's authentication backends, so LDAP and OIDC
plug in there) and robot accounts (`robot$...` names, against their secret hash) by Basic
credentials, with a short cache of successful checks."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.hashers import check_password, make_password

from audit.services import audit_record
from common.actor import Actor
from projects.robots.catalogue import ROBOT_PREFIX
from projects.robots.selectors import robot_by_full_name, robot_by_pk

# key -> (user id, expiry, stamp of the password hash at the time of the check)
_BASIC_CACHE: OrderedDict[str, tuple[int, float, str]] = OrderedDict()
_BASIC_KEYS_BY_USER: dict[int, set[str]] = {}  # so one user's entries can be dropped at once
_BASIC_LOCK = threading.Lock()
_BASIC_MAX = 1024
# key -> [lock, holders]: one check of a credential at a time per process (see _checking)
_BASIC_CHECKING: dict[str, list] = {}


def _password_stamp(user) -> str:  # noqa: ANN001
    # A changed password changes the stored hash, so entries made before it stop matching on every node.
    return hmac.new(settings.SECRET_KEY.encode(), user.password.encode(), hashlib.sha256).hexdigest()


def _secret_stamp(robot) -> str:  # noqa: ANN001
    # A refreshed secret changes the stored hash: entries of the old secret stop matching at once.
    return hmac.new(settings.SECRET_KEY.encode(), robot.secret_hash.encode(), hashlib.sha256).hexdigest()


def basic_cache_clear() -> None:
    """Forget every remembered credential check (tests; operators rotating many secrets)."""
    with _BASIC_LOCK:
        _BASIC_CACHE.clear()
        _BASIC_KEYS_BY_USER.clear()


def basic_cache_forget(*, user_id: int) -> None:
    """Forget every remembered credential check of a user (password changed, user deleted)."""
    with _BASIC_LOCK:
        for key in _BASIC_KEYS_BY_USER.pop(user_id, set()):
            _BASIC_CACHE.pop(key, None)


@contextlib.contextmanager
def _checking(key: str) -> Iterator[None]:
    """Hold the credential's check lock: when its cache entry is missing or expired, concurrent
    requests with the same credentials (a CI fan-out, many pushes at once) wait for one password
    hash instead of each computing it (hundreds of ms of CPU apiece), then find it cached."""
    with _BASIC_LOCK:
        entry = _BASIC_CHECKING.setdefault(key, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _BASIC_LOCK:
            entry[1] -= 1
            if not entry[1]:
                del _BASIC_CHECKING[key]


def _cached(key: str, now: float) -> tuple | None:
    with _BASIC_LOCK:
        hit = _BASIC_CACHE.get(key)
    return hit if hit is not None and hit[1] > now else None


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


def login_record(*, username: str, source_ip: str, success: bool) -> None:
    """Audit a credential check (Harbor: login user), never its password; a failure has no transaction to join."""
    audit_record(
        operation="login",
        resource_type="user",
        resource=username,
        result=success,
        actor=Actor(username[:255], source_ip, is_robot=username.startswith(ROBOT_PREFIX)),
    )


def user_authenticate(*, username: str, password: str, source_ip: str = ""):  # noqa: ANN201 - a user or a Robot
    """Check credentials (Django's backends; robots: their secret), remembering successes for a while.

    Every check that reaches the backends is audited as a login, success or failure (`source_ip`
    is the caller's address); a success answered from the cache is not a new login.
    """
    key = hmac.new(settings.SECRET_KEY.encode(), f"{username}\0{password}".encode(), hashlib.sha256).hexdigest()
    cached = _from_cache(key, username)
    if cached is not None:
        return cached
    with _checking(key):
        cached = _from_cache(key, username)  # checked by the request this one waited for
        if cached is not None:
            return cached
        if username.startswith(ROBOT_PREFIX):
            # Robot names never reach the user backends, and users never match a robot.
            return _robot_authenticate(key=key, name=username, secret=password, source_ip=source_ip)
        return _user_authenticate(key=key, username=username, password=password, source_ip=source_ip)


def _from_cache(key: str, username: str):  # noqa: ANN202 - a user, a Robot or None
    """The user or robot of a remembered successful check, if still valid (same password, still active)."""
    hit = _cached(key, time.monotonic())
    if hit is None:
        return None
    if username.startswith(ROBOT_PREFIX):
        robot = robot_by_pk(robot_id=hit[0])
        if robot is not None and robot.is_active and hmac.compare_digest(hit[2], _secret_stamp(robot)):
            return robot
        return None
    user = get_user_model().objects.filter(pk=hit[0], is_active=True).first()
    if user is not None and hmac.compare_digest(hit[2], _password_stamp(user)):
        return user
    return None


def _user_authenticate(*, key: str, username: str, password: str, source_ip: str):  # noqa: ANN202
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        with _BASIC_LOCK:
            _BASIC_CACHE.pop(key, None)
        login_record(username=username, source_ip=source_ip, success=False)
        return None
    with _BASIC_LOCK:
        _BASIC_CACHE[key] = (user.pk, time.monotonic() + settings.BASIC_AUTH_CACHE_SECONDS, _password_stamp(user))
        _BASIC_KEYS_BY_USER.setdefault(user.pk, set()).add(key)
        _evict_locked()
    login_record(username=user.get_username(), source_ip=source_ip, success=True)
    return user


def _evict_locked() -> None:
    while len(_BASIC_CACHE) > _BASIC_MAX:
        old_key, (old_pk, _, _) = _BASIC_CACHE.popitem(last=False)
        keys = _BASIC_KEYS_BY_USER.get(old_pk)
        if keys is not None:
            keys.discard(old_key)
            if not keys:
                del _BASIC_KEYS_BY_USER[old_pk]


def _robot_authenticate(*, key: str, name: str, secret: str, source_ip: str):  # noqa: ANN202
    """A usable (enabled, unexpired) robot whose secret matches; None otherwise."""
    robot = robot_by_full_name(full_name=name)
    if robot is None:
        make_password(secret)  # as Django's ModelBackend: an unknown name costs as much as a wrong secret
    if robot is None or not check_password(secret, robot.secret_hash) or not robot.is_active:
        with _BASIC_LOCK:
            _BASIC_CACHE.pop(key, None)
        login_record(username=name, source_ip=source_ip, success=False)
        return None
    with _BASIC_LOCK:
        # Robot entries stay out of _BASIC_KEYS_BY_USER: their ids are not user ids.
        _BASIC_CACHE[key] = (robot.pk, time.monotonic() + settings.BASIC_AUTH_CACHE_SECONDS, _secret_stamp(robot))
        _evict_locked()
    login_record(username=name, source_ip=source_ip, success=True)
    return robot
