"""The real `skopeo` against a real gunicorn: push, pull, index copies, tags, delete, mount, auth, format conversion."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from common.testing.images import oci_layout
from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def unique_seed(label: str) -> str:
    # Fresh blobs every run: skopeo's on-disk blob-info cache never knows them from an earlier session.
    return f"{label}-{uuid.uuid4().hex}"


def layout_top(layout: Path) -> dict:
    """The descriptor tagged `latest` in an OCI layout's index.json."""
    return json.loads((layout / "index.json").read_text())["manifests"][0]


def layout_blob(layout: Path, digest: str) -> bytes:
    algorithm, hexdigest = digest.split(":", 1)
    return (layout / "blobs" / algorithm / hexdigest).read_bytes()


class Skopeo:
    """Runs skopeo with an isolated auth file and no TLS towards the test registry."""

    def __init__(self, binary: str, host: str, workdir: Path):
        self.binary, self.host = binary, host
        # No credentials leak in from the machine's auth files: only what a test passes.
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "REGISTRY_AUTH_FILE": str(workdir / "auth.json"),
        }

    def ref(self, name: str, reference: str = "") -> str:
        """docker://host/name, with `:tag` or `@digest` when given."""
        if not reference:
            return f"docker://{self.host}/{name}"
        return f"docker://{self.host}/{name}{'@' if reference.startswith('sha256:') else ':'}{reference}"

    def run(self, *args: str, check: bool = True, debug: bool = False) -> subprocess.CompletedProcess:
        command = [self.binary, "--insecure-policy", *(["--debug"] if debug else []), *args]
        result = subprocess.run(command, env=self.env, capture_output=True, timeout=180, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr.decode()[-3000:]}")
        return result

    def _auth(self, prefix: str, user: str | None, password: str | None = None) -> list[str]:
        flags = [f"--{prefix}tls-verify=false"]
        if user is None:
            return [*flags, f"--{prefix}no-creds"]
        return [*flags, f"--{prefix}creds", f"{user}:{password or PASSWORD}"]

    def push(
        self, source: str, name: str, tag: str, *, user: str | None, password: str | None = None, **kwargs
    ) -> subprocess.CompletedProcess:
        extra = kwargs.pop("extra", ())
        return self.run("copy", *extra, *self._auth("dest-", user, password), source, self.ref(name, tag), **kwargs)

    def pull(self, name: str, tag: str, destination: str, *, user: str | None, extra: tuple[str, ...] = ()):
        return self.run("copy", *extra, *self._auth("src-", user), self.ref(name, tag), destination)

    def inspect_raw(self, name: str, reference: str, *, user: str | None, check: bool = True):
        return self.run("inspect", "--raw", *self._auth("", user), self.ref(name, reference), check=check)

    def list_tags(self, name: str, *, user: str | None) -> list[str]:
        out = self.run("list-tags", *self._auth("", user), self.ref(name)).stdout
        return json.loads(out)["Tags"]

    def delete(self, name: str, reference: str, *, user: str | None, check: bool = True):
        return self.run("delete", *self._auth("", user), self.ref(name, reference), check=check)


@pytest.fixture(scope="module")
def skopeo(registry_server, tmp_path_factory) -> Skopeo:
    binary = shutil.which("skopeo")
    if binary is None:
        pytest.skip("skopeo is not installed (apt-get install skopeo)")
    return Skopeo(binary, registry_server.host, tmp_path_factory.mktemp("skopeo-home"))


def registry_head(client, name: str, reference: str):
    return client.request(
        "HEAD",
        f"/v2/{name}/manifests/{reference}",
        scopes=(f"repository:{name}:pull",),
        headers={"Accept": ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST))},
    )


def test_push_and_pull_single_image_keeps_digest(skopeo, tmp_path, client_for):
    name = "team/sk-single"
    source = oci_layout(tmp_path / "src", seed=unique_seed("single"))
    expected = layout_top(source)["digest"]
    skopeo.push(f"oci:{source}:latest", name, "v1", user="dev")

    raw = skopeo.inspect_raw(name, "v1", user="dev").stdout
    assert sha256(raw) == expected
    assert raw == layout_blob(source, expected)  # byte-exact, not re-serialised
    head = registry_head(client_for("dev"), name, "v1")
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == expected
    assert head.headers["Content-Type"] == OCI_MANIFEST
    assert skopeo.inspect_raw(name, expected, user="guest").stdout == raw  # by digest, and a guest may pull

    manifest = json.loads(raw)
    blobs = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
    oci_back = tmp_path / "oci-back"
    skopeo.pull(name, "v1", f"oci:{oci_back}:copied", user="guest")
    assert layout_top(oci_back)["digest"] == expected
    for digest in [expected, *blobs]:
        assert layout_blob(oci_back, digest) == layout_blob(source, digest)

    dir_back = tmp_path / "dir-back"
    skopeo.pull(name, "v1", f"dir:{dir_back}", user="dev")
    assert sha256((dir_back / "manifest.json").read_bytes()) == expected
    for digest in blobs:
        assert (dir_back / digest.split(":", 1)[1]).read_bytes() == layout_blob(source, digest)


def test_multi_arch_index_with_all(skopeo, tmp_path, client_for):
    name = "team/sk-multi"
    arches = ("amd64", "arm64", "ppc64le")
    source = oci_layout(tmp_path / "src", seed=unique_seed("multi"), arches=arches)
    index_digest = layout_top(source)["digest"]
    children = {
        c["platform"]["architecture"]: c["digest"] for c in json.loads(layout_blob(source, index_digest))["manifests"]
    }
    assert len(set(children.values())) == len(arches)
    skopeo.push(f"oci:{source}:latest", name, "v1", user="dev", extra=("--all",))

    raw = skopeo.inspect_raw(name, "v1", user="dev").stdout
    assert sha256(raw) == index_digest
    dev = client_for("dev")
    head = registry_head(dev, name, "v1")
    assert head.headers["Docker-Content-Digest"] == index_digest
    assert head.headers["Content-Type"] == OCI_INDEX
    for digest in children.values():
        child = registry_head(dev, name, digest)
        assert child.status_code == 200, digest
        assert child.headers["Docker-Content-Digest"] == digest
        assert sha256(skopeo.inspect_raw(name, digest, user="dev").stdout) == digest

    back = tmp_path / "back"
    skopeo.pull(name, "v1", f"oci:{back}:latest", user="dev", extra=("--all",))
    assert layout_top(back)["digest"] == index_digest
    for digest in children.values():
        child = json.loads(layout_blob(back, digest))
        for blob in [child["config"]["digest"], *(layer["digest"] for layer in child["layers"])]:
            assert layout_blob(back, blob) == layout_blob(source, blob)

    # Without --all skopeo picks one platform's image out of the index, unchanged.
    arm = tmp_path / "arm"
    skopeo.pull(name, "v1", f"oci:{arm}:latest", user="dev", extra=("--override-arch", "arm64"))
    assert layout_top(arm)["digest"] == children["arm64"]


def test_list_tags(skopeo, tmp_path):
    name = "team/sk-tags"
    source = oci_layout(tmp_path / "src", seed=unique_seed("tags"))
    for tag in ("v2", "v1", "latest", "1.0.0"):
        skopeo.push(f"oci:{source}:latest", name, tag, user="dev")
    assert skopeo.list_tags(name, user="guest") == ["1.0.0", "latest", "v1", "v2"]
    assert skopeo.run("list-tags", "--tls-verify=false", "--no-creds", skopeo.ref(name), check=False).returncode != 0


def test_delete_needs_maintainer(skopeo, tmp_path, client_for):
    name = "team/sk-delete"
    source = oci_layout(tmp_path / "src", seed=unique_seed("delete"))
    digest = layout_top(source)["digest"]
    skopeo.push(f"oci:{source}:latest", name, "v1", user="dev")
    skopeo.push(f"oci:{source}:latest", name, "v2", user="dev")
    other = oci_layout(tmp_path / "other", seed=unique_seed("keep"))
    skopeo.push(f"oci:{other}:latest", name, "keep", user="dev")

    refused = skopeo.delete(name, "v1", user="dev", check=False)
    assert refused.returncode != 0
    assert b"401" in refused.stderr or b"denied" in refused.stderr.lower()
    assert skopeo.list_tags(name, user="dev") == ["keep", "v1", "v2"]
    assert sha256(skopeo.inspect_raw(name, "v1", user="dev").stdout) == digest

    # skopeo deletes by digest: the manifest goes, with every tag that pointed at it.
    skopeo.delete(name, "v1", user="maint")
    assert skopeo.list_tags(name, user="maint") == ["keep"]
    gone = skopeo.inspect_raw(name, "v2", user="maint", check=False)
    assert gone.returncode != 0
    assert b"manifest unknown" in gone.stderr.lower()
    assert registry_head(client_for("maint"), name, digest).status_code == 404
    assert registry_head(client_for("maint"), name, "keep").status_code == 200


def test_copy_between_repositories_mounts_blobs(skopeo, tmp_path, client_for):
    source_name, target_name = "team/sk-mount-src", "team/sk-mount-dst"
    source = oci_layout(tmp_path / "src", seed=unique_seed("mount"), layer_size=64 * 1024)
    digest = layout_top(source)["digest"]
    layer = json.loads(layout_blob(source, digest))["layers"][0]["digest"]
    skopeo.push(f"oci:{source}:latest", source_name, "v1", user="dev")

    copied = skopeo.run(
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        f"dev:{PASSWORD}",
        "--dest-tls-verify=false",
        "--dest-creds",
        f"dev:{PASSWORD}",
        skopeo.ref(source_name, "v1"),
        skopeo.ref(target_name, "copied"),
        debug=True,
    )
    log = copied.stderr.decode()
    mount_request = f"/v2/{target_name}/blobs/uploads/?from=team%2Fsk-mount-src&mount=sha256%3A{layer.split(':')[1]}"
    assert f"Trying to mount {mount_request}" in log
    assert "... mount OK" in log
    assert f"Uploading /v2/{target_name}/blobs/uploads/" not in log.split("... mount OK")[0]

    assert sha256(skopeo.inspect_raw(target_name, "copied", user="dev").stdout) == digest
    dev = client_for("dev")
    blob = dev.request("GET", f"/v2/{target_name}/blobs/{layer}", scopes=(f"repository:{target_name}:pull",))
    assert blob.status_code == 200
    assert blob.content == layout_blob(source, layer)


def test_guest_and_wrong_password_cannot_push(skopeo, tmp_path, admin):
    name = "team/sk-guest"
    source = oci_layout(tmp_path / "src", seed=unique_seed("guest"))
    refused = skopeo.push(f"oci:{source}:latest", name, "v1", user="guest", check=False)
    assert refused.returncode != 0
    assert b"denied" in refused.stderr.lower() or b"unauthorized" in refused.stderr.lower()
    limited = skopeo.push(f"oci:{source}:latest", name, "v1", user="limited", check=False)
    assert limited.returncode != 0
    wrong = skopeo.push(f"oci:{source}:latest", name, "v1", user="dev", password="not-the-password", check=False)
    assert wrong.returncode != 0
    assert b"401" in wrong.stderr or b"unauthorized" in wrong.stderr.lower()
    assert registry_head(admin, name, "v1").status_code == 404


def test_anonymous_inspect_private_fails_public_works(skopeo, tmp_path, registry_server):
    source = oci_layout(tmp_path / "src", seed=unique_seed("public"))
    digest = layout_top(source)["digest"]
    for name in ("library/sk-public", "team/sk-private"):
        skopeo.push(f"oci:{source}:latest", name, "v1", user="admin", password=registry_server.admin_password)

    public = skopeo.run("inspect", "--tls-verify=false", "--no-creds", skopeo.ref("library/sk-public", "v1"))
    info = json.loads(public.stdout)
    assert info["Digest"] == digest
    assert info["RepoTags"] == ["v1"]
    assert info["Architecture"] == "amd64"
    assert sha256(skopeo.inspect_raw("library/sk-public", "v1", user=None).stdout) == digest

    private = skopeo.inspect_raw("team/sk-private", "v1", user=None, check=False)
    assert private.returncode != 0
    assert b"unauthorized" in private.stderr.lower() or b"denied" in private.stderr.lower()
    outsider = skopeo.inspect_raw("team/sk-private", "v1", user="outsider", check=False)
    assert outsider.returncode != 0
    # an anonymous push to the public project is still refused
    anonymous_push = skopeo.push(f"oci:{source}:latest", "library/sk-public", "anon", user=None, check=False)
    assert anonymous_push.returncode != 0


def test_push_as_docker_schema2(skopeo, tmp_path, client_for):
    name = "team/sk-v2s2"
    source = oci_layout(tmp_path / "src", seed=unique_seed("v2s2"))
    oci_digest = layout_top(source)["digest"]
    oci_manifest = json.loads(layout_blob(source, oci_digest))
    skopeo.push(f"oci:{source}:latest", name, "v1", user="dev", extra=("--format", "v2s2"))

    raw = skopeo.inspect_raw(name, "v1", user="dev").stdout
    manifest = json.loads(raw)
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    assert [layer["mediaType"] for layer in manifest["layers"]] == ["application/vnd.docker.image.rootfs.diff.tar.gzip"]
    # conversion rewrites the manifest only: config and layer blobs are the same bytes
    assert manifest["config"]["digest"] == oci_manifest["config"]["digest"]
    assert [layer["digest"] for layer in manifest["layers"]] == [layer["digest"] for layer in oci_manifest["layers"]]

    head = registry_head(client_for("dev"), name, "v1")
    assert head.headers["Content-Type"] == DOCKER_MANIFEST
    assert head.headers["Docker-Content-Digest"] == sha256(raw) != oci_digest

    back = tmp_path / "back"
    skopeo.pull(name, "v1", f"dir:{back}", user="dev")
    assert (back / "manifest.json").read_bytes() == raw


def test_index_as_docker_manifest_list(skopeo, tmp_path, client_for):
    name = "team/sk-list"
    source = oci_layout(tmp_path / "src", seed=unique_seed("list"), arches=("amd64", "arm64"))
    skopeo.push(f"oci:{source}:latest", name, "v1", user="dev", extra=("--all", "--format", "v2s2"))

    raw = skopeo.inspect_raw(name, "v1", user="dev").stdout
    listing = json.loads(raw)
    assert listing["mediaType"] == DOCKER_MANIFEST_LIST
    assert sorted(c["platform"]["architecture"] for c in listing["manifests"]) == ["amd64", "arm64"]
    dev = client_for("dev")
    head = registry_head(dev, name, "v1")
    assert head.headers["Content-Type"] == DOCKER_MANIFEST_LIST
    assert head.headers["Docker-Content-Digest"] == sha256(raw)
    for child in listing["manifests"]:
        assert child["mediaType"] == DOCKER_MANIFEST
        stored = registry_head(dev, name, child["digest"])
        assert stored.status_code == 200
        assert stored.headers["Content-Type"] == DOCKER_MANIFEST
        assert int(stored.headers["Content-Length"]) == child["size"]


def test_index_children_are_deleted_only_after_the_index(skopeo, tmp_path, client_for):
    name = "team/sk-index-delete"
    source = oci_layout(tmp_path / "src", seed=unique_seed("index-delete"), arches=("amd64", "arm64"))
    index_digest = layout_top(source)["digest"]
    child = json.loads(layout_blob(source, index_digest))["manifests"][0]["digest"]
    skopeo.push(f"oci:{source}:latest", name, "v1", user="dev", extra=("--all",))

    refused = skopeo.delete(name, child, user="maint", check=False)
    assert refused.returncode != 0
    assert b"DENIED" in refused.stderr
    maint = client_for("maint")
    assert registry_head(maint, name, child).status_code == 200

    skopeo.delete(name, "v1", user="maint")
    assert registry_head(maint, name, index_digest).status_code == 404
    assert registry_head(maint, name, child).status_code == 200  # children outlive their index, untagged
    skopeo.delete(name, child, user="maint")
    assert registry_head(maint, name, child).status_code == 404
