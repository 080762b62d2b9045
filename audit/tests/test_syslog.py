"""Syslog forwarding against real UDP and TCP listeners on 127.0.0.1: RFC 5424 messages, after commit only."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import transaction

from audit import syslog
from audit.models import AuditLog
from audit.services import audit_record, audit_record_many
from common.actor import Actor
from common.testing.api import basic_client
from system.configuration import config_update

pytestmark = pytest.mark.django_db
# RFC 5424 6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA SP MSG
HEADER = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>[!-~]{1,255}) (?P<app>[!-~]{1,48}) (?P<proc>[!-~]{1,128}) "
    rb"(?P<msgid>[!-~]{1,32}) (?P<sd>-|\[.*?\]) (?P<msg>.*)$",
    re.DOTALL,
)
BOB = Actor("bob", "192.0.2.7")


@pytest.fixture(autouse=True)
def _fresh_sender():
    syslog.sender_reset()
    yield
    syslog.sender_reset()


def forward_to(endpoint: str) -> None:
    config_update(changes={"audit_log_forward_endpoint": endpoint}, user="test")


class UdpListener:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]

    def receive(self) -> bytes:
        return self.sock.recvfrom(65535)[0]

    def nothing_pending(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recvfrom(65535)
        except BlockingIOError:
            return True
        finally:
            self.sock.settimeout(5)
        return False


class TcpListener:
    """Accepts connections and keeps every byte each one sends."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections: list[bytearray] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            data = bytearray()
            with self._lock:
                self.connections.append(data)
            threading.Thread(target=self._read, args=(conn, data), daemon=True).start()

    def _read(self, conn: socket.socket, data: bytearray) -> None:
        with conn:
            while chunk := conn.recv(65536):
                with self._lock:
                    data.extend(chunk)

    def frames(self, expected: int) -> list[bytes]:
        """Wait for `expected` octet-counted frames (RFC 6587 3.4.1) and return their messages."""
        event = threading.Event()
        for _ in range(500):
            with self._lock:
                raw = b"".join(bytes(c) for c in self.connections)
            messages = _unframe(raw)
            if len(messages) >= expected:
                return messages
            event.wait(0.01)
        raise AssertionError(f"got {len(_unframe(raw))} frames, expected {expected}: {raw[:200]!r}")

    def close(self) -> None:
        self.server.close()


def _unframe(raw: bytes) -> list[bytes]:
    messages, rest = [], raw
    while rest:
        length, sep, tail = rest.partition(b" ")
        if not sep or not length.isdigit() or len(tail) < int(length):
            break
        messages.append(tail[: int(length)])
        rest = tail[int(length) :]
    return messages


@contextmanager
def tcp_listener() -> Iterator[TcpListener]:
    listener = TcpListener()
    try:
        yield listener
    finally:
        listener.close()


def parsed(message: bytes) -> dict:
    match = HEADER.match(message)
    assert match, message[:200]
    fields = {key: value.decode() for key, value in match.groupdict().items()}
    fields["msg"] = json.loads(match["msg"])
    return fields


def test_udp_message_is_rfc5424_with_every_field_and_only_after_commit(django_capture_on_commit_callbacks):
    listener = UdpListener()
    forward_to(f"udp://127.0.0.1:{listener.port}")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        record = audit_record(
            operation="delete",
            resource_type="artifact",
            resource="lib/app@sha256:ab",
            project_id=7,
            description="deleted by policy",
            actor=BOB,
        )
        assert listener.nothing_pending()  # never from inside the transaction
    message = parsed(listener.receive())
    assert message["pri"] == str(13 * 8 + 6)  # facility log audit, severity informational
    assert message["ts"] == record.op_time.isoformat().replace("+00:00", "Z")
    assert message["host"] == socket.gethostname()
    assert message["app"] == "harbor"
    assert message["proc"] == str(os.getpid())
    assert message["msgid"] == "delete_artifact"
    assert message["sd"] == "-"
    assert message["msg"] == {
        "id": record.pk,
        "op_time": message["ts"],
        "username": "bob",
        "is_robot": False,
        "source_ip": "192.0.2.7",
        "project_id": 7,
        "resource_type": "artifact",
        "resource": "lib/app@sha256:ab",
        "operation": "delete",
        "operation_description": "deleted by policy",
        "operation_result": True,
        "event_type": "delete_artifact",
    }


def test_a_rolled_back_record_is_never_sent(django_capture_on_commit_callbacks):
    listener = UdpListener()
    forward_to(f"udp://127.0.0.1:{listener.port}")

    def failing_operation() -> None:
        with transaction.atomic():
            audit_record(operation="create", resource_type="project", resource="doomed", actor=BOB)
            raise RuntimeError("the operation failed")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        failing_operation()
    assert callbacks == []
    assert listener.nothing_pending()


def test_tcp_frames_by_octet_count_over_one_reused_connection(django_capture_on_commit_callbacks):
    with tcp_listener() as listener:
        forward_to(f"127.0.0.1:{listener.port}")  # Harbor's host:port is TCP
        with django_capture_on_commit_callbacks(execute=True):
            first = audit_record(
                operation="login", resource_type="user", resource="eve", result=False, description="bad\npassword"
            )
        with django_capture_on_commit_callbacks(execute=True):
            audit_record_many(
                AuditLog(username="ci", resource_type="artifact", resource=f"lib/app:{i}", operation="pull")
                for i in range(3)
            )
        messages = [parsed(m) for m in listener.frames(4)]
        assert len(listener.connections) == 1  # the module's sender kept its connection
    assert messages[0]["pri"] == str(13 * 8 + 5)  # a failed operation is a notice
    assert messages[0]["msg"]["operation_description"] == "bad\npassword"  # framing, not newlines, delimits
    assert messages[0]["msg"]["id"] == first.pk
    assert [m["msg"]["resource"] for m in messages[1:]] == ["lib/app:0", "lib/app:1", "lib/app:2"]
    assert {m["msgid"] for m in messages[1:]} == {"pull_artifact"}


def test_nothing_is_forwarded_or_scheduled_when_no_endpoint_is_set(django_capture_on_commit_callbacks):
    listener = UdpListener()
    forward_to(f"udp://127.0.0.1:{listener.port}")
    forward_to("")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record = audit_record(operation="create", resource_type="project", resource="quiet")
    assert callbacks == []
    assert listener.nothing_pending()
    assert syslog.audit_forward([record]) is False


def test_an_unreachable_collector_is_logged_never_raised(caplog, django_capture_on_commit_callbacks):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    forward_to(f"tcp://127.0.0.1:{port}")  # nothing listens there any more
    with caplog.at_level(logging.WARNING, logger="audit.syslog"):
        with django_capture_on_commit_callbacks(execute=True):
            record = audit_record(operation="create", resource_type="project", resource="kept")
        assert syslog.audit_forward([record]) is False  # resting after the failure: not even tried
    assert AuditLog.objects.filter(pk=record.pk).exists()  # the record itself is committed
    assert "failed" in caplog.text
    assert "resting" in caplog.text


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("syslog.example:514", ("syslog.example", 514, "tcp")),
        ("udp://10.0.0.1:5140", ("10.0.0.1", 5140, "udp")),
        ("tcp://[::1]:601", ("::1", 601, "tcp")),
    ],
)
def test_endpoint_forms(endpoint, expected):
    assert syslog.endpoint_parse(endpoint) == expected


@pytest.mark.parametrize("endpoint", ["syslog.example", "http://x:1", "udp://x:0", "x:99999", ":514", "x:port"])
def test_bad_endpoints_are_refused(endpoint):
    with pytest.raises(syslog.EndpointError):
        syslog.endpoint_parse(endpoint)


def test_the_configuration_refuses_an_endpoint_that_is_not_host_port(users):
    root = basic_client("root")
    response = root.put("/api/v2.0/configurations", {"audit_log_forward_endpoint": "syslog.example"}, format="json")
    assert response.status_code == 400
    assert "host:port" in response.json()["errors"][0]["message"]
    ok = root.put("/api/v2.0/configurations", {"audit_log_forward_endpoint": "udp://127.0.0.1:514"}, format="json")
    assert ok.status_code == 200
    assert root.get("/api/v2.0/configurations").json()["audit_log_forward_endpoint"]["value"] == "udp://127.0.0.1:514"
