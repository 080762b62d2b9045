"""Figures 1-3: blob push (monolithic, 8 MiB chunks) and blob pull (one GET, 32 concurrent GETs)."""

from __future__ import annotations

import time
from pathlib import Path

from harbor_bench.common import MB, REPO_MAIN, MiB
from harbor_bench.data import file_chunks
from harbor_bench.loadtools import curl_pull
from harbor_bench.runner import Bench


def run_push(b: Bench) -> None:
    f1 = b.fig("push_mono", f"blob push monolithic {b.blob_size // MiB} MiB", "MB/s")
    f2 = b.fig("push_chunked", f"blob push 8 MiB chunks {b.blob_size // MiB} MiB", "MB/s")

    def mono(t):
        path, digest, size = b.blobs["mono"]
        c = b.clients[t]
        c.auth_header(c.scope(REPO_MAIN))
        t0 = time.perf_counter()
        c.push_monolithic(REPO_MAIN, digest, size, file_chunks(path))
        el = time.perf_counter() - t0
        b.record(f1, t, size / el / MB, seconds=round(el, 3))

    def chunked(t):
        path, digest, size = b.blobs["chunked"]
        c = b.clients[t]
        c.auth_header(c.scope(REPO_MAIN))
        t0 = time.perf_counter()
        c.push_chunked(REPO_MAIN, digest, file_chunks(path, b.chunk))
        el = time.perf_counter() - t0
        b.record(f2, t, size / el / MB, seconds=round(el, 3), patches=-(-size // b.chunk))

    b.each("push_mono", mono, [f1])
    b.each("push_chunked", chunked, [f2])


def run_pull(b: Bench) -> None:
    f1 = b.fig("pull_single", f"blob pull 1x GET {b.blob_size // MiB} MiB (median of 5)", "MB/s")
    f2 = b.fig(
        "pull_concurrent",
        f"blob pull {b.pull_conc}x concurrent GET {b.pull_conc_size // MiB} MiB (aggregate)",
        "MB/s",
    )

    def header_file(t: str) -> Path:
        c = b.clients[t]
        p = b.workdir / "client" / f"headers-{t}.txt"
        p.write_text(f"Authorization: {c.auth_header(c.scope(REPO_MAIN), min_ttl=300)}\n")
        return p

    def single(t):
        path, digest, size = b.blobs["mono"]
        c = b.clients[t]
        r = c.request("HEAD", f"/v2/{REPO_MAIN}/blobs/{digest}", repo=REPO_MAIN)
        if r.status_code != 200:  # push test did not run (e.g. --tests pull)
            c.push_monolithic(REPO_MAIN, digest, size, file_chunks(path))
        # One 256 MiB GET from page cache takes ~0.1 s, so a single sample is mostly noise:
        # take the median of several.
        runs = sorted(curl_pull(c.url(f"/v2/{REPO_MAIN}/blobs/{digest}"), header_file(t), size, 1) for _ in range(5))
        el, total = runs[len(runs) // 2]
        b.record(f1, t, total / el / MB, seconds=round(el, 3), runs=len(runs))

    def concurrent(t):
        path, digest, size = b.blobs["pull_conc"]
        c = b.clients[t]
        c.push_monolithic(REPO_MAIN, digest, size, file_chunks(path))
        el, total = curl_pull(c.url(f"/v2/{REPO_MAIN}/blobs/{digest}"), header_file(t), size, b.pull_conc)
        b.record(f2, t, total / el / MB, seconds=round(el, 3), streams=b.pull_conc)

    b.each("pull_single", single, [f1])
    b.each("pull_concurrent", concurrent, [f2])
