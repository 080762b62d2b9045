"""The SQLite backend's writers' lock (harbor_site/db/sqlite3/base.py): concurrent writers queue on it.

With SQLite's busy handler switched off (busy_timeout 0), a writer that finds another one in the
database fails at once with "database is locked"; through the lock, none ever does."""

from __future__ import annotations

import threading

import pytest
from django.db.utils import ConnectionHandler, OperationalError

WRITERS, ROUNDS = 8, 25


def _handler(path, engine: str) -> ConnectionHandler:  # noqa: ANN001
    return ConnectionHandler(
        {
            "default": {
                "ENGINE": engine,
                "NAME": str(path),
                "OPTIONS": {
                    "timeout": 30,
                    "transaction_mode": "IMMEDIATE",
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=0;",
                },
            }
        }
    )


def _hammer(path, engine: str) -> tuple[list[Exception], int]:  # noqa: ANN001
    handler = _handler(path, engine)
    with handler["default"].cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS t (writer INTEGER, round INTEGER, kind TEXT)")
    handler["default"].close()
    errors: list[Exception] = []
    start = threading.Barrier(WRITERS)

    def writer(number: int) -> None:
        db = handler["default"]  # one connection per thread, as Django gives each request thread
        try:
            db.ensure_connection()
            start.wait()
            for round_ in range(ROUNDS):
                db._start_transaction_under_autocommit()  # what transaction.atomic() does on SQLite
                with db.cursor() as cursor:
                    cursor.execute("INSERT INTO t VALUES (%s, %s, 'transaction')", [number, round_])
                    cursor.execute("SELECT count(*) FROM t")
                db.commit()
                with db.cursor() as cursor:  # a write statement in autocommit mode
                    cursor.execute("INSERT INTO t VALUES (%s, %s, 'autocommit')", [number, round_])
        except Exception as exc:  # noqa: BLE001 - counted, and asserted on by the tests
            errors.append(exc)
            if db.connection is not None and db.connection.in_transaction:
                db.rollback()
        finally:
            db.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db = handler["default"]
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM t")
        rows = cursor.fetchone()[0]
    db.close()
    return errors, rows


def test_concurrent_writers_queue_on_the_lock_instead_of_failing(tmp_path, django_db_blocker):
    with django_db_blocker.unblock():  # a database of its own, not the test database
        errors, rows = _hammer(tmp_path / "db.sqlite3", "harbor_site.db.sqlite3")
    assert errors == []
    assert rows == WRITERS * ROUNDS * 2


def test_without_the_lock_the_same_writers_collide(tmp_path, django_db_blocker):
    """The control: Django's own backend, same load, busy handler off: collisions (so the test above can fail)."""
    with django_db_blocker.unblock():
        errors, _rows = _hammer(tmp_path / "db.sqlite3", "django.db.backends.sqlite3")
    assert errors, "no writer ever found the database locked: the load is too light to show anything"
    assert all(isinstance(error, OperationalError) and "locked" in str(error) for error in errors)


@pytest.mark.parametrize(
    "query", ["INSERT INTO t VALUES (1)", "  update t SET x = 1", "WITH a AS (SELECT 1) DELETE FROM t"]
)
def test_write_statements_are_recognised(query):
    from harbor_site.db.sqlite3.base import _is_write

    assert _is_write(query)
    assert not _is_write("SELECT 1")
