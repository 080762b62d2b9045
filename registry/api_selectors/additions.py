"""getAddition: build history from the image config, values.yaml / README.md / dependencies from a chart."""

from __future__ import annotations

import json
from dataclasses import dataclass

from common.api.errors import BadRequest, NotFound, Unprocessable
from registry.api_selectors.blobs import BlobTooLarge, blob_chunks, config_read
from registry.artifact_types import (
    ADDITIONS,
    BUILD_HISTORY,
    README_MD,
    VALUES_YAML,
    artifact_kind,
    build_history,
    chart_layer,
)
from registry.helm import ChartInvalid, chart_files
from registry.models import Artifact

# The chart archive is streamed; Helm itself refuses archives this large.
CHART_LIMIT = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Addition:
    content: bytes
    content_type: str


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def addition_get(*, artifact: Artifact, addition: str) -> Addition:
    """The addition's bytes and content type; 422 for an unknown addition, 400 when the type has none."""
    if addition not in ADDITIONS:
        raise Unprocessable(f"addition must be one of {', '.join(sorted(ADDITIONS))}")
    kind = artifact_kind(manifest_media_type=artifact.media_type, manifest=bytes(artifact.manifest))
    if addition not in kind.additions:
        raise BadRequest(f"addition {addition} isn't supported for {kind.type}")
    if addition == BUILD_HISTORY:
        config = config_read(kind.config_digest)
        if config is None:
            raise NotFound(f"the config of {artifact.digest} is not readable")
        return Addition(_json(build_history(config)), "application/json; charset=utf-8")
    layer = chart_layer(kind)
    if layer is None:
        raise NotFound(f"{artifact.digest} has no chart archive")
    try:
        files = chart_files(blob_chunks(layer[0], limit=CHART_LIMIT), max_compressed=CHART_LIMIT)
    except FileNotFoundError as exc:
        raise NotFound(f"chart archive {layer[0]} not found") from exc
    except (ChartInvalid, BlobTooLarge) as exc:
        raise Unprocessable(str(exc)) from exc
    if addition == VALUES_YAML:
        return Addition(files.values.encode(), "text/plain; charset=utf-8")
    if addition == README_MD:
        return Addition(files.readme.encode(), "text/markdown; charset=utf-8")
    return Addition(_json(files.dependencies), "application/json; charset=utf-8")
