"""Client-side test data: random blob files, file chunk readers, streamed random bodies."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from harbor_bench.common import BenchError, MiB


def make_blob_file(path: Path, size: int, chunk: int = MiB) -> str:
    """Write `size` random bytes to `path` in chunks; return the sha256 digest."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            b = os.urandom(min(chunk, left))
            h.update(b)
            f.write(b)
            left -= len(b)
    return "sha256:" + h.hexdigest()


def file_chunks(path: Path, chunk: int = MiB):
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(chunk)
            if not b:
                return
            yield b


class RandomStream:
    """Generator body of `size` random bytes (never held in memory) that hashes as it goes."""

    def __init__(self, size: int, chunk: int = MiB):
        self.size, self.chunk = size, chunk
        self.sha = hashlib.sha256()
        self.sent = 0

    def __iter__(self):
        left = self.size
        while left:
            b = os.urandom(min(self.chunk, left))
            self.sha.update(b)
            self.sent += len(b)
            left -= len(b)
            yield b

    def digest(self) -> str:
        if self.sent != self.size:
            raise BenchError(f"stream not fully consumed ({self.sent}/{self.size})")
        return "sha256:" + self.sha.hexdigest()


# --------------------------------------------------------------------------- processes / RSS
