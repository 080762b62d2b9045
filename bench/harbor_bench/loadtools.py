"""Load generators: wrk (+ wrk_ops.lua), ApacheBench for HEAD, Python threads, curl for pulls."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harbor_bench.client import RegistryClient
from harbor_bench.common import WRK_SCRIPT, BenchError


def run_wrk(client: RegistryClient, env: dict[str, str], conns: int, duration: float, repo: str) -> dict:
    auth = client.auth_header(client.scope(repo), min_ttl=duration + 60) or ""
    threads = 1 if conns == 1 else min(2, conns)
    e = dict(os.environ)
    e.update(env)
    e.update({"BENCH_AUTH": auth, "BENCH_REPO": repo})
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(conns),
        "-d",
        f"{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        client.base,
    ]
    p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=duration + 120)
    for line in p.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            res = json.loads(line[len("BENCH_JSON ") :])
            break
    else:
        raise BenchError(f"wrk failed (rc {p.returncode}): {p.stdout[-800:]} {p.stderr[-800:]}")
    errs = {k: v for k, v in res.items() if k.startswith("err_") and v}
    res["ops"] = res["requests"] / (res["duration_us"] / 1e6) if res["duration_us"] else 0.0
    res["tool"] = f"wrk -t{threads} -c{conns}"
    if errs:
        # the connection-level errors of a server that closes idle/each connection are tolerated
        # only when they are few; HTTP status errors never are
        if errs.get("err_status") or sum(errs.values()) > max(10, res["requests"] // 100):
            raise BenchError(f"wrk errors {errs} in {res['requests']} requests")
        res["warn"] = f"wrk errors {errs}"
    return res


def run_ab_head(client: RegistryClient, path: str, conns: int, duration: float, repo: str) -> dict:
    """HEAD load with ApacheBench (wrk cannot do HEAD: it waits for a body of Content-Length bytes)."""
    auth = client.auth_header(client.scope(repo), min_ttl=duration + 60)
    cmd = [
        "ab",
        "-q",
        "-r",
        "-i",
        "-k",
        "-c",
        str(conns),
        "-t",
        str(max(1, round(duration))),
        "-n",
        "100000000",
        "-s",
        "10",
    ]
    if auth:
        cmd += ["-H", f"Authorization: {auth}"]
    cmd.append(client.url(path))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)

    def num(label: str, default=None):
        m = re.search(rf"^{re.escape(label)}:\s+([0-9.]+)", p.stdout, re.M)
        return float(m.group(1)) if m else default

    complete, took = num("Complete requests"), num("Time taken for tests")
    if complete is None or not took:
        raise BenchError(f"ab failed (rc {p.returncode}): {p.stdout[-600:]} {p.stderr[-600:]}")
    non2xx, failed = num("Non-2xx responses", 0), num("Failed requests", 0)
    if non2xx:
        raise BenchError(f"ab: {int(non2xx)} non-2xx responses in {int(complete)} requests")
    res = {"requests": int(complete), "ops": complete / took, "tool": f"ab -k -c{conns}"}
    m = re.search(r"^\s*50%\s+(\d+)", p.stdout, re.M)
    if m:
        res["lat_p50_us"] = int(m.group(1)) * 1000
    m = re.search(r"^\s*99%\s+(\d+)", p.stdout, re.M)
    if m:
        res["lat_p99_us"] = int(m.group(1)) * 1000
    if failed:
        res["warn"] = f"ab: {int(failed)} failed requests (connect/receive/length)"
        if failed > max(10, complete // 100):
            raise BenchError(res["warn"])
    return res


def run_py_ops(client: RegistryClient, fn, conns: int, duration: float) -> dict:
    """Fallback closed-loop load generator (Python threads; tops out at a few thousand req/s)."""
    stop_at = time.monotonic() + duration
    counts = [0] * conns
    lat: list[float] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        my = []
        n = 0
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            fn(i, n)
            my.append(time.perf_counter() - t0)
            n += 1
        counts[i] = n
        with lock:
            lat.extend(my)

    t0 = time.monotonic()
    with ThreadPoolExecutor(conns) as ex:
        list(ex.map(worker, range(conns)))
    el = time.monotonic() - t0
    lat.sort()
    return {
        "requests": sum(counts),
        "ops": sum(counts) / el,
        "tool": f"python threads x{conns}",
        "lat_p50_us": lat[len(lat) // 2] * 1e6 if lat else 0,
    }


def curl_pull(url: str, header_file: Path, expect_size: int, n: int) -> tuple[float, int]:
    """n concurrent curl GETs of url; returns (wall seconds, total bytes)."""
    cmd = [
        "curl",
        "-sS",
        "-L",
        "--fail",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download}",
        "-H",
        f"@{header_file}",
        url,
    ]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    outs = [p.communicate() for p in procs]
    el = time.perf_counter() - t0
    total = 0
    for p, (out, err) in zip(procs, outs, strict=False):
        parts = out.split()
        if p.returncode != 0 or len(parts) != 2 or int(parts[1]) != expect_size:
            raise BenchError(f"curl pull failed rc={p.returncode} out={out!r} err={err.strip()!r}")
        total += int(parts[1])
    return el, total


def ops_extra(res: dict) -> dict:
    """The extra fields recorded with an ops/s figure (request count, tool, latency percentiles, warnings)."""
    ex = {"requests": res["requests"], "tool": res["tool"]}
    if "lat_p50_us" in res:
        ex["p50_ms"] = round(res["lat_p50_us"] / 1000, 2)
    if "lat_p99_us" in res:
        ex["p99_ms"] = round(res["lat_p99_us"] / 1000, 2)
    if "tags_found" in res:
        ex["tags_found"] = res["tags_found"]
    if res.get("warn"):
        ex["warn"] = res["warn"]
    return ex
