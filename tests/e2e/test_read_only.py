"""Read-only mode against a real server: switched on through the API, pushes (skopeo and raw HTTP) and API
writes are refused with 403 DENIED while pulls keep working; switched off, pushes work again."""

from __future__ import annotations

import shutil
import time
import uuid

import httpx
import pytest

from common.configuration import CACHE_SECONDS, READ_ONLY_MESSAGE
from common.testing.images import oci_layout
from tests.e2e.test_skopeo import Skopeo, sha256

pytestmark = pytest.mark.e2e

DENIED = {"errors": [{"code": "DENIED", "message": READ_ONLY_MESSAGE}]}


@pytest.fixture
def api(registry_server):
    with httpx.Client(
        base_url=f"{registry_server.url}/api/v2.0", auth=("admin", registry_server.admin_password), timeout=30
    ) as client:
        yield client


def read_only(api: httpx.Client, value: bool) -> None:
    response = api.put("/configurations", json={"read_only": value})
    assert response.status_code == 200, response.text
    # Each gunicorn worker re-reads the setting at most CACHE_SECONDS after the write.
    time.sleep(CACHE_SECONDS + 0.5)


@pytest.fixture
def skopeo(registry_server, tmp_path) -> Skopeo:
    binary = shutil.which("skopeo")
    if binary is None:
        pytest.skip("skopeo is not installed (apt-get install skopeo)")
    (tmp_path / "home").mkdir()
    return Skopeo(binary, registry_server.host, tmp_path / "home")


def test_read_only_refuses_writes_and_serves_reads(api, skopeo, client_for, tmp_path):
    dev = client_for("dev")
    seed = uuid.uuid4().hex
    digest, _ = dev.push_image("team/ro-app", "before", seed=seed)
    source = oci_layout(tmp_path / "src", seed=f"ro-{seed}")
    read_only(api, True)
    try:
        assert api.get("/systeminfo").json()["read_only"] is True

        # Raw HTTP: every write verb on /v2/ is refused with Harbor's DENIED, even with a push token.
        scopes = ("repository:team/ro-app:pull,push,delete",)
        for method, path in [
            ("POST", "/v2/team/ro-app/blobs/uploads/"),
            ("PUT", "/v2/team/ro-app/manifests/after"),
            ("DELETE", f"/v2/team/ro-app/manifests/{digest}"),
        ]:
            refused = dev.request(method, path, scopes=scopes, content=b"{}")
            assert refused.status_code == 403, (method, path, refused.text)
            assert refused.json() == DENIED

        # A real client says why.
        pushed = skopeo.push(f"oci:{source}:latest", "team/ro-app", "skopeo", user="dev", check=False)
        assert pushed.returncode != 0
        assert "read only mode" in pushed.stderr.decode().lower(), pushed.stderr.decode()[-2000:]

        # Reads keep working: raw and with skopeo.
        pulled = dev.request("GET", f"/v2/team/ro-app/manifests/{digest}", scopes=("repository:team/ro-app:pull",))
        assert pulled.status_code == 200
        raw = skopeo.inspect_raw("team/ro-app", "before", user="dev").stdout
        assert sha256(raw) == digest
        skopeo.pull("team/ro-app", "before", f"dir:{tmp_path / 'back'}", user="dev")
        assert sha256((tmp_path / "back" / "manifest.json").read_bytes()) == digest

        # The API: writes refused, reads served.
        created = api.post("/projects", json={"project_name": f"ro-{seed[:8]}"})
        assert created.status_code == 403
        assert created.json() == DENIED
        assert api.get("/projects").status_code == 200
    finally:
        read_only(api, False)

    assert api.get("/systeminfo").json()["read_only"] is False
    skopeo.push(f"oci:{source}:latest", "team/ro-app", "skopeo", user="dev")
    assert skopeo.inspect_raw("team/ro-app", "skopeo", user="dev").returncode == 0
    assert dev.push_image("team/ro-app", "after", seed=f"{seed}-after")[0].startswith("sha256:")
    assert api.post("/projects", json={"project_name": f"ro-{seed[:8]}"}).status_code == 201
