"""gunicorn configuration: threaded workers, bind address from HARBOR_BIND."""

import multiprocessing
import os

bind = os.environ.get("HARBOR_BIND", "127.0.0.1:8080")
worker_class = "gthread"
workers = int(os.environ.get("HARBOR_WEB_WORKERS", str(min(4, multiprocessing.cpu_count()))))
threads = int(os.environ.get("HARBOR_WEB_THREADS", "8"))
# Blob uploads and pulls stream for as long as the client needs; don't kill them.
timeout = int(os.environ.get("HARBOR_WEB_TIMEOUT", "3600"))
graceful_timeout = 30
keepalive = 75
accesslog = os.environ.get("HARBOR_ACCESS_LOG", None) or None
errorlog = "-"
# Request bodies are streamed by the registry views; keep gunicorn from limiting header sizes too tightly.
limit_request_field_size = 16384


def pre_request(worker, req):  # noqa: ANN001 - gunicorn hook
    """Remember the request being served, so the application can mark it to close (harbor_site/connection.py)."""
    from harbor_site.connection import request_bind

    request_bind(req)


def worker_exit(server, worker):  # noqa: ANN001, ARG001 - gunicorn hook
    """Write buffered pull counts and pull audit records before a worker goes (clean shutdown loses nothing)."""
    from registry.pulls import pulls_flush

    pulls_flush()
