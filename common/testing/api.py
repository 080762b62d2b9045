"""Helpers for API tests: clients authenticated with Basic credentials, as real clients are."""

from __future__ import annotations

import base64

from rest_framework.test import APIClient


def basic_client(username: str | None, password: str = "pw-Secret-1") -> APIClient:
    """An API client sending Basic credentials (None: anonymous)."""
    client = APIClient()
    if username:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    return client
