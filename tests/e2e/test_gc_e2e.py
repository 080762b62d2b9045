"""Garbage collection racing pushes, end to end: a real gunicorn and Celery worker on PostgreSQL.

Two pusher threads push images over /v2/ (monolithic, chunked and mounted blob uploads, HEAD to skip
a blob the repository has; layers shared by kept repositories, layers churned through throw-away
repositories that are deleted right after their push, so the same digests are unlinked, swept and
pushed again; tagged manifests overwriting tags and untagged ones). Meanwhile GC runs over and over,
with no safety window (HARBOR_GC_TIME_WINDOW_HOURS=0: nothing is too new to collect, so only the locks
keep the pushes safe):
- through the API (Manual, delete_untagged), run by the worker, a second manual run refused (409);
- as beat calls the task (`registry.gc` with the schedule's kwargs), back to back in a process of the
  server, skipped while an API run is pending or running.
Pushing goes on until at least MIN_GC_RUNS collections ran. Every push must succeed with all its blobs
and manifests readable, or fail cleanly (BLOB_UNKNOWN / MANIFEST_BLOB_UNKNOWN: the test retries it).
At the end every tagged image is pulled whole: manifest and every blob, digests verified. The broker is
the embedded filesystem one: a Redis database shared with other test servers would mix their jobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from common.testing.server import REPO_ROOT, RegistryServer
from common.testing.v2client import V2Client, digest_of
from tests.e2e.test_s3_storage import S3, s3, s3_env  # noqa: F401 - `s3`: the moto_server fixture

PROJECT = "gce"
PUSHERS = 2
PUSHES_PER_PUSHER = 150  # successful pushes; 300 in all
MIN_GC_RUNS = 100  # in all: through the API (the worker) and as beat calls the task
MIN_API_RUNS = 20
API_PAUSE = 1.0  # seconds between API runs
KEPT_REPOSITORIES = 3
TAGS = 6  # per kept repository: pushes overwrite them, leaving untagged artifacts for GC
# Push kinds and their weights. "tag-later" (an untagged manifest then tagged) and "index" (untagged
# children, then the index) race GC's deletion of untagged artifacts: manifest_push locks the
# repository row before it looks them up (registry/tests/test_gc_races.py interleaves both cases).
KINDS = {"tagged": 5, "untagged": 2, "tag-later": 2, "index": 1}
RETRYABLE = {"BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"}
FINAL = {"Success", "Error", "Stopped"}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = f"{OCI_MANIFEST}, {OCI_INDEX}"
SHARED = [os.urandom(512) + b"shared %d" % i for i in range(6)]
# Layers only throw-away repositories use: linked, unlinked, swept and pushed again all the time, so
# a push of one of them races the sweep of the same digest.
CHURNED = [os.urandom(512) + b"churned %d" % i for i in range(4)]


# Every blob and untagged artifact may be collected as soon as nothing references it.
NO_WINDOW = {"HARBOR_GC_TIME_WINDOW_HOURS": "0"}


class Retry(Exception):
    """A clean, retryable refusal (the blob or a referenced manifest went meanwhile)."""


@pytest.fixture(scope="module")
def gc_server():
    # The embedded filesystem broker, not Redis: a Redis database shared with other test servers would
    # let their workers take this server's messages.
    server = RegistryServer.create(extra_env=NO_WINDOW)
    if not server.env.get("HARBOR_DATABASE_URL", "").startswith("postgres"):
        server.destroy()
        pytest.skip("the race needs PostgreSQL (row and advisory locks)")
    with server.serving(worker=True):
        yield server


@dataclass
class Image:
    """What a push stored under a tag: the manifest digest and every blob digest reachable from it."""

    digest: str
    blobs: list[str]
    children: list[str] = field(default_factory=list)


@dataclass
class Tally:
    pushes: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    kept: dict[tuple[str, str], Image] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


class Pusher:
    """One client pushing one image after another (a blob at a time, then the manifest)."""

    def __init__(self, server: RegistryServer, index: int, tally: Tally) -> None:
        self.client = V2Client(server.url, "admin", server.admin_password)
        self.api = httpx.Client(base_url=f"{server.url}/api/v2.0", auth=("admin", server.admin_password), timeout=60)
        self.index = index
        self.rng = random.Random(index)
        self.tally = tally
        self.tokens: dict[str, dict] = {}

    def auth(self, *repos: str) -> dict:
        key = ",".join(repos)
        if key not in self.tokens:
            scopes = [f"repository:{PROJECT}/{r}:pull,push" for r in repos]
            self.tokens[key] = self.client.bearer(*scopes)
        return self.tokens[key]

    def _check(self, response: httpx.Response, expected: int, what: str) -> httpx.Response:
        if response.status_code == expected:
            return response
        try:
            code = response.json()["errors"][0]["code"]
        except (ValueError, KeyError, IndexError):
            code = ""
        if code in RETRYABLE:
            raise Retry(f"{what}: {code}")
        raise AssertionError(f"{what}: {response.status_code} {response.text[:300]}")

    def blob(self, repo: str, data: bytes, *, mount_from: str | None = None) -> str:
        digest = digest_of(data)
        name = f"{PROJECT}/{repo}"
        headers = self.auth(repo, mount_from) if mount_from else self.auth(repo)
        style = self.rng.random()
        if (
            style < 0.2
            and self.client.request("HEAD", f"/v2/{name}/blobs/{digest}", headers=headers).status_code == 200
        ):
            return digest  # the repository has it: docker skips the upload
        if mount_from:
            response = self.client.request(
                "POST", f"/v2/{name}/blobs/uploads/?mount={digest}&from={PROJECT}/{mount_from}", headers=headers
            )
            if response.status_code == 201:
                return digest
            location = self._check(response, 202, "mount fallback").headers["Location"]
            self._check(
                self.client.request("PUT", f"{location}?digest={digest}", headers=headers, content=data), 201, "put"
            )
            return digest
        if style < 0.6:
            response = self.client.request(
                "POST", f"/v2/{name}/blobs/uploads/?digest={digest}", headers=headers, content=data
            )
            self._check(response, 201, "monolithic")
            return digest
        location = self._check(self.client.request("POST", f"/v2/{name}/blobs/uploads/", headers=headers), 202, "post")
        half = len(data) // 2
        patch = {**headers, "Content-Range": f"0-{half - 1}", "Content-Type": "application/octet-stream"}
        response = self.client.request("PATCH", location.headers["Location"], headers=patch, content=data[:half])
        location = self._check(response, 202, "patch").headers["Location"]
        response = self.client.request("PUT", f"{location}?digest={digest}", headers=headers, content=data[half:])
        self._check(response, 201, "chunked put")
        return digest

    def manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        response = self.client.request(
            "PUT",
            f"/v2/{PROJECT}/{repo}/manifests/{reference}",
            headers={**self.auth(repo), "Content-Type": media_type},
            content=body,
        )
        return self._check(response, 201, f"manifest {reference}").headers["Docker-Content-Digest"]

    def image_body(self, repo: str, seed: str, *, mount_from: str | None = None) -> tuple[bytes, list[str]]:
        config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
        shared = self.rng.choice(CHURNED if repo.startswith("tmp-") else SHARED)
        layers = [shared, f"distinct layer {seed}".encode() * 20]
        descriptors = []
        for data in layers:
            digest = self.blob(repo, data, mount_from=mount_from if data in SHARED else None)
            descriptors.append(
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": len(data)}
            )
        config_digest = self.blob(repo, config)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": descriptors,
        }
        return json.dumps(manifest).encode(), [config_digest, *(d["digest"] for d in descriptors)]

    def readable(self, repo: str, digests: list[str], manifests: list[str]) -> None:
        """Right after a successful push: every blob and manifest it names is there."""
        headers = self.auth(repo)
        for digest in digests:
            status = self.client.request("HEAD", f"/v2/{PROJECT}/{repo}/blobs/{digest}", headers=headers).status_code
            if status != 200:
                self.tally.fail(f"{repo}: blob {digest} is {status} right after its push")
        for digest in manifests:
            response = self.client.request(
                "HEAD", f"/v2/{PROJECT}/{repo}/manifests/{digest}", headers={**headers, "Accept": ACCEPT}
            )
            if response.status_code != 200:
                self.tally.fail(f"{repo}: manifest {digest} is {response.status_code} right after its push")

    def push_once(self, n: int) -> str:
        """One push (kind chosen at random); raises Retry on a clean refusal."""
        seed = f"{self.index}-{n}-{self.rng.random()}"
        throwaway = self.rng.random() < 0.3
        # Kept repositories are each pusher's own: the last push recorded for a tag is the last one made.
        repo = f"tmp-{self.index}-{n}" if throwaway else f"keep-{self.index}-{self.rng.randrange(KEPT_REPOSITORIES)}"
        tag = f"t{self.rng.randrange(TAGS)}"
        kind = self.rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
        source = f"keep-{self.rng.randrange(PUSHERS)}-{self.rng.randrange(KEPT_REPOSITORIES)}"
        mount_from = source if self.rng.random() < 0.2 and not throwaway else None
        if mount_from == repo:
            mount_from = None
        body, blobs = self.image_body(repo, seed, mount_from=mount_from)
        children: list[str] = []
        if kind == "untagged":
            digest = self.manifest(repo, digest_of(body), body, OCI_MANIFEST)
        elif kind == "tag-later":  # by digest first (crane, buildx), then the same bytes under a tag
            digest = self.manifest(repo, digest_of(body), body, OCI_MANIFEST)
            digest = self.manifest(repo, tag, body, OCI_MANIFEST)
        elif kind == "index":  # the child goes in untagged, then the index names it
            child = self.manifest(repo, digest_of(body), body, OCI_MANIFEST)
            index = {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": child,
                        "size": len(body),
                        "platform": {"architecture": "amd64", "os": "linux"},
                    }
                ],
            }
            children = [child]
            digest = self.manifest(repo, tag, json.dumps(index).encode(), OCI_INDEX)
        else:
            digest = self.manifest(repo, tag, body, OCI_MANIFEST)
        # An untagged manifest may be collected at once (no window here): its blobs stay.
        self.readable(repo, blobs, [] if kind == "untagged" else [digest, *children])
        if throwaway:
            deleted = self.api.delete(f"/projects/{PROJECT}/repositories/{repo}")
            if deleted.status_code != 200:
                self.tally.fail(f"delete {repo}: {deleted.status_code} {deleted.text[:200]}")
        elif kind != "untagged":
            with self.tally.lock:
                self.tally.kept[(repo, tag)] = Image(digest, blobs, children)
        return kind

    def gc_enough(self) -> bool:
        """Have MIN_GC_RUNS collections run yet? (Pushing goes on until they have: all of them race pushes.)"""
        total = self.api.get("/system/gc", params={"page_size": 1}).headers["X-Total-Count"]
        return int(total) >= MIN_GC_RUNS + 2  # + the run or two still going

    def run(self) -> None:
        n = 0
        while (self.tally.pushes[self.index] < PUSHES_PER_PUSHER or not self.gc_enough()) and len(
            self.tally.failures
        ) < 10:
            n += 1
            for _attempt in range(20):
                try:
                    kind = self.push_once(n)
                except Retry as exc:
                    with self.tally.lock:
                        self.tally.retries[str(exc).rsplit(": ", 1)[1]] += 1
                    continue
                except Exception as exc:  # noqa: BLE001 - reported by the test
                    self.tally.fail(f"pusher {self.index} push {n}: {exc!r}")
                    return
                with self.tally.lock:
                    self.tally.pushes[self.index] += 1
                    self.tally.pushes[kind] += 1
                break
            else:
                self.tally.fail(f"pusher {self.index} push {n}: refused 20 times")


@dataclass
class Collector:
    """Runs GC through the API and waits for it, again and again."""

    server: RegistryServer
    tally: Tally
    stop: threading.Event
    runs: Counter = field(default_factory=Counter)
    deleted: Counter = field(default_factory=Counter)

    def run(self) -> None:
        api = httpx.Client(
            base_url=f"{self.server.url}/api/v2.0", auth=("admin", self.server.admin_password), timeout=60
        )
        manual = {"schedule": {"type": "Manual"}, "parameters": {"delete_untagged": True}}
        try:
            while not (self.stop.is_set() and self.runs["Success"] >= MIN_API_RUNS):
                started = api.post("/system/gc/schedule", json=manual)
                if started.status_code == 409:  # one at a time: a scheduled run is on
                    self.runs["409"] += 1
                    time.sleep(0.02)
                    continue
                assert started.status_code == 201, started.text
                # A second manual run while this one is pending or running is refused.
                again = api.post("/system/gc/schedule", json=manual)
                self.runs["second refused" if again.status_code == 409 else f"second {again.status_code}"] += 1
                if again.status_code == 201:  # the first had already ended: follow the second as well
                    self.wait(api, again.headers["Location"])
                self.wait(api, started.headers["Location"])
                # Room for the scheduled loop: an API run holds the one-at-a-time slot while its
                # message waits for the worker (the filesystem broker polls every second).
                time.sleep(API_PAUSE)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.tally.fail(f"collector: {exc!r}")

    def wait(self, api: httpx.Client, location: str) -> None:
        gc_id = location.rsplit("/", 1)[1]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = api.get(f"/system/gc/{gc_id}").json()["job_status"]
            if status in FINAL:
                self.runs[status] += 1
                log = api.get(f"/system/gc/{gc_id}/log").text
                self.deleted["blobs"] += log.count("deleted blob ")
                self.deleted["artifacts"] += log.count("deleted untagged artifact ")
                if status != "Success":
                    self.tally.fail(f"gc {gc_id} ended {status}: {log[-500:]}")
                return
            time.sleep(0.01)
        self.tally.fail(f"gc {gc_id} did not end within 60 s")


# Beat's call, back to back in a process of the server: `registry.gc` with the schedule's kwargs runs
# a collection, or skips it (None) while one started through the API is pending or running. The
# server's environment, so the same window of 0 hours.
SCHEDULED_LOOP = """
import json, os
from django.conf import settings
from common.models import Execution
from registry.tasks import gc
assert settings.GC_TIME_WINDOW_HOURS == 0, settings.GC_TIME_WINDOW_HOURS
ran, skipped, deleted = 0, 0, {{"blobs": 0, "artifacts": 0}}
while not os.path.exists({stop!r}):
    pk = gc(delete_untagged=True)
    if pk is None:
        skipped += 1
        continue
    execution = Execution.objects.get(pk=pk)
    assert execution.status == "Succeeded", (execution.status, execution.log[-500:])
    ran += 1
    deleted["blobs"] += execution.counts["blobs_deleted"]
    deleted["artifacts"] += execution.counts["artifacts_deleted"]
print(json.dumps({{"ran": ran, "skipped": skipped, "deleted": deleted}}))
"""


def _scheduled_loop(server: RegistryServer, stop_file: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", SCHEDULED_LOOP.format(stop=stop_file)],
        cwd=REPO_ROOT,
        env=server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _server_errors(server: RegistryServer) -> list[str]:
    """The server's error lines and our frames of its tracebacks (for failure messages)."""
    lines = server.log_tail(lines=2000).splitlines() + server.log_tail("worker.log", lines=2000).splitlines()
    return [line for line in lines if "Error" in line or "Exception" in line or 'File "/work' in line][-40:]


def _pull(client: V2Client, repo: str, tag: str, image: Image, *, project: str = PROJECT) -> list[str]:
    """Pull one tagged image whole; the problems found."""
    name = f"{project}/{repo}"
    headers = {**client.bearer(f"repository:{name}:pull"), "Accept": ACCEPT}
    problems = []
    response = client.request("GET", f"/v2/{name}/manifests/{tag}", headers=headers)
    if response.status_code != 200 or digest_of(response.content) != image.digest:
        return [f"{repo}:{tag}: manifest {response.status_code}, expected {image.digest}"]
    for child in image.children:
        got = client.request("GET", f"/v2/{name}/manifests/{child}", headers=headers)
        if got.status_code != 200 or digest_of(got.content) != child:
            problems.append(f"{repo}:{tag}: child {child} {got.status_code}")
    for digest in image.blobs:
        got = client.request("GET", f"/v2/{name}/blobs/{digest}", headers=headers, follow_redirects=True)
        if got.status_code != 200 or "sha256:" + hashlib.sha256(got.content).hexdigest() != digest:
            problems.append(f"{repo}:{tag}: blob {digest} {got.status_code}")
    return problems


def test_pushes_racing_garbage_collection_never_lose_data(gc_server):
    api = httpx.Client(base_url=f"{gc_server.url}/api/v2.0", auth=("admin", gc_server.admin_password), timeout=60)
    assert api.post("/projects", json={"project_name": PROJECT, "public": False}).status_code == 201
    tally = Tally()
    stop = threading.Event()
    collector = Collector(gc_server, tally, stop)
    stop_file = str(gc_server.var_dir / "stop-scheduled-gc")
    scheduled = _scheduled_loop(gc_server, stop_file)
    pushers = [Pusher(gc_server, i, tally) for i in range(PUSHERS)]
    threads = [threading.Thread(target=p.run) for p in pushers]
    gc_thread = threading.Thread(target=collector.run)
    started = time.monotonic()
    gc_thread.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    open(stop_file, "w").close()  # noqa: SIM115 - an empty marker file
    gc_thread.join()
    out, err = scheduled.communicate(timeout=120)
    elapsed = time.monotonic() - started
    assert scheduled.returncode == 0, err[-3000:]
    beat = json.loads(out.strip().splitlines()[-1])

    pushes = sum(tally.pushes[i] for i in range(PUSHERS))
    runs = collector.runs["Success"] + beat["ran"]
    summary = (
        f"{pushes} pushes {dict(tally.pushes)}, retries {dict(tally.retries)}; {runs} GC runs: "
        f"API {dict(collector.runs)} deleting {dict(collector.deleted)}, as beat {beat}; "
        f"{len(tally.kept)} tags kept; {elapsed:.0f} s"
    )
    print(summary)  # noqa: T201 - the iteration counts, shown with -s
    assert not tally.failures, (tally.failures[:5], summary, _server_errors(gc_server))
    assert pushes >= PUSHERS * PUSHES_PER_PUSHER
    assert runs >= MIN_GC_RUNS, summary
    assert collector.runs["Success"] >= MIN_API_RUNS, summary
    failed = api.get("/system/gc", params={"q": "job_status={Error Stopped Pending Running}"})
    assert failed.headers["X-Total-Count"] == "0", failed.json()
    # GC did race the pushes: it deleted throw-away repositories' blobs and overwritten, untagged artifacts.
    assert collector.deleted["blobs"] + beat["deleted"]["blobs"] > 0, summary
    assert collector.deleted["artifacts"] + beat["deleted"]["artifacts"] > 0, summary

    client = V2Client(gc_server.url, "admin", gc_server.admin_password)
    problems = [p for (repo, tag), image in sorted(tally.kept.items()) for p in _pull(client, repo, tag, image)]
    assert not problems, (problems[:5], summary)
    assert len(tally.kept) >= PUSHERS * KEPT_REPOSITORIES * TAGS // 2


# --- the same on the S3 blob store (moto_server) ------------------------------------------------------


@pytest.fixture(scope="module")
def s3_gc_server(s3):  # noqa: F811 - the imported fixture
    server = RegistryServer.create(extra_env={**s3_env(s3), **NO_WINDOW})  # the filesystem broker, as above
    with server.serving(worker=True):
        yield server


def _gc(api: httpx.Client, **parameters) -> tuple[str, str]:
    """Run one collection through the API and wait for it: (job_status, log)."""
    started = api.post("/system/gc/schedule", json={"schedule": {"type": "Manual"}, "parameters": parameters})
    assert started.status_code == 201, started.text
    gc_id = started.headers["Location"].rsplit("/", 1)[1]
    deadline = time.monotonic() + 60
    while (status := api.get(f"/system/gc/{gc_id}").json()["job_status"]) not in FINAL:
        assert time.monotonic() < deadline, "gc did not end"
        time.sleep(0.05)
    return status, api.get(f"/system/gc/{gc_id}/log").text


def test_gc_on_the_object_store(s3_gc_server, s3):  # noqa: F811 - the imported fixture
    server = s3_gc_server
    api = httpx.Client(base_url=f"{server.url}/api/v2.0", auth=("admin", server.admin_password), timeout=60)
    assert api.post("/projects", json={"project_name": "gcs3", "public": False}).status_code == 201
    client = V2Client(server.url, "admin", server.admin_password)
    kept_digest, kept = client.push_image("gcs3/kept", "v1", seed="kept")
    gone_digest, gone = client.push_image("gcs3/gone", "v1", seed="gone")
    untagged_digest, untagged = client.push_image("gcs3/kept", "v2", seed="untagged")
    auth = client.bearer("repository:gcs3/kept:pull,push,delete")
    # Untag v2 (the manifest stays, untagged), and drop the `gone` repository (its blobs lose their link).
    assert client.request("DELETE", "/v2/gcs3/kept/manifests/v2", headers=auth).status_code == 202
    assert api.delete("/projects/gcs3/repositories/gone").status_code == 200
    layer = lambda manifest: manifest["layers"][0]["digest"]  # noqa: E731
    assert s3.has_blob(layer(gone))

    status, log = _gc(api, delete_untagged=True, dry_run=True)
    assert status == "Success", log
    assert f"would delete blob {layer(gone)}" in log
    assert f"would delete untagged artifact gcs3/kept@{untagged_digest}" in log
    assert s3.has_blob(layer(gone))

    status, log = _gc(api, delete_untagged=True)
    assert status == "Success", log
    assert f"deleted blob {layer(gone)}" in log
    assert f"deleted blob {gone['config']['digest']}" in log
    assert not s3.has_blob(layer(gone))
    assert not s3.has_blob(gone["config"]["digest"])
    pulled = client.request("GET", f"/v2/gcs3/kept/manifests/{untagged_digest}", headers={**auth, "Accept": ACCEPT})
    assert pulled.status_code == 404
    assert layer(untagged) in log or s3.has_blob(layer(untagged))  # its blobs stay linked to the repository
    assert (
        _pull(client, "kept", "v1", Image(kept_digest, [kept["config"]["digest"], layer(kept)]), project="gcs3") == []
    )
    assert gone_digest not in log  # manifests are rows, not blobs
