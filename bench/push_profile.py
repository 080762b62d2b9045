"""Push path, per request kind: SQL statements, CPU time and wall time inside the application, and a profile.

    .venv/bin/python bench/push_profile.py                      # PostgreSQL when one answers, else SQLite
    .venv/bin/python bench/push_profile.py --images 300 --profile "manifest PUT"
    HARBOR_TEST_DATABASE_URL=sqlite: .venv/bin/python bench/push_profile.py   # force the embedded default

A fresh database of the project (as the e2e tests make it: migrated, bootstrapped), then N images pushed
the way docker and containerd push them (per blob: HEAD, POST, PUT ?digest=; then the manifest PUT by tag),
plus the other request kinds of the path (monolithic POST, PATCH, a tag PUT of a known manifest), through
the production WSGI entry point (`harbor_site.wsgi.application`: the registry handler without middleware)
in one thread of one process. No HTTP server and no socket: the figures are the application's own cost,
which is what the side-by-side benchmark (`run_bench.py`) cannot separate from gunicorn and the client.
Each figure is the median over the images; the profile (cProfile, sorted by own time and by cumulative
time) is of the kind named by --profile, over all its requests.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.testing.server import RegistryServer  # noqa: E402

MEASURE = r"""
import cProfile, hashlib, io, json, os, pstats, statistics, sys, time
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from harbor_site.wsgi import application
from projects.services import project_create
from registry.auth.scopes import Scope
from registry.auth.token import token_issue

IMAGES, PROFILE = {images}, {profile!r}
OCI = "application/vnd.oci.image.manifest.v1+json"
project_create(name="bench")
PUSH = frozenset({{"pull", "push"}})
names = [f"bench/r{{i}}" for i in range(IMAGES + 2)] + ["bench/app"]
token, _, _ = token_issue(subject="admin", access=[Scope("repository", name, PUSH) for name in names])
AUTH = "Bearer " + token
factory = RequestFactory()
samples, profiler = {{}}, cProfile.Profile()

def call(kind, method, path, status, body=b"", content_type="application/octet-stream", query=""):
    request = factory.generic(method, path, body, content_type, QUERY_STRING=query, HTTP_AUTHORIZATION=AUTH)
    environ = request.environ
    got = {{}}
    def start_response(status_line, headers, exc_info=None):
        got["status"], got["headers"] = int(status_line.split()[0]), dict(headers)
    profiling = kind == PROFILE
    with CaptureQueriesContext(connection) as queries:
        cpu, wall = time.thread_time(), time.perf_counter()
        if profiling:
            profiler.enable()
        result = application(environ, start_response)
        content = b"".join(result)
        if hasattr(result, "close"):
            result.close()
        if profiling:
            profiler.disable()
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    assert got["status"] == status, (kind, got["status"], content[:300])
    samples.setdefault(kind, []).append((len(queries.captured_queries), cpu * 1000, wall * 1000))
    return got["headers"]

def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()

def push_blob(repo, data, first):
    call("blob HEAD, missing", "HEAD", f"/v2/{{repo}}/blobs/{{digest(data)}}", 404)
    kind = "session POST, new repository" if first else "session POST"
    location = call(kind, "POST", f"/v2/{{repo}}/blobs/uploads/", 202)["Location"]
    call("session PUT with body (completion)", "PUT", location, 201, data, query=f"digest={{digest(data)}}")

application(factory.get("/v2/", HTTP_AUTHORIZATION=AUTH).environ, lambda *a: None)  # warm caches
for i in range(IMAGES):
    repo = f"bench/r{{i}}" if i % 10 == 0 else "bench/app"
    config = json.dumps({{"architecture": "amd64", "os": "linux", "n": i, "pad": "x" * 1200}}).encode()
    layer = os.urandom(2048)
    push_blob(repo, config, first=i % 10 == 0)
    push_blob(repo, layer, first=False)
    def descriptor(media_type, data):
        return {{"mediaType": media_type, "digest": digest(data), "size": len(data)}}
    manifest = json.dumps({{"schemaVersion": 2, "mediaType": OCI,
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)]}}).encode()
    call("manifest PUT, new image by tag", "PUT", f"/v2/{{repo}}/manifests/v{{i}}", 201, manifest, OCI)
    call("tag PUT (known manifest, new tag)", "PUT", f"/v2/{{repo}}/manifests/t{{i}}", 201, manifest, OCI)
    mono = os.urandom(2048)
    call("monolithic POST", "POST", f"/v2/{{repo}}/blobs/uploads/", 201, mono, query=f"digest={{digest(mono)}}")
    chunk = os.urandom(4096)
    location = call("session POST", "POST", f"/v2/{{repo}}/blobs/uploads/", 202)["Location"]
    location = call("session PATCH", "PATCH", location, 202, chunk)["Location"]
    call("session PUT, empty (completion)", "PUT", location, 201, b"", query=f"digest={{digest(chunk)}}")

rows = {{kind: [statistics.median(v[k] for v in values) for k in range(3)] + [len(values)]
        for kind, values in samples.items()}}
out = io.StringIO()
if PROFILE in samples:
    for order in ("tottime", "cumulative"):
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(30)
print(json.dumps({{"vendor": connection.vendor, "rows": rows, "profile": out.getvalue()}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="images pushed (default 200)")
    parser.add_argument("--profile", default="manifest PUT, new image by tag", help="request kind to profile")
    parser.add_argument("--no-profile", action="store_true", help="only the table")
    args = parser.parse_args()
    server = RegistryServer.create()
    try:
        code = MEASURE.format(images=args.images, profile="" if args.no_profile else args.profile)
        out = server.python(code)
    finally:
        server.destroy()
    result = json.loads(out.strip().splitlines()[-1])
    print(f"database: {result['vendor']}, {args.images} images; medians per request")
    print(f"{'request kind':<42} {'queries':>7} {'CPU ms':>7} {'wall ms':>8} {'count':>6}")
    for kind, (queries, cpu, wall, count) in result["rows"].items():
        print(f"{kind:<42} {queries:>7.0f} {cpu:>7.2f} {wall:>8.2f} {count:>6}")
    if result["profile"]:
        print(f"\nprofile of {args.profile!r}:\n{result['profile']}")


if __name__ == "__main__":
    main()
