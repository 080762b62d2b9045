"""The S3 blob store end to end: a real gunicorn on a moto S3 server, driven over raw HTTP and skopeo."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import httpx
import pytest

from common.testing.images import oci_layout
from common.testing.server import RegistryServer, free_port
from common.testing.v2client import V2Client, digest_of
from registry.storage import S3_MAX_PART, S3_MIN_PART, _copy_ranges
from tests.e2e.conftest import PASSWORD, SEED

BUCKET = "harbor-e2e"
PREFIX = "reg"  # HARBOR_STORAGE_S3_PREFIX: every key the registry writes starts with it
REPO = "team/s3"
PUSH = f"repository:{REPO}:pull,push"
MIB = 1024 * 1024
MOTO_SERVER = Path(sys.executable).parent / "moto_server"


# --- fixtures ---------------------------------------------------------------
@dataclasses.dataclass
class S3:
    endpoint: str
    client: object

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/{prefix}")
        return [obj["Key"] for page in pages for obj in page.get("Contents", ())]

    def blob_key(self, digest: str) -> str:
        hexdigest = digest.split(":", 1)[1]
        return f"{PREFIX}/blobs/sha256/{hexdigest[:2]}/{hexdigest}"

    def has_blob(self, digest: str) -> bool:
        return self.blob_key(digest) in self.keys(f"blobs/sha256/{digest.split(':', 1)[1][:2]}/")

    def open_multipart_uploads(self) -> list[str]:
        return [u["Key"] for u in self.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", ())]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 with an empty bucket."""
    if not MOTO_SERVER.exists():
        pytest.skip("moto_server (moto[server]) is not installed in this environment")
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(endpoint, timeout=1)
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start: {log_path.read_text(errors='replace')}")
            time.sleep(0.1)
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # moto accepts any key
        )
        client.create_bucket(Bucket=BUCKET)
        yield S3(endpoint, client)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def s3_env(s3: S3) -> dict[str, str]:
    return {
        "HARBOR_STORAGE_BACKEND": "s3",
        "HARBOR_STORAGE_S3_BUCKET": BUCKET,
        "HARBOR_STORAGE_S3_ENDPOINT_URL": s3.endpoint,
        "HARBOR_STORAGE_S3_REGION": "us-east-1",
        "HARBOR_STORAGE_S3_ACCESS_KEY": "testing",
        "HARBOR_STORAGE_S3_SECRET_KEY": "testing",
        "HARBOR_STORAGE_S3_PREFIX": f"/{PREFIX}/",  # slashes around the prefix are tolerated
    }


@pytest.fixture(scope="module")
def server(s3):
    server = RegistryServer.create(extra_env=s3_env(s3))
    try:
        server.python(SEED)
        server.env["HARBOR_ACCESS_LOG"] = str(server.var_dir / "access.log")
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def redirect_server(server):
    """A second gunicorn on the same database, var dir and bucket, with HARBOR_STORAGE_REDIRECT=true."""
    port = free_port()
    env = {
        **server.env,
        "HARBOR_BIND": f"127.0.0.1:{port}",
        "HARBOR_STORAGE_REDIRECT": "true",
        "HARBOR_ACCESS_LOG": str(server.var_dir / "access-redirect.log"),
    }
    second = dataclasses.replace(server, port=port, env=env, processes=[], _pg=None)
    try:
        yield second.start()
    finally:
        second.stop()  # not destroy(): the database and var dir belong to `server`


@pytest.fixture
def dev(server) -> V2Client:
    return V2Client(server.url, "dev", PASSWORD)


# --- helpers ----------------------------------------------------------------
def error_code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["code"]


def upload_id(location: str) -> str:
    return location.rstrip("/").rsplit("/", 1)[1]


def start_session(dev: V2Client, auth: dict) -> str:
    started = dev.request("POST", f"/v2/{REPO}/blobs/uploads/", headers=auth)
    assert started.status_code == 202, started.text
    return started.headers["Location"]


def patch(dev: V2Client, auth: dict, location: str, offset: int, piece: bytes) -> str:
    headers = {
        **auth,
        "Content-Range": f"{offset}-{offset + len(piece) - 1}",
        "Content-Type": "application/octet-stream",
    }
    patched = dev.request("PATCH", location, headers=headers, content=piece)
    assert patched.status_code == 202, patched.text
    assert patched.headers["Range"] == f"0-{offset + len(piece) - 1}"
    return patched.headers["Location"]


def assert_served(dev: V2Client, auth: dict, digest: str, data: bytes) -> None:
    got = dev.request("GET", f"/v2/{REPO}/blobs/{digest}", headers=auth)
    assert got.status_code == 200, got.text
    assert got.headers["Docker-Content-Digest"] == digest
    assert int(got.headers["Content-Length"]) == len(data)
    assert got.content == data


def etag_parts(s3: S3, digest: str) -> int:
    """How many parts the stored object was assembled from (S3 ETags of multipart objects end in -N)."""
    etag = s3.client.head_object(Bucket=BUCKET, Key=s3.blob_key(digest))["ETag"].strip('"')
    return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def access_lines(server: RegistryServer, needle: str) -> list[str]:
    path = Path(server.env["HARBOR_ACCESS_LOG"])
    return [line for line in path.read_text(errors="replace").splitlines() if needle in line] if path.exists() else []


def abandoned_patch(
    server: RegistryServer, token: str, location: str, *, offset: int, declared: int, sent: bytes, reset: bool
) -> None:
    """A PATCH announcing `declared` bytes that sends only `sent`, then closes (FIN) or resets (RST)."""
    head = (
        f"PATCH {location} HTTP/1.1\r\nHost: {server.host}\r\nAuthorization: {token}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Range: {offset}-{offset + declared - 1}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        sock.sendall(head + sent)
        time.sleep(1)  # let the server consume what was sent before the connection goes
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


def worker_pids(server: RegistryServer) -> list[int]:
    master = server.processes[0].pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM for {pid}")


def reset_peak_rss(pid: int) -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


# --- tests ------------------------------------------------------------------
def test_monolithic_push_get_range_head(dev, s3):
    auth = dev.bearer(PUSH)
    data = os.urandom(3 * MIB + 11)
    uploads_before = set(s3.keys("uploads/"))
    digest = dev.push_blob(REPO, data)
    stored = s3.client.get_object(Bucket=BUCKET, Key=s3.blob_key(digest))["Body"].read()
    assert stored == data  # content-addressed key under the configured prefix
    assert set(s3.keys("uploads/")) <= uploads_before  # the monolithic temp part is gone
    assert_served(dev, auth, digest, data)
    ranged = dev.request("GET", f"/v2/{REPO}/blobs/{digest}", headers={**auth, "Range": "bytes=1048570-2097160"})
    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == f"bytes 1048570-2097160/{len(data)}"
    assert ranged.content == data[1048570:2097161]
    suffix = dev.request("GET", f"/v2/{REPO}/blobs/{digest}", headers={**auth, "Range": "bytes=-10"})
    assert suffix.status_code == 206
    assert suffix.content == data[-10:]
    beyond = dev.request("GET", f"/v2/{REPO}/blobs/{digest}", headers={**auth, "Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    head = dev.request("HEAD", f"/v2/{REPO}/blobs/{digest}", headers=auth)
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == digest
    assert int(head.headers["Content-Length"]) == len(data)
    assert head.content == b""
    again = dev.request("POST", f"/v2/{REPO}/blobs/uploads/?digest={digest}", headers=auth, content=data)
    assert again.status_code == 201  # pushing a blob that exists again is fine
    assert set(s3.keys("uploads/")) <= uploads_before
    empty = dev.push_blob(REPO, b"")
    assert_served(dev, auth, empty, b"")


def test_post_one_patch_put(dev, s3):
    auth = dev.bearer(PUSH)
    data = os.urandom(2 * MIB + 3)
    location = start_session(dev, auth)
    location = patch(dev, auth, location, 0, data)
    assert len(s3.keys(f"uploads/{upload_id(location)}/")) == 1  # one chunk, one object
    digest = digest_of(data)
    done = dev.request("PUT", f"{location}?digest={digest}", headers=auth)
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == digest
    assert s3.keys(f"uploads/{upload_id(location)}/") == []
    assert s3.has_blob(digest)
    assert_served(dev, auth, digest, data)


def test_large_chunks_commit_by_multipart_copy_with_last_chunk_in_put(dev, s3):
    auth = dev.bearer(PUSH)
    data = os.urandom(5 * MIB + 5 * MIB + 1 + 4097)
    pieces = [data[: 5 * MIB], data[5 * MIB : 10 * MIB + 1], data[10 * MIB + 1 :]]
    location = start_session(dev, auth)
    location = patch(dev, auth, location, 0, pieces[0])
    location = patch(dev, auth, location, len(pieces[0]), pieces[1])
    assert len(s3.keys(f"uploads/{upload_id(location)}/")) == 2
    digest = digest_of(data)
    done = dev.request("PUT", f"{location}?digest={digest}", headers=auth, content=pieces[2])
    assert done.status_code == 201, done.text
    assert etag_parts(s3, digest) == 3  # assembled server-side from the three chunk objects
    assert s3.keys(f"uploads/{upload_id(location)}/") == []
    assert s3.open_multipart_uploads() == []
    assert_served(dev, auth, digest, data)


def test_small_chunks_commit_by_streaming_them_once(dev, s3):
    auth = dev.bearer(PUSH)
    # A first chunk under S3's 5 MiB part minimum rules out multipart copy; the 9 MiB chunk makes
    # both its own append and the concatenated upload multipart uploads streamed from a body.
    data = os.urandom(100 * 1024 + 7 + 9 * MIB + 333)
    cuts = [0, 100 * 1024, 100 * 1024 + 7, 100 * 1024 + 7 + 9 * MIB, len(data)]
    pieces = [data[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    location = start_session(dev, auth)
    for offset, piece in zip(cuts, pieces[:3], strict=False):
        location = patch(dev, auth, location, offset, piece)
    digest = digest_of(data)
    done = dev.request("PUT", f"{location}?digest={digest}", headers=auth, content=pieces[3])
    assert done.status_code == 201, done.text
    assert etag_parts(s3, digest) == 2  # re-uploaded in 8 MiB parts, not copied chunk by chunk
    assert s3.keys(f"uploads/{upload_id(location)}/") == []
    assert s3.open_multipart_uploads() == []
    assert_served(dev, auth, digest, data)
    tiny = b"abc"
    location = start_session(dev, auth)
    location = patch(dev, auth, location, 0, tiny[:1])
    location = patch(dev, auth, location, 1, tiny[1:2])
    done = dev.request("PUT", f"{location}?digest={digest_of(tiny)}", headers=auth, content=tiny[2:])
    assert done.status_code == 201, done.text
    assert_served(dev, auth, digest_of(tiny), tiny)


def test_digest_mismatch_leaves_nothing_in_the_bucket(dev, s3):
    auth = dev.bearer(PUSH)
    data = os.urandom(9 * MIB + 1)  # past the 8 MiB threshold: the append is a multipart upload
    wrong = digest_of(b"not these bytes")
    uploads_before = set(s3.keys("uploads/"))
    mono = dev.request("POST", f"/v2/{REPO}/blobs/uploads/?digest={wrong}", headers=auth, content=data)
    assert mono.status_code == 400
    assert error_code(mono) == "DIGEST_INVALID"
    location = start_session(dev, auth)
    location = patch(dev, auth, location, 0, data[: 6 * MIB])
    put = dev.request("PUT", f"{location}?digest={wrong}", headers=auth, content=data[6 * MIB :])
    assert put.status_code == 400
    assert error_code(put) == "DIGEST_INVALID"
    assert dev.request("GET", location, headers=auth).status_code == 404  # the session is gone
    for digest in (wrong, digest_of(data), digest_of(data[: 6 * MIB])):
        assert not s3.has_blob(digest)
        assert dev.request("HEAD", f"/v2/{REPO}/blobs/{digest}", headers=auth).status_code == 404
    assert s3.keys(f"uploads/{upload_id(location)}/") == []
    assert set(s3.keys("uploads/")) <= uploads_before
    assert s3.open_multipart_uploads() == []


def test_interrupted_patch_keeps_the_session_resumable(dev, server, s3):
    auth = dev.bearer(PUSH)
    data = os.urandom(6 * MIB + 12 * MIB + 5)
    location = start_session(dev, auth)
    uid = upload_id(location)
    location = patch(dev, auth, location, 0, data[: 6 * MIB])
    needle = f"PATCH /v2/{REPO}/blobs/uploads/{uid}"
    # FIN after 1 MiB of an announced 4 MiB; then RST after 10 MiB of an announced 12 MiB (by then
    # the server's append has become a multipart upload, which must be aborted).
    handled = 1  # gunicorn logs a request once it is done with it, possibly after the client has its answer
    for declared, sent, reset in ((4 * MIB, 1 * MIB, False), (12 * MIB, 10 * MIB, True)):
        wait_for(lambda n=handled: len(access_lines(server, needle)) == n, "the access log to catch up")
        chunk = data[6 * MIB : 6 * MIB + sent]
        abandoned_patch(
            server, auth["Authorization"], location, offset=6 * MIB, declared=declared, sent=chunk, reset=reset
        )
        handled += 1
        wait_for(lambda n=handled: len(access_lines(server, needle)) == n, "the server to finish the abandoned PATCH")
        if not reset:
            assert '" 400 ' in access_lines(server, needle)[-1]  # SIZE_INVALID: fewer bytes than announced
        status = dev.request("GET", location, headers=auth)
        assert status.status_code == 204
        assert status.headers["Range"] == f"0-{6 * MIB - 1}"  # still at the last good offset
        assert len(s3.keys(f"uploads/{uid}/")) == 1  # the partial chunk's object is gone
        assert not s3.has_blob(digest_of(data[: 6 * MIB + sent]))
    assert not [k for k in s3.open_multipart_uploads() if f"/uploads/{uid}/" in k]
    location = patch(dev, auth, location, 6 * MIB, data[6 * MIB :])
    digest = digest_of(data)
    done = dev.request("PUT", f"{location}?digest={digest}", headers=auth)
    assert done.status_code == 201, done.text
    assert_served(dev, auth, digest, data)
    assert s3.keys(f"uploads/{uid}/") == []


def test_redirect_mode_answers_307_to_a_presigned_url(dev, redirect_server, s3):
    data = os.urandom(MIB + 99)
    digest = dev.push_blob(REPO, data)
    other = V2Client(redirect_server.url, "dev", PASSWORD)
    auth = other.bearer(PUSH)
    got = other.request("GET", f"/v2/{REPO}/blobs/{digest}", headers=auth)
    assert got.status_code == 307
    assert got.headers["Docker-Content-Digest"] == digest
    target = got.headers["Location"]
    assert target.startswith(f"{s3.endpoint}/{BUCKET}/{s3.blob_key(digest)}?") or target.startswith(f"http://{BUCKET}.")
    query = dict(httpx.URL(target).params)
    assert query.get("X-Amz-Signature") or query.get("Signature")  # presigned, time-limited
    assert query.get("X-Amz-Expires", "1200") == "1200" or "Expires" in query
    fetched = httpx.get(target, timeout=30)  # no registry credentials: the URL itself grants access
    assert fetched.status_code == 200
    assert fetched.content == data
    ranged = other.request("GET", f"/v2/{REPO}/blobs/{digest}", headers={**auth, "Range": "bytes=5-9"})
    assert ranged.status_code == 206  # ranged reads still stream through the registry
    assert ranged.content == data[5:10]
    head = other.request("HEAD", f"/v2/{REPO}/blobs/{digest}", headers=auth)
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == len(data)
    anonymous = httpx.get(f"{redirect_server.url}/v2/{REPO}/blobs/{digest}", timeout=30)
    assert anonymous.status_code == 401  # no presigned URL without pull permission
    # the default server still streams the same blob itself
    assert dev.request("GET", f"/v2/{REPO}/blobs/{digest}", headers=dev.bearer(PUSH)).status_code == 200


def test_skopeo_round_trip_through_s3(server, redirect_server, s3, tmp_path):
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo is not installed")
    source = oci_layout(tmp_path / "src", seed="s3-roundtrip", arches=("amd64", "arm64"), layer_size=3 * MIB)
    creds = f"dev:{PASSWORD}"

    def skopeo_run(*args: str) -> str:
        done = subprocess.run(
            [skopeo, "--insecure-policy", *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    pushed = f"docker://{server.host}/team/skopeo-s3:v1"
    skopeo_run("copy", "--all", "--dest-tls-verify=false", f"--dest-creds={creds}", f"oci:{source}:latest", pushed)
    index = json.loads((source / "index.json").read_text())["manifests"][0]["digest"]
    remote = skopeo_run("inspect", "--raw", "--tls-verify=false", f"--creds={creds}", pushed).encode()
    assert digest_of(remote) == index  # manifests are stored byte-exact
    source_blobs = sorted((source / "blobs" / "sha256").iterdir())
    children = json.loads((source / "blobs" / "sha256" / index.split(":")[1]).read_bytes())["manifests"]
    manifests = [json.loads((source / "blobs" / "sha256" / c["digest"].split(":")[1]).read_bytes()) for c in children]
    content = [d["digest"] for m in manifests for d in (m["config"], *m["layers"])]
    assert len(content) == 4
    assert all(s3.has_blob(digest) for digest in content)  # configs and layers live in the bucket
    # Pull through the streaming server and through the redirecting one (blobs from presigned URLs).
    for number, registry in enumerate((server, redirect_server)):
        pulled = tmp_path / f"pulled-{number}"
        image = f"docker://{registry.host}/team/skopeo-s3:v1"
        skopeo_run("copy", "--all", "--src-tls-verify=false", f"--src-creds={creds}", image, f"oci:{pulled}:latest")
        assert json.loads((pulled / "index.json").read_text())["manifests"][0]["digest"] == index
        assert sorted(p.name for p in (pulled / "blobs" / "sha256").iterdir()) == [p.name for p in source_blobs]
        for path in source_blobs:
            assert (pulled / "blobs" / "sha256" / path.name).read_bytes() == path.read_bytes()

    def redirected() -> list[str]:
        return [line for line in access_lines(redirect_server, "GET /v2/team/skopeo-s3/blobs/") if '" 307 ' in line]

    # two configs and two layers came from S3 directly (gunicorn logs a request after answering it)
    wait_for(lambda: len(redirected()) >= 4, "307 answers to the redirecting server's blob GETs")


def test_memory_stays_flat_for_a_large_blob(dev, server):
    auth = dev.bearer(PUSH)
    size = 192 * MIB
    block = os.urandom(MIB)

    def body():
        for i in range(size // MIB):
            yield block[i % 7 :] + block[: i % 7]  # distinct blocks without holding 160 MiB here

    hasher = hashlib.sha256()
    for piece in body():
        hasher.update(piece)
    digest = f"sha256:{hasher.hexdigest()}"
    workers = worker_pids(server)
    for pid in workers:
        reset_peak_rss(pid)
    before = {pid: peak_rss_kib(pid) for pid in workers}
    pushed = dev.request(
        "POST",
        f"/v2/{REPO}/blobs/uploads/?digest={digest}",
        headers={**auth, "Content-Length": str(size)},
        content=body(),
    )
    assert pushed.status_code == 201, pushed.text
    received = hashlib.sha256()
    with dev.http.stream("GET", f"{server.url}/v2/{REPO}/blobs/{digest}", headers=auth) as pulled:
        assert pulled.status_code == 200
        for piece in pulled.iter_bytes():
            received.update(piece)
    assert f"sha256:{received.hexdigest()}" == digest
    growth_mib = max(peak_rss_kib(pid) - before[pid] for pid in workers) / 1024
    # Parts in flight are bounded (a few 8 MiB parts), whatever the size; buffering the body would show here.
    assert growth_mib < size / MIB / 2, f"a worker's peak RSS grew by {growth_mib:.0f} MiB for a {size // MIB} MiB blob"


def test_upload_purge_empties_the_uploads_prefix(dev, server, s3):
    auth = dev.bearer(PUSH)
    location = start_session(dev, auth)
    location = patch(dev, auth, location, 0, os.urandom(64 * 1024))
    orphan = f"{PREFIX}/uploads/{uuid.uuid4()}/0000000000000000-{uuid.uuid4().hex}"
    s3.client.put_object(Bucket=BUCKET, Key=orphan, Body=b"left by a crashed node")
    assert len(s3.keys("uploads/")) >= 2
    out = server.python(
        "from datetime import timedelta; from registry.services.uploads import upload_purge;"
        " print(upload_purge(older_than=timedelta(seconds=0)))"
    )
    counts = json.loads(out.strip().splitlines()[-1].replace("'", '"'))
    assert counts["sessions"] >= 1
    assert counts["orphans"] >= 1
    assert s3.keys("uploads/") == []
    assert dev.request("GET", location, headers=auth).status_code == 404


def test_copy_ranges_follow_s3_part_rules():
    small, big, huge = ("a", S3_MIN_PART - 1), ("b", S3_MIN_PART), ("c", S3_MAX_PART + 1)
    assert _copy_ranges([big, big, small]) == [("b", None), ("b", None), ("a", None)]
    assert _copy_ranges([big, small, big]) is None  # only the last part may be under 5 MiB
    ranges = _copy_ranges([huge, small])
    assert ranges is not None
    assert ranges[-1] == ("a", None)
    spans = [tuple(int(x) for x in r.removeprefix("bytes=").split("-")) for name, r in ranges[:-1] if name == "c"]
    assert spans[0][0] == 0
    assert spans[-1][1] == huge[1] - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(spans, spans[1:], strict=False))  # contiguous, no overlap
    assert all(S3_MIN_PART <= last - first + 1 <= S3_MAX_PART for first, last in spans)
    assert _copy_ranges([big] * 10_001) is None  # past S3's 10,000 parts: stream instead
