#!/usr/bin/env python3
"""Side-by-side benchmark: our registry vs. Debian's docker-registry (distribution v2.8).

Entry point only: `python bench/run_bench.py [options]` (from anywhere; `make bench`).
The code is the package bench/harbor_bench/ (see its docstring for the figures and
modules); usage is in bench/README.md.
"""

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main() -> int:
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    try:
        import httpx  # noqa: F401
    except ImportError:  # pragma: no cover - environment problem
        sys.exit("httpx is required: .venv/bin/pip install httpx")
    from harbor_bench.cli import main as bench_main

    return bench_main()


if __name__ == "__main__":
    sys.exit(main())
