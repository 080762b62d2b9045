"""WSGI entry point for gunicorn.

Registry traffic (`/v2/`, `/service/token`) is served by a handler without Django's
middleware: sessions, CSRF, messages and the session-based auth only serve the admin
and the REST API, and on the pull path they would cost more than the request itself.
The registry views do their own authentication (registry/oci/base.py).
"""

import os

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

from harbor_site.connection import body_settle

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harbor_site.settings.base")

_full = get_wsgi_application()

REGISTRY_PREFIXES = ("/v2/", "/v2", "/service/token")


class RegistryHandler(WSGIHandler):
    """A WSGI handler with an empty middleware chain."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response)


_registry = RegistryHandler()


def application(environ, start_response):
    def start(status, headers, exc_info=None):  # noqa: ANN001, ANN202
        body_settle(environ)  # an unread request body: drained, or the connection announced as closing
        return start_response(status, headers, exc_info)

    path = environ.get("PATH_INFO", "")
    if path.startswith(REGISTRY_PREFIXES):
        return _registry(environ, start)
    return _full(environ, start)
