"""Concurrency tests on PostgreSQL: work in threads with their own database sessions, and waiting
on the server's live lock table (`pg_locks`) for those sessions, never on the clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.db import connection, connections


def session_thread(target: Callable[[], object], results: dict, key: str, pids: dict) -> threading.Thread:
    """Start `target` in a thread (named `key`) with a session of its own; its outcome (value or
    exception) goes to results[key], its backend pid to pids[key] before `target` runs."""
    started = threading.Event()

    def run() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids[key] = cursor.fetchone()[0]
            started.set()
            results[key] = target()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            results[key] = exc
        finally:
            started.set()
            connections.close_all()

    thread = threading.Thread(target=run, name=key)
    thread.start()
    assert started.wait(30), f"{key} never started"
    return thread


def lock_waiters(pids: dict) -> int:
    """How many of these sessions wait on a lock (pg_locks covers the whole server: other
    databases' sessions are left out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid = ANY(%s)", [list(pids.values())]
        )
        return cursor.fetchone()[0]


def until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll until `condition()`; fail with `what` after `timeout` seconds (a hang, not a timing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def finishes_while_held(
    held: Callable[[], object], other: Callable[[], object], *, ready: threading.Event, release: threading.Event
) -> dict:
    """Run `held` (it sets `ready`, then waits for `release` with its transaction open), then `other`:
    assert that `other` finishes rather than queue on a lock; let `held` go; return both outcomes."""
    results: dict = {}
    pids: dict = {}
    first = session_thread(held, results, "held", pids)
    assert ready.wait(30), "the held work never got to its waiting point"
    second = session_thread(other, results, "other", pids)
    until(lambda: not second.is_alive() or lock_waiters(pids) > 0, "the second one neither finished nor waited")
    waited = second.is_alive()
    release.set()
    first.join()
    second.join()
    assert not waited, "the second one waited for the first one's transaction"
    for key, outcome in results.items():
        assert not isinstance(outcome, Exception), f"{key}: {outcome!r}"
    return results
