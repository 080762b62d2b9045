"""Streaming exports of the audit log as CSV or JSON: keyset pages in, bytes out, memory flat.

The API's export routes and the admin's export action share these generators.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from audit.models import AuditLog
from audit.selectors import EXPORT_BATCH, audit_log_batches
from audit.syslog import RECORD_FIELDS, values_document

FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
COLUMNS = (*RECORD_FIELDS, "event_type")
# OWASP CSV injection: a cell a spreadsheet would read as a formula is prefixed with a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_stream(
    records: QuerySet[AuditLog], *, descending: bool = True, batch_size: int = EXPORT_BATCH
) -> Iterator[bytes]:
    """A header row, then one row per record; one chunk per keyset page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield buffer.getvalue().encode()
    for batch in audit_log_batches(records, descending=descending, batch_size=batch_size):
        buffer.seek(0)
        buffer.truncate()
        for values in batch:
            document = values_document(values)
            writer.writerow([_cell(document[column]) for column in COLUMNS])
        yield buffer.getvalue().encode()


def json_stream(
    records: QuerySet[AuditLog], *, descending: bool = True, batch_size: int = EXPORT_BATCH
) -> Iterator[bytes]:
    """A JSON array of record objects, written a page at a time (never held whole)."""
    yield b"["
    first = True
    for batch in audit_log_batches(records, descending=descending, batch_size=batch_size):
        parts = [json.dumps(values_document(values), ensure_ascii=False) for values in batch]
        chunk = ",\n".join(parts)
        yield (chunk if first else ",\n" + chunk).encode()
        first = False
    yield b"]\n"


def export_stream(
    records: QuerySet[AuditLog], *, fmt: str, descending: bool = True, batch_size: int = EXPORT_BATCH
) -> Iterator[bytes]:
    """The export generator for `fmt` ("csv" or "json")."""
    stream = csv_stream if fmt == "csv" else json_stream
    return stream(records, descending=descending, batch_size=batch_size)


def export_response(records: QuerySet[AuditLog], *, fmt: str, descending: bool = True, stem: str = "auditlogs"):  # noqa: ANN201
    """A StreamingHttpResponse downloading the records as `<stem>-<UTC time>.<fmt>`."""
    response = StreamingHttpResponse(export_stream(records, fmt=fmt, descending=descending), content_type=FORMATS[fmt])
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="{stem}-{stamp}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
