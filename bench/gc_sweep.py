"""Garbage collection sweep: throughput and peak memory over many unreferenced blobs.

    .venv/bin/python bench/gc_sweep.py                  # 10,000 and 100,000 blobs
    .venv/bin/python bench/gc_sweep.py --blobs 1000000  # one size

Each size: a fresh database of the project (PostgreSQL when one answers, as the e2e tests), that many
old Blob rows nothing references (one INSERT ... generate_series; no bytes, so the figures are the
sweep's own: queries, locks, log), then one GC run through the job service, timed; then the same again
under tracemalloc for the peak of Python memory. Batches keep the peak flat whatever the count.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.testing.server import RegistryServer  # noqa: E402

MEASURE = """
import json, time, tracemalloc
from datetime import timedelta
from django.db import connection
from django.utils import timezone
from registry.services.gc_jobs import gc_execute, gc_start

def rows(count, tag):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO registry_blob (digest, size, created) SELECT 'sha256:' || "
            "encode(sha256(convert_to(%s || i::text, 'UTF8')), 'hex'), i, %s FROM generate_series(1, %s) AS i",
            [tag, timezone.now() - timedelta(days=2), count],
        )
        cursor.execute("ANALYZE registry_blob")

rows({count}, "timed ")
started = time.perf_counter()
timed = gc_execute(execution_id=gc_start(enqueue=False).pk, batch_size={batch})
seconds = time.perf_counter() - started
rows({count}, "traced ")
tracemalloc.start()
traced = gc_execute(execution_id=gc_start(enqueue=False).pk, batch_size={batch})
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({{"deleted": timed.counts["blobs_deleted"], "seconds": seconds, "peak": peak,
                  "traced_deleted": traced.counts["blobs_deleted"]}}))
"""


def measure(count: int, batch: int) -> dict:
    server = RegistryServer.create()
    try:
        if not server.env.get("HARBOR_DATABASE_URL", "").startswith("postgres"):
            raise SystemExit("needs PostgreSQL on 127.0.0.1:5432 (or HARBOR_TEST_DATABASE_URL)")
        out = server.python(MEASURE.format(count=count, batch=batch))
        return json.loads(out.strip().splitlines()[-1])
    finally:
        server.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", type=int, action="append", help="blob count (repeatable)")
    parser.add_argument("--batch", type=int, default=500, help="GC batch size (GC_BATCH_SIZE)")
    args = parser.parse_args()
    print(f"{'blobs':>10} {'deleted':>10} {'seconds':>8} {'blobs/s':>9} {'peak MiB':>9}")
    for count in args.blobs or [10_000, 100_000]:
        result = measure(count, args.batch)
        assert result["deleted"] == result["traced_deleted"] == count, result
        rate = count / result["seconds"] if result["seconds"] else 0
        print(
            f"{count:>10} {result['deleted']:>10} {result['seconds']:>8.1f} {rate:>9.0f} {result['peak'] / 2**20:>9.2f}"
        )


if __name__ == "__main__":
    main()
