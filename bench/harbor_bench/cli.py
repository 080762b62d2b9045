"""Command line: parse the options, start (or attach to) the servers, run the figures, print the table."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from harbor_bench.common import OURS, REF, TARGET_TITLES, BenchError, log
from harbor_bench.figures.blobs import run_pull, run_push
from harbor_bench.figures.head import run_head
from harbor_bench.figures.manifests import run_manifest_get, run_manifest_put, run_seed
from harbor_bench.figures.rss import run_rss
from harbor_bench.figures.tags import run_tags_list
from harbor_bench.report import json_document, render_table
from harbor_bench.runner import Bench
from harbor_bench.servers import Server, start_ours, start_reference

DESCRIPTION = "Side-by-side benchmark: our registry vs. Debian's docker-registry (distribution v2.8)."


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", metavar="OUT", help="write results as JSON to this file")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 32 MiB blobs, 8 MiB concurrent-pull blob, 500 tags, 128 MiB RSS blob, 2 s per ops figure",
    )
    p.add_argument("--only", choices=[OURS, REF], help="bench only one server")
    p.add_argument("--ours-url", help="bench an already-running server of ours at this URL")
    p.add_argument("--user", help="user for --ours-url (default admin)")
    p.add_argument("--password", help="password for --ours-url")
    p.add_argument(
        "--ours-pid",
        type=int,
        help="root pid of the --ours-url server, for the RSS figure "
        "(default: found from the listening socket when local)",
    )
    p.add_argument("--reference-url", help="bench an already-running docker-registry at this URL")
    p.add_argument("--reference-user", default="bench")
    p.add_argument("--reference-password")
    p.add_argument("--reference-pid", type=int)
    p.add_argument("--reference-binary", default="/usr/bin/docker-registry")
    p.add_argument("--database-url", help="passed to our server as HARBOR_DATABASE_URL")
    p.add_argument("--duration", type=float, help="seconds per ops/s figure (default 5, --quick 2)")
    p.add_argument(
        "--tests",
        help="comma list of sections to run: push_mono,push_chunked,"
        "pull_single,pull_concurrent,manifest_put,manifest_get,head_blob,tags_list,rss",
    )
    p.add_argument("--no-wrk", action="store_true", help="use Python threads instead of wrk for ops/s")
    p.add_argument("--ready-timeout", type=float, default=90, help="seconds to wait for our server")
    p.add_argument("--workdir", help="directory for server data and client blobs (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    a = p.parse_args(argv)
    a.tests = [x.strip() for x in a.tests.split(",")] if a.tests else None
    if a.ours_url and not a.password:
        p.error("--ours-url needs --password (and --user unless it is admin)")
    if a.reference_url and not a.reference_password:
        p.error("--reference-url needs --reference-password")
    return a


def start_servers(a, targets: list[str], workdir: Path, servers: dict[str, Server]) -> dict[str, str]:
    """Start (or attach to) each target into `servers`; return {target: error} for those that failed.

    `servers` is filled in place so that the caller's cleanup stops what was started even when
    an interrupt arrives in the middle.
    """
    start_errors: dict[str, str] = {}
    for t in targets:
        try:
            if t == OURS:
                if a.ours_url:
                    servers[t] = Server(OURS, a.ours_url, a.user or "admin", a.password, a.ours_pid)
                else:
                    servers[t] = start_ours(workdir, a.database_url, a.ready_timeout)
            else:
                if a.reference_url:
                    servers[t] = Server(REF, a.reference_url, a.reference_user, a.reference_password, a.reference_pid)
                else:
                    if not os.path.exists(a.reference_binary):
                        raise BenchError(f"{a.reference_binary} missing (apt-get install docker-registry)")
                    servers[t] = start_reference(workdir, a.reference_binary)
        except Exception as e:
            start_errors[t] = f"{type(e).__name__}: {e}"
            log(f"could not start {TARGET_TITLES[t]}: {start_errors[t]}")
    return start_errors


def run_figures(bench: Bench) -> None:
    """All sections in table order (each one skips itself when --tests leaves it out)."""
    bench.probe()
    bench.prepare_data()
    bench.push_base_blobs()
    run_push(bench)
    run_pull(bench)
    run_manifest_put(bench)
    run_seed(bench)
    run_manifest_get(bench)
    run_head(bench)
    run_tags_list(bench)
    run_rss(bench)
    bench.close()


def main(argv=None) -> int:
    a = parse_args(argv)
    targets = [a.only] if a.only else [OURS, REF]
    if not a.no_wrk and not shutil.which("wrk"):
        log("wrk not found (apt-get install wrk); falling back to Python threads for ops/s")
        a.no_wrk = True
    if not shutil.which("curl"):
        return log("curl is required") or 2

    workdir = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="registry-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    servers: dict[str, Server] = {}

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    t_start = time.monotonic()
    rc = 0
    try:
        start_errors = start_servers(a, targets, workdir, servers)
        if not servers:
            log("no server to bench")
            return 1
        bench = Bench(a, servers, workdir)
        run_figures(bench)
        figs = list(bench.figures.values())
        for t, e in start_errors.items():
            for f in figs:
                f.values[t] = None
                f.errors[t] = "server not started: " + e.splitlines()[0][:200]
        print()
        print(render_table(figs, targets))
        elapsed = time.monotonic() - t_start
        print(f"\n(total {elapsed:.0f}s; workdir {workdir}{'' if a.keep else ', removed'})")
        if a.json:
            out = json_document(a, bench, servers, start_errors, figs, elapsed)
            Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
            log(f"wrote {a.json}")
        if start_errors or any(f.errors for f in figs):
            rc = 1
    except KeyboardInterrupt:
        log("interrupted")
        rc = 130
    finally:
        for s in servers.values():
            s.stop()
        if not a.keep and not a.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        elif a.keep:
            log(f"kept {workdir}")
    return rc
