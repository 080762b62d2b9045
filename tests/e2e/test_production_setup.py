"""The README's production set-up, on exactly what `requirements.txt` installs.

A fresh virtualenv is built the way `make run` builds it (the Makefile's own `.installed` target: a
venv, then `pip install -r requirements.txt`, nothing from the test requirements), and that venv's
interpreter runs migrate, harbor_bootstrap, gunicorn (harbor_site/gunicorn_conf.py), a Celery worker
and Celery beat on PostgreSQL, Redis as the broker and S3 (moto) for blobs. Through the web process:
/v2/, /api/v2.0/systeminfo and a /api/v2.0/health with every component healthy (the worker answers a
ping over Redis); a push, a repository deletion and a garbage collection started through the API that
the worker runs to Success, freeing the blobs in S3 (a safety window of 0 hours); and beat firing a
database schedule that the worker runs. A dependency production needs but only the test requirements
bring in (kombu's Redis transport needs `packaging`) makes the worker and beat die at start here.

Slow (the venv is built each run; pip's cache keeps it to seconds once warm), but it runs in CI: it is
skipped only when PostgreSQL or Redis do not answer, as the other end-to-end tests are.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings

from common.testing.server import REPO_ROOT, RegistryServer, _answers
from common.testing.v2client import V2Client
from tests.e2e.test_s3_storage import S3, s3, s3_env  # noqa: F401 - `s3`: the moto_server fixture

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FINAL = {"Success", "Error", "Stopped"}
# The test process's own environment must not leak packages into the production venv's processes.
LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


def _redis_url() -> str:
    url = getattr(settings, "TEST_REDIS_URL", "")
    if not url:
        pytest.skip("Redis is not answering on 127.0.0.1:6379 (HARBOR_TEST_REDIS_URL)")
    return url


def _postgres_answers() -> bool:
    base = os.environ.get("HARBOR_TEST_DATABASE_URL", "")
    return base.startswith("postgres") if base else _answers("127.0.0.1", 5432)


@pytest.fixture(scope="module")
def production_venv(tmp_path_factory) -> Path:
    """A virtualenv built by the Makefile's `make run` recipe from requirements.txt alone."""
    if not _postgres_answers():
        pytest.skip("PostgreSQL is not answering (HARBOR_TEST_DATABASE_URL)")
    _redis_url()
    venv = tmp_path_factory.mktemp("production") / "venv"
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    started = time.monotonic()
    # The Makefile's recipe itself (python -m venv; pip install -r requirements.txt), so the test follows it.
    built = subprocess.run(
        ["make", "-C", str(REPO_ROOT), f"VENV={venv}", f"PYTHON={sys.executable}", f"{venv}/.installed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    print(f"production venv built in {time.monotonic() - started:.1f} s")  # noqa: T201 - shown with -s
    python = venv / "bin" / "python"
    checked = subprocess.run([python, "-m", "pip", "check"], env=env, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for script in ("gunicorn", "celery"):
        assert (venv / "bin" / script).exists(), f"requirements.txt installs no {script}"
    return venv


@pytest.fixture(scope="module")
def production_server(production_venv, s3):  # noqa: F811 - the imported fixture
    broker_url = _redis_url()
    broker = redis.Redis.from_url(broker_url)
    broker.flushdb()  # the tests' own Redis database: nothing queued by an earlier server may reach this worker
    server = RegistryServer.create(
        broker_url=broker_url,
        executable=str(production_venv / "bin" / "python"),
        extra_env={**s3_env(s3), "HARBOR_GC_TIME_WINDOW_HOURS": "0"},
    )
    for name in LEAKY_ENV:
        server.env.pop(name, None)
    if not server.env.get("HARBOR_DATABASE_URL", "").startswith("postgres"):
        server.destroy()
        pytest.skip("the production set-up runs on PostgreSQL")
    try:
        with server.serving(worker=True, beat=True):
            yield server
    finally:
        broker.flushdb()
        broker.close()


def _logs(server: RegistryServer) -> str:
    return "\n".join(
        f"--- {name}\n{server.log_tail(name, lines=30)}" for name in ("gunicorn.log", "worker.log", "beat.log")
    )


def _alive(server: RegistryServer) -> None:
    """The three processes still run (a missing module kills the worker or beat within a second or two)."""
    dead = [" ".join(map(str, proc.args[:4])) for proc in server.processes if proc.poll() is not None]
    assert not dead, (dead, _logs(server))


def _wait(condition, what: str, server: RegistryServer, timeout: float = 60) -> object:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        _alive(server)
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout:.0f} s\n{_logs(server)}")


def test_production_setup_serves_and_runs_jobs(production_server, s3):  # noqa: F811 - the imported fixture
    server = production_server
    time.sleep(3)  # give the worker and beat time to import the broker transport (and die, if they must)
    _alive(server)
    assert httpx.get(f"{server.url}/v2/", timeout=10).status_code == 401
    api = httpx.Client(base_url=f"{server.url}/api/v2.0", auth=("admin", server.admin_password), timeout=30)
    assert api.get("/systeminfo").status_code == 200

    def healthy() -> dict | None:
        health = api.get("/health").json()
        return health if health["status"] == "healthy" else None

    health = _wait(healthy, "every component healthy (database, storage, Redis broker, a worker's ping)", server)
    assert {c["name"] for c in health["components"]} >= {"database", "storage"}, health

    # A real job: push, delete the repository, then GC through the API, run by the worker over Redis.
    assert api.post("/projects", json={"project_name": "prod", "metadata": {"public": "false"}}).status_code == 201
    client = V2Client(server.url, "admin", server.admin_password)
    _, manifest = client.push_image("prod/app", "v1", seed="production")
    layer = manifest["layers"][0]["digest"]
    assert s3.has_blob(layer)
    assert api.delete("/projects/prod/repositories/app").status_code == 200
    started = api.post("/system/gc/schedule", json={"schedule": {"type": "Manual"}, "parameters": {}})
    assert started.status_code == 201, started.text
    gc_id = started.headers["Location"].rsplit("/", 1)[1]
    status = _wait(
        lambda: (s := api.get(f"/system/gc/{gc_id}").json()["job_status"]) in FINAL and s,
        "the worker to finish the GC run",
        server,
    )
    log = api.get(f"/system/gc/{gc_id}/log").text
    assert status == "Success", log
    assert f"deleted blob {layer}" in log  # a window of 0 hours: the space is back on this run
    assert not s3.has_blob(layer)

    # Beat: the database scheduler fires a periodic task (every 2 s here) that the worker runs.
    server.python(
        "from django_celery_beat.models import IntervalSchedule, PeriodicTask; "
        "every, _ = IntervalSchedule.objects.get_or_create(every=2, period='seconds'); "
        "task = PeriodicTask.objects.get(name='Purge stale upload sessions'); "
        "task.interval = every; task.save()"  # save() (not update()) tells beat the schedule changed
    )
    fired = (
        "from common.models import Execution; print(Execution.objects.filter("
        "kind='purge_uploads', trigger='SCHEDULE', status='Succeeded').count())"
    )
    _wait(lambda: int(server.python(fired).strip().splitlines()[-1]) > 0, "beat to fire the schedule", server, 90)
    _alive(server)
