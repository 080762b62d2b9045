"""Constants shared by the benchmark modules, the error type and the progress log."""

from __future__ import annotations

import sys
import time
from pathlib import Path

MiB = 1 << 20
MB = 1_000_000
BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = BENCH_DIR.parent
WRK_SCRIPT = BENCH_DIR / "wrk_ops.lua"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

REPO_MAIN = "library/bench"
REPO_TAGS = "library/bench-tags"
TAG_FMT = "t%05d"  # must match the "get" mode of wrk_ops.lua (prefix "t" + %05d)

# Targets: "reference" is docker-registry; ours is "ours" when attached to with --ours-url, else
# "ours-<configuration>" (ours-sqlite, ours-postgres), one per --ours-configs entry.
OURS = "ours"
REF = "reference"


def ours_key(config: str | None) -> str:
    return f"{OURS}-{config}" if config else OURS


def is_ours(target: str) -> bool:
    return target == OURS or target.startswith(OURS + "-")


def target_title(target: str) -> str:
    if target == REF:
        return "docker-registry"
    config = target.removeprefix(OURS).lstrip("-")
    return f"ours ({config})" if config else OURS


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
