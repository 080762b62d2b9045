from datetime import UTC, datetime

import pytest
from django_celery_beat.models import PeriodicTask

from common.api.errors import BadRequest
from common.schedules import cron_next, cron_type, cron_validate, schedule_get, schedule_set


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 0 * * * *", "0 0 * * * *"),
        ("0  30 2 * * 1-5", "0 30 2 * * 1-5"),
        ("0 */15 * * * *", "0 */15 * * * *"),
    ],
)
def test_valid_crons_are_normalised(cron, expected):
    assert cron_validate(cron) == expected


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("", "6 fields"),
        ("0 0 * * *", "6 fields"),
        ("5 0 * * * *", "seconds"),
        ("0 61 * * * *", "invalid cron"),
        ("0 0 25 * * *", "invalid cron"),
        ("0 0 0 * * mon-funday", "invalid cron"),
    ],
)
def test_invalid_crons_are_refused_with_a_reason(cron, why):
    with pytest.raises(BadRequest, match=why):
        cron_validate(cron)


def test_types_and_next_time():
    assert cron_type("0 0 * * * *") == "Hourly"
    assert cron_type("0 0 0 * * *") == "Daily"
    assert cron_type("0 0 0 * * 0") == "Weekly"
    assert cron_type("0 5 4 * * *") == "Custom"
    after = datetime(2026, 11, 27, 13, 10, 30, tzinfo=UTC)
    assert cron_next("0 0 * * * *", after=after) == datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    assert cron_next("0 0 0 * * 0", after=after) == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # a Sunday


@pytest.mark.django_db
def test_schedule_set_get_change_and_remove():
    assert schedule_get(name="gc") is None
    schedule_set(name="gc", task="registry.gc", cron="0 0 0 * * *", kwargs={"dry_run": True})
    got = schedule_get(name="gc")
    assert got["type"] == "Daily"
    assert got["cron"] == "0 0 0 * * *"
    assert got["kwargs"] == {"dry_run": True}
    assert got["next_scheduled_time"] > datetime.now(UTC)
    schedule_set(name="gc", task="registry.gc", cron="0 15 * * * *", kwargs={})
    assert PeriodicTask.objects.filter(name="gc").count() == 1
    assert schedule_get(name="gc")["cron"] == "0 15 * * * *"
    schedule_set(name="gc", task="registry.gc", cron="")
    assert schedule_get(name="gc") is None
    assert not PeriodicTask.objects.filter(name="gc").exists()


@pytest.mark.django_db
def test_a_bad_cron_leaves_the_existing_schedule():
    schedule_set(name="gc", task="registry.gc", cron="0 0 * * * *")
    with pytest.raises(BadRequest):
        schedule_set(name="gc", task="registry.gc", cron="0 99 * * * *")
    assert schedule_get(name="gc")["cron"] == "0 0 * * * *"
