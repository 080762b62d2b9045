"""Jobs for real: a Celery worker and beat (not eager) on the embedded filesystem broker."""

from __future__ import annotations

import json
import time

import pytest
from django.conf import settings

from common.testing.server import RegistryServer
from common.testing.v2client import V2Client


def _brokers() -> list:
    # The embedded default (kombu's filesystem transport under var/) and, when it answers, Redis.
    redis_url = getattr(settings, "TEST_REDIS_URL", "")
    skip = pytest.mark.skipif(not redis_url, reason="Redis is not answering on 127.0.0.1:6379")
    return [pytest.param(None, id="filesystem"), pytest.param(redis_url, id="redis", marks=skip)]


@pytest.fixture(scope="module", params=_brokers())
def jobs_server(request):
    server = RegistryServer.create(broker_url=request.param)
    with server.serving(worker=True, beat=True):
        yield server


def _executions(server: RegistryServer) -> list[dict]:
    out = server.python(
        "import json; from common.models import Execution; "
        "print(json.dumps(list(Execution.objects.values('kind', 'trigger', 'status', 'counts'))))"
    )
    return json.loads(out.strip().splitlines()[-1])


def test_beat_schedules_the_purge_and_the_worker_removes_stale_sessions(jobs_server):
    admin = V2Client(jobs_server.url, "admin", jobs_server.admin_password)
    auth = admin.bearer("repository:library/jobs:pull,push")
    stale = admin.request("POST", "/v2/library/jobs/blobs/uploads/", headers=auth).headers["Location"]
    admin.request("PATCH", stale, headers=auth, content=b"half an upload")
    fresh = admin.request("POST", "/v2/library/jobs/blobs/uploads/", headers=auth).headers["Location"]
    stale_id = stale.rsplit("/", 1)[1]
    # Age one session past the purge window and let beat run the job every second.
    jobs_server.python(
        "from datetime import timedelta; from django.utils import timezone; "
        "from registry.models import Upload; from django_celery_beat.models import IntervalSchedule, PeriodicTask; "
        f"Upload.objects.filter(pk='{stale_id}').update(updated=timezone.now() - timedelta(days=3)); "
        "every, _ = IntervalSchedule.objects.get_or_create(every=2, period='seconds'); "
        "task = PeriodicTask.objects.get(name='Purge stale upload sessions'); "
        "task.interval = every; task.save()"  # save() (not update()) tells beat the schedule changed
    )
    deadline = time.monotonic() + 90
    nudge = time.monotonic() + 15
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = [e for e in _executions(jobs_server) if e["kind"] == "purge_uploads" and e["trigger"] == "SCHEDULE"]
        if any(r["status"] == "Succeeded" and r["counts"].get("sessions") for r in runs):
            break
        if time.monotonic() > nudge:
            # django-celery-beat takes the change timestamp it first sees as its baseline: a change saved while
            # beat is still starting (after it read the entries, before that first look) is never noticed.
            # Saving again is a later change, which it does notice. Under load that start can take seconds.
            jobs_server.python(
                "from django_celery_beat.models import PeriodicTask; "
                "PeriodicTask.objects.get(name='Purge stale upload sessions').save()"
            )
            nudge = time.monotonic() + 15
        time.sleep(1)
    assert any(r["status"] == "Succeeded" and r["counts"]["sessions"] == 1 for r in runs), (
        runs,
        jobs_server.log_tail("worker.log"),
        jobs_server.log_tail("beat.log"),
    )
    assert admin.request("GET", stale, headers=auth).status_code == 404
    assert admin.request("GET", fresh, headers=auth).status_code == 204
    assert not list((jobs_server.var_dir / "storage" / "uploads").glob(f"{stale_id}*"))
