"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key derived by HKDF.

The key comes from HARBOR_ENCRYPTION_KEY when set, else from HARBOR_SECRET_KEY; either way it is
stretched with HKDF-SHA256 under a fixed, purpose-bound `info`, so the raw secret key is never
itself a cipher key. HARBOR_ENCRYPTION_OLD_KEYS (comma list) still decrypts rows written under a
previous key (MultiFernet): rotate by moving the current key there and setting a new one; rows are
re-encrypted under the new key whenever they are saved.

Generic on purpose (webhook auth headers and signing secrets, replication credentials):
`secret_encrypt`/`secret_decrypt` for values, `EncryptedTextField` for model fields.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

_SALT = b"harbor-django/secrets-at-rest"
_INFO = b"fernet-v1"


class DecryptionFailed(Exception):
    """A stored secret does not decrypt under the configured keys (wrong or rotated-away key, or tampering)."""


def _derive(material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(material.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@lru_cache(maxsize=8)
def _cipher(current: str, old: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_derive(current), *(_derive(key) for key in old)])


def _configured() -> MultiFernet:
    # Read per call (cheap, cached by value) so that override_settings and key rotation take effect.
    current = getattr(settings, "HARBOR_ENCRYPTION_KEY", "") or settings.SECRET_KEY
    old = tuple(k for k in getattr(settings, "HARBOR_ENCRYPTION_OLD_KEYS", ()) if k)
    return _cipher(current, old)


def secret_encrypt(plaintext: str) -> str:
    """Encrypt a secret for storage (a fresh IV each time: equal secrets give different tokens)."""
    return _configured().encrypt(plaintext.encode()).decode("ascii")


def secret_decrypt(token: str) -> str:
    """Decrypt a stored secret; raises DecryptionFailed rather than returning garbage."""
    try:
        return _configured().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise DecryptionFailed(
            "a stored secret does not decrypt: HARBOR_ENCRYPTION_KEY (or HARBOR_SECRET_KEY) changed "
            "without listing the previous key in HARBOR_ENCRYPTION_OLD_KEYS"
        ) from exc


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; Python code sees the plaintext, the database only ciphertext.

    The empty string means "no secret" and is stored as is. Equality lookups on the column cannot
    work (each encryption is randomised): filter on other fields.
    """

    def from_db_value(self, value, expression, connection):  # noqa: ANN001, ANN201, ARG002
        if value is None or value == "":
            return value
        return secret_decrypt(value)

    def get_prep_value(self, value):  # noqa: ANN001, ANN201
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return secret_encrypt(value)


class EncryptedJSONField(EncryptedTextField):
    """A JSON value stored encrypted as a whole (e.g. webhook targets: addresses may embed tokens too)."""

    def from_db_value(self, value, expression, connection):  # noqa: ANN001, ANN201
        text = super().from_db_value(value, expression, connection)
        return None if text is None or text == "" else json.loads(text)

    def to_python(self, value):  # noqa: ANN001, ANN201
        if isinstance(value, str) and value:
            return json.loads(value)
        return value

    def get_prep_value(self, value):  # noqa: ANN001, ANN201
        if value is None:
            return None
        return secret_encrypt(json.dumps(value, separators=(",", ":"), sort_keys=True))

    def value_to_string(self, obj) -> str:  # noqa: ANN001
        return json.dumps(self.value_from_object(obj))
