"""Minimal OCI distribution client answering Basic or Bearer (Docker token) challenges."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import urllib.parse

import httpx

from harbor_bench.common import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, BenchError

_PARAM_RE = re.compile(r'([A-Za-z][A-Za-z0-9_.-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def parse_www_authenticate(value: str) -> tuple[str, dict[str, str]]:
    """Parse one challenge: 'Bearer realm="x",service="y",scope="a:b:pull,push"'."""
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    params = {}
    for m in _PARAM_RE.finditer(rest):
        v = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = v.replace('\\"', '"')
    return scheme.lower(), params


def add_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    q.extend(params.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))


def expect(r: httpx.Response, *codes: int, what: str = "") -> httpx.Response:
    if r.status_code not in codes:
        try:
            body = r.read()[:400].decode("utf-8", "replace")
        except Exception:  # streamed / closed
            body = ""
        raise BenchError(
            f"{what or r.request.method + ' ' + r.request.url.path}: HTTP {r.status_code}, expected {codes}: {body}"
        )
    return r


class RegistryClient:
    """Minimal OCI distribution client; handles Basic and Bearer (Docker token) auth."""

    def __init__(self, name: str, base_url: str, user: str, password: str):
        self.name = name
        self.base = base_url.rstrip("/")
        self.user = user
        self.password = password
        self.basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.scheme: str | None = None  # "basic" | "bearer" | "none"
        self.challenge: dict[str, str] = {}
        self._tokens: dict[str | None, tuple[str, float, float]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._clients: list[httpx.Client] = []

    # one httpx.Client per thread (connection pool per thread, no cross-thread sharing)
    @property
    def http(self) -> httpx.Client:
        c = getattr(self._local, "client", None)
        if c is None:
            c = httpx.Client(
                timeout=httpx.Timeout(600.0, connect=10.0),
                follow_redirects=False,
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
            )
            self._local.client = c
            with self._lock:
                self._clients.append(c)
        return c

    def close(self) -> None:
        with self._lock:
            for c in self._clients:
                c.close()
            self._clients.clear()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    # -- auth
    def _take_challenge(self, r: httpx.Response) -> dict[str, str]:
        for v in r.headers.get_list("www-authenticate"):
            scheme, params = parse_www_authenticate(v)
            if scheme in ("bearer", "basic"):
                self.scheme, self.challenge = scheme, params
                return params
        raise BenchError(f"{self.name}: 401 without a Basic/Bearer WWW-Authenticate challenge")

    def probe(self) -> None:
        r = self.http.get(self.url("/v2/"))
        if r.status_code == 200:
            self.scheme = "none"
        elif r.status_code == 401:
            self._take_challenge(r)
        else:
            expect(r, 200, 401, what=f"{self.name} GET /v2/")

    def _token(self, scope: str | None, min_ttl: float) -> str:
        now = time.monotonic()
        with self._lock:
            cached = self._tokens.get(scope)
            if cached and cached[1] - now > min(min_ttl, cached[2] / 2):
                return cached[0]
        realm = self.challenge.get("realm")
        if not realm:
            raise BenchError(f"{self.name}: Bearer challenge without realm")
        params = {}
        if self.challenge.get("service"):
            params["service"] = self.challenge["service"]
        if scope:
            params["scope"] = scope
        # over this thread's keep-alive pool, as docker does (not a new connection per token)
        r = self.http.get(realm, params=params, headers={"Authorization": self.basic}, timeout=30)
        expect(r, 200, what=f"{self.name} token request")
        data = r.json()
        token = data.get("token") or data.get("access_token")
        if not token:
            raise BenchError(f"{self.name}: token response without token: {data!r}"[:300])
        ttl = float(data.get("expires_in") or 60)
        with self._lock:
            self._tokens[scope] = (token, now + ttl, ttl)
        return token

    def auth_header(self, scope: str | None = None, min_ttl: float = 120.0) -> str | None:
        if self.scheme is None:
            self.probe()
        if self.scheme == "none":
            return None
        if self.scheme == "basic":
            return self.basic
        return "Bearer " + self._token(scope, min_ttl)

    @staticmethod
    def scope(repo: str | None, actions: str = "pull,push") -> str | None:
        return f"repository:{repo}:{actions}" if repo else None

    def request(
        self,
        method: str,
        path: str,
        *,
        repo: str | None = None,
        scope: str | None = None,
        headers: dict | None = None,
        content=None,
        follow_redirects: bool = False,
        _retry: bool = True,
    ) -> httpx.Response:
        scope = scope or self.scope(repo)
        h = dict(headers or {})
        auth = self.auth_header(scope)
        if auth:
            h["Authorization"] = auth
        r = self.http.request(method, self.url(path), headers=h, content=content, follow_redirects=follow_redirects)
        replayable = content is None or isinstance(content, (bytes, str))
        if r.status_code == 401 and _retry and replayable:
            params = self._take_challenge(r)
            if self.scheme == "bearer":
                scope = params.get("scope") or scope
                with self._lock:
                    self._tokens.pop(scope, None)
            return self.request(
                method,
                path,
                scope=scope,
                headers=headers,
                content=content,
                follow_redirects=follow_redirects,
                _retry=False,
            )
        return r

    # -- blobs
    def _location(self, r: httpx.Response) -> str:
        loc = r.headers.get("location")
        if not loc:
            raise BenchError(f"{self.name}: {r.request.method} {r.request.url.path} without Location")
        return urllib.parse.urljoin(str(r.request.url), loc)

    def start_upload(self, repo: str) -> str:
        r = self.request("POST", f"/v2/{repo}/blobs/uploads/", repo=repo, headers={"Content-Length": "0"})
        expect(r, 202, what=f"{self.name} POST upload")
        return self._location(r)

    def push_monolithic(self, repo: str, digest: str, size: int, body) -> None:
        loc = self.start_upload(repo)
        r = self.request(
            "PUT",
            add_query(loc, digest=digest),
            repo=repo,
            content=body,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        expect(r, 201, what=f"{self.name} monolithic PUT")

    def push_chunked(self, repo: str, digest: str, chunks) -> None:
        loc = self.start_upload(repo)
        offset = 0
        for chunk in chunks:
            end = offset + len(chunk) - 1
            r = self.request(
                "PATCH",
                loc,
                repo=repo,
                content=chunk,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{end}",
                    "Content-Length": str(len(chunk)),
                },
            )
            expect(r, 202, what=f"{self.name} PATCH {offset}-{end}")
            loc = self._location(r)
            offset = end + 1
        r = self.request("PUT", add_query(loc, digest=digest), repo=repo, content=b"", headers={"Content-Length": "0"})
        expect(r, 201, what=f"{self.name} final PUT")

    def push_streamed_patch(self, repo: str, gen, digest_fn) -> None:
        """One PATCH with a chunked-encoded generator body, then PUT ?digest=."""
        loc = self.start_upload(repo)  # also refreshes the token: a generator body is not replayed
        r = self.request("PATCH", loc, repo=repo, content=gen, headers={"Content-Type": "application/octet-stream"})
        expect(r, 202, what=f"{self.name} streamed PATCH")
        loc = self._location(r)
        r = self.request(
            "PUT", add_query(loc, digest=digest_fn()), repo=repo, content=b"", headers={"Content-Length": "0"}
        )
        expect(r, 201, what=f"{self.name} final PUT")

    def push_small_blob(self, repo: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        r = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", repo=repo)
        if r.status_code == 200:
            return digest
        self.push_monolithic(repo, digest, len(data), data)
        return digest

    def put_manifest(self, repo: str, ref: str, body: bytes) -> None:
        r = self.request(
            "PUT", f"/v2/{repo}/manifests/{ref}", repo=repo, content=body, headers={"Content-Type": OCI_MANIFEST}
        )
        expect(r, 201, what=f"{self.name} PUT manifest {ref}")


def list_all_tags(c: RegistryClient, repo: str, page: int | None = None) -> list[str]:
    """GET tags/list (optionally ?n=page) and follow rel="next" Link headers to the end."""
    url = c.url(f"/v2/{repo}/tags/list" + (f"?n={page}" if page else ""))
    tags: list[str] = []
    pages = 0
    while url:
        r = c.request("GET", url, repo=repo)
        expect(r, 200, what=f"{c.name} GET tags/list")
        tags.extend(r.json().get("tags") or [])
        pages += 1
        url = None
        for part in r.headers.get_list("link"):
            m = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', part)
            if m:
                url = urllib.parse.urljoin(str(r.request.url), m.group(1))
        if pages > 100_000:
            raise BenchError("tags/list pagination does not terminate")
    list_all_tags.pages = pages  # type: ignore[attr-defined]
    return tags


def manifest_bytes(cfg: tuple[str, int], layer: tuple[str, int], note: str) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": cfg[0], "size": cfg[1]},
            "layers": [{"mediaType": OCI_LAYER, "digest": layer[0], "size": layer[1]}],
            "annotations": {"org.example.bench.tag": note},
        },
        separators=(",", ":"),
    ).encode()


# --------------------------------------------------------------------------- data
