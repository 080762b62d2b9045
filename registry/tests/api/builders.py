"""Real content for API tests: blobs written to the blob store and manifests pushed through the services."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

from registry import artifact_types as types
from registry import media_types as mt
from registry.digest import Digest
from registry.models import Artifact, Repository
from registry.names import RepositoryName
from registry.services.blobs import blob_record
from registry.services.manifests import manifest_push
from registry.services.repositories import repository_ensure
from registry.storage import blob_store


def repository(name: str) -> Repository:
    return repository_ensure(name=RepositoryName.parse(name))


def blob(repo: Repository, data: bytes, media_type: str) -> dict:
    """Store `data` as a blob linked to the repository; its descriptor."""
    digest = Digest.of(data)
    blob_store().blob_write(digest, data)
    blob_record(digest=digest, size=len(data), repository=repo)
    return {"mediaType": media_type, "digest": str(digest), "size": len(data)}


def _push(repo: Repository, doc: dict, tag: str | None) -> Artifact:
    body = json.dumps(doc, separators=(",", ":")).encode()
    reference = tag or str(Digest.of(body))
    return manifest_push(
        repository=repo, reference=reference, body=body, content_type=doc["mediaType"], tags=[]
    ).artifact


def image(
    repo: Repository,
    *,
    tag: str | None = None,
    seed: str = "x",
    config: dict | None = None,
    config_type: str = mt.OCI_IMAGE_CONFIG,
    layers: list[tuple[bytes, str]] | None = None,
    artifact_type: str = "",
    subject: Artifact | None = None,
    annotations: dict | None = None,
) -> Artifact:
    """Push an image manifest (or any artifact with a config) and its blobs."""
    if config is None:
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": "2024-05-01T10:00:00Z",
            "author": "",
            "config": {"Cmd": ["/app"], "Labels": {"maintainer": f"team-{seed}"}},
            "history": [{"created": "2024-05-01T10:00:00Z", "created_by": f"RUN build {seed}"}],
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    if layers is None:
        layers = [(f"layer {seed}".encode(), "application/vnd.oci.image.layer.v1.tar+gzip")]
    doc: dict = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": blob(repo, json.dumps(config).encode(), config_type),
        "layers": [blob(repo, data, media_type) for data, media_type in layers],
    }
    if artifact_type:
        doc["artifactType"] = artifact_type
    if subject is not None:
        doc["subject"] = {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.manifest_size}
    if annotations:
        doc["annotations"] = annotations
    return _push(repo, doc, tag)


def index(repo: Repository, children: list[tuple[Artifact, dict]], *, tag: str | None = None, annotations=None):  # noqa: ANN001, ANN201
    """Push an image index over already pushed children, each with its platform."""
    doc: dict = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {"mediaType": child.media_type, "digest": child.digest, "size": child.manifest_size, "platform": platform}
            for child, platform in children
        ],
    }
    if annotations:
        doc["annotations"] = annotations
    return _push(repo, doc, tag)


def signature(repo: Repository, subject: Artifact, *, kind: str = "cosign") -> Artifact:
    """A signature attached to `subject`: cosign (OCI 1.1 referrer), notation, or cosign's tag scheme."""
    if kind == "notation":
        return image(
            repo,
            config={},
            config_type=types.NOTATION_SIGNATURE,
            layers=[(b"jws", "application/jose+json")],
            subject=subject,
        )
    if kind == "cosign-tag":
        return image(
            repo,
            tag=types.cosign_tag(subject.digest),
            config={"architecture": "", "os": ""},
            layers=[(b'{"critical":{}}', types.COSIGN_SIMPLESIGNING)],
        )
    return image(
        repo,
        config={},
        config_type=mt.OCI_EMPTY,
        artifact_type=types.COSIGN_SIGNATURE,
        layers=[(b"bundle", types.COSIGN_SIMPLESIGNING)],
        subject=subject,
    )


def sbom(repo: Repository, subject: Artifact) -> Artifact:
    return image(
        repo,
        config={},
        config_type=mt.OCI_EMPTY,
        artifact_type=types.HARBOR_SBOM,
        layers=[(b'{"spdxVersion":"SPDX-2.3"}', "application/spdx+json")],
        subject=subject,
    )


def chart_archive(files: dict[str, str | bytes], *, top: str = "mychart") -> bytes:
    """A .tgz as `helm package` writes it: every file under `<top>/`."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


CHART_YAML = """apiVersion: v2
name: mychart
version: 1.2.3
appVersion: "4.5"
description: A test chart
dependencies:
  - name: redis
    version: 17.0.0
    repository: https://charts.example.test
    condition: redis.enabled
  - name: common
    version: 2.x.x
    repository: oci://registry.example.test/charts
"""


def chart(repo: Repository, *, tag: str = "1.2.3", files: dict | None = None, archive: bytes | None = None) -> Artifact:
    """Push a Helm chart as `helm push` does: the Chart.yaml fields as JSON config, the .tgz as the layer."""
    files = files or {
        "Chart.yaml": CHART_YAML,
        "values.yaml": "replicaCount: 2\nimage:\n  repository: nginx\n",
        "README.md": "# mychart\n\nA chart for tests.\n",
        "templates/deployment.yaml": "kind: Deployment\n",
        "templates/README.md": "not the chart readme\n",
        "charts/redis/values.yaml": "not the chart values\n",
    }
    config = {
        "name": "mychart",
        "version": "1.2.3",
        "description": "A test chart",
        "apiVersion": "v2",
        "appVersion": "4.5",
        "type": "application",
    }
    return image(
        repo,
        tag=tag,
        config=config,
        config_type=types.HELM_CONFIG,
        layers=[(archive if archive is not None else chart_archive(files), types.HELM_CHART_LAYER)],
    )
