"""Parsing and validating manifests: pure functions, no ORM, no I/O.

Covers OCI image manifests and indexes, Docker schema 2 manifests and manifest
lists, and OCI artifacts (`artifactType`, custom config media types).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from registry import media_types as mt
from registry.digest import Digest
from registry.errors import DigestInvalid, ManifestInvalid, PayloadTooLarge, Unsupported


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    platform: dict[str, Any] | None = None
    external: bool = False  # foreign / non-distributable layers with `urls`: not stored here


@dataclass(frozen=True, slots=True)
class Manifest:
    """A validated manifest document and what it references."""

    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str
    annotations: dict[str, str]

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Blobs this manifest needs present in the repository (config and stored layers)."""
        found = ([self.config] if self.config else []) + [d for d in self.layers if not d.external]
        return tuple(found)

    @property
    def effective_artifact_type(self) -> str:
        """image-spec: artifactType, else the config media type (for referrers listings)."""
        if self.artifact_type:
            return self.artifact_type
        return self.config.media_type if self.config else ""


def _normalise_content_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _is_string_map(value: Any) -> bool:
    # image-spec: annotations are string-to-string maps (anything else breaks clients reading referrers).
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _descriptor(raw: Any, where: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise ManifestInvalid(f"{where} must be a descriptor object")
    media_type = raw.get("mediaType")
    digest = raw.get("digest")
    size = raw.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestInvalid(f"{where}.mediaType is required")
    if not isinstance(digest, str):
        raise ManifestInvalid(f"{where}.digest is required")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"{where}.size must be a non-negative integer")
    try:
        parsed = Digest.parse(digest)
    except DigestInvalid as exc:
        raise ManifestInvalid(f"{where}.digest: {exc.message}") from exc
    artifact_type = raw.get("artifactType", "")
    annotations = raw.get("annotations")
    annotations = {} if annotations is None else annotations
    if not isinstance(artifact_type, str) or not _is_string_map(annotations):
        raise ManifestInvalid(f"{where}: artifactType must be a string and annotations an object of strings")
    urls = raw.get("urls")
    if urls is not None and not (isinstance(urls, list) and all(isinstance(u, str) for u in urls)):
        raise ManifestInvalid(f"{where}.urls must be an array of strings")
    external = bool(urls) and (
        media_type == mt.DOCKER_FOREIGN_LAYER or media_type.startswith(mt.OCI_NONDISTRIBUTABLE_PREFIX)
    )
    platform = raw.get("platform")
    return Descriptor(
        media_type=media_type,
        digest=parsed,
        size=size,
        artifact_type=artifact_type,
        annotations={str(k): str(v) for k, v in annotations.items()},
        platform=platform if isinstance(platform, dict) else None,
        external=external,
    )


def _detect_media_type(doc: dict[str, Any], content_type: str) -> str:
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ManifestInvalid("mediaType must be a string")
    if declared in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED) or content_type in (
        mt.DOCKER_SCHEMA1,
        mt.DOCKER_SCHEMA1_SIGNED,
    ):
        raise Unsupported("Docker schema 1 manifests are not supported")
    if declared:
        if declared not in mt.MANIFESTS:
            raise ManifestInvalid(f"unsupported manifest mediaType {declared!r}")
        # image-spec: when mediaType is set it must match the Content-Type it was pushed with.
        if content_type in mt.MANIFESTS and content_type != declared:
            raise ManifestInvalid(f"mediaType {declared!r} does not match Content-Type {content_type!r}")
        return declared
    if content_type in mt.MANIFESTS:
        # Some tools (umoci) omit mediaType; the Content-Type decides, but the shape must fit it.
        has_manifests, has_layers = "manifests" in doc, ("layers" in doc or "config" in doc)
        if content_type in mt.INDEXES and has_layers or content_type in mt.IMAGE_MANIFESTS and has_manifests:
            raise ManifestInvalid(f"document shape does not match Content-Type {content_type!r}")
        return content_type
    raise ManifestInvalid("manifest has no mediaType and the Content-Type is not a manifest media type")


def manifest_parse(body: bytes, *, content_type: str | None, max_size: int) -> Manifest:
    """Validate a pushed manifest body; raise a RegistryError describing the first problem."""
    if len(body) > max_size:
        raise PayloadTooLarge(f"manifest is larger than {max_size} bytes")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest must be a JSON object")
    if b"\\u0000" in body and _holds_nul(doc):
        # Media types, artifactType and annotations are stored as text, which PostgreSQL cannot hold
        # with NUL in it; no real manifest carries one, so it is refused rather than truncated.
        raise ManifestInvalid("manifest strings must not contain NUL (\\u0000)")
    ctype = _normalise_content_type(content_type)
    has_manifests, has_layers = "manifests" in doc, "layers" in doc
    if has_manifests and has_layers and not doc.get("mediaType"):
        # image-spec: a document with both is ambiguous unless mediaType says what it is.
        raise ManifestInvalid("ambiguous manifest: both layers and manifests without mediaType")
    media_type = _detect_media_type(doc, ctype)
    schema_version = doc.get("schemaVersion")
    if type(schema_version) is not int or schema_version != 2:  # 2.0 and true are not the integer 2
        raise ManifestInvalid("schemaVersion must be 2")
    artifact_type = doc.get("artifactType", "")
    annotations = doc.get("annotations")
    annotations = {} if annotations is None else annotations
    if not isinstance(artifact_type, str) or not _is_string_map(annotations):
        raise ManifestInvalid("artifactType must be a string and annotations an object of strings")
    subject = _descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None

    if media_type in mt.INDEXES:
        if has_layers or "config" in doc:
            raise ManifestInvalid("an index must not have config or layers")
        raw = doc.get("manifests")
        if not isinstance(raw, list):
            raise ManifestInvalid("manifests must be an array")
        children = tuple(_descriptor(d, f"manifests[{i}]") for i, d in enumerate(raw))
        return Manifest(media_type, None, (), children, subject, artifact_type, dict(annotations))

    if has_manifests:
        raise ManifestInvalid("an image manifest must not have manifests")
    if "config" not in doc:
        raise ManifestInvalid("config is required")
    config = _descriptor(doc["config"], "config")
    raw_layers = doc.get("layers", [])
    if not isinstance(raw_layers, list):
        raise ManifestInvalid("layers must be an array")
    layers = tuple(_descriptor(d, f"layers[{i}]") for i, d in enumerate(raw_layers))
    return Manifest(media_type, config, layers, (), subject, artifact_type, dict(annotations))
