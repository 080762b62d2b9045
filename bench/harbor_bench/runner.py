"""Bench: the state the figures share (servers, clients, client blobs, sizes) and how results are recorded."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from harbor_bench.client import RegistryClient
from harbor_bench.common import REPO_MAIN, REPO_TAGS, MiB, log, target_title
from harbor_bench.data import make_blob_file
from harbor_bench.results import DetailTable, Figure
from harbor_bench.servers import Server

BLOB_SECTIONS = ("push_mono", "push_chunked", "pull_single", "pull_concurrent")


class Bench:
    def __init__(self, args, servers: dict[str, Server], workdir: Path):
        self.a = args
        self.servers = servers
        self.workdir = workdir
        self.clients = {t: RegistryClient(target_title(t), s.url, s.user, s.password) for t, s in servers.items()}
        self.figures: dict[str, Figure] = {}
        self.details: dict[str, DetailTable] = {}
        self.small: dict[str, dict] = {}
        self.blobs: dict[str, tuple[Path, str, int]] = {}
        self.seed_rates: dict[str, float] = {}  # manifest PUT/s while seeding tags (figures.manifests)
        self.seed_failed: set[str] = set()  # targets whose tag seeding failed (skipped by tags/list)
        self.run_id = secrets.token_hex(3)
        q = args.quick
        self.blob_size = (32 if q else 256) * MiB
        self.pull_conc_size = (8 if q else 64) * MiB
        self.rss_size = (128 if q else 1024) * MiB
        self.ntags = 500 if q else 5000
        self.duration = args.duration or (2.0 if q else 5.0)
        self.chunk = 8 * MiB
        self.pull_conc = 32
        self.push_procs = args.push_procs
        self.push_warmup = 0.5 if q else 1.0  # seconds of image pushing before the measured window

    def fig(self, key, label, unit, higher_better=True) -> Figure:
        if key not in self.figures:
            self.figures[key] = Figure(key, label, unit, higher_better)
        return self.figures[key]

    def detail(self, title: str) -> DetailTable:
        if title not in self.details:
            self.details[title] = DetailTable(title)
        return self.details[title]

    def selected(self, *sections: str) -> bool:
        return not self.a.tests or any(s in self.a.tests for s in sections)

    def record(self, fig: Figure, target: str, value: float, **extra) -> None:
        fig.values[target] = value
        if extra:
            fig.extra[target] = extra
        shown = f"{value:,.1f} {fig.unit}"
        log(f"  {target_title(target):>15}: {fig.label}: {shown}" + (f"  {extra}" if extra else ""))

    def each(self, section: str, fn: Callable[[str], None], figs: list[Figure]) -> None:
        """Run fn(target) for every server unless --tests leaves section out; failures become table errors."""
        if self.a.tests and section not in self.a.tests:
            return
        log(f"== {section}")
        for t in self.servers:
            try:
                fn(t)
            except Exception as e:  # keep going: record the failure in the table
                msg = f"{type(e).__name__}: {e}"
                log(f"  {target_title(t):>15}: {section} FAILED: {msg}")
                for f in figs:
                    if t not in f.values:
                        f.errors[t] = msg[:500]
                        f.values.setdefault(t, None)

    # -- setup shared by several figures
    def probe(self) -> None:
        for t, c in self.clients.items():
            c.probe()
            log(
                f"{target_title(t)}: {c.base} auth scheme {c.scheme}"
                + (
                    f" realm={c.challenge.get('realm')} service={c.challenge.get('service')}"
                    if c.scheme == "bearer"
                    else ""
                )
            )

    def prepare_data(self) -> None:
        if not self.selected(*BLOB_SECTIONS):  # ~600 MiB of random files only when a blob figure runs
            return
        d = self.workdir / "client"
        d.mkdir(exist_ok=True)
        t0 = time.monotonic()
        for name, size in (("mono", self.blob_size), ("chunked", self.blob_size), ("pull_conc", self.pull_conc_size)):
            p = d / f"{name}.bin"
            self.blobs[name] = (p, make_blob_file(p, size), size)
        log(f"generated client blobs in {time.monotonic() - t0:.1f}s under {d}")

    def ensure_small(self, t: str) -> dict:
        if t in self.small:
            return self.small[t]
        c = self.clients[t]
        layer = os.urandom(4096)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
                "config": {},
                "bench": self.run_id,
            }
        ).encode()
        out = {}
        for repo in (REPO_MAIN, REPO_TAGS):
            ld = c.push_small_blob(repo, layer)
            cd = c.push_small_blob(repo, config)
            out[repo] = {"layer": (ld, len(layer)), "config": (cd, len(config))}
        self.small[t] = out
        return out

    def push_base_blobs(self) -> None:
        if not self.selected("manifest_put", "manifest_get", "head_blob", "tags_list"):
            return
        for t in self.servers:
            try:
                self.ensure_small(t)
            except Exception as e:
                log(f"{target_title(t)}: pushing base config/layer failed: {e}")

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
