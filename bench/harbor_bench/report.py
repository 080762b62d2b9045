"""Output: the text table and the JSON document (with tool versions)."""

from __future__ import annotations

import os
import platform
import subprocess
import time

import httpx

from harbor_bench.common import REF, MiB, is_ours, target_title
from harbor_bench.configs import OursConfig
from harbor_bench.results import DetailTable, Figure
from harbor_bench.runner import Bench
from harbor_bench.servers import Server


def fmt_val(v: float | None, unit: str, err: str | None) -> str:
    if v is None:
        return "ERR" if err else "-"
    if unit == "ms":
        return f"{v:,.2f} ms" if v < 100 else f"{v:,.0f} ms"
    if unit == "MiB":
        return f"{v:,.1f} MiB"
    return f"{v:,.0f} {unit}" if v >= 100 else f"{v:,.1f} {unit}"


def _grid(head: list[str], rows: list[list[str]]) -> list[str]:
    """Aligned text columns: the first left-aligned, the others right-aligned."""
    w = [max(len(x[i]) for x in [*rows, head]) for i in range(len(head))]
    sep = "+".join("-" * (n + 2) for n in w)
    out = [" | ".join(h.ljust(w[i]) for i, h in enumerate(head)), sep]
    for row in rows:
        out.append(" | ".join(c.ljust(w[0]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(row)))
    return out


def render_table(figs: list[Figure], targets: list[str]) -> str:
    """One column per target, then one ratio column per configuration of ours (when the reference ran)."""
    ratio_targets = [t for t in targets if is_ours(t)] if REF in targets else []
    single = len(ratio_targets) == 1
    head = ["figure", *(target_title(t) for t in targets)]
    if single:
        head.append("ratio (>1 = ours better)")
    else:
        head.extend(f"ratio {target_title(t)}" for t in ratio_targets)
    rows = []
    figs = [f for f in figs if f.values or f.errors]  # --tests: only what ran
    for f in figs:
        how = "ours/ref" if f.higher_better else "ref/ours"
        row = [f.label, *(fmt_val(f.values.get(t), f.unit, f.errors.get(t)) for t in targets)]
        for t in ratio_targets:
            r = f.ratio(t)
            mark = "" if f.comparable() else "*"
            row.append("-" if r is None else f"{r:.2f}x{mark}" + (f" ({how})" if single else ""))
        rows.append(row)
    out = _grid(head, rows)
    notes = []
    for f in figs:
        for t, e in f.errors.items():
            notes.append(f"  {target_title(t)} / {f.label}: {e[:300]}")
        for t, ex in f.extra.items():
            if ex.get("warn"):
                notes.append(f"  {target_title(t)} / {f.label}: {ex['warn']}")
    out.append("")
    out.append(
        "ratio: throughput figures ours/docker-registry, latency, CPU and RSS figures "
        "docker-registry/ours; >1 always means ours is better. MB = 10^6 bytes. "
        "RSS growth ratio floors both sides at 1 MiB. * = not like for like (see notes)."
    )
    if notes:
        out.append("notes:")
        out.extend(notes)
    return "\n".join(out)


def render_details(table: DetailTable, targets: list[str]) -> str:
    rows = [[label, *(cells.get(t, "-") for t in targets)] for label, cells in table.rows.items()]
    return "\n".join([table.title, *_grid(["", *(target_title(t) for t in targets)], rows)])


def tool_versions() -> dict:
    v = {
        "python": platform.python_version(),
        "httpx": httpx.__version__,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
    }
    for name, cmd in (("wrk", ["wrk", "-v"]), ("curl", ["curl", "--version"])):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            v[name] = (p.stdout or p.stderr).splitlines()[0].strip()
        except Exception:
            v[name] = None
    return v


def json_document(
    a,
    bench: Bench,
    targets: list[str],
    servers: dict[str, Server],
    configs: dict[str, OursConfig],
    start_errors: dict[str, str],
    figs: list[Figure],
    elapsed: float,
) -> dict:
    """Everything measured, for --json: sizes, servers, tool versions and every figure with its extras."""
    return {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "elapsed_s": round(elapsed, 1),
        "quick": a.quick,
        "sizes": {
            "blob_mib": bench.blob_size // MiB,
            "pull_concurrent_mib": bench.pull_conc_size // MiB,
            "pull_concurrency": bench.pull_conc,
            "chunk_mib": bench.chunk // MiB,
            "tags": bench.ntags,
            "rss_blob_mib": bench.rss_size // MiB,
            "ops_duration_s": bench.duration,
            "ops_tool": "python" if a.no_wrk else "wrk",
            "image_push_processes_max": bench.push_procs,
            "image_push_warmup_s": bench.push_warmup,
        },
        "targets": targets,
        "servers": {
            t: {
                "url": s.url,
                "version": s.version,
                "pid": s.pid,
                "auth": bench.clients[t].scheme,
                # the database URL names no password here (trust auth), so it is shown as it is
                "env": configs[t].env if t in configs else None,
            }
            for t, s in servers.items()
        },
        "start_errors": start_errors,
        "seed_manifest_put_per_s_python_x8": bench.seed_rates,
        "tools": tool_versions(),
        "figures": [f.as_dict(targets) for f in figs],
        "details": {title: table.rows for title, table in bench.details.items()},
    }
