"""Interrupted uploads: a client that disconnects, a server killed mid-chunk. Nothing half-written."""

from __future__ import annotations

import os
import socket
import struct
import time

import pytest

from common.testing.server import RegistryServer
from common.testing.v2client import V2Client, digest_of

REPO = "library/interrupted"


@pytest.fixture
def server():
    server = RegistryServer.create()
    with server.serving():
        yield server


def _raw_patch(port: int, path: str, token: str, declared: int, send: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    head = (
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
    )
    sock.sendall(head.encode() + send)
    return sock


def _status(client: V2Client, location: str, auth: dict) -> str:
    response = client.request("GET", location, headers=auth)
    assert response.status_code == 204, response.text
    return response.headers["Range"]


def _blob_count(server: RegistryServer) -> int:
    return (
        len(list((server.var_dir / "storage" / "blobs").rglob("*")))
        if (server.var_dir / "storage" / "blobs").exists()
        else 0
    )


def test_client_disconnect_keeps_last_good_offset_and_resumes(server):
    client = V2Client(server.url, "admin", server.admin_password)
    auth = client.bearer(f"repository:{REPO}:pull,push")
    token = auth["Authorization"].split()[1]
    data = os.urandom(3 << 20)
    location = client.request("POST", f"/v2/{REPO}/blobs/uploads/", headers=auth).headers["Location"]
    first = client.request("PATCH", location, headers=auth, content=data[: 1 << 20])
    assert first.status_code == 202
    blobs_before = _blob_count(server)
    # Declare 2 MiB, send 300 KiB, hang up.
    sock = _raw_patch(server.port, location, token, 2 << 20, data[1 << 20 : (1 << 20) + 300_000])
    time.sleep(0.5)
    sock.close()
    time.sleep(1.0)
    assert _status(client, location, auth) == f"0-{(1 << 20) - 1}"
    assert _blob_count(server) == blobs_before
    # A connection reset (RST, not FIN) mid-body is the client's failure: no 500, no traceback.
    sock = _raw_patch(server.port, location, token, 2 << 20, data[1 << 20 : (1 << 20) + 200_000])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.5)
    sock.close()
    time.sleep(1.0)
    assert _status(client, location, auth) == f"0-{(1 << 20) - 1}"
    assert "Traceback" not in server.log_tail(lines=400)
    # Resume from the last good offset and finish: the blob is exactly the data.
    rest = client.request(
        "PATCH", location, headers={**auth, "Content-Range": f"{1 << 20}-{len(data) - 1}"}, content=data[1 << 20 :]
    )
    assert rest.status_code == 202, rest.text
    done = client.request("PUT", f"{location}?digest={digest_of(data)}", headers=auth)
    assert done.status_code == 201, done.text
    assert client.request("GET", f"/v2/{REPO}/blobs/{digest_of(data)}", headers=auth).content == data


def test_server_killed_mid_chunk_then_restarted(server):
    client = V2Client(server.url, "admin", server.admin_password)
    auth = client.bearer(f"repository:{REPO}:pull,push")
    token = auth["Authorization"].split()[1]
    data = os.urandom(4 << 20)
    location = client.request("POST", f"/v2/{REPO}/blobs/uploads/", headers=auth).headers["Location"]
    assert client.request("PATCH", location, headers=auth, content=data[: 1 << 20]).status_code == 202
    sock = _raw_patch(server.port, location, token, 3 << 20, data[1 << 20 : 2 << 20])
    time.sleep(0.5)
    server.kill()  # the chunk is mid-flight when every server process dies
    sock.close()
    server.start()
    client = V2Client(server.url, "admin", server.admin_password)
    auth = client.bearer(f"repository:{REPO}:pull,push")  # same key: tokens survive restarts
    assert _status(client, location, auth) == f"0-{(1 << 20) - 1}"
    # Another node (fresh process, no hasher state) completes the upload: digest still right.
    rest = client.request("PUT", f"{location}?digest={digest_of(data)}", headers=auth, content=data[1 << 20 :])
    assert rest.status_code == 201, rest.text
    got = client.request("GET", f"/v2/{REPO}/blobs/{digest_of(data)}", headers=auth)
    assert got.content == data
