"""Secrets the embedded default generates once and keeps in a file (no Django, no app: settings use it too)."""

from __future__ import annotations

import secrets
from pathlib import Path


def secret_file(path: Path, *, nbytes: int = 48) -> str:
    """The secret stored at `path`, generated (URL-safe, `nbytes` of entropy, mode 0600) the first time."""
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(nbytes)
    path.touch(mode=0o600)
    path.write_text(value)
    return value
