"""registry/manifests.py `manifest_parse`: every media type, and every way a document can be wrong."""

from __future__ import annotations

import json

import pytest

from registry import media_types as mt
from registry.digest import Digest
from registry.errors import ManifestInvalid, PayloadTooLarge, Unsupported
from registry.manifests import Manifest, manifest_parse

MAX = 4 * 1024 * 1024
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
EMPTY_JSON = b"{}"


def desc(media_type: str, data: bytes = b"data", **extra) -> dict:
    return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data), **extra}


def image(media_type: str | None = mt.OCI_MANIFEST, **extra) -> dict:
    doc: dict = {
        "schemaVersion": 2,
        "config": desc(mt.OCI_IMAGE_CONFIG, b"config"),
        "layers": [desc(LAYER, b"layer-1"), desc(LAYER, b"layer-2")],
    }
    if media_type is not None:
        doc["mediaType"] = media_type
    doc.update(extra)
    return doc


def index(media_type: str | None = mt.OCI_INDEX, **extra) -> dict:
    doc: dict = {
        "schemaVersion": 2,
        "manifests": [
            desc(mt.OCI_MANIFEST, b"amd64", platform={"architecture": "amd64", "os": "linux"}),
            desc(mt.OCI_MANIFEST, b"arm64", platform={"architecture": "arm64", "os": "linux", "variant": "v8"}),
        ],
    }
    if media_type is not None:
        doc["mediaType"] = media_type
    doc.update(extra)
    return doc


def parse(doc, content_type: str | None = None, max_size: int = MAX) -> Manifest:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return manifest_parse(body, content_type=content_type, max_size=max_size)


def refuse(doc, content_type: str | None = None, *, match: str | None = None) -> ManifestInvalid:
    with pytest.raises(ManifestInvalid, match=match) as excinfo:
        parse(doc, content_type)
    assert excinfo.value.code == "MANIFEST_INVALID"
    assert excinfo.value.status == 400
    return excinfo.value


# --- every media type --------------------------------------------------------


def test_oci_image_manifest():
    subject = desc(mt.OCI_MANIFEST, b"subject")
    manifest = parse(image(annotations={"org.opencontainers.image.title": "x"}, subject=subject), mt.OCI_MANIFEST)
    assert manifest.media_type == mt.OCI_MANIFEST
    assert not manifest.is_index
    assert manifest.config.media_type == mt.OCI_IMAGE_CONFIG
    assert manifest.config.digest == Digest.of(b"config")
    assert manifest.config.size == len(b"config")
    assert [d.digest for d in manifest.layers] == [Digest.of(b"layer-1"), Digest.of(b"layer-2")]
    assert manifest.manifests == ()
    assert [d.digest for d in manifest.blobs] == [Digest.of(b"config"), Digest.of(b"layer-1"), Digest.of(b"layer-2")]
    assert manifest.subject.digest == Digest.of(b"subject")
    assert manifest.annotations == {"org.opencontainers.image.title": "x"}
    assert manifest.artifact_type == ""
    assert manifest.effective_artifact_type == mt.OCI_IMAGE_CONFIG


def test_oci_index():
    manifest = parse(index(annotations={"a": "b"}), mt.OCI_INDEX)
    assert manifest.media_type == mt.OCI_INDEX
    assert manifest.is_index
    assert manifest.config is None
    assert manifest.layers == ()
    assert manifest.blobs == ()
    assert [d.digest for d in manifest.manifests] == [Digest.of(b"amd64"), Digest.of(b"arm64")]
    assert manifest.manifests[1].platform == {"architecture": "arm64", "os": "linux", "variant": "v8"}
    assert manifest.annotations == {"a": "b"}
    assert manifest.effective_artifact_type == ""


def test_oci_index_with_artifact_type_and_subject():
    manifest = parse(
        index(artifactType="application/vnd.example.bundle", subject=desc(mt.OCI_INDEX, b"s")), mt.OCI_INDEX
    )
    assert manifest.effective_artifact_type == "application/vnd.example.bundle"
    assert manifest.subject.media_type == mt.OCI_INDEX


def test_empty_index_is_valid():
    manifest = parse(index(manifests=[]), mt.OCI_INDEX)
    assert manifest.manifests == ()


def test_docker_schema2_manifest():
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": desc(mt.DOCKER_IMAGE_CONFIG, b"config"),
        "layers": [desc(DOCKER_LAYER, b"layer")],
    }
    manifest = parse(doc, mt.DOCKER_MANIFEST)
    assert manifest.media_type == mt.DOCKER_MANIFEST
    assert not manifest.is_index
    assert [d.media_type for d in manifest.blobs] == [mt.DOCKER_IMAGE_CONFIG, DOCKER_LAYER]
    assert manifest.effective_artifact_type == mt.DOCKER_IMAGE_CONFIG


def test_docker_manifest_list():
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST_LIST,
        "manifests": [desc(mt.DOCKER_MANIFEST, b"amd64", platform={"architecture": "amd64", "os": "linux"})],
    }
    manifest = parse(doc, mt.DOCKER_MANIFEST_LIST)
    assert manifest.media_type == mt.DOCKER_MANIFEST_LIST
    assert manifest.is_index
    assert manifest.manifests[0].media_type == mt.DOCKER_MANIFEST
    assert manifest.manifests[0].platform == {"architecture": "amd64", "os": "linux"}


def test_oci_artifact_with_artifact_type_and_empty_config():
    doc = image(
        artifactType="application/vnd.example.sbom.v1+json",
        config=desc(mt.OCI_EMPTY, EMPTY_JSON),
        layers=[desc("application/spdx+json", b"sbom", annotations={"org.opencontainers.image.title": "sbom.json"})],
        subject=desc(mt.OCI_MANIFEST, b"the image"),
    )
    manifest = parse(doc, mt.OCI_MANIFEST)
    assert manifest.artifact_type == "application/vnd.example.sbom.v1+json"
    assert manifest.effective_artifact_type == "application/vnd.example.sbom.v1+json"
    assert manifest.config.digest == Digest.parse(
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )
    assert manifest.layers[0].annotations == {"org.opencontainers.image.title": "sbom.json"}
    assert manifest.subject.digest == Digest.of(b"the image")


def test_oci_artifact_without_layers():
    manifest = parse(image(artifactType="application/vnd.example.sig", layers=[]), mt.OCI_MANIFEST)
    assert manifest.layers == ()
    assert [d.digest for d in manifest.blobs] == [Digest.of(b"config")]


def test_helm_chart_custom_config_type():
    doc = image(config=desc(HELM_CONFIG, b'{"name":"chart"}'), layers=[desc(HELM_CHART, b"chart.tgz")])
    manifest = parse(doc, mt.OCI_MANIFEST)
    assert manifest.artifact_type == ""
    assert manifest.effective_artifact_type == HELM_CONFIG
    assert [d.media_type for d in manifest.blobs] == [HELM_CONFIG, HELM_CHART]


def test_unknown_config_and_layer_media_types_are_allowed():
    doc = image(config=desc("application/vnd.acme.rocket.config", b"c"), layers=[desc("text/plain", b"t")])
    assert parse(doc, mt.OCI_MANIFEST).effective_artifact_type == "application/vnd.acme.rocket.config"


# --- mediaType omitted: the Content-Type decides --------------------------------


@pytest.mark.parametrize(
    ("doc", "content_type", "expected"),
    [
        (image(None), mt.OCI_MANIFEST, mt.OCI_MANIFEST),
        (image(None), mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST),
        (index(None), mt.OCI_INDEX, mt.OCI_INDEX),
        (index(None), mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST_LIST),
        (image(None), f"{mt.OCI_MANIFEST}; charset=utf-8", mt.OCI_MANIFEST),
        (index(None), mt.OCI_INDEX.upper(), mt.OCI_INDEX),
        (image(None), f"  {mt.OCI_MANIFEST} ", mt.OCI_MANIFEST),
    ],
)
def test_content_type_decides_when_media_type_is_omitted(doc, content_type, expected):
    manifest = parse(doc, content_type)
    assert manifest.media_type == expected
    assert manifest.is_index is (expected in mt.INDEXES)


@pytest.mark.parametrize("content_type", [None, "", "application/json", "application/octet-stream", "text/plain"])
def test_omitted_media_type_needs_a_manifest_content_type(content_type):
    refuse(image(None), content_type, match="no mediaType")


@pytest.mark.parametrize(
    ("doc", "content_type"),
    [
        (image(None), mt.OCI_INDEX),
        (image(None), mt.DOCKER_MANIFEST_LIST),
        ({"schemaVersion": 2, "config": desc(mt.OCI_IMAGE_CONFIG)}, mt.OCI_INDEX),
        (index(None), mt.OCI_MANIFEST),
        (index(None), mt.DOCKER_MANIFEST),
    ],
)
def test_omitted_media_type_and_shape_not_matching_content_type(doc, content_type):
    refuse(doc, content_type, match="shape")


# --- mediaType and Content-Type disagree ----------------------------------------


@pytest.mark.parametrize(
    ("doc", "content_type"),
    [
        (image(mt.OCI_MANIFEST), mt.DOCKER_MANIFEST),
        (image(mt.DOCKER_MANIFEST), mt.OCI_MANIFEST),
        (image(mt.OCI_MANIFEST), mt.OCI_INDEX),
        (index(mt.OCI_INDEX), mt.OCI_MANIFEST),
        (index(mt.OCI_INDEX), mt.DOCKER_MANIFEST_LIST),
        (index(mt.DOCKER_MANIFEST_LIST), f"{mt.OCI_INDEX}; charset=utf-8"),
    ],
)
def test_media_type_must_match_content_type(doc, content_type):
    refuse(doc, content_type, match="does not match Content-Type")


@pytest.mark.parametrize("content_type", [None, "application/json", "application/octet-stream"])
def test_declared_media_type_wins_over_a_non_manifest_content_type(content_type):
    assert parse(image(mt.OCI_MANIFEST), content_type).media_type == mt.OCI_MANIFEST
    assert parse(index(mt.DOCKER_MANIFEST_LIST), content_type).media_type == mt.DOCKER_MANIFEST_LIST


def test_content_type_parameters_do_not_cause_a_mismatch():
    assert parse(image(mt.OCI_MANIFEST), f"{mt.OCI_MANIFEST}; charset=utf-8").media_type == mt.OCI_MANIFEST


@pytest.mark.parametrize(
    "media_type", ["application/json", "application/vnd.oci.artifact.manifest.v1+json", mt.OCI_IMAGE_CONFIG, ""]
)
def test_unknown_declared_media_type(media_type):
    doc = image(media_type)
    if media_type == "":
        # An empty mediaType counts as omitted: the Content-Type must then decide.
        refuse(doc, "application/json", match="no mediaType")
    else:
        refuse(doc, mt.OCI_MANIFEST, match="unsupported manifest mediaType")


@pytest.mark.parametrize("media_type", [5, ["x"], {"a": 1}, True])
def test_media_type_must_be_a_string(media_type):
    refuse(image(media_type), mt.OCI_MANIFEST, match="mediaType must be a string")


# --- ambiguous documents ---------------------------------------------------------


@pytest.mark.parametrize("content_type", [mt.OCI_MANIFEST, mt.OCI_INDEX, None, "application/json"])
def test_both_layers_and_manifests_without_media_type_is_ambiguous(content_type):
    doc = image(None, manifests=index()["manifests"])
    refuse(doc, content_type, match="ambiguous")


def test_index_media_type_with_layers_is_refused():
    refuse(index(layers=[desc(LAYER)]), mt.OCI_INDEX, match="must not have config or layers")
    refuse(index(config=desc(mt.OCI_IMAGE_CONFIG)), mt.OCI_INDEX, match="must not have config or layers")


def test_manifest_media_type_with_manifests_is_refused():
    refuse(image(manifests=index()["manifests"]), mt.OCI_MANIFEST, match="must not have manifests")


# --- structure ----------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"not json", b"{", b'{"a":1}x', b"\xff\xfe\x00garbage", b"[1,2]", b'"s"', b"2"])
def test_body_must_be_a_json_object(body):
    refuse(body, mt.OCI_MANIFEST)


def test_config_is_required_for_an_image_manifest():
    doc = image()
    del doc["config"]
    refuse(doc, mt.OCI_MANIFEST, match="config is required")


@pytest.mark.parametrize("layers", [{}, "x", 1, None])
def test_layers_must_be_an_array(layers):
    refuse(image(layers=layers), mt.OCI_MANIFEST, match="layers must be an array")


@pytest.mark.parametrize("manifests", [{}, "x", None])
def test_manifests_must_be_an_array(manifests):
    refuse(index(manifests=manifests), mt.OCI_INDEX, match="manifests must be an array")


def test_index_without_manifests_is_refused():
    doc = index()
    del doc["manifests"]
    refuse(doc, mt.OCI_INDEX, match="manifests must be an array")


@pytest.mark.parametrize(
    "extra",
    [
        {"artifactType": 1},
        {"artifactType": ["a"]},
        {"annotations": []},
        {"annotations": "a=b"},
        {"annotations": {"a": 1}},  # image-spec: annotations are string-to-string maps
        {"annotations": {"a": None}},
        {"annotations": {"a": {"nested": "x"}}},
    ],
)
def test_top_level_artifact_type_and_annotations_are_validated(extra):
    refuse(image(**extra), mt.OCI_MANIFEST)
    refuse(index(**extra), mt.OCI_INDEX)


def test_null_annotations_count_as_none():
    assert parse(image(annotations=None), mt.OCI_MANIFEST).annotations == {}


# --- schemaVersion --------------------------------------------------------------------


@pytest.mark.parametrize("version", [None, 1, 3, "2", 2.0, 2.5, True, [2]])
def test_schema_version_must_be_the_integer_2(version):
    doc = image()
    if version is None:
        del doc["schemaVersion"]
    else:
        doc["schemaVersion"] = version
    refuse(doc, mt.OCI_MANIFEST, match="schemaVersion")


def test_schema_version_is_checked_for_indexes_too():
    refuse(index(schemaVersion=1), mt.OCI_INDEX, match="schemaVersion")


# --- size limit and schema 1 ----------------------------------------------------------


def test_oversize_manifest_is_payload_too_large():
    body = json.dumps(image()).encode()
    with pytest.raises(PayloadTooLarge) as excinfo:
        manifest_parse(body, content_type=mt.OCI_MANIFEST, max_size=len(body) - 1)
    assert excinfo.value.status == 413
    assert excinfo.value.code == "SIZE_INVALID"


def test_manifest_of_exactly_the_limit_is_accepted():
    body = json.dumps(image()).encode()
    assert manifest_parse(body, content_type=mt.OCI_MANIFEST, max_size=len(body)).media_type == mt.OCI_MANIFEST


def test_oversize_is_checked_before_parsing():
    with pytest.raises(PayloadTooLarge):
        manifest_parse(b"x" * 101, content_type=mt.OCI_MANIFEST, max_size=100)


SCHEMA1 = {
    "schemaVersion": 1,
    "name": "library/x",
    "tag": "latest",
    "architecture": "amd64",
    "fsLayers": [{"blobSum": str(Digest.of(b"l"))}],
    "history": [{"v1Compatibility": "{}"}],
}


@pytest.mark.parametrize(
    ("doc", "content_type"),
    [
        (SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED),
        (SCHEMA1, mt.DOCKER_SCHEMA1),
        ({**SCHEMA1, "mediaType": mt.DOCKER_SCHEMA1}, None),
        ({**SCHEMA1, "mediaType": mt.DOCKER_SCHEMA1_SIGNED}, "application/json"),
        ({**SCHEMA1, "signatures": [{"header": {}, "signature": "x", "protected": "y"}]}, mt.DOCKER_SCHEMA1_SIGNED),
    ],
)
def test_schema1_is_unsupported(doc, content_type):
    with pytest.raises(Unsupported) as excinfo:
        parse(doc, content_type)
    assert excinfo.value.code == "UNSUPPORTED"


# --- malformed descriptors ---------------------------------------------------------------

GOOD = desc(LAYER, b"layer")


def _without(key: str) -> dict:
    return {k: v for k, v in GOOD.items() if k != key}


MALFORMED = [
    pytest.param("not an object", id="string"),
    pytest.param([GOOD], id="array"),
    pytest.param(None, id="null"),
    pytest.param(_without("mediaType"), id="no-mediaType"),
    pytest.param({**GOOD, "mediaType": ""}, id="empty-mediaType"),
    pytest.param({**GOOD, "mediaType": 3}, id="int-mediaType"),
    pytest.param(_without("digest"), id="no-digest"),
    pytest.param({**GOOD, "digest": None}, id="null-digest"),
    pytest.param({**GOOD, "digest": 123}, id="int-digest"),
    pytest.param(_without("size"), id="no-size"),
    pytest.param({**GOOD, "size": -1}, id="negative-size"),
    pytest.param({**GOOD, "size": "5"}, id="string-size"),
    pytest.param({**GOOD, "size": 5.0}, id="float-size"),
    pytest.param({**GOOD, "size": True}, id="bool-size"),
    pytest.param({**GOOD, "size": None}, id="null-size"),
    pytest.param({**GOOD, "annotations": ["a"]}, id="array-annotations"),
    pytest.param({**GOOD, "annotations": {"a": 1}}, id="int-annotation-value"),
    pytest.param({**GOOD, "artifactType": 7}, id="int-artifactType"),
    pytest.param({**GOOD, "urls": "https://example.test/layer"}, id="string-urls"),
    pytest.param({**GOOD, "urls": [1]}, id="int-url"),
]


@pytest.mark.parametrize("bad", MALFORMED)
def test_malformed_config_descriptor(bad):
    refuse(image(config=bad), mt.OCI_MANIFEST, match=r"^config")


@pytest.mark.parametrize("bad", MALFORMED)
def test_malformed_layer_descriptor_names_its_position(bad):
    refuse(image(layers=[GOOD, bad]), mt.OCI_MANIFEST, match=r"^layers\[1\]")


@pytest.mark.parametrize("bad", MALFORMED)
def test_malformed_index_child_names_its_position(bad):
    refuse(index(manifests=[bad]), mt.OCI_INDEX, match=r"^manifests\[0\]")


@pytest.mark.parametrize("bad", [p for p in MALFORMED if p.values[0] is not None])  # null: no subject
def test_malformed_subject(bad):
    refuse(image(subject=bad), mt.OCI_MANIFEST, match=r"^subject")


def test_null_subject_means_none():
    assert parse(image(subject=None), mt.OCI_MANIFEST).subject is None


def test_zero_size_descriptor_is_valid():
    manifest = parse(image(layers=[desc(LAYER, b"")]), mt.OCI_MANIFEST)
    assert manifest.layers[0].size == 0


def test_non_object_platform_is_ignored():
    manifest = parse(index(manifests=[desc(mt.OCI_MANIFEST, b"m", platform="linux/amd64")]), mt.OCI_INDEX)
    assert manifest.manifests[0].platform is None


# --- bad digests inside descriptors ------------------------------------------------------------

BAD_DIGESTS = [
    "sha256:1234",
    "sha256:" + "A" * 64,
    "sha256:" + "z" * 64,
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "sha512:" + "a" * 64,
    "sha256:" + "a" * 64 + "\n",
    "a" * 64,
    "",
]


@pytest.mark.parametrize("digest", BAD_DIGESTS)
@pytest.mark.parametrize(
    ("build", "content_type", "where"),
    [
        (lambda d: image(config={**desc(mt.OCI_IMAGE_CONFIG), "digest": d}), mt.OCI_MANIFEST, "config.digest"),
        (lambda d: image(layers=[GOOD, {**GOOD, "digest": d}]), mt.OCI_MANIFEST, "layers[1].digest"),
        (lambda d: index(manifests=[{**desc(mt.OCI_MANIFEST), "digest": d}]), mt.OCI_INDEX, "manifests[0].digest"),
        (lambda d: image(subject={**desc(mt.OCI_MANIFEST), "digest": d}), mt.OCI_MANIFEST, "subject.digest"),
    ],
)
def test_bad_digest_inside_a_descriptor(digest, build, content_type, where):
    error = refuse(build(digest), content_type)
    assert error.message.startswith(where)


def test_sha512_descriptor_digest_is_accepted():
    layer = {"mediaType": LAYER, "digest": str(Digest.of(b"x", "sha512")), "size": 1}
    assert parse(image(layers=[layer]), mt.OCI_MANIFEST).layers[0].digest.algorithm == "sha512"


# --- foreign and non-distributable layers ----------------------------------------------------


def test_foreign_layer_with_urls_is_not_required_to_be_stored():
    foreign = desc(mt.DOCKER_FOREIGN_LAYER, b"windows base", urls=["https://mcr.example.test/layer"])
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": desc(mt.DOCKER_IMAGE_CONFIG, b"config"),
        "layers": [foreign, desc(DOCKER_LAYER, b"app")],
    }
    manifest = parse(doc, mt.DOCKER_MANIFEST)
    assert [d.external for d in manifest.layers] == [True, False]
    assert [d.digest for d in manifest.blobs] == [Digest.of(b"config"), Digest.of(b"app")]


def test_oci_non_distributable_layer_with_urls_is_not_required_to_be_stored():
    layer = desc(mt.OCI_NONDISTRIBUTABLE_PREFIX + "v1.tar+gzip", b"nd", urls=["https://example.test/nd"])
    manifest = parse(image(layers=[layer]), mt.OCI_MANIFEST)
    assert manifest.layers[0].external
    assert [d.digest for d in manifest.blobs] == [Digest.of(b"config")]


@pytest.mark.parametrize(
    "layer",
    [
        pytest.param(desc(mt.DOCKER_FOREIGN_LAYER, b"f"), id="foreign-without-urls"),
        pytest.param(desc(mt.DOCKER_FOREIGN_LAYER, b"f", urls=[]), id="foreign-empty-urls"),
        pytest.param(desc(LAYER, b"f", urls=["https://example.test/l"]), id="regular-layer-with-urls"),
    ],
)
def test_layers_that_must_be_stored(layer):
    manifest = parse(image(layers=[layer]), mt.OCI_MANIFEST)
    assert not manifest.layers[0].external
    assert Digest.of(b"f") in [d.digest for d in manifest.blobs]


# --- strings the metadata store cannot hold ------------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        image(annotations={"a": "b\x00c"}),
        image(annotations={"k\x00": "v"}),
        image(artifactType="application/x\x00y"),
        image(layers=[desc(LAYER, b"l", annotations={"t": "\x00"})]),
        index(manifests=[desc(mt.OCI_MANIFEST, b"m", platform={"os": "linux\x00"})]),
    ],
    ids=["annotation-value", "annotation-key", "artifact-type", "descriptor-annotation", "platform"],
)
def test_nul_in_a_stored_string_is_refused(doc):
    """PostgreSQL text and jsonb cannot hold NUL: refused as MANIFEST_INVALID rather than a 500 at insert."""
    refuse(doc, match="NUL")


def test_an_escaped_backslash_before_u0000_is_no_nul():
    """`\\\\u0000` in JSON is a backslash and the text u0000: valid, and kept as written."""
    manifest = parse(image(annotations={"path": "C:\\u0000"}))
    assert manifest.annotations == {"path": "C:\\u0000"}
