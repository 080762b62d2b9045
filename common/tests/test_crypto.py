"""Secrets at rest: Fernet under an HKDF-derived key; wrong keys fail loudly; rotation keeps old rows readable."""

from __future__ import annotations

import pytest
from django.test import override_settings

from common.crypto import DecryptionFailed, secret_decrypt, secret_encrypt


def test_round_trip_and_randomised_ciphertext():
    first, second = secret_encrypt("Bearer s3cr3t"), secret_encrypt("Bearer s3cr3t")
    assert first != second  # a fresh IV each time: equal secrets don't show as equal rows
    assert "s3cr3t" not in first
    assert secret_decrypt(first) == secret_decrypt(second) == "Bearer s3cr3t"


def test_unicode_secrets_survive():
    assert secret_decrypt(secret_encrypt("clé ✓")) == "clé ✓"


def test_a_different_key_fails_loudly():
    token = secret_encrypt("Bearer s3cr3t")
    with override_settings(HARBOR_ENCRYPTION_KEY="another-key"), pytest.raises(DecryptionFailed, match="OLD_KEYS"):
        secret_decrypt(token)


def test_explicit_key_is_not_the_secret_key_and_old_keys_still_decrypt():
    with override_settings(HARBOR_ENCRYPTION_KEY="key-one"):
        old = secret_encrypt("v1")
    with pytest.raises(DecryptionFailed):
        secret_decrypt(old)  # under HARBOR_SECRET_KEY
    with override_settings(HARBOR_ENCRYPTION_KEY="key-two", HARBOR_ENCRYPTION_OLD_KEYS=["key-one"]):
        assert secret_decrypt(old) == "v1"
        assert secret_decrypt(secret_encrypt("v2")) == "v2"


def test_tampered_tokens_are_refused():
    token = secret_encrypt("Bearer s3cr3t")
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(DecryptionFailed):
        secret_decrypt(flipped)
    with pytest.raises(DecryptionFailed):
        secret_decrypt("not a token")
