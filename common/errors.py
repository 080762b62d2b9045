"""The base of domain errors raised below the HTTP layers, so the kernel maps them without knowing the apps.

A domain error carries an HTTP-like `status` and a `message`. The app that raises it (the registry's
OCI errors, `registry/errors.py`) subclasses it; the API's exception handler (`common/api/errors.py`)
turns any of them into Harbor's envelope by status, so the kernel never imports an app's error tree.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal of a domain operation: `status` says which HTTP status it answers with, `message` why."""

    status = 500
    message = "unknown error"
