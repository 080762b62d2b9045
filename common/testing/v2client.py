"""A small OCI distribution client over httpx for tests: token flow, blobs, manifests."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

import httpx

_PARAM = re.compile(r'(\w+)="([^"]*)"')


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class V2Client:
    """Talks to one registry as one principal (username None: anonymous)."""

    base_url: str
    username: str | None = None
    password: str | None = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    def token(self, *scopes: str) -> httpx.Response:
        probe = self.http.get(f"{self.base_url}/v2/")
        params = dict(_PARAM.findall(probe.headers.get("WWW-Authenticate", "")))
        query = [("service", params.get("service", ""))] + [("scope", s) for s in scopes]
        auth = (self.username, self.password) if self.username else None
        return self.http.get(params["realm"], params=query, auth=auth)

    def bearer(self, *scopes: str) -> dict[str, str]:
        response = self.token(*scopes)
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['token']}"}

    def request(self, method: str, path: str, *, scopes: tuple[str, ...] = (), **kwargs) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if scopes:
            headers.update(self.bearer(*scopes))
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        return self.http.request(method, url, headers=headers, **kwargs)

    # --- conveniences -------------------------------------------------------
    def push_blob(self, name: str, data: bytes) -> str:
        digest = digest_of(data)
        scope = f"repository:{name}:pull,push"
        response = self.request("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", scopes=(scope,), content=data)
        assert response.status_code == 201, response.text
        return digest

    def push_manifest(
        self, name: str, reference: str, manifest: dict | bytes, media_type: str | None = None
    ) -> httpx.Response:
        body = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        ctype = media_type or (json.loads(body).get("mediaType") if not isinstance(manifest, bytes) else None)
        headers = {"Content-Type": ctype} if ctype else {}
        return self.request(
            "PUT",
            f"/v2/{name}/manifests/{reference}",
            scopes=(f"repository:{name}:pull,push",),
            content=body,
            headers=headers,
        )

    def push_image(
        self, name: str, tag: str, *, seed: str = "x", subject: dict | None = None, artifact_type: str | None = None
    ) -> tuple[str, dict]:
        """Push a small OCI image (config + one layer); returns (manifest digest, manifest)."""
        config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
        layer = f"layer-{seed}".encode() * 10
        manifest: dict = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": self.push_blob(name, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": self.push_blob(name, layer),
                    "size": len(layer),
                }
            ],
        }
        if subject:
            manifest["subject"] = subject
        if artifact_type:
            manifest["artifactType"] = artifact_type
        response = self.push_manifest(name, tag, manifest)
        assert response.status_code == 201, response.text
        return response.headers["Docker-Content-Digest"], manifest
