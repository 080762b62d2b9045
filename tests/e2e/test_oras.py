"""The `oras` Python SDK against a real gunicorn: artifacts, Helm-chart-like pushes, referrers, auth failures."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import types
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import PASSWORD

oras_client = pytest.importorskip("oras.client", reason="the oras SDK is not installed (pip install oras)")
import oras.auth.utils  # noqa: E402 - after the importorskip above
import oras.decorator  # noqa: E402
import oras.oci  # noqa: E402

pytestmark = pytest.mark.e2e

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
THING_TYPE = "application/vnd.example.thing.v1"
SIGNATURE_TYPE = "application/vnd.example.signature.v1"
SBOM_TYPE = "application/vnd.example.sbom.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module", autouse=True)
def isolated_home(tmp_path_factory):
    """The SDK reads and `login` writes ~/.docker/config.json: keep both inside a temp dir."""
    home = tmp_path_factory.mktemp("oras-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.delenv("DOCKER_CONFIG", raising=False)
        patch.delenv("DOCKER_HOST", raising=False)
        yield home


class Oras:
    """Builds SDK clients for one registry."""

    def __init__(self, registry_server, home: Path):
        self.server, self.home = registry_server, home

    def target(self, name: str, reference: str = "") -> str:
        separator = "@" if reference.startswith("sha256:") else ":"
        return f"{self.server.host}/{name}" + (f"{separator}{reference}" if reference else "")

    def client(self, username: str | None, *, password: str = PASSWORD, push_to: str | None = None):
        """A logged-in (or anonymous) SDK client; `push_to` authorizes pull,push on that repository up front.

        oras-py 0.2.x keeps the first bearer token it gets (pull only, from the first HEAD's challenge) and
        asks for a new one only on 403, while registries answer a token lacking a scope with 401
        insufficient_scope (distribution, Harbor, this one). So for pushes we ask for the push scope first,
        through the SDK's own token request, the way the oras CLI asks for pull,push before uploading.
        """
        client = oras_client.OrasClient(hostname=self.server.host, insecure=True)
        if username is None:
            return client
        result = client.login(
            username, password, hostname=self.server.host, config_path=str(self.home / f"{uuid.uuid4().hex}.json")
        )
        assert result.get("Status") == "Login Succeeded"  # offline, the SDK only stores the credentials
        if push_to:
            probe = httpx.get(f"{self.server.url}/v2/")
            challenge = oras.auth.utils.parse_auth_header(probe.headers["WWW-Authenticate"])
            challenge.scope = f"repository:{push_to}:pull,push"
            token = client.auth.request_token(challenge)
            assert token, "the token service refused the credentials"
            client.auth.set_token_auth(token)
        return client


@pytest.fixture(scope="module")
def sdk(registry_server, isolated_home) -> Oras:
    return Oras(registry_server, isolated_home)


@pytest.fixture(scope="module")
def thing(sdk, tmp_path_factory):
    """An artifact of a custom type with two files of custom media types, pushed once by `dev`."""
    name = "team/oras-thing"
    workdir = tmp_path_factory.mktemp("thing")
    files = {
        "readme.txt": ("application/vnd.example.thing.readme.v1+text", f"hello {uuid.uuid4()}\n".encode()),
        "data.bin": ("application/vnd.example.thing.data.v1", bytes(range(256)) * 64),
    }
    for filename, (_media_type, content) in files.items():
        (workdir / filename).write_bytes(content)
    response = sdk.client("dev", push_to=name).push(
        target=sdk.target(name, "v1"),
        files=[f"{workdir / filename}:{media_type}" for filename, (media_type, _c) in files.items()],
        manifest_config=f"{workdir / 'no-config'}:{THING_TYPE}",  # no such file: the SDK pushes `{}`
        manifest_annotations={"org.opencontainers.image.description": "a thing"},
        disable_path_validation=True,
        quiet=True,
    )
    assert response.status_code == 201, response.text
    assert "OCI-Subject" not in response.headers
    return types.SimpleNamespace(name=name, digest=response.headers["Docker-Content-Digest"], files=files)


def test_push_custom_artifact_and_pull_files_back(sdk, thing, tmp_path, client_for):
    reader = sdk.client("guest")  # pull only: the SDK's own challenge -> token flow is enough
    manifest = reader.get_manifest(sdk.target(thing.name, "v1"))
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["mediaType"] == THING_TYPE
    assert manifest["config"]["digest"] == sha256(b"{}")
    assert manifest["annotations"] == {"org.opencontainers.image.description": "a thing"}
    layers = {layer["annotations"]["org.opencontainers.image.title"]: layer for layer in manifest["layers"]}
    assert set(layers) == set(thing.files)
    for filename, (media_type, content) in thing.files.items():
        assert layers[filename]["mediaType"] == media_type
        assert layers[filename]["digest"] == sha256(content)
        assert layers[filename]["size"] == len(content)

    pulled = reader.pull(target=sdk.target(thing.name, "v1"), outdir=str(tmp_path / "out"))
    assert sorted(Path(p).name for p in pulled) == sorted(thing.files)
    for path in pulled:
        assert Path(path).read_bytes() == thing.files[Path(path).name][1]
    assert "v1" in reader.get_tags(sdk.target(thing.name))

    # the digest the registry reports is the sha256 of the stored bytes, also reachable by digest
    dev = client_for("dev")
    got = dev.request("GET", f"/v2/{thing.name}/manifests/{thing.digest}", scopes=(f"repository:{thing.name}:pull",))
    assert got.status_code == 200
    assert sha256(got.content) == thing.digest == got.headers["Docker-Content-Digest"]
    assert json.loads(got.content) == manifest


def _chart_archive(name: str, version: str) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path, text in {
            f"{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n",
            f"{name}/values.yaml": "replicas: 1\n",
            f"{name}/templates/cm.yaml": "kind: ConfigMap\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def test_helm_chart_like_artifact(sdk, tmp_path, client_for):
    name, version = "team/oras-chart", "0.1.0"
    config = json.dumps({"name": "oras-chart", "version": version, "apiVersion": "v2"}).encode()
    chart = _chart_archive("oras-chart", version)
    (tmp_path / "config.json").write_bytes(config)
    (tmp_path / f"oras-chart-{version}.tgz").write_bytes(chart)
    client = sdk.client("maint", push_to=name)
    response = client.push(
        target=sdk.target(name, version),
        files=[f"{tmp_path / f'oras-chart-{version}.tgz'}:{HELM_CHART}"],
        manifest_config=f"{tmp_path / 'config.json'}:{HELM_CONFIG}",
        disable_path_validation=True,
        quiet=True,
    )
    assert response.status_code == 201, response.text
    digest = response.headers["Docker-Content-Digest"]

    manifest = sdk.client("guest").get_manifest(sdk.target(name, version))
    assert manifest["config"] == {"mediaType": HELM_CONFIG, "size": len(config), "digest": sha256(config)}
    assert len(manifest["layers"]) == 1
    assert manifest["layers"][0]["mediaType"] == HELM_CHART
    assert manifest["layers"][0]["digest"] == sha256(chart)
    config_blob = client.get_blob(sdk.target(name, version), manifest["config"]["digest"])
    assert config_blob.status_code == 200
    assert json.loads(config_blob.content)["name"] == "oras-chart"
    chart_blob = client.get_blob(sdk.target(name, version), sha256(chart))
    assert chart_blob.content == chart
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(chart_blob.content))) as tar:
        assert "oras-chart/Chart.yaml" in tar.getnames()

    head = client_for("dev").request("HEAD", f"/v2/{name}/manifests/{version}", scopes=(f"repository:{name}:pull",))
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.headers["Content-Type"] == OCI_MANIFEST


def _push_signature(sdk, thing, workdir: Path) -> tuple[str, dict]:
    """A referrer built by hand with the SDK's lower-level Registry: explicit artifactType, empty config."""
    registry = sdk.client("dev", push_to=thing.name)
    container = registry.get_container(sdk.target(thing.name))
    signature = workdir / "signature.sig"
    signature.write_bytes(f"signed {thing.digest} {uuid.uuid4()}".encode())
    layer = oras.oci.NewLayer(str(signature), media_type="application/vnd.example.signature.payload.v1")
    assert registry.upload_blob(str(signature), container, layer).status_code in (200, 201)
    empty = workdir / "empty.json"
    empty.write_bytes(b"{}")
    config = {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2}
    assert registry.upload_blob(str(empty), container, config).status_code in (200, 201)
    subject_size = len(_manifest_bytes(sdk, thing.name, thing.digest))
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SIGNATURE_TYPE,
        "config": config,
        "layers": [layer],
        "subject": {"mediaType": OCI_MANIFEST, "digest": thing.digest, "size": subject_size},
        "annotations": {"org.example.signed-by": "dev"},
    }
    # requests serialises json= with json.dumps defaults: push by the digest of exactly those bytes
    digest = sha256(json.dumps(manifest).encode())
    response = registry.upload_manifest(manifest, registry.get_container(sdk.target(thing.name, digest)))
    assert response.status_code == 201, response.text
    assert response.headers["Docker-Content-Digest"] == digest
    assert response.headers["OCI-Subject"] == thing.digest
    return digest, manifest


def _manifest_bytes(sdk, name: str, reference: str) -> bytes:
    response = sdk.client("dev").do_request(
        f"{sdk.server.url}/v2/{name}/manifests/{reference}",
        "GET",
        headers={"Accept": OCI_MANIFEST},
    )
    assert response.status_code == 200
    return response.content


def test_referrers_attach_and_list(sdk, thing, tmp_path, client_for):
    signature_digest, signature = _push_signature(sdk, thing, tmp_path)

    # an SBOM attached through the high-level push: its artifact type is its config media type
    sbom = tmp_path / "sbom.spdx.json"
    sbom.write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": thing.name}))
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=thing.digest, size=signature["subject"]["size"])
    response = sdk.client("dev", push_to=thing.name).push(
        target=sdk.target(thing.name, "sbom"),
        files=[f"{sbom}:application/spdx+json"],
        manifest_config=f"{tmp_path / 'none'}:{SBOM_TYPE}",
        manifest_annotations={"org.example.kind": "sbom"},
        subject=subject,
        disable_path_validation=True,
        quiet=True,
    )
    assert response.status_code == 201, response.text
    assert response.headers["OCI-Subject"] == thing.digest
    sbom_digest = response.headers["Docker-Content-Digest"]

    # oras-py 0.2.x has no referrers call: read the listing with httpx and a token from the token service
    guest = client_for("guest")
    auth = guest.bearer(f"repository:{thing.name}:pull")
    listing = guest.request("GET", f"/v2/{thing.name}/referrers/{thing.digest}", headers=auth)
    assert listing.status_code == 200
    assert listing.headers["Content-Type"] == OCI_INDEX
    assert "OCI-Filters-Applied" not in listing.headers
    body = listing.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == OCI_INDEX
    found = {entry["digest"]: entry for entry in body["manifests"]}
    assert set(found) == {signature_digest, sbom_digest}
    assert found[signature_digest] == {
        "mediaType": OCI_MANIFEST,
        "digest": signature_digest,
        "size": len(json.dumps(signature).encode()),
        "artifactType": SIGNATURE_TYPE,
        "annotations": {"org.example.signed-by": "dev"},
    }
    assert found[sbom_digest]["artifactType"] == SBOM_TYPE
    assert found[sbom_digest]["annotations"] == {"org.example.kind": "sbom"}
    assert found[sbom_digest]["size"] == len(_manifest_bytes(sdk, thing.name, sbom_digest))

    for artifact_type, expected in ((SIGNATURE_TYPE, [signature_digest]), (SBOM_TYPE, [sbom_digest]), ("x/none", [])):
        filtered = guest.request(
            "GET",
            f"/v2/{thing.name}/referrers/{thing.digest}",
            params={"artifactType": artifact_type},
            headers=auth,
        )
        assert filtered.status_code == 200
        assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
        assert [entry["digest"] for entry in filtered.json()["manifests"]] == expected

    # the referrers themselves are pullable through the SDK, by digest
    fetched = sdk.client("guest").get_manifest(sdk.target(thing.name, signature_digest))
    assert fetched["subject"]["digest"] == thing.digest
    assert fetched["artifactType"] == SIGNATURE_TYPE
    # no pull right, no listing
    outsider = client_for("outsider")
    denied = outsider.request(
        "GET",
        f"/v2/{thing.name}/referrers/{thing.digest}",
        headers=outsider.bearer(f"repository:{thing.name}:pull"),
    )
    assert denied.status_code == 401


@pytest.fixture
def no_retry_sleep(monkeypatch):
    """oras-py retries failed requests with 3**n second sleeps; a refused login need not wait for them."""
    calls = []
    monkeypatch.setattr(oras.decorator, "time", types.SimpleNamespace(sleep=calls.append))
    return calls


def test_wrong_password_is_refused(sdk, thing, registry_server, no_retry_sleep, tmp_path):
    public = "library/oras-public"
    content = b"public artifact\n"
    (tmp_path / "public.txt").write_bytes(content)
    admin = sdk.client("admin", password=registry_server.admin_password, push_to=public)
    pushed = admin.push(
        target=sdk.target(public, "v1"),
        files=[str(tmp_path / "public.txt")],
        disable_path_validation=True,
        quiet=True,
    )
    assert pushed.status_code == 201

    # the token service refuses wrong credentials whatever the scope: never an anonymous downgrade
    probe = httpx.get(f"{registry_server.url}/v2/")
    challenge = oras.auth.utils.parse_auth_header(probe.headers["WWW-Authenticate"])
    for name in (thing.name, public):
        challenge.scope = f"repository:{name}:pull"
        assert sdk.client("dev", password="not-the-password").auth.request_token(challenge) is None
        assert sdk.client("dev").auth.request_token(challenge)

    # so every SDK operation that is challenged fails (each is retried 6 times, each try costs a hash)
    wrong = sdk.client("dev", password="not-the-password")
    with pytest.raises(ValueError, match="authentication"):
        wrong.get_manifest(sdk.target(thing.name, "v1"))
    with pytest.raises(ValueError, match="authentication"):
        sdk.client("nobody").pull(target=sdk.target(thing.name, "v1"), outdir=str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="authentication"):
        sdk.client("dev", password="not-the-password").push(
            target=sdk.target("team/oras-wrong", "v1"),
            files=[str(tmp_path / "public.txt")],
            disable_path_validation=True,
            quiet=True,
        )
    assert no_retry_sleep  # the SDK did retry before giving up
    assert "v1" in sdk.client("maint").get_tags(sdk.target(thing.name))

    # anonymous (no credentials at all) may pull the public artifact, not the private one
    pulled = sdk.client(None).pull(target=sdk.target(public, "v1"), outdir=str(tmp_path / "anon"))
    assert [Path(p).read_bytes() for p in pulled] == [content]
    with pytest.raises(ValueError, match="Issue with"):
        sdk.client(None).get_manifest(sdk.target(thing.name, "v1"))


def test_push_refused_for_guest_and_outsider(sdk, tmp_path, client_for):
    (tmp_path / "f.txt").write_bytes(b"nope")
    for username, name in (("guest", "team/oras-guest"), ("outsider", "team/oras-outsider")):
        client = sdk.client(username, push_to=name)
        with pytest.raises(ValueError, match="Issue"):
            client.push(
                target=sdk.target(name, "v1"),
                files=[str(tmp_path / "f.txt")],
                disable_path_validation=True,
                quiet=True,
            )
        admin_view = client_for("maint").request("GET", f"/v2/{name}/tags/list", scopes=(f"repository:{name}:pull",))
        assert admin_view.status_code == 404
