"""Who is calling: local users (through Django's authentication backends, so LDAP and OIDC
plug in there) by Basic credentials, with a short cache of successful checks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model

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
