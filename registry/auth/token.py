"""Docker registry bearer tokens: RS256 JWTs signed with one key, loaded once per process."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from registry.auth.scopes import Scope


@dataclass(frozen=True)
class SigningKey:
    private: Any
    public: Any
    kid: str


def _libtrust_kid(public_key: Any) -> str:
    """Key id in the libtrust form Docker's registry uses: base32 of the SPKI hash, grouped by 4."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _create_key_file(path: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{uuid.uuid4().hex}"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
        handle.write(pem)
    try:
        os.link(tmp, path)  # atomic: the first process to get here wins, the others read its key
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


@cache
def signing_key() -> SigningKey:
    """The token key (HARBOR_TOKEN_PRIVATE_KEY, generated under var/ on first use if absent)."""
    path = settings.TOKEN_PRIVATE_KEY_PATH
    if not os.path.exists(path):
        _create_key_file(path)
    with open(path, "rb") as handle:
        private = serialization.load_pem_private_key(handle.read(), password=None)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ValueError("HARBOR_TOKEN_PRIVATE_KEY must be an RSA private key")
    return SigningKey(private, private.public_key(), _libtrust_kid(private.public_key()))


def token_issue(
    *, subject: str, access: list[Scope], now: float | None = None, expires_in: int | None = None
) -> tuple[str, int, float]:
    """Sign a token for `subject` granting `access` for `expires_in` seconds (default HARBOR_TOKEN_EXPIRATION)."""
    key = signing_key()
    issued = time.time() if now is None else now
    expires_in = settings.TOKEN_EXPIRATION if expires_in is None else expires_in
    claims = {
        "iss": settings.TOKEN_ISSUER,
        "sub": subject,
        "aud": settings.REGISTRY_SERVICE,
        "exp": int(issued) + expires_in,
        "nbf": int(issued) - 10,
        "iat": int(issued),
        "jti": uuid.uuid4().hex,
        "access": [scope.claim() for scope in access],
    }
    token = jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})
    return token, expires_in, issued


@dataclass(frozen=True)
class VerifiedToken:
    subject: str
    expires: int
    access: dict[tuple[str, str], frozenset[str]]


class TokenInvalid(Exception):
    pass


_VERIFIED: OrderedDict[str, VerifiedToken] = OrderedDict()
_VERIFIED_LOCK = threading.Lock()
_VERIFIED_MAX = 4096


def token_verify(token: str) -> VerifiedToken:
    """Verify signature (our key only, RS256 only), issuer, audience and expiry; cached per process."""
    now = time.time()
    with _VERIFIED_LOCK:
        hit = _VERIFIED.get(token)
    if hit is not None:
        if hit.expires > now:
            return hit
        with _VERIFIED_LOCK:
            _VERIFIED.pop(token, None)
        raise TokenInvalid("token expired")
    key = signing_key()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("kid") not in (None, key.kid):
            raise TokenInvalid("unknown signing key")
        # Only our public key and only RS256: `alg: none`, HS256-with-public-key and embedded
        # `jwk`/`x5c` headers are all refused because they are never consulted.
        claims = jwt.decode(
            token,
            key.public,
            algorithms=["RS256"],
            audience=settings.REGISTRY_SERVICE,
            issuer=settings.TOKEN_ISSUER,
            options={"require": ["exp", "iss", "aud", "sub"]},
            leeway=10,
        )
    except jwt.PyJWTError as exc:
        raise TokenInvalid(str(exc)) from exc
    access: dict[tuple[str, str], frozenset[str]] = {}
    for item in claims.get("access") or []:
        if isinstance(item, dict) and isinstance(item.get("actions"), list):
            key_ = (str(item.get("type", "")), str(item.get("name", "")))
            access[key_] = access.get(key_, frozenset()) | frozenset(map(str, item["actions"]))
    verified = VerifiedToken(str(claims["sub"]), int(claims["exp"]), access)
    with _VERIFIED_LOCK:
        _VERIFIED[token] = verified
        while len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
    return verified
