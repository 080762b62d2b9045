"""Figures 4 and 5: manifest PUT under new tags, manifest GET by tag; and the tag seeding they share with tags/list."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from harbor_bench.client import RegistryClient, expect, list_all_tags, manifest_bytes
from harbor_bench.common import OCI_MANIFEST, REPO_MAIN, REPO_TAGS, TAG_FMT, BenchError, log, target_title
from harbor_bench.loadtools import ops_extra, run_py_ops, run_wrk
from harbor_bench.runner import Bench


def run_manifest_put(b: Bench) -> None:
    figs = {n: b.fig(f"manifest_put_c{n}", f"manifest PUT (new tag) c={n}", "ops/s") for n in (1, 16)}

    def run(t):
        small = b.ensure_small(t)[REPO_MAIN]
        c = b.clients[t]
        for n, f in figs.items():
            if b.a.no_wrk:
                cfg, layer = small["config"], small["layer"]
                res = run_py_ops(
                    c,
                    lambda i, k, n=n, cfg=cfg, layer=layer: c.put_manifest(
                        REPO_MAIN,
                        f"py{n}-{b.run_id}-{i}-{k}",
                        manifest_bytes(cfg, layer, f"py{n}-{b.run_id}-{i}-{k}"),
                    ),
                    n,
                    b.duration,
                )
            else:
                res = run_wrk(
                    c,
                    {
                        "BENCH_MODE": "put",
                        "BENCH_RUN_ID": f"w{n}-{b.run_id}",
                        "BENCH_CONFIG_DIGEST": small["config"][0],
                        "BENCH_CONFIG_SIZE": str(small["config"][1]),
                        "BENCH_LAYER_DIGEST": small["layer"][0],
                        "BENCH_LAYER_SIZE": str(small["layer"][1]),
                    },
                    n,
                    b.duration,
                    REPO_MAIN,
                )
                _check_pushed(b, c, f"w{n}-{b.run_id}-", res)
            b.record(f, t, res["ops"], **ops_extra(res))

    b.each("manifest_put", run, list(figs.values()))


def _check_pushed(b: Bench, c: RegistryClient, prefix: str, res: dict) -> None:
    """The tags wrk pushed must be there: one fetched back, and (by tags/list) their count."""
    tag = prefix + "1-2"  # wrk builds (and drops) one request per thread before sending
    r = c.request("GET", f"/v2/{REPO_MAIN}/manifests/{tag}", repo=REPO_MAIN, headers={"Accept": OCI_MANIFEST})
    expect(r, 200, what=f"{c.name} GET manifest {tag} pushed by wrk")
    try:
        tags = list_all_tags(c, REPO_MAIN)
    except BenchError as e:
        res["warn"] = f"could not count pushed tags: {e}"[:300]
        return
    n = sum(1 for x in tags if x.startswith(prefix))
    res["tags_found"] = n
    if abs(n - res["requests"]) > 64:
        res["warn"] = f"{n} tags found for {res['requests']} PUTs counted by wrk"


def seed_tags(b: Bench, t: str) -> None:
    c = b.clients[t]
    small = b.ensure_small(t)[REPO_TAGS]
    cfg, layer = small["config"], small["layer"]
    existing = c.request("GET", f"/v2/{REPO_TAGS}/tags/list", repo=REPO_TAGS)
    if (
        existing.status_code == 200
        and len(existing.json().get("tags") or []) >= b.ntags
        and not existing.headers.get("link")
    ):
        return
    t0 = time.perf_counter()

    def push(i: int) -> None:
        tag = TAG_FMT % i
        c.put_manifest(REPO_TAGS, tag, manifest_bytes(cfg, layer, tag))

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(push, range(b.ntags)))
    el = time.perf_counter() - t0
    b.seed_rates[t] = b.ntags / el
    log(f"  {target_title(t):>15}: seeded {b.ntags} tags in {el:.1f}s ({b.ntags / el:.0f} manifest PUT/s, python x8)")


def run_seed(b: Bench) -> None:
    needed = {"manifest_get", "tags_list"}
    if b.a.tests and not (needed & set(b.a.tests)):
        return
    log(f"== seeding {b.ntags} tags into {REPO_TAGS}")
    for t in b.servers:
        try:
            seed_tags(b, t)
        except Exception as e:
            log(f"  {target_title(t):>15}: seeding FAILED: {type(e).__name__}: {e}")
            b.seed_failed.add(t)


def run_manifest_get(b: Bench) -> None:
    figs = {n: b.fig(f"manifest_get_c{n}", f"manifest GET by tag c={n}", "ops/s") for n in (1, 16)}

    def run(t):
        c = b.clients[t]
        for n, f in figs.items():
            if b.a.no_wrk:

                def get(i, k):
                    r = c.request(
                        "GET",
                        f"/v2/{REPO_TAGS}/manifests/" + TAG_FMT % ((i * 7919 + k) % b.ntags),
                        repo=REPO_TAGS,
                        headers={"Accept": OCI_MANIFEST},
                    )
                    expect(r, 200)

                res = run_py_ops(c, get, n, b.duration)
            else:
                res = run_wrk(
                    c,
                    {
                        "BENCH_MODE": "get",
                        "BENCH_TAG_PREFIX": "t",
                        "BENCH_TAG_COUNT": str(b.ntags),
                        "BENCH_ACCEPT": OCI_MANIFEST,
                    },
                    n,
                    b.duration,
                    REPO_TAGS,
                )
            b.record(f, t, res["ops"], **ops_extra(res))

    b.each("manifest_get", run, list(figs.values()))
