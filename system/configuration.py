"""Configuration writes (Harbor's `PUT /configurations`, the console's settings page): validated, stored, audited.

The store and its cached reads are the kernel's (`common/configuration.py`); a write also checks
what only other apps know (the syslog endpoint's form, `audit/syslog.py`) and records itself in
the audit log, so it lives above them.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from audit.syslog import EndpointError, endpoint_parse
from common.configuration import ITEMS, ConfigError, config_cache_clear
from common.models import Setting

logger = logging.getLogger(__name__)


def _forward_endpoint_check(value: str) -> None:
    if value:
        try:
            endpoint_parse(value)
        except EndpointError as exc:
            raise ConfigError(str(exc)) from exc


# Rules beyond an item's type and range: each raises ConfigError for a value of the right type but wrong form.
CHECKS: dict[str, Callable[[Any], None]] = {"audit_log_forward_endpoint": _forward_endpoint_check}


def config_validate(changes: Any) -> dict[str, Any]:
    """Check a change set against the items: an object of known, editable keys with well-typed values."""
    if not isinstance(changes, dict):
        raise ConfigError("the configurations must be a JSON object")
    cleaned = {}
    for key, value in changes.items():
        if value is None:
            continue  # Harbor: a null item is one the client did not set
        item = ITEMS.get(key)
        if item is None:
            raise ConfigError(f"unknown or unsupported configuration item {key!r}")
        if not item.editable:
            raise ConfigError(f"the configuration item {key} cannot be modified")
        cleaned[key] = item.validate(value)
        check = CHECKS.get(key)
        if check is not None:
            check(cleaned[key])
    return cleaned


@transaction.atomic
def config_update(*, changes: dict[str, Any], user: Any) -> dict[str, Any]:
    """Validate and store configuration changes; returns what was stored."""
    cleaned = config_validate(changes)
    if not cleaned:
        return cleaned
    # Lock the rows and stamp strictly after the newest one, so MAX(updated) moves on every
    # write even when web nodes' clocks disagree.
    existing = list(Setting.objects.select_for_update().values_list("updated", flat=True))
    now = timezone.now()
    if existing:
        now = max(now, max(existing) + datetime.timedelta(microseconds=1))
    for key, value in cleaned.items():
        Setting.objects.update_or_create(key=key, defaults={"value": value, "updated": now})
    logger.info("configuration changed by %s: %s", getattr(user, "username", user), ", ".join(sorted(cleaned)))
    # The keys only, never the values: some items (passwords, secrets) must not reach the audit log.
    audit_record(
        operation="update",
        resource_type="configuration",
        resource="configuration",
        description=f"changed: {', '.join(sorted(cleaned))}",
    )
    config_cache_clear()
    transaction.on_commit(config_cache_clear)
    return cleaned
