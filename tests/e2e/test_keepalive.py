"""Keep-alive after a request refused before its body was read, on a real gunicorn.

The next request on the same connection must either be answered, or the refusal must have said
`Connection: close` (and the server then closes). A response that says keep-alive and then hangs up
breaks every client that sends a body first and authenticates on the 401 challenge.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import threading
import time

import pytest
import requests

from tests.e2e.conftest import PASSWORD

MIB = 1024 * 1024


def _basic(username: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()


class RawConnection:
    """One TCP connection speaking HTTP/1.1 by hand, so the test sees exactly what goes over it."""

    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.buffer = b""
        self.send_error: BaseException | None = None

    def send_request(self, method: str, path: str, *, headers: dict[str, str], body_size: int = 0) -> threading.Thread:
        """Send the head now and the body from a thread (the server may answer before reading it)."""
        head = f"{method} {path} HTTP/1.1\r\nHost: test\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Content-Length": str(body_size)}.items())
        self.sock.sendall((head + "\r\n").encode())

        def body() -> None:
            piece, left = b"\0" * MIB, body_size
            try:
                while left:
                    sent = self.sock.send(piece[: min(left, MIB)])
                    left -= sent
            except OSError as exc:  # the server closed after answering: expected when it said so
                self.send_error = exc

        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        return thread

    def read_response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection without a response")
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._line(), 16)
                if size == 0:
                    self._line()  # the empty trailer section
                    return status, headers, body
                body += self._take(size)
                self._take(2)
        return status, headers, self._take(int(headers.get("content-length", "0")))

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection mid-response")
        self.buffer += data

    def _line(self) -> str:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line.decode("latin-1")

    def _take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def closed_by_server(self, timeout: float = 10) -> bool:
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


# (method, path, extra headers, status expected) for requests refused before the body is read.
REFUSALS = {
    "v2-401": ("PUT", "/v2/team/x/blobs/uploads/abc?digest=sha256:" + "0" * 64, {}, 401),
    "v2-403": ("PATCH", "/v2/team/x/blobs/uploads/abc", {"Authorization": "guest"}, 403),
    "v2-404": ("PATCH", "/v2/team/x/blobs/uploads/00000000-0000-0000-0000-000000000000", {"Authorization": "dev"}, 404),
    "api-401-put": ("PUT", "/api/v2.0/projects/team", {"Content-Type": "application/json"}, 401),
    "api-401-post": ("POST", "/api/v2.0/projects", {"Content-Type": "application/json"}, 401),
    "api-403": ("PUT", "/api/v2.0/projects/team", {"Content-Type": "application/json", "Authorization": "guest"}, 403),
}


def _headers(extra: dict[str, str]) -> dict[str, str]:
    return {k: (_basic(v) if k == "Authorization" else v) for k, v in extra.items()}


@pytest.mark.parametrize("size", [100 * 1024, 1 * MIB, 64 * MIB], ids=["100KiB", "1MiB", "64MiB"])
@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_body_never_breaks_the_next_request(registry_server, case, size):
    method, path, extra, expected = REFUSALS[case]
    connection = RawConnection("127.0.0.1", registry_server.port)
    try:
        sender = connection.send_request(method, path, headers=_headers(extra), body_size=size)
        status, headers, body = connection.read_response()
        assert status == expected, body[:300]
        assert json.loads(body)["errors"][0]["code"]
        if headers.get("connection", "").lower() == "close":
            # told: the server must then actually close (and the client opens a new connection)
            assert connection.closed_by_server(), "announced Connection: close but kept the connection open"
            assert size > 256 * 1024, "a body within the drain bound should not cost the connection"
            return
        sender.join(timeout=60)
        assert connection.send_error is None, connection.send_error
        connection.send_request("GET", "/v2/", headers={})
        second, _, _ = connection.read_response()
        assert second == 401  # answered on the same connection (anonymous: the challenge)
    finally:
        connection.close()


def test_a_drained_refusal_keeps_the_connection_for_the_next_request(registry_server):
    """Within the bound (256 KiB, as Go's net/http) the body is read off and the connection is kept."""
    connection = RawConnection("127.0.0.1", registry_server.port)
    try:
        for _ in range(3):
            connection.send_request("POST", "/api/v2.0/projects", headers={}, body_size=200 * 1024).join(60)
            status, headers, _ = connection.read_response()
            assert status == 401
            assert headers.get("connection", "keep-alive").lower() != "close"
        connection.send_request("GET", "/api/v2.0/ping", headers={})
        assert connection.read_response()[0] == 200
    finally:
        connection.close()


class ChallengeFollowingClient:
    """Sends every request without credentials first and answers a 401 by fetching the token its
    challenge names and retrying: the flow of token-backend clients (oras-py and others) over one
    requests.Session, whose connection pool reuses keep-alive connections."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base_url, self.auth = base_url, (username, password)
        self.session = requests.Session()
        self.challenges = 0

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        url = url if url.startswith("http") else self.base_url + url
        response = self.session.request(method, url, **kwargs)
        if response.status_code != 401:
            return response
        self.challenges += 1
        params = dict(re.findall(r'(\w+)="([^"]*)"', response.headers["WWW-Authenticate"]))
        query = {"service": params["service"], "scope": params.get("scope", "").split()}
        token = self.session.get(params["realm"], params=query, auth=self.auth).json()["token"]
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {token}"}
        return self.session.request(method, url, headers=headers, **kwargs)


def test_a_chunked_upload_by_a_challenge_following_client_succeeds(registry_server):
    client = ChallengeFollowingClient(registry_server.url, "dev", PASSWORD)
    data = os.urandom(5 * MIB + 123)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = client.request("POST", "/v2/team/keepalive/blobs/uploads/")
    assert started.status_code == 202, started.text
    location, offset = started.headers["Location"], 0
    for start in range(0, len(data), 2 * MIB):
        chunk = data[start : start + 2 * MIB]
        headers = {"Content-Range": f"{offset}-{offset + len(chunk) - 1}", "Content-Type": "application/octet-stream"}
        patched = client.request("PATCH", location, data=chunk, headers=headers)  # 2 MiB body, refused first
        assert patched.status_code == 202, patched.text
        location, offset = patched.headers["Location"], offset + len(chunk)
    done = client.request("PUT", f"{location}{'&' if '?' in location else '?'}digest={digest}", data=b"")
    assert done.status_code == 201, done.text
    assert client.challenges >= 4  # every body-carrying request was refused once, then retried
    pulled = client.request("GET", f"/v2/team/keepalive/blobs/{digest}")
    assert pulled.status_code == 200
    assert hashlib.sha256(pulled.content).hexdigest() == digest.split(":")[1]


def test_a_slow_client_does_not_hold_a_thread_past_the_drain_time(registry_server):
    """A client that declares a body and never sends it: the refusal still comes, saying close."""
    connection = RawConnection("127.0.0.1", registry_server.port)
    try:
        head = "PUT /api/v2.0/projects/team HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n"
        connection.sock.sendall(head.encode() + b"x" * 1000)
        began = time.monotonic()
        status, headers, _ = connection.read_response()
        assert status == 401
        assert headers.get("connection", "").lower() == "close"
        assert time.monotonic() - began < 30
    finally:
        connection.close()
