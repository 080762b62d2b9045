"""registry/auth/token.py: tokens we sign verify; every forgery and every stale token does not."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from registry.auth import token as token_module
from registry.auth.scopes import Scope
from registry.auth.token import TokenInvalid, signing_key, token_issue, token_verify


@pytest.fixture(autouse=True)
def _fresh_cache():
    token_module._VERIFIED.clear()
    yield
    token_module._VERIFIED.clear()


@pytest.fixture(scope="module")
def other_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _claims(settings, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": settings.TOKEN_ISSUER,
        "sub": "alice",
        "aud": settings.REGISTRY_SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": "test",
        "access": [{"type": "repository", "name": "team/app", "actions": ["pull", "push", "delete"]}],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict, key=None, *, algorithm: str = "RS256", headers: dict | None = None) -> str:
    """Sign with our key (default) or another one, with our kid unless headers say otherwise."""
    real = signing_key()
    return jwt.encode(claims, key or real.private, algorithm=algorithm, headers=headers or {"kid": real.kid})


def test_issue_verify_roundtrip(settings):
    access = [
        Scope("repository", "team/app", frozenset({"pull", "push"})),
        Scope("registry", "catalog", frozenset({"*"})),
    ]
    token, expires_in, issued = token_issue(subject="alice", access=access)
    assert expires_in == settings.TOKEN_EXPIRATION
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == signing_key().kid
    verified = token_verify(token)
    assert verified.subject == "alice"
    assert verified.expires == int(issued) + settings.TOKEN_EXPIRATION
    assert verified.access == {
        ("repository", "team/app"): frozenset({"pull", "push"}),
        ("registry", "catalog"): frozenset({"*"}),
    }


def test_issued_claims_follow_the_docker_token_spec(settings):
    token, _, issued = token_issue(subject="bob", access=[Scope("repository", "a/b", frozenset({"push", "pull"}))])
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == settings.TOKEN_ISSUER
    assert claims["aud"] == settings.REGISTRY_SERVICE
    assert claims["sub"] == "bob"
    assert claims["iat"] == int(issued)
    assert claims["nbf"] <= claims["iat"] < claims["exp"]
    assert claims["jti"]
    assert claims["access"] == [{"type": "repository", "name": "a/b", "actions": ["pull", "push"]}]
    other, _, _ = token_issue(subject="bob", access=[])
    assert jwt.decode(other, options={"verify_signature": False})["jti"] != claims["jti"]


def test_anonymous_token_with_no_access_verifies():
    token, _, _ = token_issue(subject="", access=[])
    verified = token_verify(token)
    assert verified.subject == ""
    assert verified.access == {}


def test_key_id_is_libtrust_form():
    kid = signing_key().kid
    assert re.fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", kid)
    assert signing_key() is signing_key()  # loaded once per process


def test_expired_token_is_refused(settings):
    token, _, _ = token_issue(subject="alice", access=[], now=time.time() - settings.TOKEN_EXPIRATION - 60)
    with pytest.raises(TokenInvalid, match="expired"):
        token_verify(token)


def test_cached_token_is_refused_once_it_expires(monkeypatch):
    token, _, _ = token_issue(subject="alice", access=[])
    verified = token_verify(token)
    assert token_verify(token) is verified  # served from the per-process cache
    monkeypatch.setattr(token_module, "time", SimpleNamespace(time=lambda: verified.expires + 1))
    with pytest.raises(TokenInvalid, match="expired"):
        token_verify(token)
    assert token not in token_module._VERIFIED


def test_token_not_yet_valid_is_refused(settings):
    future = int(time.time()) + 3600
    with pytest.raises(TokenInvalid):
        token_verify(_sign(_claims(settings, nbf=future, iat=future, exp=future + 300)))


def test_wrong_audience_is_refused(settings):
    with pytest.raises(TokenInvalid, match="[Aa]udience"):
        token_verify(_sign(_claims(settings, aud="some-other-registry")))


def test_token_issued_for_another_service_is_refused(settings):
    service = settings.REGISTRY_SERVICE
    settings.REGISTRY_SERVICE = "another-registry"
    token, _, _ = token_issue(subject="alice", access=[])
    settings.REGISTRY_SERVICE = service
    with pytest.raises(TokenInvalid):
        token_verify(token)


def test_wrong_issuer_is_refused(settings):
    with pytest.raises(TokenInvalid, match="[Ii]ssuer"):
        token_verify(_sign(_claims(settings, iss="someone-else")))


def test_token_from_another_issuer_setting_is_refused(settings):
    issuer = settings.TOKEN_ISSUER
    settings.TOKEN_ISSUER = "rogue-issuer"
    token, _, _ = token_issue(subject="alice", access=[])
    settings.TOKEN_ISSUER = issuer
    with pytest.raises(TokenInvalid):
        token_verify(token)


@pytest.mark.parametrize("missing", ["exp", "iss", "aud", "sub"])
def test_required_claims(settings, missing):
    claims = _claims(settings)
    del claims[missing]
    with pytest.raises(TokenInvalid):
        token_verify(_sign(claims))


def test_our_own_key_and_kid_with_all_claims_verifies(settings):
    """The forgeries below differ from this token in one way each."""
    assert token_verify(_sign(_claims(settings))).subject == "alice"


def test_alg_none_is_refused(settings):
    token = jwt.encode(_claims(settings), None, algorithm="none", headers={"kid": signing_key().kid})
    assert token.endswith(".")  # really unsigned
    with pytest.raises(TokenInvalid):
        token_verify(token)


def test_alg_none_with_a_signature_segment_is_refused(settings):
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": signing_key().kid}).encode())
    payload = _b64(json.dumps(_claims(settings)).encode())
    with pytest.raises(TokenInvalid):
        token_verify(f"{header}.{payload}.{_b64(b'x')}")


@pytest.mark.parametrize(
    "encoding", [serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1]
)
def test_hs256_signed_with_the_public_key_pem_is_refused(settings, encoding):
    # The classic key-confusion attack: HMAC keyed with the (public) verification key.
    pem = signing_key().public.public_bytes(serialization.Encoding.PEM, encoding)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": signing_key().kid}).encode())
    payload = _b64(json.dumps(_claims(settings)).encode())
    signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(TokenInvalid):
        token_verify(f"{header}.{payload}.{_b64(signature)}")


@pytest.mark.parametrize("with_kid", [False, True], ids=["no-kid", "our-kid"])
def test_embedded_jwk_header_signed_by_another_key_is_refused(settings, other_key, with_kid):
    jwk = json.loads(RSAAlgorithm.to_jwk(other_key.public_key()))
    headers = {"jwk": jwk}
    if with_kid:
        headers["kid"] = signing_key().kid
    token = jwt.encode(_claims(settings), other_key, algorithm="RS256", headers=headers)
    with pytest.raises(TokenInvalid):
        token_verify(token)


def test_embedded_x5c_header_signed_by_another_key_is_refused(settings, other_key):
    der = other_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    token = jwt.encode(
        _claims(settings), other_key, algorithm="RS256", headers={"x5c": [base64.b64encode(der).decode()]}
    )
    with pytest.raises(TokenInvalid):
        token_verify(token)


def test_another_rsa_key_using_our_kid_is_refused(settings, other_key):
    with pytest.raises(TokenInvalid):
        token_verify(_sign(_claims(settings), other_key))


@pytest.mark.parametrize("algorithm", ["RS512", "PS256"])
def test_other_algorithms_with_our_key_are_refused(settings, algorithm):
    with pytest.raises(TokenInvalid):
        token_verify(_sign(_claims(settings), algorithm=algorithm))


def test_ecdsa_token_is_refused(settings):
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(TokenInvalid):
        token_verify(jwt.encode(_claims(settings), key, algorithm="ES256", headers={"kid": signing_key().kid}))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: {**c, "sub": "admin"},
        lambda c: {**c, "access": [{"type": "repository", "name": "other/app", "actions": ["push"]}]},
        lambda c: {**c, "exp": c["exp"] + 86400},
    ],
    ids=["subject", "access", "expiry"],
)
def test_tampered_payload_is_refused(tamper):
    token, _, _ = token_issue(subject="alice", access=[Scope("repository", "team/app", frozenset({"pull"}))])
    header, payload, signature = token.split(".")
    claims = tamper(json.loads(_unb64(payload)))
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(TokenInvalid):
        token_verify(forged)
    assert token_verify(token).subject == "alice"  # the genuine one still verifies


def test_tampered_signature_is_refused():
    token, _, _ = token_issue(subject="alice", access=[])
    header, payload, signature = token.split(".")
    raw = bytearray(_unb64(signature))
    raw[0] ^= 1
    with pytest.raises(TokenInvalid):
        token_verify(f"{header}.{payload}.{_b64(bytes(raw))}")


def test_unknown_kid_is_refused_even_when_signed_by_our_key(settings):
    token = _sign(_claims(settings), headers={"kid": "AAAA:BBBB:CCCC:DDDD:EEEE:FFFF:GGGG:HHHH:IIII:JJJJ:KKKK:LLLL"})
    with pytest.raises(TokenInvalid, match="unknown signing key"):
        token_verify(token)


def test_token_without_kid_signed_by_our_key_verifies(settings):
    token = jwt.encode(_claims(settings), signing_key().private, algorithm="RS256")
    assert "kid" not in jwt.get_unverified_header(token)
    assert token_verify(token).subject == "alice"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "a.b", "....", "eyJhbGciOiJSUzI1NiJ9.e30."])
def test_garbage_is_refused(garbage):
    with pytest.raises(TokenInvalid):
        token_verify(garbage)


def test_access_claim_entries_are_merged_and_malformed_ones_ignored(settings):
    access = [
        {"type": "repository", "name": "team/app", "actions": ["pull"]},
        {"type": "repository", "name": "team/app", "actions": ["push"]},
        {"type": "repository", "name": "team/bad", "actions": "pull"},  # not a list
        "repository:team/str:pull",  # not an object
        {"type": "repository", "name": "team/none"},  # no actions
    ]
    verified = token_verify(_sign(_claims(settings, access=access)))
    assert verified.access == {("repository", "team/app"): frozenset({"pull", "push"})}


def test_refused_tokens_are_not_cached(settings, other_key):
    forged = _sign(_claims(settings), other_key)
    for _ in range(2):
        with pytest.raises(TokenInvalid):
            token_verify(forged)
    assert forged not in token_module._VERIFIED
