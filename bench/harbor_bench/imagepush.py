"""Image push load generator: client processes, each with threads pushing whole images the way docker does.

One image is a unique config blob (a valid OCI image config, ~1.1 KB), one unique 2 KB layer blob
and an OCI manifest pushed by tag. Per blob: HEAD (404), POST uploads/ (202 + Location),
PUT <Location>?digest= with the body (201); then PUT manifests/<tag> (201).

Why processes: one Python process holds one interpreter lock and tops out at a few hundred small
requests/s, which on a 2-core box is close to what the servers do at c=16, so the concurrency is
spread over several processes (each with its own threads, one keep-alive pool per thread). They are
started with "spawn" because the parent already runs threads.

Timing: every process fetches its tokens first (ours answers with a Bearer challenge; one token
per repository, cached by the process for its threads), then all threads start at one instant of
CLOCK_MONOTONIC (system-wide, so comparable across processes). The measured window opens once
`warmup` seconds have passed and every thread has finished its first image: all threads start
together, so at c=64 the first images all end together after seconds, and a window opened before
would see none of them. The window lasts `duration` seconds; threads then finish the image in
hand and stop. Only images (and requests) that complete inside the window are counted, so
connection set-up and the first requests do not dilute the rate. For new repositories
(`new_repo_project`) the token for each fresh repository is fetched inside the image, as a client
must.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing as mp
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from harbor_bench.client import RegistryClient, add_query, expect, manifest_bytes
from harbor_bench.common import OCI_MANIFEST, BenchError

LAYER_SIZE = 2048
# request kinds timed inside each image, in push order; "token" only for new repositories (Bearer)
KINDS = {
    "token": "token GET (new repository)",
    "blob_head": "blob HEAD (404)",
    "upload_post": "upload POST",
    "upload_put": "upload PUT ?digest= (body)",
    "manifest_put": "manifest PUT",
}
START_DELAY = 0.3  # seconds between "all processes ready" and the common start instant
SETUP_TIMEOUT = 300.0
WARMUP_TIMEOUT = 120.0  # every thread must finish one image within this


@dataclass
class _Shared:
    """What the parent and the client processes share (handed to each process when it is spawned)."""

    go: object  # Event: set once every process is ready (or on failure)
    start_at: object  # Value d: the common start instant; 0 = do not start
    stop_at: object  # Value d: no new image after this instant; 0 = not known yet (window not open)
    warmed: object  # Value i: threads that have finished their first image (or given up)


@dataclass(frozen=True)
class PushJob:
    base_url: str
    user: str
    password: str
    repos: tuple[str, ...]  # images go round-robin over these; empty: a new repository per image
    new_repo_project: str = ""
    concurrency: int = 1
    processes: int = 1
    warmup: float = 1.0
    duration: float = 5.0
    run_id: str = ""


@dataclass
class PushResult:
    images: int  # completed inside the window
    rate: float  # images/s over the window
    image_lat: list[float]  # seconds, sorted, of the images completed inside the window
    kind_lat: dict[str, list[float]]  # seconds, sorted, of the requests completed inside the window
    probes: dict[str, float] = field(default_factory=dict)  # after - before, per probe
    warmup_s: float = 0.0  # from the common start to the window (warmup, or longer: see above)
    images_total: int = 0  # including warm-up and the images finished after the window
    client_cpu: float = 0.0  # CPU seconds of all client processes while pushing images_total
    threads: list[int] = field(default_factory=list)  # threads per process


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_blobs(note: str) -> tuple[bytes, bytes]:
    """(layer, config) of a new image: random layer bytes and a valid OCI image config naming it."""
    layer = os.urandom(LAYER_SIZE)
    created = "2024-01-01T00:00:00Z"
    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
            "Cmd": ["/bin/sh", "-c", "exec /app/run"],
            "WorkingDir": "/app",
            "Labels": {"org.opencontainers.image.title": "bench", "org.example.bench.image": note},
        },
        "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        "history": [
            {"created": created, "created_by": f"/bin/sh -c #(nop) ADD file:{_digest(layer)[7:]} in /app"},
            {"created": created, "created_by": '/bin/sh -c #(nop) WORKDIR "/app"', "empty_layer": True},
            {
                "created": created,
                "created_by": '/bin/sh -c #(nop) CMD ["/bin/sh" "-c" "exec /app/run"]',
                "empty_layer": True,
            },
        ],
    }
    return layer, json.dumps(config, indent=2).encode()


class _Recorder:
    """Per-thread lists of (end instant, seconds), merged by the process at the end."""

    def __init__(self) -> None:
        self.kinds: dict[str, list[tuple[float, float]]] = {k: [] for k in KINDS}

    def timed(self, kind: str, t0: float) -> None:
        t1 = time.monotonic()
        self.kinds[kind].append((t1, t1 - t0))


def push_image(c: RegistryClient, repo: str, tag: str, rec: _Recorder, new_repo: bool) -> None:
    """Push one new image into repo under tag, timing each request into rec."""
    if new_repo and c.scheme == "bearer":
        t0 = time.monotonic()
        c.auth_header(c.scope(repo))
        rec.timed("token", t0)
    layer, config = image_blobs(tag)
    for data in (layer, config):
        d = _digest(data)
        t0 = time.monotonic()
        expect(c.request("HEAD", f"/v2/{repo}/blobs/{d}", repo=repo), 404, what=f"HEAD blob in {repo}")
        rec.timed("blob_head", t0)
        t0 = time.monotonic()
        loc = c.start_upload(repo)
        rec.timed("upload_post", t0)
        t0 = time.monotonic()
        r = c.request(
            "PUT",
            add_query(loc, digest=d),
            repo=repo,
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        expect(r, 201, what=f"PUT upload in {repo}")
        rec.timed("upload_put", t0)
    body = manifest_bytes((_digest(config), len(config)), (_digest(layer), len(layer)), tag)
    t0 = time.monotonic()
    r = c.request("PUT", f"/v2/{repo}/manifests/{tag}", repo=repo, content=body, headers={"Content-Type": OCI_MANIFEST})
    expect(r, 201, what=f"PUT manifest {repo}:{tag}")
    rec.timed("manifest_put", t0)


def _process_main(job: PushJob, index: int, nthreads: int, shared: _Shared, ready_q, result_q) -> None:
    """One client process: set up, wait for the common start, push with nthreads threads, send the timings."""
    try:
        c = RegistryClient(f"push client {index}", job.base_url, job.user, job.password)
        c.probe()
        for repo in job.repos:  # tokens outside the measured loop (one per repository)
            c.auth_header(c.scope(repo), min_ttl=job.warmup + job.duration + 120)
    except Exception as e:
        ready_q.put((index, f"{type(e).__name__}: {e}"))
        return
    ready_q.put((index, None))
    if not shared.go.wait(SETUP_TIMEOUT) or shared.start_at.value <= 0:
        return
    t_start = shared.start_at.value
    cpu0 = time.process_time()
    images: list[tuple[float, float]] = []
    kinds: dict[str, list[tuple[float, float]]] = {k: [] for k in KINDS}
    errors: list[str] = []
    lock = threading.Lock()

    def thread_main(ti: int) -> None:
        g = index + ti * job.processes  # a global thread number: spreads repositories and names tags
        rec, mine = _Recorder(), []
        time.sleep(max(0.0, t_start - time.monotonic()))
        n = 0
        while (stop := shared.stop_at.value) == 0 or time.monotonic() < stop:
            if job.repos:
                repo = job.repos[(g + n * job.concurrency) % len(job.repos)]
            else:
                repo = f"{job.new_repo_project}/new-{uuid.uuid4().hex}"
            tag = f"{job.run_id}-{g}-{n}"
            t0 = time.monotonic()
            try:
                push_image(c, repo, tag, rec, new_repo=not job.repos)
            except Exception as e:  # a failed image ends this thread; the figure reports it
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:400])
                if n == 0:
                    _add(shared.warmed)
                break
            mine.append((t0, time.monotonic()))
            n += 1
            if n == 1:
                _add(shared.warmed)
        with lock:
            images.extend(mine)
            for k, v in rec.kinds.items():
                kinds[k].extend(v)

    threads = [threading.Thread(target=thread_main, args=(i,), daemon=True) for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.close()
    cpu = time.process_time() - cpu0
    result_q.put({"index": index, "images": images, "kinds": kinds, "errors": errors, "cpu": cpu})


def _add(value) -> None:
    with value.get_lock():
        value.value += 1


def _queue_get(q, procs: list, timeout: float, what: str):
    """q.get() that gives up when a client process died without answering."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return q.get(timeout=1.0)
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise BenchError(f"client process exited with code {dead[0].exitcode} while {what}")
            if time.monotonic() > deadline:
                raise BenchError(f"timed out while {what}")


def _sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.monotonic()))


def run_image_push(job: PushJob, probes: dict[str, Callable[[], float]] | None = None) -> PushResult:
    """Run job; probes (e.g. server CPU ticks) are read at the start and at the end of the window."""
    probes = probes or {}
    nproc = max(1, min(job.processes, job.concurrency))
    job = PushJob(**{**job.__dict__, "processes": nproc})
    split = [job.concurrency // nproc + (1 if i < job.concurrency % nproc else 0) for i in range(nproc)]
    ctx = mp.get_context("spawn")
    ready_q, result_q = ctx.Queue(), ctx.Queue()
    shared = _Shared(ctx.Event(), ctx.Value("d", 0.0), ctx.Value("d", 0.0), ctx.Value("i", 0))
    procs = [
        ctx.Process(target=_process_main, args=(job, i, n, shared, ready_q, result_q), daemon=True)
        for i, n in enumerate(split)
    ]
    for p in procs:
        p.start()
    try:
        setup_errors = []
        for _ in procs:
            _, err = _queue_get(ready_q, procs, SETUP_TIMEOUT, "setting up")
            if err:
                setup_errors.append(err)
        if setup_errors:
            raise BenchError(f"client set-up failed: {setup_errors[0]}")
        t_start = time.monotonic() + START_DELAY
        shared.start_at.value = t_start
        shared.go.set()
        _sleep_until(t_start + job.warmup)
        while shared.warmed.value < job.concurrency:
            if time.monotonic() > t_start + WARMUP_TIMEOUT:
                raise BenchError(
                    f"warm-up: {shared.warmed.value} of {job.concurrency} clients finished an image "
                    f"in {WARMUP_TIMEOUT:.0f} s"
                )
            time.sleep(0.01)
        w0 = time.monotonic()
        before = {k: f() for k, f in probes.items()}
        w1 = w0 + job.duration
        shared.stop_at.value = w1
        _sleep_until(w1)
        after = {k: f() for k, f in probes.items()}
        results = [_queue_get(result_q, procs, job.duration + SETUP_TIMEOUT, "pushing") for _ in procs]
    finally:
        # on failure: processes still waiting see start_at 0 and return; pushing ones stop
        if not shared.stop_at.value:
            shared.stop_at.value = 1.0
        shared.go.set()
        for p in procs:
            p.join(timeout=15)
            if p.is_alive():
                p.kill()  # only our own child, by its pid
                p.join(timeout=5)
    images = [x for r in results for x in r["images"]]
    errors = [e for r in results for e in r["errors"]]
    if errors:
        raise BenchError(f"{len(errors)} client thread(s) failed after {len(images)} images: {errors[0]}")
    lat = sorted(e - s for s, e in images if w0 <= e < w1)
    kind_lat = {k: sorted(sec for r in results for end, sec in r["kinds"][k] if w0 <= end < w1) for k in KINDS}
    return PushResult(
        images=len(lat),
        rate=len(lat) / job.duration,
        image_lat=lat,
        kind_lat=kind_lat,
        probes={k: after[k] - before[k] for k in probes},
        images_total=len(images),
        client_cpu=sum(r["cpu"] for r in results),
        warmup_s=w0 - t_start,
        threads=split,
    )
