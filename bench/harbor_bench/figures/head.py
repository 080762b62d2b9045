"""Figure 6: HEAD of a small blob at concurrency 1 and 16."""

from __future__ import annotations

from harbor_bench.client import expect
from harbor_bench.common import REPO_MAIN
from harbor_bench.loadtools import ops_extra, run_ab_head, run_py_ops
from harbor_bench.runner import Bench


def run_head(b: Bench) -> None:
    figs = {n: b.fig(f"head_blob_c{n}", f"HEAD blob c={n}", "ops/s") for n in (1, 16)}

    def run(t):
        c = b.clients[t]
        digest = b.ensure_small(t)[REPO_MAIN]["layer"][0]
        for n, f in figs.items():
            if b.a.no_wrk:

                def head(i, k):
                    expect(c.request("HEAD", f"/v2/{REPO_MAIN}/blobs/{digest}", repo=REPO_MAIN), 200)

                res = run_py_ops(c, head, n, b.duration)
            else:
                res = run_ab_head(c, f"/v2/{REPO_MAIN}/blobs/{digest}", n, b.duration, REPO_MAIN)
            b.record(f, t, res["ops"], **ops_extra(res))

    b.each("head_blob", run, list(figs.values()))
