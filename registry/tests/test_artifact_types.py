"""registry/artifact_types.py and registry/helm.py: type recognition, extra_attrs, additions; chart archives."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from registry import artifact_types as types
from registry import helm
from registry import media_types as mt

DIGEST = "sha256:" + "a" * 64
CONFIG_DIGEST = "sha256:" + "c" * 64


def manifest(config_type: str = mt.OCI_IMAGE_CONFIG, *, artifact_type: str = "", layers=(), annotations=None) -> dict:  # noqa: ANN001
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": config_type, "digest": CONFIG_DIGEST, "size": 10},
        "layers": [
            {"mediaType": media_type, "digest": "sha256:" + str(i) * 64, "size": 5, **extra}
            for i, (media_type, extra) in enumerate(layers)
        ],
    }
    if artifact_type:
        doc["artifactType"] = artifact_type
    if annotations:
        doc["annotations"] = annotations
    return doc


def kind_of(doc: dict, media_type: str = mt.OCI_MANIFEST) -> types.Kind:
    return types.artifact_kind(manifest_media_type=media_type, manifest=json.dumps(doc).encode())


@pytest.mark.parametrize(
    ("doc", "expected_type", "expected_media_type"),
    [
        (manifest(), types.IMAGE, mt.OCI_IMAGE_CONFIG),
        (manifest(mt.DOCKER_IMAGE_CONFIG), types.IMAGE, mt.DOCKER_IMAGE_CONFIG),
        (manifest(types.HELM_CONFIG), types.CHART, types.HELM_CONFIG),
        (manifest(types.WASM_CONFIG), types.WASM, types.WASM_CONFIG),
        (manifest(annotations={"module.wasm.image/variant": "compat"}), types.WASM, types.WASM_CONFIG),
        (manifest(annotations={"run.oci.handler": "wasm"}), types.WASM, types.WASM_CONFIG),
        (manifest(types.NOTATION_SIGNATURE), types.SIGNATURE, types.NOTATION_SIGNATURE),
        (manifest(mt.OCI_EMPTY, artifact_type=types.NOTATION_SIGNATURE), types.SIGNATURE, mt.OCI_EMPTY),
        (manifest(mt.OCI_EMPTY, artifact_type=types.COSIGN_SIGNATURE), types.SIGNATURE, mt.OCI_EMPTY),
        (manifest(mt.OCI_EMPTY, artifact_type=types.SIGSTORE_BUNDLE), types.SIGNATURE, mt.OCI_EMPTY),
        (manifest(layers=[(types.COSIGN_SIMPLESIGNING, {})]), types.SIGNATURE, mt.OCI_IMAGE_CONFIG),
        (manifest(mt.OCI_EMPTY, artifact_type=types.HARBOR_SBOM), types.SBOM, mt.OCI_EMPTY),
        (manifest(mt.OCI_EMPTY, artifact_type="application/spdx+json"), types.SBOM, mt.OCI_EMPTY),
        (manifest(mt.OCI_EMPTY, artifact_type="application/vnd.cyclonedx+json"), types.SBOM, mt.OCI_EMPTY),
        (
            manifest("application/vnd.acme.rocket.config.v1+json"),
            "ROCKET",
            "application/vnd.acme.rocket.config.v1+json",
        ),
        (manifest("application/octet-stream"), types.UNKNOWN, "application/octet-stream"),
        (manifest(mt.OCI_EMPTY, artifact_type="application/vnd.example.thing"), types.UNKNOWN, mt.OCI_EMPTY),
        ({"not": "a manifest"}, types.UNKNOWN, ""),
    ],
)
def test_manifest_types(doc, expected_type, expected_media_type):
    kind = kind_of(doc)
    assert kind.type == expected_type
    assert kind.media_type == expected_media_type
    assert kind.manifest_media_type == mt.OCI_MANIFEST


def test_artifact_type_is_declared_else_config():
    assert kind_of(manifest()).artifact_type == mt.OCI_IMAGE_CONFIG
    assert kind_of(manifest(mt.OCI_EMPTY, artifact_type=types.HARBOR_SBOM)).artifact_type == types.HARBOR_SBOM


def test_index_types():
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": DIGEST,
                "size": 1,
                "platform": {"architecture": "arm64", "os": "linux"},
            },
            {
                "mediaType": mt.OCI_MANIFEST,
                "digest": CONFIG_DIGEST,
                "size": 1,
                "annotations": {"io.cnab.manifest.type": "config"},
                "urls": ["https://x"],
            },
            "garbage",
        ],
    }
    kind = kind_of(doc, mt.OCI_INDEX)
    assert (kind.type, kind.media_type, kind.artifact_type, kind.is_index) == (types.IMAGE, mt.OCI_INDEX, "", True)
    assert [c.digest for c in kind.children] == [DIGEST, CONFIG_DIGEST]
    assert kind.children[0].platform == {"architecture": "arm64", "os": "linux"}
    assert kind.children[1].urls == ("https://x",)
    assert kind.additions == ()
    assert kind_of(doc, mt.DOCKER_MANIFEST_LIST).type == types.IMAGE
    cnab = kind_of({**doc, "annotations": {"org.opencontainers.artifactType": types.CNAB_MANIFEST}}, mt.OCI_INDEX)
    assert (cnab.type, cnab.media_type, cnab.config_child) == (types.CNAB, types.CNAB_MANIFEST, CONFIG_DIGEST)
    assert types.needs_config(cnab)
    assert kind_of({**doc, "artifactType": "application/vnd.example.set"}, mt.OCI_INDEX).type == types.UNKNOWN


def test_additions_per_type():
    assert kind_of(manifest()).additions == (types.BUILD_HISTORY,)
    assert kind_of(manifest(types.WASM_CONFIG)).additions == (types.BUILD_HISTORY,)
    assert kind_of(manifest(types.HELM_CONFIG)).additions == (types.VALUES_YAML, types.README_MD, types.DEPENDENCIES)
    assert kind_of(manifest(mt.OCI_EMPTY, artifact_type=types.HARBOR_SBOM)).additions == ()
    assert kind_of(manifest(types.NOTATION_SIGNATURE)).additions == ()


@pytest.mark.parametrize(
    ("doc", "accessory_type"),
    [
        (manifest(mt.OCI_EMPTY, artifact_type=types.COSIGN_SIGNATURE), types.ACCESSORY_COSIGN),
        (manifest(mt.OCI_EMPTY, artifact_type=types.SIGSTORE_BUNDLE), types.ACCESSORY_COSIGN),
        (manifest(layers=[(types.COSIGN_SIMPLESIGNING, {})]), types.ACCESSORY_COSIGN),
        (manifest(types.NOTATION_SIGNATURE), types.ACCESSORY_NOTATION),
        (manifest(mt.OCI_EMPTY, artifact_type=types.HARBOR_SBOM), types.ACCESSORY_HARBOR_SBOM),
        (
            manifest(
                layers=[
                    (
                        "application/vnd.oci.image.layer.v1.tar+gzip",
                        {"annotations": {"containerd.io/snapshot/nydus-bootstrap": "true"}},
                    )
                ]
            ),
            types.ACCESSORY_NYDUS,
        ),
        (manifest(), types.ACCESSORY_SUBJECT),
        (manifest(mt.OCI_EMPTY, artifact_type="application/spdx+json"), types.ACCESSORY_SUBJECT),
    ],
)
def test_accessory_types(doc, accessory_type):
    assert kind_of(doc).accessory_type == accessory_type


IMAGE_CONFIG = {
    "architecture": "arm64",
    "os": "linux",
    "created": "2024-01-02T03:04:05Z",
    "config": {"Env": ["A=1"], "Labels": {"org.opencontainers.image.authors": "ops@example.test"}},
    "history": [{"created_by": "COPY . /"}],
}


def test_extra_attrs():
    image = kind_of(manifest())
    assert types.needs_config(image)
    assert types.extra_attrs(image, IMAGE_CONFIG) == {
        "created": "2024-01-02T03:04:05Z",
        "architecture": "arm64",
        "os": "linux",
        "config": IMAGE_CONFIG["config"],
        "author": "ops@example.test",
    }
    assert types.extra_attrs(image, {**IMAGE_CONFIG, "author": "me"})["author"] == "me"
    assert types.extra_attrs(image, None)["config"] == {}
    chart = kind_of(manifest(types.HELM_CONFIG))
    assert types.extra_attrs(chart, {"name": "c", "version": "1.0.0", "keywords": ["k"]}) == {
        "name": "c",
        "version": "1.0.0",
        "keywords": ["k"],
    }
    signature = kind_of(manifest(types.NOTATION_SIGNATURE))
    assert not types.needs_config(signature)
    assert types.extra_attrs(signature, {"x": 1}) == {}
    wasm = kind_of(manifest(types.WASM_CONFIG, layers=[("application/vnd.wasm.content.layer.v1+wasm", {})]))
    assert not types.needs_config(wasm)
    assert types.extra_attrs(wasm, None) == {
        "manifest.config.mediaType": types.WASM_CONFIG,
        "manifest.layers.mediaType": "application/vnd.wasm.content.layer.v1+wasm",
    }
    compat = kind_of(manifest(annotations={"run.oci.handler": "wasm"}))
    assert types.needs_config(compat)
    assert types.extra_attrs(compat, IMAGE_CONFIG)["manifest.config.mediaType"] == mt.OCI_IMAGE_CONFIG
    custom = kind_of(manifest("application/vnd.acme.rocket.config.v1+json"))
    assert types.needs_config(custom)
    assert types.extra_attrs(custom, {"fuel": "lox"}) == {"fuel": "lox"}
    unknown = kind_of(manifest("application/octet-stream"))
    assert not types.needs_config(unknown)
    assert types.extra_attrs(unknown, {"x": 1}) == {}


def test_build_history_and_chart_layer():
    assert types.build_history(IMAGE_CONFIG) == [{"created_by": "COPY . /"}]
    assert types.build_history({}) is None
    assert types.build_history(None) is None
    chart = kind_of(
        manifest(
            types.HELM_CONFIG,
            layers=[("application/vnd.cncf.helm.chart.provenance.v1.prov", {}), (types.HELM_CHART_LAYER, {})],
        )
    )
    assert types.chart_layer(chart) == ("sha256:" + "1" * 64, 5)
    legacy = kind_of(manifest(types.HELM_CONFIG, layers=[("application/tar+gzip", {})]))
    assert types.chart_layer(legacy) == ("sha256:" + "0" * 64, 5)
    assert types.chart_layer(kind_of(manifest(types.HELM_CONFIG))) is None


def test_cosign_tag_scheme():
    assert types.cosign_tag(DIGEST) == "sha256-" + "a" * 64 + ".sig"
    assert types.cosign_subject(types.cosign_tag(DIGEST)) == DIGEST
    for tag in ("latest", "sha256-abc.sig", "sha256-" + "a" * 64 + ".att", "sha512-" + "a" * 64 + ".sig"):
        assert types.cosign_subject(tag) == ""


def archive(files: dict[str, bytes], *, compress: bool = True) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue()) if compress else raw.getvalue()


def chunks(data: bytes, size: int = 7) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_chart_files_streamed_in_small_chunks():
    data = archive(
        {
            "c/Chart.yaml": (
                b"apiVersion: v2\nname: c\nversion: 1.0.0\n"
                b"dependencies:\n- name: d\n  repository: r\n  alias: x\n  enabled: true\n"
            ),
            "c/values.yaml": b"a: 1\n",
            "c/README.md": b"# c\n",
            "c/charts/sub/README.md": b"# sub\n",
            "c/templates/values.yaml": b"no\n",
        }
    )
    found = helm.chart_files(chunks(data), max_compressed=len(data))
    assert found.values == "a: 1\n"
    assert found.readme == "# c\n"
    assert found.dependencies == [{"name": "d", "repository": "r", "enabled": True, "alias": "x"}]


def test_chart_files_refusals(monkeypatch):
    good = archive({"c/Chart.yaml": b"apiVersion: v2\nname: c\n"})
    with pytest.raises(helm.ChartInvalid, match="larger than"):
        helm.chart_files(chunks(good), max_compressed=len(good) // 2)
    with pytest.raises(helm.ChartInvalid, match="not a chart archive"):
        helm.chart_files([b"plain text"], max_compressed=100)
    with pytest.raises(helm.ChartInvalid, match="not a chart archive"):
        helm.chart_files([archive({"c/Chart.yaml": b"x"}, compress=False)], max_compressed=100_000)
    with pytest.raises(helm.ChartInvalid, match="no Chart.yaml"):
        helm.chart_files([archive({"c/values.yaml": b"a: 1"})], max_compressed=10_000)
    with pytest.raises(helm.ChartInvalid, match="unreadable"):
        helm.chart_files([archive({"c/Chart.yaml": b"a: [unclosed"})], max_compressed=10_000)
    monkeypatch.setattr(helm, "MAX_DECOMPRESSED", 100)
    bomb = archive({"c/Chart.yaml": b"apiVersion: v2\n", "c/big.bin": b"\0" * 10_000})
    with pytest.raises(helm.ChartInvalid, match="decompressed"):
        helm.chart_files([bomb], max_compressed=10_000)
