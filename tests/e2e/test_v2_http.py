"""The /v2/ protocol over raw HTTP against a real gunicorn: uploads, manifests, auth, errors."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from common.testing.v2client import digest_of

REPO = "team/app"
PUSH = f"repository:{REPO}:pull,push"


def error_code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["code"]


def test_base_endpoint_challenges_anonymous_and_accepts_token(client_for, admin):
    anonymous = client_for(None).request("GET", "/v2/")
    assert anonymous.status_code == 401
    assert anonymous.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    challenge = anonymous.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="http://127.0.0.1:')
    assert 'service="harbor-registry"' in challenge
    assert error_code(anonymous) == "UNAUTHORIZED"
    assert admin.request("GET", "/v2/", headers=admin.bearer()).status_code == 200
    basic = admin.http.get(f"{admin.base_url}/v2/", auth=("admin", admin.password))
    assert basic.status_code == 200


def test_chunked_upload_with_status_and_resume(client_for):
    dev = client_for("dev")
    auth = dev.bearer(PUSH)
    data = os.urandom(3 * 1024 * 1024 + 17)
    start = dev.request("POST", f"/v2/{REPO}/blobs/uploads/", headers=auth)
    assert start.status_code == 202
    location = start.headers["Location"]
    assert start.headers["Range"] == "0-0"
    pieces = [data[: 1 << 20], data[1 << 20 : 2 << 20], data[2 << 20 :]]
    offset = 0
    for piece in pieces[:2]:
        headers = {
            **auth,
            "Content-Range": f"{offset}-{offset + len(piece) - 1}",
            "Content-Type": "application/octet-stream",
        }
        patched = dev.request("PATCH", location, headers=headers, content=piece)
        assert patched.status_code == 202, patched.text
        offset += len(piece)
        assert patched.headers["Range"] == f"0-{offset - 1}"
        location = patched.headers["Location"]
    status = dev.request("GET", location, headers=auth)
    assert status.status_code == 204
    assert status.headers["Range"] == f"0-{offset - 1}"
    digest = digest_of(data)
    done = dev.request("PUT", f"{location}?digest={digest}", headers=auth, content=pieces[2])
    assert done.status_code == 201, done.text
    assert done.headers["Docker-Content-Digest"] == digest
    got = dev.request("GET", f"/v2/{REPO}/blobs/{digest}", headers=auth)
    assert got.status_code == 200
    assert got.content == data
    ranged = dev.request("GET", f"/v2/{REPO}/blobs/{digest}", headers={**auth, "Range": "bytes=10-19"})
    assert ranged.status_code == 206
    assert ranged.content == data[10:20]
    assert ranged.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    head = dev.request("HEAD", f"/v2/{REPO}/blobs/{digest}", headers=auth)
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == len(data)


def test_streamed_chunked_transfer_encoding_patch(client_for):
    dev = client_for("dev")
    auth = dev.bearer(PUSH)
    data = os.urandom(2 * 1024 * 1024 + 5)
    location = dev.request("POST", f"/v2/{REPO}/blobs/uploads/", headers=auth).headers["Location"]

    def body():
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    patched = dev.request("PATCH", location, headers=auth, content=body())
    assert patched.status_code == 202, patched.text
    assert patched.headers["Range"] == f"0-{len(data) - 1}"
    done = dev.request("PUT", f"{patched.headers['Location']}?digest={digest_of(data)}", headers=auth)
    assert done.status_code == 201, done.text


def test_out_of_order_and_overlapping_chunks_are_416(client_for):
    dev = client_for("dev")
    auth = dev.bearer(PUSH)
    location = dev.request("POST", f"/v2/{REPO}/blobs/uploads/", headers=auth).headers["Location"]
    first = dev.request("PATCH", location, headers={**auth, "Content-Range": "0-9"}, content=b"0123456789")
    assert first.status_code == 202
    gap = dev.request("PATCH", location, headers={**auth, "Content-Range": "20-29"}, content=b"x" * 10)
    assert gap.status_code == 416
    assert error_code(gap) == "BLOB_UPLOAD_INVALID"
    overlap = dev.request("PATCH", location, headers={**auth, "Content-Range": "5-14"}, content=b"y" * 10)
    assert overlap.status_code == 416
    mismatch = dev.request("PATCH", location, headers={**auth, "Content-Range": "10-19"}, content=b"z" * 5)
    assert mismatch.status_code == 416
    status = dev.request("GET", location, headers=auth)
    assert status.headers["Range"] == "0-9"  # nothing of the refused chunks was kept


def test_digest_mismatch_leaves_nothing(client_for):
    dev = client_for("dev")
    auth = dev.bearer(PUSH)
    data = b"some bytes"
    wrong = "sha256:" + hashlib.sha256(b"other").hexdigest()
    mono = dev.request("POST", f"/v2/{REPO}/blobs/uploads/?digest={wrong}", headers=auth, content=data)
    assert mono.status_code == 400
    assert error_code(mono) == "DIGEST_INVALID"
    assert dev.request("HEAD", f"/v2/{REPO}/blobs/{wrong}", headers=auth).status_code == 404
    assert dev.request("HEAD", f"/v2/{REPO}/blobs/{digest_of(data)}", headers=auth).status_code == 404
    location = dev.request("POST", f"/v2/{REPO}/blobs/uploads/", headers=auth).headers["Location"]
    dev.request("PATCH", location, headers=auth, content=data)
    put = dev.request("PUT", f"{location}?digest={wrong}", headers=auth)
    assert put.status_code == 400
    assert error_code(put) == "DIGEST_INVALID"
    assert dev.request("GET", location, headers=auth).status_code == 404  # session gone too
    assert dev.request("HEAD", f"/v2/{REPO}/blobs/{digest_of(data)}", headers=auth).status_code == 404


def test_sha512_blob_digest_accepted(client_for):
    dev = client_for("dev")
    auth = dev.bearer(PUSH)
    data = b"sha512 content"
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    location = dev.request("POST", f"/v2/{REPO}/blobs/uploads/", headers=auth).headers["Location"]
    done = dev.request("PUT", f"{location}?digest={digest}", headers=auth, content=data)
    assert done.status_code == 201, done.text
    assert dev.request("GET", f"/v2/{REPO}/blobs/{digest}", headers=auth).content == data
    bad = dev.request("POST", f"/v2/{REPO}/blobs/uploads/?digest=md5:{'a' * 32}", headers=auth, content=data)
    assert bad.status_code == 400
    assert error_code(bad) == "DIGEST_INVALID"


def test_upload_cancel_and_unknown_ids(client_for):
    dev = client_for("dev")
    auth = dev.bearer(PUSH)
    location = dev.request("POST", f"/v2/{REPO}/blobs/uploads/", headers=auth).headers["Location"]
    assert dev.request("DELETE", location, headers=auth).status_code == 204
    gone = dev.request("GET", location, headers=auth)
    assert gone.status_code == 404
    assert error_code(gone) == "BLOB_UPLOAD_UNKNOWN"
    for bogus in ("not-a-uuid", "6b1f7c4e-2a7a-4a54-9f0a-1a2b3c4d5e6f"):
        response = dev.request("PATCH", f"/v2/{REPO}/blobs/uploads/{bogus}", headers=auth, content=b"x")
        assert response.status_code == 404
        assert error_code(response) == "BLOB_UPLOAD_UNKNOWN"


def test_upload_session_bound_to_repository_and_principal(client_for):
    dev, maint = client_for("dev"), client_for("maint")
    location = dev.request("POST", f"/v2/{REPO}/blobs/uploads/", headers=dev.bearer(PUSH)).headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    other_repo = "team/elsewhere"
    moved = dev.request(
        "PATCH",
        f"/v2/{other_repo}/blobs/uploads/{upload_id}",
        headers=dev.bearer(f"repository:{other_repo}:pull,push"),
        content=b"x",
    )
    assert moved.status_code == 404
    stolen = maint.request("PATCH", location, headers=maint.bearer(PUSH), content=b"x")
    assert stolen.status_code == 404
    assert error_code(stolen) == "BLOB_UPLOAD_UNKNOWN"


def test_manifest_push_pull_tags_and_delete(client_for):
    dev, maint = client_for("dev"), client_for("maint")
    digest, manifest = dev.push_image(REPO, "v1", seed="m1")
    auth = dev.bearer(PUSH)
    got = dev.request("GET", f"/v2/{REPO}/manifests/v1", headers={**auth, "Accept": manifest["mediaType"]})
    assert got.status_code == 200
    assert got.headers["Docker-Content-Digest"] == digest
    assert got.headers["Content-Type"] == manifest["mediaType"]
    assert digest_of(got.content) == digest  # byte-exact
    by_digest = dev.request("HEAD", f"/v2/{REPO}/manifests/{digest}", headers=auth)
    assert by_digest.status_code == 200
    assert int(by_digest.headers["Content-Length"]) == len(got.content)
    # ?tag= adds several tags in one push by digest
    again = dev.request(
        "PUT",
        f"/v2/{REPO}/manifests/{digest}?tag=a1&tag=a2",
        headers={**auth, "Content-Type": manifest["mediaType"]},
        content=got.content,
    )
    assert again.status_code == 201
    tags = dev.request("GET", f"/v2/{REPO}/tags/list", headers=auth).json()["tags"]
    assert {"v1", "a1", "a2"} <= set(tags)
    # a developer may not delete; a maintainer deletes a tag only
    denied = dev.request("DELETE", f"/v2/{REPO}/manifests/a2", headers=dev.bearer(f"repository:{REPO}:delete"))
    assert denied.status_code == 401
    mauth = maint.bearer(f"repository:{REPO}:pull,push,delete")
    assert maint.request("DELETE", f"/v2/{REPO}/manifests/a2", headers=mauth).status_code == 202
    assert maint.request("GET", f"/v2/{REPO}/manifests/a2", headers=mauth).status_code == 404
    assert maint.request("GET", f"/v2/{REPO}/manifests/a1", headers=mauth).status_code == 200
    assert maint.request("DELETE", f"/v2/{REPO}/manifests/{digest}", headers=mauth).status_code == 202
    gone = maint.request("GET", f"/v2/{REPO}/manifests/a1", headers=mauth)
    assert gone.status_code == 404
    assert error_code(gone) == "MANIFEST_UNKNOWN"


def test_manifest_validation_errors_store_nothing(client_for):
    dev = client_for("dev")
    auth = dev.bearer(PUSH)
    oci = "application/vnd.oci.image.manifest.v1+json"

    def put(ref, body, ctype=oci):
        return dev.request("PUT", f"/v2/{REPO}/manifests/{ref}", headers={**auth, "Content-Type": ctype}, content=body)

    assert error_code(put("bad1", b"{not json")) == "MANIFEST_INVALID"
    missing = {
        "schemaVersion": 2,
        "mediaType": oci,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "1" * 64, "size": 3},
        "layers": [],
    }
    response = put("bad2", json.dumps(missing).encode())
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"
    wrong_type = put("bad3", json.dumps(missing).encode(), "application/vnd.oci.image.index.v1+json")
    assert error_code(wrong_type) == "MANIFEST_INVALID"
    ambiguous = {"schemaVersion": 2, "layers": [], "manifests": []}
    assert error_code(put("bad4", json.dumps(ambiguous).encode(), "application/json")) == "MANIFEST_INVALID"
    huge = put("bad5", b" " * (4 * 1024 * 1024 + 1))
    assert huge.status_code == 413
    body = json.dumps(missing).encode()
    mismatch = put("sha256:" + "2" * 64, body)
    assert mismatch.status_code == 400
    assert error_code(mismatch) == "DIGEST_INVALID"
    tags = dev.request("GET", f"/v2/{REPO}/tags/list", headers=auth)
    assert not any(t.startswith("bad") for t in tags.json().get("tags", []))


def test_index_requires_children(client_for):
    dev = client_for("dev")
    child_digest, child = dev.push_image(REPO, "child", seed="c1")
    child_size = len(json.dumps(child).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": child["mediaType"],
                "digest": child_digest,
                "size": child_size,
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        ],
    }
    assert dev.push_manifest(REPO, "idx", index).status_code == 201
    index["manifests"][0]["digest"] = "sha256:" + "3" * 64
    bad = dev.push_manifest(REPO, "idx2", index)
    assert bad.status_code == 400
    assert error_code(bad) == "MANIFEST_BLOB_UNKNOWN"


def test_referrers_and_subject_header(client_for):
    dev = client_for("dev")
    subject_digest, subject = dev.push_image(REPO, "subj", seed="s1")
    descriptor = {
        "mediaType": subject["mediaType"],
        "digest": subject_digest,
        "size": len(json.dumps(subject).encode()),
    }
    auth = dev.bearer(PUSH)
    sig_digest, _ = dev.push_image(
        REPO, "sig", seed="sig", subject=descriptor, artifact_type="application/vnd.example.sig"
    )
    sbom_digest, _ = dev.push_image(
        REPO, "sbom", seed="sbom", subject=descriptor, artifact_type="application/vnd.example.sbom"
    )
    listing = dev.request("GET", f"/v2/{REPO}/referrers/{subject_digest}", headers=auth)
    assert listing.status_code == 200
    assert listing.headers["Content-Type"] == "application/vnd.oci.image.index.v1+json"
    found = {m["digest"]: m["artifactType"] for m in listing.json()["manifests"]}
    assert found == {sig_digest: "application/vnd.example.sig", sbom_digest: "application/vnd.example.sbom"}
    filtered = dev.request(
        "GET", f"/v2/{REPO}/referrers/{subject_digest}?artifactType=application/vnd.example.sbom", headers=auth
    )
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in filtered.json()["manifests"]] == [sbom_digest]
    none = dev.request("GET", f"/v2/{REPO}/referrers/sha256:{'4' * 64}", headers=auth)
    assert none.status_code == 200
    assert none.json()["manifests"] == []


def test_cross_repository_mount_needs_pull_on_source(client_for):
    dev, outsider = client_for("dev"), client_for("outsider")
    data = os.urandom(4096)
    digest = dev.push_blob(REPO, data)
    target = "team/mounted"
    auth = dev.bearer(f"repository:{target}:pull,push", f"repository:{REPO}:pull")
    mounted = dev.request("POST", f"/v2/{target}/blobs/uploads/?mount={digest}&from={REPO}", headers=auth)
    assert mounted.status_code == 201
    assert mounted.headers["Location"] == f"/v2/{target}/blobs/{digest}"
    assert dev.request("GET", f"/v2/{target}/blobs/{digest}", headers=auth).content == data
    # the outsider can push to `other` but may not read team/app: falls back to an upload session
    other = "other/stolen"
    oauth = outsider.bearer(f"repository:{other}:pull,push", f"repository:{REPO}:pull")
    fallback = outsider.request("POST", f"/v2/{other}/blobs/uploads/?mount={digest}&from={REPO}", headers=oauth)
    assert fallback.status_code == 202
    assert outsider.request("HEAD", f"/v2/{other}/blobs/{digest}", headers=oauth).status_code == 404


def _challenge_params(response: httpx.Response) -> dict[str, str]:
    scheme, _, rest = response.headers["WWW-Authenticate"].partition(" ")
    assert scheme == "Bearer"
    return dict(re.findall(r'(\w+)="([^"]*)"', rest))


@pytest.mark.parametrize("how", ["GET", "POST"])
def test_a_client_following_the_mount_challenge_literally_mounts(client_for, how):
    """Like containerd: no scopes of its own, it asks the realm for exactly the challenge's scopes
    (GET: one `scope` per space-separated item; POST: OAuth2 form, space-joined) and retries."""
    dev = client_for("dev")
    digest = dev.push_blob(REPO, os.urandom(2048))
    target = f"team/literal-{how.lower()}"
    url = f"{dev.base_url}/v2/{target}/blobs/uploads/?mount={digest}&from={REPO}"
    first = dev.http.post(url)
    assert first.status_code == 401
    params = _challenge_params(first)
    assert params["scope"].split(" ") == [f"repository:{target}:pull,push", f"repository:{REPO}:pull"]
    if how == "GET":
        query = [("service", params["service"])] + [("scope", s) for s in params["scope"].split(" ")]
        token = dev.http.get(params["realm"], params=query, auth=("dev", dev.password)).json()["token"]
    else:
        form = {
            "grant_type": "password",
            "service": params["service"],
            "scope": params["scope"],
            "client_id": "literal",
            "username": "dev",
            "password": dev.password,
        }
        token = dev.http.post(params["realm"], data=form).json()["access_token"]
    mounted = dev.http.post(url, headers={"Authorization": f"Bearer {token}"})
    assert mounted.status_code == 201, mounted.text
    assert mounted.headers["Location"] == f"/v2/{target}/blobs/{digest}"


def test_an_insufficient_token_is_challenged_with_the_mount_source_too(client_for):
    dev = client_for("dev")
    digest = dev.push_blob(REPO, os.urandom(1024))
    target = "team/insufficient"
    pull_only = dev.bearer(f"repository:{target}:pull")
    refused = dev.request("POST", f"/v2/{target}/blobs/uploads/?mount={digest}&from={REPO}", headers=pull_only)
    assert refused.status_code == 401
    params = _challenge_params(refused)
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == f"repository:{target}:pull,push repository:{REPO}:pull"
    # without a mount the challenge names the target only, as before
    plain = dev.request("POST", f"/v2/{target}/blobs/uploads/", headers=pull_only)
    assert _challenge_params(plain)["scope"] == f"repository:{target}:pull,push"


def test_token_scopes_are_downscoped_and_enforced(client_for, registry_server):
    dev, guest, anonymous = client_for("dev"), client_for("guest"), client_for(None)
    # a token for repo A cannot push to repo B
    a_token = dev.bearer("repository:team/a:pull,push")
    refused = dev.request("POST", "/v2/team/b/blobs/uploads/", headers=a_token)
    assert refused.status_code == 401
    assert "insufficient_scope" in refused.headers["WWW-Authenticate"]
    # a guest asking for push gets pull only
    token = guest.token("repository:team/app:pull,push").json()["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull"]}]
    pushed = guest.request("POST", "/v2/team/app/blobs/uploads/", headers={"Authorization": f"Bearer {token}"})
    assert pushed.status_code == 401
    # anonymous: nothing in a private project, pull in a public one
    anon = jwt.decode(anonymous.token("repository:team/app:pull").json()["token"], options={"verify_signature": False})
    assert anon["access"] == [{"type": "repository", "name": "team/app", "actions": []}]
    private = anonymous.request("GET", "/v2/team/app/tags/list", scopes=("repository:team/app:pull",))
    assert private.status_code == 401
    public = jwt.decode(
        anonymous.token("repository:library/x:pull,push").json()["token"], options={"verify_signature": False}
    )
    assert public["access"][0]["actions"] == ["pull"]
    # pushing into a project that does not exist is refused
    ghost = jwt.decode(dev.token("repository:ghost/app:pull,push").json()["token"], options={"verify_signature": False})
    assert ghost["access"][0]["actions"] == []
    # wrong password is 401 at the token endpoint, never an anonymous downgrade
    bad = httpx.get(
        f"{registry_server.url}/service/token", params={"scope": "repository:library/x:pull"}, auth=("dev", "nope")
    )
    assert bad.status_code == 401


def test_limited_guest_pulls_but_cannot_list_catalog_entries_it_cannot_see(client_for, admin):
    admin.push_image("team/listed", "v1", seed="l1")
    limited = client_for("limited")
    assert (
        limited.request("GET", "/v2/team/listed/manifests/v1", scopes=("repository:team/listed:pull",)).status_code
        == 200
    )
    outsider_catalog = client_for("outsider").request("GET", "/v2/_catalog", scopes=("registry:catalog:*",)).json()
    assert not any(name.startswith("team/") for name in outsider_catalog["repositories"])
    admin_catalog = admin.request("GET", "/v2/_catalog", scopes=("registry:catalog:*",)).json()
    assert "team/listed" in admin_catalog["repositories"]


def test_forged_and_expired_tokens_are_rejected(client_for, registry_server):
    dev = client_for("dev")
    real = dev.token(PUSH).json()["token"]
    claims = jwt.decode(real, options={"verify_signature": False})
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": jwt.get_unverified_header(real)["kid"]})
    unsigned = jwt.encode(claims, None, algorithm="none")
    expired_claims = {**claims, "exp": 1000, "nbf": 900, "iat": 900}
    expired = jwt.encode(expired_claims, other_key, algorithm="RS256")
    for token in (forged, unsigned, expired, real[:-4] + "AAAA"):
        response = dev.request("GET", f"/v2/{REPO}/tags/list", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert error_code(response) == "UNAUTHORIZED"


@pytest.mark.parametrize(
    "path",
    [
        "/v2/team/../other/app/tags/list",
        "/v2/team/%2e%2e/app/tags/list",
        "/v2/team//app/tags/list",
        "/v2/Team/App/tags/list",
        "/v2/" + "a" * 256 + "/x/tags/list",
        "/v2/noproject/tags/list",
    ],
)
def test_bad_names_are_name_invalid_before_auth(registry_server, path):
    # http.client sends the path as written (httpx would normalise the dot segments away).
    conn = http.client.HTTPConnection("127.0.0.1", registry_server.port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 400, body
    assert body["errors"][0]["code"] == "NAME_INVALID"


def test_tags_list_paginates_with_link(admin):
    name = "library/many"
    digest, manifest = admin.push_image(name, "t0000", seed="many")
    auth = admin.bearer(f"repository:{name}:pull,push")
    body = admin.request("GET", f"/v2/{name}/manifests/{digest}", headers=auth).content
    for i in range(1, 60):
        response = admin.request(
            "PUT",
            f"/v2/{name}/manifests/t{i:04d}",
            headers={**auth, "Content-Type": manifest["mediaType"]},
            content=body,
        )
        assert response.status_code == 201
    seen, pages, url = [], 0, f"/v2/{name}/tags/list?n=20"
    while url:
        page = admin.request("GET", url, headers=auth)
        seen += page.json()["tags"]
        pages += 1
        link = page.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    assert seen == [f"t{i:04d}" for i in range(60)]
    assert pages == 3  # a full last page announces no next page


@pytest.mark.parametrize("size", [100, 300_000])  # inside gunicorn's first read, and past it
def test_pipelined_requests_after_a_streamed_body(client_for, registry_server, size):
    """A blob body read straight from the socket leaves the next pipelined request intact."""
    dev = client_for("dev")
    token = dev.bearer(PUSH)["Authorization"]
    data = os.urandom(size)
    digest = digest_of(data)
    first = (
        f"POST /v2/{REPO}/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode() + data
    second = f"HEAD /v2/{REPO}/blobs/{digest} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", registry_server.port, timeout=10)
    conn.connect()
    conn.sock.sendall(first + second)  # both requests in one write: the second sits behind the body
    responses = []
    for method in ("POST", "HEAD"):
        response = http.client.HTTPResponse(conn.sock, method=method)
        response.begin()
        response.read()
        responses.append(response)
    assert responses[0].status == 201
    assert responses[1].status == 200
    assert int(responses[1].getheader("Content-Length")) == len(data)
    conn.close()


def test_pulls_are_counted_without_a_write_on_the_pull_path(admin, registry_server):
    name = "library/counted"
    admin.push_image(name, "v1", seed="counted")
    auth = admin.bearer(f"repository:{name}:pull")
    for _ in range(3):
        assert admin.request("GET", f"/v2/{name}/manifests/v1", headers=auth).status_code == 200
    assert admin.request("HEAD", f"/v2/{name}/manifests/v1", headers=auth).status_code == 200  # not a pull
    deadline = time.monotonic() + 15
    count = None
    while time.monotonic() < deadline:
        repo = httpx.get(
            f"{registry_server.url}/api/v2.0/projects/library/repositories/counted",
            auth=("admin", registry_server.admin_password),
        ).json()
        count = repo["pull_count"]
        if count == 3:
            break
        time.sleep(0.5)
    assert count == 3
