"""Build small, real OCI images on disk (OCI image layouts) for end-to-end tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path


def _write_blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _layer(files: dict[str, bytes]) -> tuple[bytes, str]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(content))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    return gzip.compress(raw.getvalue(), mtime=0), diff_id


def image_manifest(layout: Path, *, seed: str, arch: str = "amd64", layer_size: int = 1024) -> dict:
    """Write one image's blobs into the layout and return its manifest descriptor."""
    payload = hashlib.sha256(seed.encode()).digest() * (layer_size // 32 + 1)
    layer, diff_id = _layer({"hello.txt": payload[:layer_size], "seed": seed.encode()})
    layer_desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_write_blob(layout, layer)}
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/hello.txt"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config_desc = {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        **_write_blob(layout, json.dumps(config).encode()),
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer_desc],
    }
    desc = _write_blob(layout, json.dumps(manifest).encode())
    return {"mediaType": manifest["mediaType"], **desc, "platform": {"architecture": arch, "os": "linux"}}


def oci_layout(path: Path | str, *, seed: str = "hello", arches: tuple[str, ...] = (), layer_size: int = 1024) -> Path:
    """An OCI layout with one image (or a multi-arch index when `arches` is given), tagged `latest`."""
    layout = Path(path)
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    if arches:
        children = [image_manifest(layout, seed=f"{seed}-{a}", arch=a, layer_size=layer_size) for a in arches]
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children}
        top = {"mediaType": index["mediaType"], **_write_blob(layout, json.dumps(index).encode())}
    else:
        top = image_manifest(layout, seed=seed, layer_size=layer_size)
        top.pop("platform")
    top["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return layout


def random_blob_file(path: Path | str, size: int) -> Path:
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            piece = os.urandom(min(remaining, 1 << 20))
            handle.write(piece)
            remaining -= len(piece)
    return Path(path)
