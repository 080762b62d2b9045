"""Artifact types as Harbor reports them, recognised from the manifest and its config: pure, no ORM, no I/O.

Harbor picks a "processor" by the artifact's `artifactType` (else the config media type, else the
manifest media type) and lets it name the type (IMAGE, CHART, CNAB, WASM, SBOM...), derive
`extra_attrs` from the config and list the additions it serves. The same decisions live here as
data and small functions; the caller reads the config blob and passes it in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from registry import media_types as mt

IMAGE = "IMAGE"
CHART = "CHART"
CNAB = "CNAB"
WASM = "WASM"
SBOM = "SBOM"
SIGNATURE = "SIGNATURE"
UNKNOWN = "UNKNOWN"

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
CNAB_MANIFEST = "application/vnd.cnab.manifest.v1"
WASM_CONFIG = "application/vnd.wasm.config.v1+json"
HARBOR_SBOM = "application/vnd.goharbor.harbor.sbom.v1"
SBOM_TYPES = frozenset({HARBOR_SBOM, "application/vnd.cyclonedx+json", "application/spdx+json"})
NOTATION_SIGNATURE = "application/vnd.cncf.notary.signature"
COSIGN_SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"
SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_TYPES = frozenset({NOTATION_SIGNATURE, COSIGN_SIGNATURE, SIGSTORE_BUNDLE})
IMAGE_CONFIGS = frozenset({mt.OCI_IMAGE_CONFIG, mt.DOCKER_IMAGE_CONFIG})

# Harbor's accessory types (pkg/accessory/model).
ACCESSORY_COSIGN = "signature.cosign"
ACCESSORY_NOTATION = "signature.notation"
ACCESSORY_NYDUS = "accelerator.nydus"
ACCESSORY_HARBOR_SBOM = "sbom.harbor"
ACCESSORY_SUBJECT = "subject.accessory"

# Additions, named as in the API path and the addition_links keys.
BUILD_HISTORY = "build_history"
VALUES_YAML = "values.yaml"
README_MD = "readme.md"
DEPENDENCIES = "dependencies"
ADDITIONS = frozenset({BUILD_HISTORY, VALUES_YAML, README_MD, DEPENDENCIES, "sbom", "license", "files"})

# wasm-to-oci "compat" images are OCI images run by a wasm handler (Harbor: processor/wasm).
_WASM_ANNOTATIONS = (("module.wasm.image/variant", "compat"), ("run.oci.handler", "wasm"))
_NYDUS_BOOTSTRAP = "containerd.io/snapshot/nydus-bootstrap"
_CNAB_CONFIG_CHILD = ("io.cnab.manifest.type", "config")
# Harbor's fallback for unknown config types: application/vnd.<vendor>.<name>.config.<version>+json -> NAME.
_CUSTOM_CONFIG = re.compile(r"^application/vnd\.[^.]*\.(.*)\.config\.[^.]*\+json$")
# cosign's tag scheme for signatures pushed without a subject: sha256-<hex>.sig
COSIGN_TAG = re.compile(r"^(sha256)-([a-f0-9]{64})\.sig$")


@dataclass(frozen=True, slots=True)
class Child:
    """An index entry: the child's digest and what the index says about it."""

    digest: str
    platform: dict[str, Any] | None
    annotations: dict[str, str]
    urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Kind:
    """What Harbor shows about an artifact without reading any blob."""

    type: str
    media_type: str  # Harbor's media_type: the config media type, or the manifest's for an index
    manifest_media_type: str
    artifact_type: str  # artifactType, else the config media type ("" for an index without one)
    config_digest: str = ""
    config_size: int = 0
    first_layer_type: str = ""
    layers: tuple[tuple[str, str, int], ...] = ()  # (media type, digest, size)
    children: tuple[Child, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    nydus: bool = False

    @property
    def is_index(self) -> bool:
        return self.manifest_media_type in mt.INDEXES

    @property
    def additions(self) -> tuple[str, ...]:
        """The additions Harbor links for this type (ListAdditionTypes)."""
        if self.type == CHART:
            return (VALUES_YAML, README_MD, DEPENDENCIES)
        if self.type in (IMAGE, WASM) and not self.is_index:
            return (BUILD_HISTORY,)
        return ()

    @property
    def config_child(self) -> str:
        """A CNAB bundle's config manifest (its extra_attrs come from that manifest's config)."""
        key, value = _CNAB_CONFIG_CHILD
        for child in self.children:
            if child.annotations.get(key) == value:
                return child.digest
        return ""

    @property
    def accessory_type(self) -> str:
        """The accessory type when this artifact is attached to a subject (Harbor: middleware/subject)."""
        source = self.artifact_type or self.media_type
        if source in IMAGE_CONFIGS and self.nydus:
            return ACCESSORY_NYDUS
        if source == NOTATION_SIGNATURE:
            return ACCESSORY_NOTATION
        if source in (COSIGN_SIGNATURE, SIGSTORE_BUNDLE) or self.first_layer_type == COSIGN_SIMPLESIGNING:
            return ACCESSORY_COSIGN
        if source == HARBOR_SBOM:
            return ACCESSORY_HARBOR_SBOM
        return ACCESSORY_SUBJECT


def _load(manifest: bytes | dict) -> dict:
    if isinstance(manifest, dict):
        return manifest
    try:
        doc = json.loads(manifest)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _descriptors(value: Any) -> list[dict]:
    return [d for d in value if isinstance(d, dict)] if isinstance(value, list) else []


def _type_of(resolved: str, media_type: str, *, index: bool, first_layer: str) -> str:
    if resolved in SIGNATURE_TYPES or first_layer == COSIGN_SIMPLESIGNING:
        return SIGNATURE
    if resolved in SBOM_TYPES:
        return SBOM
    if resolved == CNAB_MANIFEST:
        return CNAB
    if media_type == WASM_CONFIG or resolved == WASM_CONFIG:
        return WASM
    if resolved == HELM_CONFIG:
        return CHART
    if resolved in IMAGE_CONFIGS or (index and resolved in mt.INDEXES):
        return IMAGE
    custom = _CUSTOM_CONFIG.match(media_type)
    return custom.group(1).upper() if custom else UNKNOWN


def artifact_kind(*, manifest_media_type: str, manifest: bytes | dict) -> Kind:
    """Recognise an artifact from its stored manifest (Harbor: abstractor + processor registry)."""
    doc = _load(manifest)
    annotations = _strings(doc.get("annotations"))
    declared = doc.get("artifactType") if isinstance(doc.get("artifactType"), str) else ""
    if manifest_media_type in mt.INDEXES:
        # Harbor: an index's media type is the manifest's, unless annotated with an artifact type (CNAB).
        media_type = annotations.get("org.opencontainers.artifactType") or manifest_media_type
        children = tuple(
            Child(
                digest=str(d.get("digest", "")),
                platform=d["platform"] if isinstance(d.get("platform"), dict) else None,
                annotations=_strings(d.get("annotations")),
                urls=tuple(u for u in d.get("urls") or () if isinstance(u, str)),
            )
            for d in _descriptors(doc.get("manifests"))
        )
        kind_type = _type_of(declared or media_type, media_type, index=True, first_layer="")
        return Kind(kind_type, media_type, manifest_media_type, declared, children=children, annotations=annotations)

    config = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    config_type = str(config.get("mediaType", ""))
    media_type = config_type
    if any(annotations.get(key) == value for key, value in _WASM_ANNOTATIONS):
        media_type = WASM_CONFIG
    layers = _descriptors(doc.get("layers"))
    first_layer = str(layers[0].get("mediaType", "")) if layers else ""
    artifact_type = declared or config_type
    size = config.get("size")
    return Kind(
        type=_type_of(artifact_type or media_type, media_type, index=False, first_layer=first_layer),
        media_type=media_type,
        manifest_media_type=manifest_media_type,
        artifact_type=artifact_type,
        config_digest=str(config.get("digest", "")),
        config_size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
        first_layer_type=first_layer,
        layers=tuple((str(d.get("mediaType", "")), str(d.get("digest", "")), _size(d)) for d in layers),
        annotations=annotations,
        nydus=any(_strings(d.get("annotations")).get(_NYDUS_BOOTSTRAP) == "true" for d in layers),
    )


def _size(descriptor: dict) -> int:
    size = descriptor.get("size")
    return size if isinstance(size, int) and not isinstance(size, bool) else 0


def needs_config(kind: Kind) -> bool:
    """Does `extra_attrs` come from a config blob for this kind (as Harbor's processors read it)?"""
    if kind.is_index:
        return kind.type == CNAB and bool(kind.config_child)
    if kind.type in (SIGNATURE,) or not kind.config_digest or kind.config_size == 0:
        return False
    if kind.type == WASM:
        return kind.media_type == WASM_CONFIG and kind.artifact_type in IMAGE_CONFIGS
    return kind.type in (IMAGE, CHART, SBOM) or bool(_CUSTOM_CONFIG.match(kind.media_type))


def extra_attrs(kind: Kind, config: dict | None) -> dict[str, Any]:
    """Harbor's extra_attrs for an artifact of this kind, given its parsed config (None: none read)."""
    config = config if isinstance(config, dict) else {}
    if kind.type == IMAGE and not kind.is_index:
        return _image_attrs(config)
    if kind.type == WASM:
        if kind.artifact_type in IMAGE_CONFIGS:  # the "compat" variant: an image config
            return {"manifest.config.mediaType": kind.artifact_type, **_image_attrs(config)}
        attrs: dict[str, Any] = {"manifest.config.mediaType": WASM_CONFIG}
        if kind.layers:
            attrs["manifest.layers.mediaType"] = kind.layers[0][0]
        return attrs
    if kind.type in (CHART, SBOM, CNAB) or (kind.type not in (IMAGE, SIGNATURE, UNKNOWN) and config):
        return dict(config)
    return {}


def _image_attrs(config: dict) -> dict[str, Any]:
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    author = config.get("author") or ""
    labels = inner.get("Labels") if isinstance(inner.get("Labels"), dict) else {}
    if not author:
        # Harbor: the author falls back to the usual labels.
        author = labels.get("org.opencontainers.image.authors") or labels.get("maintainer") or ""
    return {
        "created": config.get("created"),
        "architecture": config.get("architecture", ""),
        "os": config.get("os", ""),
        "config": inner,
        "author": author,
    }


def build_history(config: dict | None) -> list | None:
    """The image config's `history` (Harbor returns null when there is none)."""
    history = config.get("history") if isinstance(config, dict) else None
    return history if isinstance(history, list) else None


def chart_layer(kind: Kind) -> tuple[str, int] | None:
    """The chart archive layer of a Helm chart: (digest, size)."""
    for media_type, digest, size in kind.layers:
        if media_type == HELM_CHART_LAYER:
            return digest, size
    for _media_type, digest, size in kind.layers:  # Harbor takes the first layer that isn't the config
        if digest != kind.config_digest:
            return digest, size
    return None


def cosign_subject(tag: str) -> str:
    """The subject digest named by a cosign signature tag (`sha256-<hex>.sig`), else ""."""
    match = COSIGN_TAG.fullmatch(tag)
    return f"{match.group(1)}:{match.group(2)}" if match else ""


def cosign_tag(digest: str) -> str:
    """The tag cosign gives the signature of `digest` when pushed without a subject."""
    return digest.replace(":", "-", 1) + ".sig"
