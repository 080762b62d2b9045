"""The seeded world, built once per module inside a transaction that is rolled back afterwards.

Each test runs in its own savepoint (pytest-django's `db`), so a destructive call sees fresh objects
and leaves nothing behind for the next case: the pattern of Django's TestCase.setUpTestData.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.security.world import World, world_build


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> World:
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield world_build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
