"""The servers under test: start / stop ours (gunicorn) and Debian's docker-registry."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import httpx

from harbor_bench.common import REF, REPO_ROOT, BenchError, log
from harbor_bench.procs import pid_listening_on


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen | None, timeout: float, logfile: Path | None) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = logfile.read_text(errors="replace")[-3000:] if logfile and logfile.exists() else ""
            raise BenchError(f"server exited with code {proc.returncode} while starting:\n{tail}")
        try:
            r = httpx.get(url + "/v2/", timeout=2)
            if r.status_code in (200, 401):
                return
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as e:
            last = repr(e)
        time.sleep(0.2)
    raise BenchError(f"{url} not ready after {timeout:.0f}s ({last})")


class Server:
    """A server under test: either started here (proc set) or already running."""

    def __init__(self, target: str, url: str, user: str, password: str, pid: int | None = None):
        self.target, self.url, self.user, self.password = target, url.rstrip("/"), user, password
        self.proc: subprocess.Popen | None = None
        self._pid = pid
        self.version = ""
        # command name of a local database server whose CPU is charged to this one (comm_cpu_ticks)
        self.db_cpu_comm: str | None = None

    @property
    def pid(self) -> int | None:
        if self.proc is not None:
            return self.proc.pid
        if self._pid:
            return self._pid
        host_port = urllib.parse.urlsplit(self.url)
        if host_port.hostname in ("127.0.0.1", "localhost") and host_port.port:
            self._pid = pid_listening_on(host_port.port)
        return self._pid

    def stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        try:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            # the group was created by us (start_new_session) and is killed by its id
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def make_htpasswd(path: Path, user: str, password: str) -> None:
    if shutil.which("htpasswd"):
        out = subprocess.run(
            ["htpasswd", "-Bbn", user, password], check=True, capture_output=True, text=True
        ).stdout.strip()
    else:
        try:
            import bcrypt  # type: ignore
        except ImportError:
            raise BenchError("need htpasswd (apt-get install apache2-utils) or python bcrypt")
        out = f"{user}:" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    path.write_text(out + "\n")


def start_reference(workdir: Path, binary: str) -> Server:
    d = workdir / "reference"
    (d / "data").mkdir(parents=True)
    port = free_port()
    password = secrets.token_urlsafe(18)
    make_htpasswd(d / "htpasswd", "bench", password)
    cfg = d / "config.yml"
    cfg.write_text(f"""version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {d / "data"}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: {secrets.token_hex(16)}
auth:
  htpasswd:
    realm: bench-registry
    path: {d / "htpasswd"}
""")
    srv = Server(REF, f"http://127.0.0.1:{port}", "bench", password)
    with contextlib.suppress(Exception):
        srv.version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    logf = d / "server.log"
    with open(logf, "wb") as out:  # the child keeps its own copy of the fd
        srv.proc = subprocess.Popen(
            [binary, "serve", str(cfg)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_ready(srv.url, srv.proc, 30, logf)
    except BaseException:
        srv.stop()
        raise
    log(f"docker-registry up at {srv.url} (pid {srv.proc.pid}), data in {d}")
    return srv


def start_ours(workdir: Path, key: str, env_extra: dict[str, str], ready_timeout: float) -> Server:
    """Start ours as target `key` in workdir/<key>, with env_extra (HARBOR_DATABASE_URL, HARBOR_BROKER_URL...)."""
    d = workdir / key
    d.mkdir(parents=True)
    port = free_port()
    password = secrets.token_urlsafe(18)
    venv_bin = REPO_ROOT / ".venv" / "bin"
    python = str(venv_bin / "python") if (venv_bin / "python").exists() else sys.executable
    gunicorn = str(venv_bin / "gunicorn") if (venv_bin / "gunicorn").exists() else shutil.which("gunicorn")
    if not (REPO_ROOT / "manage.py").exists():
        raise BenchError(f"{REPO_ROOT / 'manage.py'} not found (our server is not there yet)")
    if not gunicorn:
        raise BenchError("gunicorn not found in .venv/bin or PATH")
    env = dict(os.environ)
    env.update(
        {
            "HARBOR_VAR_DIR": str(d),
            "HARBOR_ADMIN_PASSWORD": password,
            "HARBOR_SECRET_KEY": secrets.token_urlsafe(48),
            "HARBOR_BIND": f"127.0.0.1:{port}",
            "HARBOR_EXTERNAL_URL": f"http://127.0.0.1:{port}",
        }
    )
    env.update(env_extra)
    logf = d / "server.log"
    with open(d / "setup.log", "wb") as setup_log:
        for cmd in (["manage.py", "migrate", "--noinput"], ["manage.py", "harbor_bootstrap"]):
            r = subprocess.run(
                [python, *cmd],
                cwd=REPO_ROOT,
                env=env,
                stdout=setup_log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=600,
            )
            if r.returncode != 0:
                raise BenchError(
                    f"`{' '.join(cmd)}` failed (rc {r.returncode}):\n"
                    + (d / "setup.log").read_text(errors="replace")[-3000:]
                )
    srv = Server(key, f"http://127.0.0.1:{port}", "admin", password)
    srv.version = (
        "gunicorn harbor_site.wsgi" + "".join(f" {k}" for k in sorted(env_extra)) + (" set" if env_extra else "")
    )
    cmd = [gunicorn, "-c", "harbor_site/gunicorn_conf.py"]
    try:  # gunicorn >= 24 has a control socket at a fixed per-user path: keep ours private
        if (
            "--control-socket"
            in subprocess.run([gunicorn, "--help"], capture_output=True, text=True, timeout=30).stdout
        ):
            cmd += ["--control-socket", str(d / "gunicorn.ctl")]
    except (OSError, subprocess.SubprocessError):
        pass
    with open(logf, "wb") as out:
        srv.proc = subprocess.Popen(
            [*cmd, "harbor_site.wsgi"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_ready(srv.url, srv.proc, ready_timeout, logf)
    except BaseException:
        srv.stop()
        raise
    time.sleep(1.0)  # let all workers boot
    log(f"{key} up at {srv.url} (gunicorn master pid {srv.proc.pid}), data in {d}")
    return srv
