"""The audit app's reactions to domain events (registered once, from AuditConfig.ready)."""

from __future__ import annotations


def subscribe() -> None:
    """Register the audit app's event handlers (webhook delivery, ...)."""
