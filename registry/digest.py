"""Content digests as values (`algorithm:hex`), per the OCI image-spec descriptor grammar."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from registry.errors import DigestInvalid

# image-spec: sha256 is required, sha512 is registered; other algorithms are refused.
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-f0-9]+)$")


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    @classmethod
    def parse(cls, value: str) -> Digest:
        """Parse and validate `sha256:<64 hex>` or `sha512:<128 hex>`; raise DigestInvalid otherwise."""
        match = _DIGEST_RE.fullmatch(value or "")
        if not match:
            raise DigestInvalid(f"invalid digest {value[:140]!r}")
        algorithm, hexpart = match.groups()
        expected = _HEX_LENGTH.get(algorithm)
        if expected is None:
            raise DigestInvalid(f"unsupported digest algorithm {algorithm!r}")
        if len(hexpart) != expected:
            raise DigestInvalid(f"invalid {algorithm} digest length")
        return cls(algorithm, hexpart)

    @classmethod
    def is_digest(cls, value: str) -> bool:
        """True when `value` looks like a digest (contains a colon), valid or not."""
        return ":" in value

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self):  # noqa: ANN201 - hashlib has no public hash type
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"
