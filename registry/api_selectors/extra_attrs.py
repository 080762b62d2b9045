"""Harbor's `extra_attrs`, derived from config blobs once and kept on the artifact row.

Harbor computes them at push time. Here the /v2/ push path stays untouched: the first API read
of an artifact reads its config (at most CONFIG_LIMIT bytes) and stores the result, so later
listings cost no blob reads. The stored value is a pure function of immutable content, so
concurrent fills write the same thing.
"""

from __future__ import annotations

from registry.api_selectors.blobs import config_read
from registry.artifact_types import Kind, artifact_kind, extra_attrs, needs_config
from registry.models import Artifact


def _cnab_configs(artifacts: list[Artifact], kinds: dict[int, Kind]) -> dict[tuple[int, str], Kind]:
    """The config manifests of CNAB bundles on the page (one query when there are any)."""
    wanted = {(a.repository_id, kinds[a.pk].config_child) for a in artifacts if kinds[a.pk].config_child}
    if not wanted:
        return {}
    rows = Artifact.objects.filter(
        repository_id__in={r for r, _ in wanted}, digest__in={d for _, d in wanted}
    ).values_list("repository_id", "digest", "media_type", "manifest")
    return {(r, d): artifact_kind(manifest_media_type=m, manifest=bytes(body)) for r, d, m, body in rows}


def extra_attrs_fill(*, artifacts: list[Artifact], kinds: dict[int, Kind]) -> None:
    """Set `extra_attrs` on the artifacts that have none yet and store them (one UPDATE at most)."""
    missing = [a for a in artifacts if a.extra_attrs is None]
    if not missing:
        return
    children = _cnab_configs(missing, kinds)
    settled = []
    for artifact in missing:
        kind = kinds[artifact.pk]
        config = None
        if needs_config(kind):
            source = children.get((artifact.repository_id, kind.config_child)) if kind.is_index else kind
            config = config_read(source.config_digest) if source is not None and source.config_digest else None
        artifact.extra_attrs = extra_attrs(kind, config)
        if config is not None or not needs_config(kind):
            settled.append(artifact)  # an unreadable config is shown as empty, not remembered
    if settled:
        Artifact.objects.bulk_update(settled, ["extra_attrs"])
