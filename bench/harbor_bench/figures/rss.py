"""Figure 8: peak RSS growth of the server process tree during one streamed PATCH."""

from __future__ import annotations

import time

from harbor_bench.common import MB, REPO_MAIN, BenchError, MiB
from harbor_bench.data import RandomStream
from harbor_bench.procs import RssSampler, tree_rss
from harbor_bench.runner import Bench


def run_rss(b: Bench) -> None:
    f = b.fig("rss_growth", f"peak RSS growth, {b.rss_size // MiB} MiB streamed PATCH", "MiB", higher_better=False)

    def run(t):
        srv, c = b.servers[t], b.clients[t]
        pid = srv.pid
        if not pid:
            raise BenchError("server pid unknown (use --ours-pid / --reference-pid)")
        c.auth_header(c.scope(REPO_MAIN))
        time.sleep(0.5)
        base_samples = []
        for _ in range(3):
            base_samples.append(tree_rss(pid)[0])
            time.sleep(0.05)
        base = min(base_samples)
        sampler = RssSampler(pid, 0.05)
        sampler.start()
        stream = RandomStream(b.rss_size)
        t0 = time.perf_counter()
        try:
            c.push_streamed_patch(REPO_MAIN, iter(stream), stream.digest)
        finally:
            time.sleep(0.2)
            sampler.stop()
        el = time.perf_counter() - t0
        growth = max(0, sampler.peak - base) / MiB
        b.record(
            f,
            t,
            growth,
            baseline_mib=round(base / MiB, 1),
            peak_mib=round(sampler.peak / MiB, 1),
            procs=sampler.peak_procs,
            samples=sampler.samples,
            push_mb_s=round(b.rss_size / el / MB, 1),
        )

    b.each("rss", run, [f])
