"""A real HTTP receiver on 127.0.0.1 for webhook and egress tests: records requests, scripted answers."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """`with Receiver() as r:` serves on r.url; `r.answers` (a deque) scripts the next responses."""

    def __init__(self, default: Answer | None = None) -> None:
        self.requests: list[Received] = []
        self.answers: deque[Answer] = deque()
        self.default = default or Answer()
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.arrived:
                    receiver.requests.append(
                        Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    answer = receiver.answers.popleft() if receiver.answers else receiver.default
                    receiver.arrived.notify_all()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = _serve  # noqa: N815

            def log_message(self, format, *args) -> None:  # noqa: A002, ANN001, ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 60) -> list[Received]:
        """Block until `count` requests arrived (or the timeout passed); returns what arrived."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return list(self.requests)
