"""A real registry server (gunicorn, optionally a Celery worker) for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _postgres_database() -> tuple[str, str] | None:
    """Create a throw-away PostgreSQL database when a server answers; (url, name)."""
    base = os.environ.get("HARBOR_TEST_DATABASE_URL", "")
    if base and not base.startswith("postgres"):
        return None
    if not base and not _answers("127.0.0.1", 5432):
        return None
    import psycopg

    admin_url = base.rsplit("/", 1)[0] + "/postgres" if base else "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"harbor_e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}", name


def _drop_postgres_database(url: str, name: str) -> None:
    import psycopg

    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with contextlib.suppress(Exception), psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class RegistryServer:
    """A gunicorn serving this project on 127.0.0.1, with its own database and var dir."""

    var_dir: Path
    env: dict[str, str]
    port: int = 0
    admin_password: str = ""
    # The interpreter of the server's processes (manage.py, gunicorn, celery): this one's by default,
    # another virtualenv's to run the server on exactly what that environment installed.
    executable: str = sys.executable
    processes: list[subprocess.Popen] = field(default_factory=list)
    _pg: tuple[str, str] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @classmethod
    def create(
        cls,
        *,
        broker_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        executable: str = sys.executable,
    ) -> RegistryServer:
        var_dir = Path(tempfile.mkdtemp(prefix="harbor-e2e-"))
        pg = _postgres_database()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HARBOR_", "DJANGO_"))}
        admin_password = "Adm1n-" + secrets.token_hex(6)
        port = free_port()
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "harbor_site.settings.base",
                "HARBOR_VAR_DIR": str(var_dir),
                "HARBOR_SECRET_KEY": secrets.token_urlsafe(32),
                "HARBOR_ADMIN_PASSWORD": admin_password,
                "HARBOR_BIND": f"127.0.0.1:{port}",
                "HARBOR_WEB_WORKERS": "2",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if pg is not None:
            env["HARBOR_DATABASE_URL"] = pg[0]
        if broker_url:
            env["HARBOR_BROKER_URL"] = broker_url
        env.update(extra_env or {})
        server = cls(var_dir=var_dir, env=env, port=port, admin_password=admin_password, executable=executable, _pg=pg)
        server.manage("migrate", "--noinput", "-v0")
        server.manage("harbor_bootstrap")
        return server

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )

    def python(self, code: str) -> str:
        """Run Django code in the server's environment (for seeding); returns stdout."""
        return self.manage("shell", "-c", code).stdout

    def start(self) -> RegistryServer:
        log = open(self.var_dir / "gunicorn.log", "ab")  # noqa: SIM115 - lives as long as the process
        gunicorn = shutil.which("gunicorn", path=str(Path(self.executable).parent)) or "gunicorn"
        self.processes.append(
            subprocess.Popen(
                [gunicorn, "-c", "harbor_site/gunicorn_conf.py", "harbor_site.wsgi"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/v2/", timeout=2).status_code == 401:
                    return self
            if self.processes[-1].poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"registry did not start: {self.log_tail()}")

    def start_worker(self, *extra: str) -> subprocess.Popen:
        return self._celery("worker", "--concurrency=1", *extra)

    def start_beat(self, *extra: str) -> subprocess.Popen:
        return self._celery("beat", "--max-interval=1", *extra)

    def _celery(self, kind: str, *extra: str) -> subprocess.Popen:
        log = open(self.var_dir / f"{kind}.log", "ab")  # noqa: SIM115 - lives as long as the process
        celery = shutil.which("celery", path=str(Path(self.executable).parent)) or "celery"
        proc = subprocess.Popen(
            [celery, "-A", "harbor_site", kind, "--loglevel=INFO", *extra],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(proc)
        return proc

    def kill(self) -> None:
        """SIGKILL every process (a crash, not a shutdown)."""
        for proc in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        self.processes.clear()

    def log_tail(self, name: str = "gunicorn.log", lines: int = 40) -> str:
        path = self.var_dir / name
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.processes.clear()

    @contextlib.contextmanager
    def serving(self, *, worker: bool = False, beat: bool = False) -> Iterator[RegistryServer]:
        """Start the web server (and a worker, beat), yield it, and destroy everything afterwards."""
        try:
            self.start()
            if worker:
                self.start_worker()
            if beat:
                self.start_beat()
            yield self
        finally:
            self.destroy()

    def destroy(self) -> None:
        self.stop()
        if self._pg is not None:
            _drop_postgres_database(*self._pg)
        shutil.rmtree(self.var_dir, ignore_errors=True)
