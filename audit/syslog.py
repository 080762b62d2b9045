"""Forwarding committed audit records to a syslog endpoint (Harbor's `audit_log_forward_endpoint`).

Each record leaves as one RFC 5424 message whose MSG is a JSON object with every field of the
record. The endpoint is Harbor's `host:port`, dialled over TCP as Harbor does, or (ours)
`udp://host:port` / `tcp://host:port`. TCP frames messages by octet counting (RFC 6587 3.4.1)
on one connection kept per process; UDP sends one datagram per message. Forwarding is best
effort: it runs after commit, a failure is logged (and the endpoint left alone for
BACKOFF_SECONDS so an unreachable collector cannot slow every request by its timeout), nothing
is ever raised to the caller.

Written by hand because the standard library's SysLogHandler speaks RFC 3164 with
non-transparent framing, and the records must keep their own timestamp rather than the send time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable

from audit.models import AuditLog
from common.configuration import config_get

logger = logging.getLogger(__name__)

FACILITY_LOG_AUDIT = 13  # RFC 5424 6.2.1: "log audit"
SEVERITY_INFO, SEVERITY_NOTICE = 6, 5  # a refused or failed operation stands out as a notice
APP_NAME = "harbor"
TIMEOUT_SECONDS = 0.5
BACKOFF_SECONDS = 10.0
PROTOCOLS = ("udp", "tcp")
_NILVALUE = "-"


class EndpointError(ValueError):
    """A forward endpoint that is not `host:port`."""


def endpoint_parse(endpoint: str) -> tuple[str, int, str]:
    """`host:port` (TCP, as Harbor dials it), `tcp://host:port` or `udp://host:port` -> (host, port, protocol).

    IPv6 hosts are bracketed: `[::1]:514`.
    """
    protocol, sep, address = endpoint.strip().partition("://")
    if not sep:
        protocol, address = "tcp", endpoint.strip()
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if protocol not in PROTOCOLS or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EndpointError(f"audit log forward endpoint {endpoint!r} is not [tcp://|udp://]host:port")
    return host, int(port), protocol


def _printable(value: str, limit: int) -> str:
    # RFC 5424 6.2: header fields are PRINTUSASCII (33-126), bounded length, "-" when empty.
    cleaned = "".join(char for char in value if 33 <= ord(char) <= 126)[:limit]
    return cleaned or _NILVALUE


# The stored fields of a record, in the order exports list them.
RECORD_FIELDS = (
    "id",
    "op_time",
    "username",
    "is_robot",
    "source_ip",
    "project_id",
    "resource_type",
    "resource",
    "operation",
    "operation_description",
    "operation_result",
)


def values_document(values: dict) -> dict:
    """Every field of a record given as `.values(*RECORD_FIELDS)`, as exports and forwarded messages carry it."""
    document = dict(values)
    document["op_time"] = values["op_time"].isoformat().replace("+00:00", "Z")
    document["event_type"] = f"{values['operation']}_{values['resource_type']}"
    return document


def record_document(record: AuditLog) -> dict:
    """Every field of a saved record (see values_document)."""
    return values_document({field: getattr(record, "pk" if field == "id" else field) for field in RECORD_FIELDS})


def message_format(record: AuditLog, *, hostname: str | None = None, procid: int | None = None) -> bytes:
    """One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG` with a JSON MSG."""
    severity = SEVERITY_INFO if record.operation_result else SEVERITY_NOTICE
    header = " ".join(
        (
            f"<{FACILITY_LOG_AUDIT * 8 + severity}>1",
            record.op_time.isoformat().replace("+00:00", "Z"),  # the operation's time, not the send time
            _printable(hostname if hostname is not None else socket.gethostname(), 255),
            APP_NAME,
            _printable(str(procid if procid is not None else os.getpid()), 128),
            _printable(record.event_type, 32),
            _NILVALUE,  # no STRUCTURED-DATA: the MSG carries every field
        )
    )
    body = json.dumps(record_document(record), ensure_ascii=False, separators=(",", ":"))
    return f"{header} {body}".encode()


def frame_octet_counting(message: bytes) -> bytes:
    """RFC 6587 3.4.1: `MSG-LEN SP SYSLOG-MSG`, so messages may contain newlines."""
    return b"%d %s" % (len(message), message)


class Sender:
    """One endpoint's socket, reused for every record this process forwards (thread-safe)."""

    def __init__(self, host: str, port: int, protocol: str) -> None:
        self.host, self.port, self.protocol = host, port, protocol
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._resting_until = 0.0

    def _connect(self) -> socket.socket:
        if self.protocol == "udp":
            family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(family[0], socket.SOCK_DGRAM)
            sock.settimeout(TIMEOUT_SECONDS)
            sock.connect(family[4])
            return sock
        return socket.create_connection((self.host, self.port), timeout=TIMEOUT_SECONDS)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None

    def send(self, messages: list[bytes]) -> bool:
        """Send the messages; False (and logged) when they could not all go."""
        with self._lock:
            if time.monotonic() < self._resting_until:
                logger.warning("audit forward to %s:%d resting; %d record(s) dropped", *self._where, len(messages))
                return False
            # A TCP peer may have closed an idle connection: one reconnect before giving up.
            for attempt in (1, 2):
                try:
                    if self._socket is None:
                        self._socket = self._connect()
                    for message in messages:
                        if self.protocol == "udp":
                            self._socket.send(message)
                        else:
                            self._socket.sendall(frame_octet_counting(message))
                    return True
                except OSError as exc:
                    self._drop()
                    if attempt == 2 or self.protocol == "udp":
                        self._resting_until = time.monotonic() + BACKOFF_SECONDS
                        logger.warning(
                            "audit forward to %s:%d (%s) failed, %d record(s) dropped: %s",
                            *self._where,
                            self.protocol,
                            len(messages),
                            exc,
                        )
                        return False
        return False

    @property
    def _where(self) -> tuple[str, int]:
        return self.host, self.port


_sender: Sender | None = None
_sender_lock = threading.Lock()


def _sender_for(endpoint: str) -> Sender | None:
    global _sender
    try:
        host, port, protocol = endpoint_parse(endpoint)
    except EndpointError as exc:
        logger.warning("%s; audit records are not forwarded", exc)
        return None
    with _sender_lock:
        current = _sender
        if current is None or (current.host, current.port, current.protocol) != (host, port, protocol):
            if current is not None:
                current.close()
            current = _sender = Sender(host, port, protocol)
    return current


def forwarding_enabled() -> bool:
    """Is a forward endpoint configured? (The cached configuration snapshot: no query per record.)"""
    return bool(config_get("audit_log_forward_endpoint"))


def audit_forward(records: Iterable[AuditLog]) -> bool:
    """Send committed records to the configured endpoint; never raises (False when not sent)."""
    try:
        endpoint = config_get("audit_log_forward_endpoint")
        if not endpoint:
            return False
        sender = _sender_for(endpoint)
        if sender is None:
            return False
        hostname, procid = socket.gethostname(), os.getpid()
        return sender.send([message_format(r, hostname=hostname, procid=procid) for r in records])
    except Exception:  # noqa: BLE001 - forwarding must never break the operation that was recorded
        logger.exception("audit forward failed")
        return False


def sender_reset() -> None:
    """Close and forget the process's sender (tests, and after the endpoint changes)."""
    global _sender
    with _sender_lock:
        if _sender is not None:
            _sender.close()
        _sender = None
