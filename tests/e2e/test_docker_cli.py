"""The real docker CLI and a real Docker engine against a real registry: login, push, pull, permissions, mounts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from common.testing.server import RegistryServer
from common.testing.v2client import V2Client
from tests.e2e.conftest import PASSWORD, SEED
from tests.e2e.engines import MANIFEST_ACCEPT, DockerCLI, DockerEngine, EngineUnavailable, registry_digest, rootfs_tar

pytestmark = [pytest.mark.e2e, pytest.mark.docker]

PUSHED_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64}) size:")


@pytest.fixture(scope="session")
def docker_engine():
    try:
        engine = DockerEngine.start()
    except EngineUnavailable as exc:
        pytest.skip(f"no Docker engine: {exc}")
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture
def docker_as(docker_engine, tmp_path):
    """docker_as(server, username) -> a docker CLI with its own config dir, logged in unless username is None."""

    def make(server: RegistryServer, username: str | None, password: str | None = None) -> DockerCLI:
        cli = docker_engine.cli(tmp_path / f"config-{username or 'anonymous'}-{server.port}")
        if username is not None:
            secret = password or (server.admin_password if username == "admin" else PASSWORD)
            result = cli.login(server.host, username, secret)
            assert result.returncode == 0, result.stderr
        return cli

    return make


def import_image(cli: DockerCLI, tmp_path: Path, reference: str, *, seed: str) -> str:
    """`docker import` a fresh root filesystem as `reference`; returns the image id."""
    tarball = rootfs_tar(tmp_path / f"{seed}.tar", seed=seed)
    return cli.ok("import", str(tarball), reference).strip()


def push(cli: DockerCLI, reference: str) -> str:
    """`docker push`; returns the manifest digest docker reports."""
    output = cli.ok("push", reference)
    found = PUSHED_DIGEST.findall(output)
    assert found, output
    return found[-1]


def manifest_of(server: RegistryServer, repository: str, reference: str) -> dict:
    admin = V2Client(server.url, "admin", server.admin_password)
    response = admin.request(
        "GET",
        f"/v2/{repository}/manifests/{reference}",
        scopes=(f"repository:{repository}:pull",),
        headers={"Accept": MANIFEST_ACCEPT},
    )
    assert response.status_code == 200, response.text
    return json.loads(response.content)


def digest_on_registry(server: RegistryServer, repository: str, reference: str) -> str:
    return registry_digest(server.url, "admin", server.admin_password, repository, reference)


def test_login_good_password_succeeds_and_bad_password_fails(docker_engine, registry_server, tmp_path):
    good = docker_engine.cli(tmp_path / "good")
    result = good.login(registry_server.host, "dev", PASSWORD)
    assert result.returncode == 0, result.stderr
    assert "Login Succeeded" in result.stdout
    assert registry_server.host in json.loads((tmp_path / "good" / "config.json").read_text())["auths"]

    bad = docker_engine.cli(tmp_path / "bad")
    result = bad.login(registry_server.host, "dev", PASSWORD + "-wrong")
    assert result.returncode != 0
    assert "unauthorized" in result.stderr.lower(), result.stderr
    config = tmp_path / "bad" / "config.json"
    assert not config.exists() or registry_server.host not in json.loads(config.read_text()).get("auths", {})

    unknown = docker_engine.cli(tmp_path / "unknown").login(registry_server.host, "nobody", PASSWORD)
    assert unknown.returncode != 0


def test_push_rmi_pull_round_trip(docker_as, registry_server, tmp_path):
    dev = docker_as(registry_server, "dev")
    reference = f"{registry_server.host}/team/dk-roundtrip:v1"
    image_id = import_image(dev, tmp_path, reference, seed="roundtrip")
    pushed = push(dev, reference)
    assert pushed == digest_on_registry(registry_server, "team/dk-roundtrip", "v1")
    manifest = manifest_of(registry_server, "team/dk-roundtrip", "v1")
    assert manifest["config"]["digest"] == image_id

    dev.ok("rmi", reference)
    assert not dev.has_image(image_id)
    output = dev.ok("pull", reference)
    assert f"Digest: {pushed}" in output
    assert dev.image_id(reference) == image_id
    assert dev.repo_digests(reference) == [f"{registry_server.host}/team/dk-roundtrip@{pushed}"]


def test_multi_tag_push_and_pull_by_digest(docker_as, registry_server, tmp_path):
    dev = docker_as(registry_server, "dev")
    repository = f"{registry_server.host}/team/dk-multi"
    image_id = import_image(dev, tmp_path, f"{repository}:v1", seed="multi")
    dev.ok("tag", f"{repository}:v1", f"{repository}:stable")
    output = dev.ok("push", "--all-tags", repository)
    pushed = set(PUSHED_DIGEST.findall(output))
    assert len(pushed) == 1, output  # one image, two tags: one manifest digest
    digest = pushed.pop()

    tags = V2Client(registry_server.url, "dev", PASSWORD).request(
        "GET", "/v2/team/dk-multi/tags/list", scopes=("repository:team/dk-multi:pull",)
    )
    assert tags.status_code == 200
    assert sorted(tags.json()["tags"]) == ["stable", "v1"]
    for tag in ("v1", "stable"):
        assert digest_on_registry(registry_server, "team/dk-multi", tag) == digest

    dev.ok("rmi", f"{repository}:v1", f"{repository}:stable")
    assert not dev.has_image(image_id)
    output = dev.ok("pull", f"{repository}@{digest}")
    assert digest in output
    assert dev.image_id(f"{repository}@{digest}") == image_id
    assert f"{repository}@{digest}" in dev.repo_digests(image_id)

    # A digest the repository does not hold is not found.
    missing = "sha256:" + "0" * 64
    result = dev.run("pull", f"{repository}@{missing}")
    assert result.returncode != 0
    assert "not found" in result.stderr.lower() or "unknown" in result.stderr.lower(), result.stderr


def test_guest_cannot_push(docker_as, registry_server, tmp_path):
    guest = docker_as(registry_server, "guest")
    reference = f"{registry_server.host}/team/dk-guest:v1"
    import_image(guest, tmp_path, reference, seed="guest")
    result = guest.run("push", reference)
    assert result.returncode != 0, result.stdout
    assert any(word in result.stderr.lower() for word in ("denied", "unauthorized")), result.stderr
    admin = V2Client(registry_server.url, "admin", registry_server.admin_password)
    head = admin.request(
        "HEAD", "/v2/team/dk-guest/manifests/v1", scopes=("repository:team/dk-guest:pull",), headers={}
    )
    assert head.status_code == 404

    # Guests may pull what others pushed.
    dev = docker_as(registry_server, "dev")
    allowed = f"{registry_server.host}/team/dk-guest-pull:v1"
    image_id = import_image(dev, tmp_path, allowed, seed="guest-pull")
    push(dev, allowed)
    dev.ok("rmi", allowed)
    guest.ok("pull", allowed)
    assert guest.image_id(allowed) == image_id


def test_anonymous_pull_private_fails_public_works(docker_as, registry_server, tmp_path):
    admin = docker_as(registry_server, "admin")
    private = f"{registry_server.host}/team/dk-private:v1"
    public = f"{registry_server.host}/library/dk-public:v1"
    import_image(admin, tmp_path, private, seed="private")
    public_id = import_image(admin, tmp_path, public, seed="public")
    push(admin, private)
    public_digest = push(admin, public)
    admin.ok("rmi", private, public)

    anonymous = docker_as(registry_server, None)
    refused = anonymous.run("pull", private)
    assert refused.returncode != 0
    assert any(word in refused.stderr.lower() for word in ("denied", "unauthorized")), refused.stderr
    assert not anonymous.has_image(private)

    anonymous.ok("pull", public)
    assert anonymous.image_id(public) == public_id
    assert anonymous.repo_digests(public) == [f"{registry_server.host}/library/dk-public@{public_digest}"]

    # An outsider (member of another project only) is refused like anonymous.
    outsider = docker_as(registry_server, "outsider")
    assert outsider.run("pull", private).returncode != 0


@pytest.fixture(scope="module")
def logged_server(tmp_path_factory):
    """A registry of our own whose gunicorn writes an access log, to observe which requests docker made."""
    access_log = tmp_path_factory.mktemp("access") / "access.log"
    server = RegistryServer.create(extra_env={"HARBOR_ACCESS_LOG": str(access_log)})
    try:
        server.python(SEED)
        server.start()
        yield server, access_log
    finally:
        server.destroy()


def test_cross_repository_mount(docker_as, logged_server, tmp_path):
    server, access_log = logged_server
    dev = docker_as(server, "dev")
    source, target = f"{server.host}/team/app:v1", f"{server.host}/team/other:v1"
    image_id = import_image(dev, tmp_path, source, seed="mount")
    first = push(dev, source)
    layers = [layer["digest"] for layer in manifest_of(server, "team/app", "v1")["layers"]]
    assert len(layers) == 1
    layer = layers[0]
    quoted_layer = layer.replace(":", "%3A")

    before = access_log.read_text()
    dev.ok("tag", source, target)
    output = dev.ok("push", target)
    assert "Mounted from team/app" in output, output
    assert PUSHED_DIGEST.findall(output) == [first]
    assert digest_on_registry(server, "team/other", "v1") == first
    assert manifest_of(server, "team/other", "v1")["config"]["digest"] == image_id

    requests = access_log.read_text()[len(before) :].splitlines()
    mounted = [
        line
        for line in requests
        if re.search(rf'"POST /v2/team/other/blobs/uploads/\?\S*mount={quoted_layer}\S* HTTP/1\.1" 201 ', line)
    ]
    assert mounted, "\n".join(requests)
    assert "from=team%2Fapp" in mounted[0]
    # The layer's bytes never travelled again: no upload to team/other was completed with its digest.
    uploads = [
        line for line in requests if re.search(rf'"(PUT|POST) /v2/team/other/\S*[?&]digest={quoted_layer}', line)
    ]
    assert uploads == []

    # The mounted layer is served from the new repository.
    blob = V2Client(server.url, "dev", PASSWORD).request(
        "HEAD", f"/v2/team/other/blobs/{layer}", scopes=("repository:team/other:pull",)
    )
    assert blob.status_code == 200
