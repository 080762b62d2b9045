"""Streaming exports: same filters and scope as the list, keyset pages, constant memory."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from audit.export import COLUMNS, export_stream
from audit.models import AuditLog
from audit.selectors import audit_log_batches
from common.testing.api import basic_client

pytestmark = pytest.mark.django_db
EXPORT = "/api/v2.0/auditlog-exts/export"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def rows(n: int, *, project_id: int | None = None, same_time: bool = False, start: int = 0) -> list[AuditLog]:
    return [
        AuditLog(
            op_time=T0 if same_time else T0 + timedelta(seconds=start + i),
            username=f"user{i % 7}",
            source_ip=f"10.0.{i % 256}.1",
            project_id=project_id,
            resource_type="artifact",
            resource=f"lib/app:v{start + i}",
            operation="pull" if i % 2 else "create",
            operation_description="line one\nline, two",
        )
        for i in range(n)
    ]


@pytest.fixture
def clean(users):
    for name in ("root", "padmin", "maintainer"):
        basic_client(name).get("/api/v2.0/auditlog-exts/events")  # audit the logins before the slate is wiped
    AuditLog.objects.all().purge()


def body(response) -> bytes:  # noqa: ANN001
    assert response.status_code == 200, getattr(response, "content", b"")[:300]
    assert response.streaming
    return b"".join(response.streaming_content)


def test_csv_export_has_a_header_every_row_and_the_source_ip(lib, clean):
    AuditLog.objects.bulk_create(rows(25, project_id=lib.pk))
    response = basic_client("root").get(EXPORT, {"format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="auditlogs-')
    assert response["Content-Disposition"].endswith('.csv"')
    table = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert len(table) == 25
    assert tuple(table[0]) == COLUMNS
    assert "source_ip" in COLUMNS
    assert table[0]["resource"] == "lib/app:v24"  # newest first
    assert table[0]["source_ip"] == "10.0.24.1"
    assert table[0]["operation_description"] == "line one\nline, two"  # quoted, not split
    assert table[0]["project_id"] == str(lib.pk)


def test_json_export_is_one_array_with_every_field(lib, clean):
    AuditLog.objects.bulk_create(rows(3, project_id=lib.pk))
    response = basic_client("root").get(EXPORT, {"format": "json", "sort": "op_time"})
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].endswith('.json"')
    items = json.loads(body(response))
    assert [item["resource"] for item in items] == ["lib/app:v0", "lib/app:v1", "lib/app:v2"]
    assert set(items[0]) == set(COLUMNS)
    assert items[0]["op_time"] == "2024-01-01T00:00:00Z"
    assert json.loads(body(basic_client("root").get(EXPORT, {"format": "json", "q": "username=nobody"}))) == []


def test_export_takes_the_lists_filters_and_scope(lib, clean):
    AuditLog.objects.bulk_create([*rows(10, project_id=lib.pk), *rows(4, project_id=None, start=100)])
    root = basic_client("root")
    pulls = json.loads(body(root.get(EXPORT, {"format": "json", "q": "operation=pull"})))
    assert len(pulls) == 7
    assert {item["operation"] for item in pulls} == {"pull"}
    window = {"format": "json", "q": "op_time=[2024-01-01 00:00:02~2024-01-01 00:00:04]"}
    assert len(json.loads(body(root.get(EXPORT, window)))) == 3
    # A project admin gets their project's rows only, never the system-level ones.
    mine = json.loads(body(basic_client("padmin").get(EXPORT, {"format": "json"})))
    assert len(mine) == 10
    assert {item["project_id"] for item in mine} == {lib.pk}
    assert json.loads(body(basic_client("maintainer").get(EXPORT, {"format": "json"}))) == []
    project = json.loads(body(basic_client("padmin").get("/api/v2.0/projects/lib/auditlog-exts/export?format=json")))
    assert len(project) == 10
    response = basic_client("padmin").get("/api/v2.0/projects/lib/auditlog-exts/export")
    assert 'filename="auditlogs-lib-' in response["Content-Disposition"]
    assert basic_client("maintainer").get("/api/v2.0/projects/lib/auditlog-exts/export").status_code == 403
    assert basic_client(None).get(EXPORT).status_code == 401


@pytest.mark.parametrize("params", [{"format": "xml"}, {"sort": "username"}, {"sort": "op_time,id"}, {"q": "bogus=1"}])
def test_export_refusals_are_harbors_json_errors(clean, params):
    response = basic_client("root").get(EXPORT, params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "BAD_REQUEST"


def test_keyset_pages_cover_ties_exactly_once(lib, clean):
    # Equal op_times across page boundaries: (op_time, id) keys page them without loss or repeat.
    AuditLog.objects.bulk_create(rows(10, project_id=lib.pk, same_time=True) + rows(5, project_id=lib.pk, start=50))
    records = AuditLog.objects.all()
    for descending in (True, False):
        pages = list(audit_log_batches(records, descending=descending, batch_size=4))
        ids = [values["id"] for page in pages for values in page]
        keys = [(values["op_time"], values["id"]) for page in pages for values in page]
        assert len(ids) == len(set(ids)) == 15
        assert keys == sorted(keys, reverse=descending)
        assert [len(page) for page in pages] == [4, 4, 4, 3]


def test_csv_cells_that_spreadsheets_would_evaluate_are_neutralised(lib, clean):
    AuditLog.objects.create(username="=cmd|' /C calc'!A0", resource="@SUM(1)", resource_type="user", operation="create")
    table = list(csv.DictReader(io.StringIO(b"".join(export_stream(AuditLog.objects.all(), fmt="csv")).decode())))
    assert table[0]["username"] == "'=cmd|' /C calc'!A0"
    assert table[0]["resource"] == "'@SUM(1)"


def _append(start: int, stop: int) -> None:
    """Rows start..stop-1, one second apart, fast: generate_series on PostgreSQL, bulk_create elsewhere."""
    if connection.vendor != "postgresql":
        batch = rows(stop - start, start=start)
        for record in batch:
            record.operation_description = "pulled"
        AuditLog.objects.bulk_create(batch, batch_size=5000)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {AuditLog._meta.db_table} (op_time, username, is_robot, source_ip, project_id,
                resource_type, resource, operation, operation_description, operation_result)
            SELECT %s::timestamptz + make_interval(secs => g), 'user' || (g %% 7), false,
                '10.0.' || (g %% 256) || '.1', NULL, 'artifact', 'lib/app:v' || g,
                CASE WHEN g %% 2 = 1 THEN 'pull' ELSE 'create' END, 'pulled', true
            FROM generate_series(%s, %s) AS g""",
            [T0, start, stop - 1],
        )
        cursor.execute(f"ANALYZE {AuditLog._meta.db_table}")  # the plans a long-lived table has


def _peak_while_streaming(fmt: str) -> tuple[int, int]:
    """(peak bytes allocated while the generator runs, rows counted in its output)."""
    stream = export_stream(AuditLog.objects.all(), fmt=fmt)
    count = 0
    tracemalloc.start()
    try:
        for chunk in stream:
            count += chunk.count(b"\n") if fmt == "csv" else chunk.count(b'"id":')
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, count - 1 if fmt == "csv" else count  # the CSV header


# CSV at the scale of a real export; JSON (the same keyset pages, another encoder) at a tenth of it.
@pytest.mark.parametrize(("fmt", "small", "large"), [("csv", 20_000, 200_000), ("json", 5_000, 50_000)])
def test_memory_stays_flat_whatever_the_number_of_rows(clean, fmt, small, large):
    _append(0, small)
    small_peak, small_count = _peak_while_streaming(fmt)
    _append(small, large)
    large_peak, large_count = _peak_while_streaming(fmt)
    assert (small_count, large_count) == (small, large)  # single-line rows: a CSV line is a row
    # Ten times the rows, the same peak (one keyset page at a time), and that page is small.
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)
    assert large_peak < 8 * 1024 * 1024, large_peak
