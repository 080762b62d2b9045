"""Django's SQLite backend, with writers queued on a lock instead of polling SQLite's busy handler.

SQLite runs one writer at a time. A writer that finds the database locked retries from SQLite's
busy handler, which sleeps between tries in growing steps (1, 2, 5, 10, ... then 100 ms): under a
burst of concurrent pushes (16 clients, three write transactions per image) a writer can sleep
through many commits of others, and the slowest requests wait seconds. Here every write transaction
(BEGIN IMMEDIATE) and every write statement outside one first takes the writers' lock: a lock
between the threads of this process (they wake as soon as it is free), then a file lock beside the
database between processes (gunicorn workers, the Celery worker and beat), polled every few
milliseconds at most. The lock only orders writers; SQLite's own locking still decides what is
safe, and a writer that can't get the lock within the database timeout goes on without it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator

from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper
from django.db.backends.sqlite3.base import SQLiteCursorWrapper

_THREADS: dict[str, threading.Lock] = {}  # database path -> the lock between this process's threads
_THREADS_GUARD = threading.Lock()
_WRITES = ("insert", "update", "delete", "replace", "with")
_POLL_MAX = 0.002  # seconds between tries of the file lock, at most


class _WritersLock:
    """The writers' lock of one connection: this process's threads, then the other processes."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path, self.timeout = path, timeout
        with _THREADS_GUARD:
            self.threads = _THREADS.setdefault(path, threading.Lock())
        self.fd: int | None = None
        self.held = False

    def acquire(self) -> None:
        if self.held:
            return
        if not self.threads.acquire(timeout=self.timeout):
            return  # SQLite's busy handler takes over
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            deadline, pause = time.monotonic() + self.timeout, 0.0001
            while True:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        self.threads.release()
                        return
                    time.sleep(pause)
                    pause = min(pause * 2, _POLL_MAX)
        except OSError:
            self.threads.release()
            return
        self.held = True

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.threads.release()

    def close(self) -> None:
        self.release()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Cursor(SQLiteCursorWrapper):
    writers: _WritersLock | None = None

    def _run(self, run, query: str, params):  # noqa: ANN001, ANN202
        if self.writers is None or self.connection.in_transaction or not _is_write(query):
            return run(query, params)
        self.writers.acquire()  # a write statement in autocommit mode is a transaction of its own
        try:
            return run(query, params)
        finally:
            self.writers.release()

    def execute(self, query, params=None):  # noqa: ANN001, ANN201
        return self._run(super().execute, query, params)

    def executemany(self, query, param_list):  # noqa: ANN001, ANN201
        return self._run(super().executemany, query, param_list)


def _is_write(query: str) -> bool:
    return query.lstrip()[:7].lower().startswith(_WRITES)


class DatabaseWrapper(SQLiteDatabaseWrapper):
    _writers: _WritersLock | None = None

    def _writers_lock(self) -> _WritersLock | None:
        if self._writers is None and not self.is_in_memory_db():
            timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
            self._writers = _WritersLock(f"{self.settings_dict['NAME']}-writers.lock", timeout)
        return self._writers

    def create_cursor(self, name=None):  # noqa: ANN001, ANN201
        cursor = self.connection.cursor(factory=_Cursor)
        cursor.writers = self._writers_lock()
        return cursor

    def _start_transaction_under_autocommit(self) -> None:
        writers = self._writers_lock()
        if writers is not None:
            writers.acquire()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            if writers is not None:
                writers.release()
            raise

    def _commit(self):  # noqa: ANN202
        with self._transaction_ends():
            return super()._commit()

    def _rollback(self):  # noqa: ANN202
        with self._transaction_ends():
            return super()._rollback()

    @contextlib.contextmanager
    def _transaction_ends(self) -> Iterator[None]:
        try:
            yield
        finally:
            if self._writers is not None:
                self._writers.release()

    def _close(self):  # noqa: ANN202
        try:
            return super()._close()
        finally:
            if self._writers is not None:
                self._writers.close()
                self._writers = None
