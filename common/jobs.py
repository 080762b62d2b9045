"""Enqueueing Celery tasks by name, so a service never imports its app's task module.

Tasks (`<app>/tasks.py`) are edges: thin, they import the services they call. A service that
enqueues work refers to its task by the task's explicit `name=` (the same string django-celery-beat
rows persist), so imports keep pointing down. The worker still finds the task: Celery's
autodiscovery imports every app's `tasks` module.
"""

from __future__ import annotations

from typing import Any

from celery import current_app


def job_enqueue(name: str, *args: Any, **kwargs: Any) -> None:
    """Send the task registered as `name` with these arguments (call it from `transaction.on_commit`)."""
    current_app.send_task(name, args=args, kwargs=kwargs)
