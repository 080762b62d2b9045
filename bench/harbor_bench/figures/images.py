"""Image push figures: whole images pushed the way docker does (harbor_bench.imagepush), per layout and concurrency.

  image_push           one repository (library/bench-push) at c=1, 16 and 64
  image_push_repos     64 repositories of one project (benchp/r<k>), c=16
  image_push_projects  8 projects (benchx<k>/app), c=16
  repo_create          every image into a new repository (benchn/new-<uuid>), c=16; the client's
                       token for each new repository is part of the image, as for a real client

Each gives images/s and the p99 (one-repository runs also the p50) of the whole image. Server CPU
per image is the utime+stime of the server's process tree over the measured window divided by the
images completed in it; DB CPU per image is the same over every `postgres` process of the machine
(ours on a local PostgreSQL only), so it includes whatever else that PostgreSQL served meanwhile.
The main table has the CPU rows of the c=16 one-repository and new-repository runs; the second
table has per-request latencies and the CPU of every run.
"""

from __future__ import annotations

from dataclasses import dataclass

from harbor_bench.client import RegistryClient, expect
from harbor_bench.common import BenchError, is_ours
from harbor_bench.imagepush import KINDS, PushJob, PushResult, percentile, run_image_push
from harbor_bench.procs import CLK_TCK, comm_cpu_ticks, tree_cpu_ticks
from harbor_bench.results import Figure
from harbor_bench.runner import Bench

DETAIL = "image push detail: request p50 / p99 (ms); CPU per image (ms)"


@dataclass(frozen=True)
class Run:
    section: str  # --tests name
    key: str
    label: str
    concurrency: int
    repos: tuple[str, ...]  # round-robin; empty: a new repository per image under new_repo_project
    new_repo_project: str = ""
    p50_row: bool = False  # image p50 in the main table
    cpu_rows: bool = False  # server (and DB) CPU per image in the main table
    kinds_detail: bool = False  # per-request p50/p99 in the detail table


ONE_REPO = ("library/bench-push",)
RUNS = (
    Run("image_push", "image_push_c1", "image push 1 repo c=1", 1, ONE_REPO, p50_row=True),
    Run(
        "image_push",
        "image_push_c16",
        "image push 1 repo c=16",
        16,
        ONE_REPO,
        p50_row=True,
        cpu_rows=True,
        kinds_detail=True,
    ),
    Run("image_push", "image_push_c64", "image push 1 repo c=64", 64, ONE_REPO, p50_row=True),
    Run(
        "image_push_repos",
        "image_push_repos_c16",
        "image push 64 repos c=16",
        16,
        tuple(f"benchp/r{k}" for k in range(64)),
    ),
    Run(
        "image_push_projects",
        "image_push_projects_c16",
        "image push 8 projects c=16",
        16,
        tuple(f"benchx{k}/app" for k in range(8)),
    ),
    Run(
        "repo_create",
        "repo_create_c16",
        "image push new repo each c=16",
        16,
        (),
        "benchn",
        cpu_rows=True,
        kinds_detail=True,
    ),
)
IMAGE_SECTIONS = tuple(dict.fromkeys(r.section for r in RUNS))


def projects_ensure(c: RegistryClient, names: set[str]) -> None:
    """Create our projects through the REST API (the registry makes none for unknown names); 409 = exists."""
    for name in sorted(names):
        r = c.http.post(
            c.url("/api/v2.0/projects"),
            json={"project_name": name, "metadata": {"public": "false"}},
            headers={"Authorization": c.basic},
        )
        expect(r, 201, 409, what=f"{c.name} create project {name}")


def _projects(run: Run) -> set[str]:
    return {repo.split("/", 1)[0] for repo in run.repos} | ({run.new_repo_project} if run.new_repo_project else set())


def _figures(b: Bench, run: Run) -> dict[str, Figure]:
    figs = {"rate": b.fig(run.key, f"{run.label}: images/s", "img/s")}
    if run.p50_row:
        figs["p50"] = b.fig(run.key + "_p50", f"{run.label}: image p50", "ms", higher_better=False)
    figs["p99"] = b.fig(run.key + "_p99", f"{run.label}: image p99", "ms", higher_better=False)
    if run.cpu_rows:
        figs["cpu"] = b.fig(run.key + "_cpu", f"{run.label}: server CPU/image", "ms", higher_better=False)
        figs["db_cpu"] = b.fig(run.key + "_db_cpu", f"{run.label}: DB CPU/image", "ms", higher_better=False)
    return figs


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _cpu_ms_per_image(res: PushResult, probe: str) -> float | None:
    if probe not in res.probes:
        return None
    return res.probes[probe] * 1000 / CLK_TCK / res.images


def _measure(b: Bench, t: str, run: Run, figs: dict[str, Figure]) -> None:
    srv, c = b.servers[t], b.clients[t]
    if is_ours(t):
        projects_ensure(c, _projects(run))
    job = PushJob(
        base_url=srv.url,
        user=srv.user,
        password=srv.password,
        repos=run.repos,
        new_repo_project=run.new_repo_project,
        concurrency=run.concurrency,
        processes=b.push_procs,
        warmup=b.push_warmup,
        duration=b.duration,
        run_id=f"{b.run_id}-{run.key}",
    )
    probes = {}
    if srv.pid:
        probes["server"] = lambda: tree_cpu_ticks(srv.pid)
    if srv.db_cpu_comm:
        probes["db"] = lambda: comm_cpu_ticks(srv.db_cpu_comm)
    res = run_image_push(job, probes)
    if not res.images:
        raise BenchError(f"no image completed in the {b.duration:.0f} s window ({res.images_total} in all)")
    cpu, db_cpu = _cpu_ms_per_image(res, "server"), _cpu_ms_per_image(res, "db")
    p50, p99 = percentile(res.image_lat, 50), percentile(res.image_lat, 99)
    kinds = {
        k: {"n": len(v), "p50_ms": _ms(percentile(v, 50)), "p99_ms": _ms(percentile(v, 99))}
        for k, v in res.kind_lat.items()
        if v
    }
    b.record(
        figs["rate"],
        t,
        res.rate,
        images=res.images,
        images_total=res.images_total,
        window_s=b.duration,
        warmup_s=round(res.warmup_s, 2),
        clients=f"{len(res.threads)} processes x {'/'.join(map(str, res.threads))} threads",
        p50_ms=_ms(p50),
        p99_ms=_ms(p99),
        server_cpu_ms_per_image=None if cpu is None else round(cpu, 2),
        db_cpu_ms_per_image=None if db_cpu is None else round(db_cpu, 2),
        # the load generator's own cost, to see how much of the box it takes from the server
        client_cpu_ms_per_image=round(res.client_cpu * 1000 / res.images_total, 2),
        requests=kinds,
    )
    if "p50" in figs:
        b.record(figs["p50"], t, p50 * 1000)
    b.record(figs["p99"], t, p99 * 1000)
    if "cpu" in figs and cpu is not None:
        b.record(figs["cpu"], t, cpu)
    if "db_cpu" in figs and db_cpu is not None:
        b.record(figs["db_cpu"], t, db_cpu)
    table = b.detail(DETAIL)
    if run.kinds_detail:
        for k, label in KINDS.items():
            if k in kinds:
                table.put(f"{run.label}: {label}", t, f"{kinds[k]['p50_ms']:.1f} / {kinds[k]['p99_ms']:.1f}")
    if cpu is not None:
        table.put(
            f"{run.label}: server CPU (DB CPU)", t, f"{cpu:.1f}" + (f" ({db_cpu:.1f})" if db_cpu is not None else "")
        )


def run_images(b: Bench) -> None:
    for section in IMAGE_SECTIONS:
        runs = [r for r in RUNS if r.section == section]
        figs = {r.key: _figures(b, r) for r in runs}

        def measure_all(t: str, runs=runs, figs=figs) -> None:
            for r in runs:
                _measure(b, t, r, figs[r.key])

        b.each(section, measure_all, [f for d in figs.values() for f in d.values()])
