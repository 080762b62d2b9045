"""podman (isolated vfs storage, its own registries.conf and auth files) against a real registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.testing.v2client import V2Client
from tests.e2e.conftest import PASSWORD
from tests.e2e.engines import MANIFEST_ACCEPT, EngineUnavailable, Podman, registry_digest, rootfs_tar

pytestmark = pytest.mark.e2e

MEDIA_TYPES = {
    "oci": "application/vnd.oci.image.manifest.v1+json",
    "v2s2": "application/vnd.docker.distribution.manifest.v2+json",
}


@pytest.fixture(scope="module")
def podman(registry_server):
    try:
        engine = Podman.create(registry_server.host)
    except EngineUnavailable as exc:
        pytest.skip(f"no podman: {exc}")
    try:
        info = engine.run("info", "--format", "{{.Store.GraphDriverName}}")
        if info.returncode != 0:
            # `podman info` talks to no registry: a failure here is the environment, not the registry.
            pytest.skip(f"podman cannot run here: {info.stderr.strip()}")
        yield engine
    finally:
        engine.destroy()


@pytest.fixture
def login(podman, registry_server, tmp_path):
    """login(username) -> the --authfile argument of a fresh auth file holding that user's login."""

    def make(username: str) -> str:
        authfile = tmp_path / f"auth-{username}.json"
        secret = registry_server.admin_password if username == "admin" else PASSWORD
        result = podman.run(
            "login", f"--authfile={authfile}", "-u", username, "--password-stdin", registry_server.host, stdin=secret
        )
        assert result.returncode == 0, result.stderr
        return f"--authfile={authfile}"

    return make


def import_image(podman: Podman, tmp_path: Path, reference: str, *, seed: str) -> str:
    """`podman import` a fresh root filesystem as `reference`; returns the image id."""
    tarball = rootfs_tar(tmp_path / f"{seed}.tar", seed=seed)
    return podman.ok("import", "--quiet", str(tarball), reference).strip().removeprefix("sha256:")


def image_field(podman: Podman, reference: str, template: str) -> str:
    return podman.ok("image", "inspect", "--format", template, reference).strip()


def test_login_good_password_succeeds_and_bad_password_fails(podman, registry_server, tmp_path):
    good = tmp_path / "good.json"
    result = podman.run(
        "login", f"--authfile={good}", "-u", "dev", "--password-stdin", registry_server.host, stdin=PASSWORD
    )
    assert result.returncode == 0, result.stderr
    assert "Login Succeeded" in result.stdout
    assert registry_server.host in json.loads(good.read_text())["auths"]
    check = podman.run("login", f"--authfile={good}", "--get-login", registry_server.host)
    assert check.stdout.strip() == "dev"

    bad = tmp_path / "bad.json"
    result = podman.run(
        "login", f"--authfile={bad}", "-u", "dev", "--password-stdin", registry_server.host, stdin=PASSWORD + "x"
    )
    assert result.returncode != 0
    assert "unauthorized" in result.stderr.lower() or "invalid username/password" in result.stderr.lower(), (
        result.stderr
    )
    assert not bad.exists() or registry_server.host not in json.loads(bad.read_text()).get("auths", {})


@pytest.mark.parametrize("manifest_format", ["oci", "v2s2"])
def test_push_rmi_pull_round_trip(podman, registry_server, login, tmp_path, manifest_format):
    auth = login("dev")
    repository = f"team/pm-roundtrip-{manifest_format}"
    reference = f"{registry_server.host}/{repository}:v1"
    image_id = import_image(podman, tmp_path, reference, seed=f"podman-{manifest_format}")
    digestfile = tmp_path / "digest"
    podman.ok("push", auth, podman.policy, f"--format={manifest_format}", f"--digestfile={digestfile}", reference)
    pushed = digestfile.read_text().strip()
    assert pushed == registry_digest(registry_server.url, "dev", PASSWORD, repository, "v1")

    manifest = V2Client(registry_server.url, "dev", PASSWORD).request(
        "GET",
        f"/v2/{repository}/manifests/v1",
        scopes=(f"repository:{repository}:pull",),
        headers={"Accept": MANIFEST_ACCEPT},
    )
    assert manifest.headers["Content-Type"] == MEDIA_TYPES[manifest_format]
    assert json.loads(manifest.content)["config"]["digest"] == f"sha256:{image_id}"

    podman.ok("rmi", reference)
    assert podman.run("image", "exists", image_id).returncode != 0
    podman.ok("pull", auth, podman.policy, reference)
    assert image_field(podman, reference, "{{.Id}}") == image_id
    assert image_field(podman, reference, "{{.Digest}}") == pushed
    assert f"{registry_server.host}/{repository}@{pushed}" in image_field(podman, reference, "{{.RepoDigests}}")

    # And by digest, after removing it again.
    podman.ok("rmi", reference)
    podman.ok("pull", auth, podman.policy, f"{registry_server.host}/{repository}@{pushed}")
    assert image_field(podman, f"{registry_server.host}/{repository}@{pushed}", "{{.Id}}") == image_id
    podman.ok("rmi", image_id)


def test_guest_push_refused_and_anonymous_private_pull_refused(podman, registry_server, login, tmp_path):
    reference = f"{registry_server.host}/team/pm-guest:v1"
    import_image(podman, tmp_path, reference, seed="podman-guest")
    refused = podman.run("push", login("guest"), podman.policy, reference)
    assert refused.returncode != 0, refused.stdout
    assert any(word in refused.stderr.lower() for word in ("denied", "unauthorized")), refused.stderr

    podman.ok("push", login("dev"), podman.policy, reference)
    podman.ok("rmi", reference)
    anonymous = tmp_path / "anonymous.json"
    anonymous.write_text('{"auths": {}}')
    refused = podman.run("pull", f"--authfile={anonymous}", podman.policy, reference)
    assert refused.returncode != 0, refused.stdout
    assert any(word in refused.stderr.lower() for word in ("denied", "unauthorized")), refused.stderr
    podman.ok("pull", login("guest"), podman.policy, reference)
