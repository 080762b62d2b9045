"""Services enqueue tasks by name (common/jobs.py): every such name is a task the worker registers."""

from __future__ import annotations

import pytest

from audit.services import PURGE_TASK
from audit.webhooks.services import DELIVER_TASK, FAN_OUT_TASK
from common import jobs
from harbor_site.celery import app
from policies.retention.services import RUN_TASK, SCHEDULED_TASK
from registry.services.gc_jobs import GC_TASK

ENQUEUED_BY_NAME = [GC_TASK, RUN_TASK, SCHEDULED_TASK, PURGE_TASK, DELIVER_TASK, FAN_OUT_TASK]


@pytest.mark.parametrize("name", ENQUEUED_BY_NAME)
def test_the_worker_registers_every_task_enqueued_by_name(name):
    app.loader.import_default_modules()  # what a worker does at start: autodiscover every app's tasks
    assert name in app.tasks


def test_job_enqueue_sends_the_named_task(monkeypatch):
    sent = []
    monkeypatch.setattr(jobs.current_app, "send_task", lambda name, args, kwargs: sent.append((name, args, kwargs)))
    jobs.job_enqueue(GC_TASK, 7, execution_id=3)
    assert sent == [(GC_TASK, (7,), {"execution_id": 3})]
