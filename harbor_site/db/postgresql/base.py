"""Django's PostgreSQL backend, with a connection health check that costs no round trip.

With persistent connections and CONN_HEALTH_CHECKS, Django checks a reused connection at the
start of every request by sending `SELECT 1`: one more round trip, and one more statement for
the server to run, on every registry request (a blob HEAD is otherwise a single query). Here a
connection is unusable when psycopg knows it is broken or closed, or when the server has sent
something unasked while it sat idle between requests. The server only does that when it ends
the session (shutdown, restart, `pg_terminate_backend`, idle timeouts): it sends an error
message and closes the socket, and both make the socket readable, which `select` sees at once.
A dead peer that sent nothing (a cut network) is not seen, as with `SELECT 1` on a socket that
hangs until TCP gives up; the failed request's error closes that connection for the next one.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper


class DatabaseWrapper(PostgresDatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):  # the socket is gone
            return False
        return not readable
