"""Test settings: PostgreSQL and Redis when they answer locally (as in CI), SQLite otherwise."""

from __future__ import annotations

import os
import socket
import tempfile


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _test_database_url() -> str:
    if os.environ.get("HARBOR_TEST_DATABASE_URL"):
        return os.environ["HARBOR_TEST_DATABASE_URL"]
    if _answers("127.0.0.1", 5432):
        return "postgres://postgres@127.0.0.1:5432/harbor"
    return "sqlite:///" + os.path.join(os.environ["HARBOR_VAR_DIR"], "test.sqlite3")


def _test_redis_url() -> str:
    if os.environ.get("HARBOR_TEST_REDIS_URL"):
        return os.environ["HARBOR_TEST_REDIS_URL"]
    return "redis://127.0.0.1:6379/15" if _answers("127.0.0.1", 6379) else ""


os.environ["HARBOR_VAR_DIR"] = os.environ.get("HARBOR_TEST_VAR_DIR") or tempfile.mkdtemp(prefix="harbor-test-")
os.environ["HARBOR_DATABASE_URL"] = _test_database_url()
os.environ.setdefault("HARBOR_SECRET_KEY", "test-secret-key-not-for-production")
TEST_REDIS_URL = _test_redis_url()

from harbor_site.settings.base import *  # noqa: E402,F403

# Unit tests hash many passwords; the algorithm under test is Django's, not ours.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
