"""The configuration store (Harbor's `/configurations`): typed items with defaults, and a cheap cache.

Values live in `Setting` rows; an item without a row has its default. Reads go through a
per-process snapshot that is re-validated at most every CACHE_SECONDS with one query
(`MAX(updated)`, `COUNT(*)`), so hot paths such as the read-only check on /v2/ writes cost
nothing per request. A write in this process drops the snapshot at once; other processes
see it within CACHE_SECONDS.

This is the kernel's part, read by every app. Writes (validated against other apps' rules, and
audited) are a system feature: `system/configuration.py`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Max

from common.models import Setting

CACHE_SECONDS = 2.0
MAX_NUMBER = 9_999_999_999  # Harbor: numbers are limited to what its UI's 10-digit fields hold
# Harbor's words for writes refused in read-only mode (403 DENIED on /v2/ and on the API).
READ_ONLY_MESSAGE = "The system is in read only mode. Any modification is prohibited."


class ConfigError(ValueError):
    """A configuration change that is refused (unknown key, wrong type, bad value, not editable)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One configuration key: its JSON type, default and constraints."""

    key: str
    kind: type  # bool, int or str
    default: Any | Callable[[], Any]
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    editable: bool = True

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default

    def validate(self, value: Any) -> Any:
        # bool is an int in Python; JSON true must not pass as 1, nor 1 as true.
        if type(value) is not self.kind:
            raise ConfigError(f"{self.key} must be {_KIND_NAMES[self.kind]}")
        if self.choices and value not in self.choices:
            raise ConfigError(f"invalid {self.key}, should be one of {', '.join(self.choices)}")
        if self.kind is int:
            if self.minimum is not None and value < self.minimum:
                raise ConfigError(f"the {self.key} value must be at least {self.minimum}")
            if value > MAX_NUMBER:
                raise ConfigError(f"the {self.key} value is over the limit value: {MAX_NUMBER}")
        return value


_KIND_NAMES = {bool: "a boolean", int: "an integer", str: "a string"}


def _default_token_minutes() -> int:
    return max(1, -(-settings.TOKEN_EXPIRATION // 60))


# Harbor's keys for what this registry implements; add items here as features arrive.
ITEMS: dict[str, Item] = {
    item.key: item
    for item in (
        Item("auth_mode", str, "db_auth", choices=("db_auth",), editable=False),
        Item("project_creation_restriction", str, "everyone", choices=("everyone", "adminonly")),
        Item("self_registration", bool, False),
        Item("token_expiration", int, _default_token_minutes, minimum=1),  # minutes
        Item("robot_token_duration", int, 30, minimum=1),  # days
        Item("robot_name_prefix", str, "robot$", editable=False),
        Item("read_only", bool, False),
        Item("banner_message", str, ""),
        # Audit records forwarded to syslog (audit/syslog.py): Harbor's "host:port" (TCP), or udp://host:port;
        # its form is checked where writes are (system/configuration.py).
        Item("audit_log_forward_endpoint", str, ""),
    )
}


@dataclass(frozen=True, slots=True)
class _Snapshot:
    stored: dict[str, Any]
    stamp: tuple[Any, int]
    checked: float  # _clock() at the last validation


_lock = threading.Lock()
_snapshot: _Snapshot | None = None
_clock = time.monotonic  # a seam for tests


def _stamp() -> tuple[Any, int]:
    row = Setting.objects.aggregate(latest=Max("updated"), rows=Count("pk"))
    return row["latest"], row["rows"]


def _stored() -> dict[str, Any]:
    """The stored values, from a snapshot at most CACHE_SECONDS old."""
    global _snapshot
    snapshot = _snapshot
    if snapshot is not None and _clock() - snapshot.checked < CACHE_SECONDS:
        return snapshot.stored
    with _lock:
        snapshot = _snapshot
        if snapshot is not None and _clock() - snapshot.checked < CACHE_SECONDS:
            return snapshot.stored
        stamp = _stamp()
        if snapshot is not None and snapshot.stamp == stamp:
            stored = snapshot.stored
        else:
            stored = dict(Setting.objects.values_list("key", "value"))
        _snapshot = _Snapshot(stored, stamp, _clock())
        return stored


def config_cache_clear() -> None:
    """Forget the cached snapshot (after a write here, and between tests)."""
    global _snapshot
    with _lock:
        _snapshot = None


def config_get(key: str) -> Any:
    """The value of a configuration key: stored, else its default."""
    item = ITEMS[key]
    stored = _stored()
    return stored[key] if key in stored else item.default_value()


def config_all() -> dict[str, tuple[Any, bool]]:
    """Every key with (value, editable), for the configurations API."""
    stored = _stored()
    return {key: (stored.get(key, item.default_value()), item.editable) for key, item in ITEMS.items()}


def token_expiration_seconds() -> int:
    """Registry token lifetime: `token_expiration` (minutes) when an admin set it, else HARBOR_TOKEN_EXPIRATION."""
    minutes = _stored().get("token_expiration")
    return int(minutes) * 60 if minutes is not None else settings.TOKEN_EXPIRATION
