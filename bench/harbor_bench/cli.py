"""Command line: parse the options, start (or attach to) the servers, run the figures, print the table."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import tempfile
import time
from pathlib import Path

from harbor_bench.common import OURS, REF, BenchError, is_ours, log, target_title
from harbor_bench.configs import CONFIGS, OursConfig, config_cleanup, config_prepare, configs_from_args, parse_configs
from harbor_bench.figures.blobs import run_pull, run_push
from harbor_bench.figures.head import run_head
from harbor_bench.figures.images import IMAGE_SECTIONS, run_images
from harbor_bench.figures.manifests import run_manifest_get, run_manifest_put, run_seed
from harbor_bench.figures.rss import run_rss
from harbor_bench.figures.tags import run_tags_list
from harbor_bench.report import json_document, render_details, render_table
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
    p.add_argument(
        "--ours-configs",
        default="sqlite",
        help=f"comma list of configurations of ours to bench side by side: {','.join(CONFIGS)} "
        "(default sqlite, the embedded default; postgres = PostgreSQL + Redis broker)",
    )
    p.add_argument(
        "--postgres-url",
        help="PostgreSQL server for the postgres configuration (default postgres://postgres@127.0.0.1:5432/: "
        "a fresh bench_<id> database is created there and dropped afterwards; a URL naming a database "
        "uses that database as it is)",
    )
    p.add_argument(
        "--redis-url",
        help="broker for the postgres configuration, HARBOR_BROKER_URL "
        "(default: the highest-numbered empty database of redis://127.0.0.1:6379)",
    )
    p.add_argument(
        "--database-url",
        help="one configuration of ours on this database as it is (HARBOR_DATABASE_URL); instead of --ours-configs",
    )
    p.add_argument("--duration", type=float, help="seconds per ops/s and image push figure (default 5, --quick 2)")
    p.add_argument(
        "--push-procs",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="client processes for the image push figures (default min(4, CPUs); never more than the concurrency)",
    )
    p.add_argument(
        "--tests",
        help="comma list of sections to run: push_mono,push_chunked,"
        "pull_single,pull_concurrent,manifest_put,manifest_get,head_blob,tags_list,rss," + ",".join(IMAGE_SECTIONS),
    )
    p.add_argument("--no-wrk", action="store_true", help="use Python threads instead of wrk for ops/s")
    p.add_argument("--ready-timeout", type=float, default=90, help="seconds to wait for our server")
    p.add_argument("--workdir", help="directory for server data and client blobs (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    a = p.parse_args(argv)
    a.tests = [x.strip() for x in a.tests.split(",")] if a.tests else None
    try:
        a.ours_configs = parse_configs(a.ours_configs)
    except ValueError as e:
        p.error(str(e))
    if a.database_url and a.ours_configs != ["sqlite"]:
        p.error("--database-url is one configuration of its own: leave out --ours-configs")
    if a.ours_url and (a.database_url or a.ours_configs != ["sqlite"]):
        p.error("--ours-url benches a running server: --ours-configs and --database-url do not apply")
    if a.push_procs < 1:
        p.error("--push-procs must be 1 or more")
    if a.ours_url and not a.password:
        p.error("--ours-url needs --password (and --user unless it is admin)")
    if a.reference_url and not a.reference_password:
        p.error("--reference-url needs --reference-password")
    return a


def start_servers(
    a, targets: list[str], configs: dict[str, OursConfig], workdir: Path, servers: dict[str, Server]
) -> dict[str, str]:
    """Start (or attach to) each target into `servers`; return {target: error} for those that failed.

    `servers` is filled in place so that the caller's cleanup stops what was started even when
    an interrupt arrives in the middle; so are the configurations' databases (config_cleanup).
    """
    start_errors: dict[str, str] = {}
    run_id = secrets.token_hex(4)
    for t in targets:
        try:
            if t == OURS:  # --ours-url
                servers[t] = Server(OURS, a.ours_url, a.user or "admin", a.password, a.ours_pid)
            elif is_ours(t):
                cfg = configs[t]
                config_prepare(cfg, a, run_id)
                servers[t] = start_ours(workdir, t, cfg.env, a.ready_timeout)
                if cfg.local_postgres:
                    servers[t].db_cpu_comm = "postgres"
            else:
                if a.reference_url:
                    servers[t] = Server(REF, a.reference_url, a.reference_user, a.reference_password, a.reference_pid)
                else:
                    if not os.path.exists(a.reference_binary):
                        raise BenchError(f"{a.reference_binary} missing (apt-get install docker-registry)")
                    servers[t] = start_reference(workdir, a.reference_binary)
        except Exception as e:
            start_errors[t] = f"{type(e).__name__}: {e}"
            log(f"could not start {target_title(t)}: {start_errors[t]}")
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
    run_images(bench)
    bench.close()


def main(argv=None) -> int:
    a = parse_args(argv)
    configs = {} if a.ours_url else {c.key: c for c in configs_from_args(a)}
    ours = [OURS] if a.ours_url else list(configs)
    targets = {OURS: ours, REF: [REF]}.get(a.only, [*ours, REF])
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
        start_errors = start_servers(a, targets, configs, workdir, servers)
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
        for table in bench.details.values():
            if table.rows:
                print()
                print(render_details(table, targets))
        elapsed = time.monotonic() - t_start
        print(f"\n(total {elapsed:.0f}s; workdir {workdir}{'' if a.keep else ', removed'})")
        if a.json:
            out = json_document(a, bench, targets, servers, configs, start_errors, figs, elapsed)
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
        for cfg in configs.values():
            config_cleanup(cfg)
        if not a.keep and not a.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        elif a.keep:
            log(f"kept {workdir}")
    return rc
