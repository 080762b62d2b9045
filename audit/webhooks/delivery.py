"""Sending one webhook delivery: one attempt per call, through the egress guard, logged on the task.

The Celery task calls `webhook_delivery_attempt` and, when it returns a delay, retries itself after
that many seconds: connection errors, timeouts, 5xx and 429 are retried with exponential backoff
(2, 4, 8... seconds, capped) up to HARBOR_WEBHOOK_MAX_RETRIES retries; any other answer is final.
A target the guard refuses is final at once. The task's log gets one line per attempt.
"""

from __future__ import annotations

import time

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import WebhookDelivery
from audit.webhooks import payloads
from common.egress import EgressDenied, egress_request
from common.models import Execution, ExecutionStatus, Task
from common.services import FINAL, LOG_LIMIT, task_begin, task_finish

BACKOFF_CAP_SECONDS = 300
EXCERPT_CHARS = 512
USER_AGENT = "harbor-django-webhook/1"


def backoff_seconds(attempt: int) -> int:
    """Delay before the retry following attempt number `attempt` (1-based): 2^attempt, capped."""
    return min(2**attempt, BACKOFF_CAP_SECONDS)


def _retryable(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


def _headers(*, target: dict, secret: str, body: bytes, payload_format: str) -> dict[str, str]:
    timestamp = int(time.time())
    headers = {
        "Content-Type": payloads.content_type(payload_format),
        "User-Agent": USER_AGENT,
        payloads.TIMESTAMP_HEADER: str(timestamp),
        payloads.SIGNATURE_HEADER: payloads.signature_compute(secret=secret, timestamp=timestamp, body=body),
    }
    if target.get("auth_header"):
        headers["Authorization"] = target["auth_header"]
    return headers


def _log(task: Task, line: str) -> None:
    stamp = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    task.log = (task.log + f"{stamp} {line}\n")[-LOG_LIMIT:]
    Task.objects.filter(pk=task.pk).update(log=task.log)


def _execution_settle(execution_id: int) -> None:
    """Once every task of the execution is final, give the execution its outcome (under its row lock,
    so that two targets finishing together settle it once)."""
    with transaction.atomic():
        execution = Execution.objects.select_for_update().filter(pk=execution_id).first()
        if execution is None or execution.status in FINAL:
            return
        statuses = list(Task.objects.filter(execution_id=execution_id).values_list("status", flat=True))
        if any(status not in FINAL for status in statuses):
            return
        succeeded = sum(status == ExecutionStatus.SUCCEEDED for status in statuses)
        execution.status = ExecutionStatus.SUCCEEDED if succeeded == len(statuses) else ExecutionStatus.FAILED
        execution.counts = {"total": len(statuses), "succeed": succeeded, "failed": len(statuses) - succeeded}
        execution.ended = timezone.now()
        execution.save(update_fields=["status", "counts", "ended", "updated"])


def _finish(task: Task, status: str, attempts: int) -> None:
    task_finish(task=task, status=status, counts={"attempts": attempts})
    _execution_settle(task.execution_id)


def _start(task: Task) -> None:
    if task.status == ExecutionStatus.PENDING:
        task_begin(task=task)
        Execution.objects.filter(pk=task.execution_id, status=ExecutionStatus.PENDING).update(
            status=ExecutionStatus.RUNNING, updated=timezone.now()
        )


def webhook_delivery_attempt(*, task_id: int) -> int | None:
    """Make one delivery attempt for the task; returns seconds to wait before retrying, or None when done."""
    task = Task.objects.select_related("execution").filter(pk=task_id).first()
    if task is None or task.status in FINAL or task.execution.status in FINAL:
        return None  # deleted, already delivered, or stopped: a re-run of the message is a no-op
    delivery = WebhookDelivery.objects.select_related("policy").filter(task=task).first()
    if delivery is None:
        _log(task, "no delivery recorded for this task")
        _finish(task, ExecutionStatus.FAILED, 0)
        return None
    _start(task)
    target = next((t for t in delivery.policy.targets if t["address"] == delivery.address), None)
    if target is None:
        _log(task, f"target {delivery.address} is no longer configured on policy {delivery.policy.name!r}")
        _finish(task, ExecutionStatus.FAILED, delivery.attempts)
        return None

    delivery.attempts += 1
    attempt = delivery.attempts
    body = delivery.payload.encode()
    headers = _headers(
        target=target, secret=delivery.policy.signing_secret, body=body, payload_format=delivery.payload_format
    )
    retry = False
    try:
        response = egress_request(
            method="POST",
            url=delivery.address,
            timeout=settings.HARBOR_WEBHOOK_TIMEOUT,
            headers=headers,
            content=body,
            verify=not target.get("skip_cert_verify", False),
        )
    except EgressDenied as exc:
        delivery.save(update_fields=["attempts"])
        _log(task, f"attempt {attempt}: POST {delivery.address} refused by the egress guard: {exc}")
        _finish(task, ExecutionStatus.FAILED, attempt)
        return None
    except httpx.HTTPError as exc:
        delivery.save(update_fields=["attempts"])
        _log(task, f"attempt {attempt}: POST {delivery.address} failed: {type(exc).__name__}: {exc}")
        retry = True
    else:
        excerpt = response.body[:EXCERPT_CHARS].decode("utf-8", errors="replace")
        delivery.last_status_code = response.status_code
        delivery.response_excerpt = excerpt
        delivery.save(update_fields=["attempts", "last_status_code", "response_excerpt"])
        more = "..." if response.truncated or len(response.body) > EXCERPT_CHARS else ""
        _log(
            task,
            f"attempt {attempt}: POST {delivery.address} -> {response.status_code} in {response.elapsed_ms} ms; "
            f"response: {excerpt!r}{more}",
        )
        if 200 <= response.status_code < 300:
            _finish(task, ExecutionStatus.SUCCEEDED, attempt)
            return None
        retry = _retryable(response.status_code)

    if retry and attempt <= settings.HARBOR_WEBHOOK_MAX_RETRIES:
        delay = backoff_seconds(attempt)
        _log(task, f"retry {attempt} of {settings.HARBOR_WEBHOOK_MAX_RETRIES} in {delay} s")
        return delay
    _log(task, f"gave up after {attempt} attempt(s)" if retry else "not retried (the answer is final)")
    _finish(task, ExecutionStatus.FAILED, attempt)
    return None
