"""`/health`: each component checked for real (a query, a probe object, a broker connection, a worker ping)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection
from kombu import Connection

from registry.storage import blob_store

logger = logging.getLogger(__name__)

PING_TIMEOUT = 1.0  # seconds a worker has to answer
CHECK_TIMEOUT = 10.0  # seconds any one check may take before it is reported as timed out
PROBE_PREFIX = "health"


class Unhealthy(Exception):
    """A component check's failure, with the message shown to the caller."""


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise Unhealthy("unexpected answer to SELECT 1")


def check_storage() -> None:
    """Write, read back and delete a probe object in the blob store."""
    storage = blob_store().storage
    payload = uuid.uuid4().bytes
    name = storage.save(f"{PROBE_PREFIX}/{uuid.uuid4().hex}", ContentFile(payload))
    try:
        with storage.open(name, "rb") as handle:
            if handle.read() != payload:
                raise Unhealthy("the probe object read back differs from what was written")
    finally:
        storage.delete(name)


def _broker_connection() -> Connection:
    return Connection(
        settings.CELERY_BROKER_URL,
        transport_options=getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {},
        connect_timeout=2,
    )


def check_broker_then_workers() -> tuple[str | None, str | None]:
    """(broker error, jobservice error): workers are asked only when the broker answers."""
    with _broker_connection() as conn:
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)
        except Exception as exc:  # noqa: BLE001 - any failure is what the caller must see
            return _describe(exc), f"the broker is unreachable: {_describe(exc)}"
        try:
            replies = current_app.control.ping(timeout=PING_TIMEOUT, connection=conn)
        except NotImplementedError as exc:
            return None, f"the broker does not support remote control, workers cannot be asked: {_describe(exc)}"
        except Exception as exc:  # noqa: BLE001
            return None, f"pinging the workers failed: {_describe(exc)}"
    if not replies:
        return None, f"no Celery worker answered a ping within {PING_TIMEOUT:g}s"
    return None, None


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _run(check: Callable[[], None]) -> str | None:
    try:
        check()
    except Exception as exc:  # noqa: BLE001
        logger.warning("health check %s failed: %s", check.__name__, exc)
        return _describe(exc)
    return None


def health_check() -> dict:
    """Harbor's OverallHealthStatus: components sorted by name, "healthy" only when all are."""
    errors: dict[str, str | None] = {"core": None}
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health")
    storage = pool.submit(_run, check_storage)
    jobs = pool.submit(check_broker_then_workers)
    try:
        errors["database"] = _run(check_database)  # this thread: it owns the request's connection
        try:
            errors["storage"] = storage.result(timeout=CHECK_TIMEOUT)
        except FutureTimeout:
            errors["storage"] = "failed to check the health status: timeout"
        try:
            errors["broker"], errors["jobservice"] = jobs.result(timeout=CHECK_TIMEOUT)
        except FutureTimeout:
            errors["broker"] = errors["jobservice"] = "failed to check the health status: timeout"
        except Exception as exc:  # noqa: BLE001 - e.g. a malformed broker URL
            errors["broker"] = errors["jobservice"] = _describe(exc)
    finally:
        pool.shutdown(wait=False)
    components = []
    for name in sorted(errors):
        component = {"name": name, "status": "unhealthy" if errors[name] else "healthy"}
        if errors[name]:
            component["error"] = errors[name]
        components.append(component)
    overall = "healthy" if all(c["status"] == "healthy" for c in components) else "unhealthy"
    return {"status": overall, "components": components}
