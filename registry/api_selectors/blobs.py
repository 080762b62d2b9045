"""Reading small JSON blobs (image and chart configs) from the blob store, with a size cap."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from registry.digest import Digest
from registry.errors import DigestInvalid
from registry.storage import blob_store

logger = logging.getLogger(__name__)

# Configs are small (Harbor reads them whole); anything bigger is not worth holding in memory for a listing.
CONFIG_LIMIT = 4 * 1024 * 1024


class BlobTooLarge(ValueError):
    """The blob is larger than the caller's cap."""


def blob_chunks(digest: str, *, limit: int) -> Iterator[bytes]:
    """Stream a committed blob, refusing (BlobTooLarge) past `limit` bytes; FileNotFoundError if absent."""
    try:
        parsed = Digest.parse(digest)
    except DigestInvalid as exc:
        raise FileNotFoundError(digest) from exc
    read = 0
    for piece in blob_store().blob_iter(parsed, 0, limit):  # at most limit + 1 bytes
        read += len(piece)
        if read > limit:
            raise BlobTooLarge(f"blob {digest} is larger than {limit} bytes")
        yield piece


def config_read(digest: str) -> dict | None:
    """A JSON config blob as a dict; None when absent, too large or not a JSON object."""
    try:
        data = b"".join(blob_chunks(digest, limit=CONFIG_LIMIT))
        doc = json.loads(data)
    except (OSError, BlobTooLarge, ValueError) as exc:
        logger.warning("config %s unreadable: %s", digest, exc)
        return None
    return doc if isinstance(doc, dict) else None
