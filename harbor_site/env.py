"""Reading HARBOR_* environment variables: the one place settings come from."""

from __future__ import annotations

from pathlib import Path

import environ

from common.files import secret_file

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def var_dir() -> Path:
    """The directory holding the embedded default's state (database, blobs, broker, keys)."""
    path = Path(env.str("HARBOR_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def persistent_secret(name: str, *, nbytes: int = 48) -> str:
    """A secret generated once and kept under var/ (used only when not configured)."""
    return secret_file(var_dir() / name, nbytes=nbytes)
