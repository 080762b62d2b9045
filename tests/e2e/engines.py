"""Container engines for end-to-end tests: a private dockerd per session, an isolated podman, small images."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common.testing.v2client import V2Client

COMMAND_TIMEOUT = 180
# Both manifest flavours a docker or podman push may produce; HEAD answers with whatever was stored.
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


class EngineUnavailable(Exception):
    """The engine cannot run in this environment (missing binary, not root, daemon did not start)."""


def rootfs_tar(path: Path, *, seed: str, size: int = 64 * 1024) -> Path:
    """Write a tiny root filesystem tarball whose content (and so image id) is unique to `seed`."""
    payload = os.urandom(size)
    with tarfile.open(path, "w") as tar:
        for name, data in (("etc/seed", seed.encode()), ("data/random.bin", payload)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return path


def registry_digest(server_url: str, username: str, password: str, repository: str, reference: str) -> str:
    """The manifest digest the registry reports for repository:reference (HEAD, as an admin or member)."""
    client = V2Client(server_url, username, password)
    response = client.request(
        "HEAD",
        f"/v2/{repository}/manifests/{reference}",
        scopes=(f"repository:{repository}:pull",),
        headers={"Accept": MANIFEST_ACCEPT},
    )
    assert response.status_code == 200, (response.status_code, response.headers)
    return response.headers["Docker-Content-Digest"]


def _run(argv: list[str], *, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, env=env, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )


def _checked(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"{' '.join(result.args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


# --- docker ------------------------------------------------------------------------------------------------------


@dataclass
class DockerEngine:
    """A dockerd of our own (vfs storage, no networking) listening on a socket in a temporary directory."""

    root: Path
    process: subprocess.Popen
    docker: str

    @property
    def host(self) -> str:
        return f"unix://{self.root}/docker.sock"

    @classmethod
    def start(cls) -> DockerEngine:
        dockerd, docker = shutil.which("dockerd"), shutil.which("docker")
        if not dockerd or not docker:
            raise EngineUnavailable("dockerd and the docker CLI are not installed")
        if os.geteuid() != 0:
            raise EngineUnavailable("dockerd needs root")
        # A short path: the socket's path must fit in sun_path (108 bytes).
        root = Path(tempfile.mkdtemp(prefix="dk-", dir="/tmp"))
        log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - lives as long as the daemon
        argv = [
            dockerd,
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            f"--data-root={root}/data",
            f"--exec-root={root}/exec",
            f"--pidfile={root}/docker.pid",
            f"--host=unix://{root}/docker.sock",
        ]
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        engine = cls(root=root, process=process, docker=docker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                reason = engine.log_tail()
                engine.stop()
                raise EngineUnavailable(f"dockerd exited with {process.returncode}: {reason}")
            probe = _run([docker, "-H", engine.host, "info", "--format", "{{.ServerVersion}}"], env=engine.env(root))
            if probe.returncode == 0:
                return engine
            time.sleep(0.3)
        reason = engine.log_tail()
        engine.stop()
        raise EngineUnavailable(f"dockerd did not answer within 60s: {reason}")

    def env(self, config_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update({"DOCKER_HOST": self.host, "DOCKER_CONFIG": str(config_dir)})
        return env

    def cli(self, config_dir: Path) -> DockerCLI:
        """A docker CLI with its own config directory: logins made through it stay in it."""
        config_dir.mkdir(parents=True, exist_ok=True)
        return DockerCLI(engine=self, config_dir=config_dir)

    def log_tail(self, lines: int = 30) -> str:
        path = self.root / "dockerd.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class DockerCLI:
    engine: DockerEngine
    config_dir: Path

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return _run([self.engine.docker, *args], env=self.engine.env(self.config_dir), stdin=stdin)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        return _checked(self.run(*args, stdin=stdin))

    def login(self, registry: str, username: str, password: str) -> subprocess.CompletedProcess:
        return self.run("login", "--username", username, "--password-stdin", registry, stdin=password)

    def image_id(self, reference: str) -> str:
        return self.ok("image", "inspect", "--format", "{{.Id}}", reference).strip()

    def repo_digests(self, reference: str) -> list[str]:
        return self.ok("image", "inspect", "--format", "{{range .RepoDigests}}{{.}} {{end}}", reference).split()

    def has_image(self, reference: str) -> bool:
        return self.run("image", "inspect", reference).returncode == 0


# --- podman ------------------------------------------------------------------------------------------------------


@dataclass
class Podman:
    """podman with its own storage (vfs), registries.conf marking the registry insecure, and auth file."""

    root: Path
    podman: str

    @classmethod
    def create(cls, registry_host: str) -> Podman:
        podman = shutil.which("podman")
        if not podman:
            raise EngineUnavailable("podman is not installed")
        root = Path(tempfile.mkdtemp(prefix="pm-", dir="/tmp"))
        (root / "registries.conf").write_text(f'[[registry]]\nlocation = "{registry_host}"\ninsecure = true\n')
        (root / "policy.json").write_text('{"default": [{"type": "insecureAcceptAnything"}]}\n')
        # Our own containers.conf: no journald or systemd needed, host settings do not leak in.
        (root / "containers.conf").write_text('[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n')
        return cls(root=root, podman=podman)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTAINERS_", "REGISTRY_AUTH"))}
        env.update(
            {
                "CONTAINERS_REGISTRIES_CONF": str(self.root / "registries.conf"),
                "CONTAINERS_CONF": str(self.root / "containers.conf"),
                "REGISTRY_AUTH_FILE": str(self.root / "auth.json"),
                "TMPDIR": str(self.root / "tmp"),
            }
        )
        return env

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        (self.root / "tmp").mkdir(exist_ok=True)
        storage = ["--root", str(self.root / "root"), "--runroot", str(self.root / "run"), "--storage-driver", "vfs"]
        return _run([self.podman, *storage, *args], env=self.env(), stdin=stdin)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        return _checked(self.run(*args, stdin=stdin))

    @property
    def policy(self) -> str:
        return f"--signature-policy={self.root / 'policy.json'}"

    def login(self, registry: str, username: str, password: str) -> subprocess.CompletedProcess:
        return self.run("login", "--username", username, "--password-stdin", registry, stdin=password)

    def destroy(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
