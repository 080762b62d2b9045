"""Cron schedules of system and policy jobs, stored as django-celery-beat rows (editable in admin).

Harbor's API speaks 6-field cron (`second minute hour day-of-month month day-of-week`, e.g.
`0 0 * * * *` hourly) and a schedule object `{"type", "cron", "next_scheduled_time"}`. Beat's
crontab has minute resolution, so the seconds field must be `0`: accepting another value would
store a schedule that never runs as written.
"""

from __future__ import annotations

import json
from datetime import datetime

from celery.schedules import crontab
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from common.api.errors import BadRequest

# Harbor's named schedule types and the cron each stands for.
PRESETS = {"Hourly": "0 0 * * * *", "Daily": "0 0 0 * * *", "Weekly": "0 0 0 * * 0"}
NONE = "None"
CUSTOM = "Custom"


def cron_validate(cron: str) -> str:
    """Return the normalised 6-field cron, or raise BadRequest saying what is wrong."""
    fields = (cron or "").split()
    if len(fields) != 6:
        raise BadRequest(f"invalid cron {cron!r}: expected 6 fields (second minute hour day month weekday)")
    if fields[0] != "0":
        raise BadRequest(f"invalid cron {cron!r}: the seconds field must be 0 (schedules have minute resolution)")
    try:
        _crontab(fields)
    except (ValueError, KeyError, IndexError) as exc:
        raise BadRequest(f"invalid cron {cron!r}: {exc}") from exc
    return " ".join(fields)


def _crontab(fields: list[str], now: datetime | None = None) -> crontab:
    _, minute, hour, day_of_month, month_of_year, day_of_week = fields
    return crontab(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        nowfun=(lambda: now) if now is not None else None,
    )


def cron_type(cron: str) -> str:
    """Harbor's schedule type for a cron: Hourly, Daily, Weekly or Custom."""
    for name, preset in PRESETS.items():
        if cron == preset:
            return name
    return CUSTOM


def cron_next(cron: str, *, after: datetime | None = None) -> datetime:
    """The next time a (valid) cron fires after `after` (now by default)."""
    now = after or timezone.now()
    return now + _crontab(cron.split(), now).remaining_estimate(now)


def _cron_of(task: PeriodicTask) -> str:
    c = task.crontab
    return f"0 {c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"


def schedule_get(*, name: str) -> dict | None:
    """Harbor's schedule object for the beat entry `name`, or None when nothing is scheduled."""
    task = PeriodicTask.objects.select_related("crontab").filter(name=name, crontab__isnull=False).first()
    if task is None:
        return None
    cron = _cron_of(task)
    return {
        "type": cron_type(cron),
        "cron": cron,
        "next_scheduled_time": cron_next(cron) if task.enabled else None,
        "kwargs": json.loads(task.kwargs or "{}"),
        "enabled": task.enabled,
        "update_time": task.date_changed,
        "last_run_time": task.last_run_at,
    }


def schedule_object(schedule: dict) -> dict:
    """Harbor's ScheduleObj of a `schedule_get` result; a paused entry has no next time (the key is left
    out: Harbor's date-time is not nullable)."""
    obj = {"type": schedule["type"], "cron": schedule["cron"]}
    if schedule["next_scheduled_time"] is not None:
        obj["next_scheduled_time"] = schedule["next_scheduled_time"]
    return obj


def schedule_set(*, name: str, task: str, cron: str | None, kwargs: dict | None = None) -> None:
    """Create, change or (cron empty/None) remove the beat entry `name` running `task(**kwargs)`."""
    if not cron:
        PeriodicTask.objects.filter(name=name).delete()
        return
    fields = cron_validate(cron).split()
    with transaction.atomic():
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=fields[1],
            hour=fields[2],
            day_of_month=fields[3],
            month_of_year=fields[4],
            day_of_week=fields[5],
            timezone="UTC",
        )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "crontab": schedule,
                "interval": None,
                "kwargs": json.dumps(kwargs or {}),
                "enabled": True,
            },
        )
