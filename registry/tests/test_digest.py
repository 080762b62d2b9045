"""registry/digest.py: digests are parsed and validated once, then passed as values."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from registry.digest import Digest
from registry.errors import DigestInvalid

SHA256_HEX = hashlib.sha256(b"hello").hexdigest()
SHA512_HEX = hashlib.sha512(b"hello").hexdigest()


@pytest.mark.parametrize(
    ("value", "algorithm", "hexpart"),
    [
        (f"sha256:{SHA256_HEX}", "sha256", SHA256_HEX),
        (f"sha512:{SHA512_HEX}", "sha512", SHA512_HEX),
    ],
)
def test_parse_accepts_registered_algorithms(value, algorithm, hexpart):
    digest = Digest.parse(value)
    assert (digest.algorithm, digest.hex) == (algorithm, hexpart)
    assert str(digest) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha256",
        "sha256:",
        ":" + SHA256_HEX,
        SHA256_HEX,
        f"sha256:{SHA256_HEX[:-1]}",  # too short
        f"sha256:{SHA256_HEX}0",  # too long
        f"sha256:{SHA256_HEX.upper()}",  # image-spec: the encoded part is lowercase hex here
        f"sha256:{'g' * 64}",
        f"SHA256:{SHA256_HEX}",
        f"sha512:{SHA256_HEX}",  # right algorithm, wrong length
        f"sha256:{SHA512_HEX}",
        f"md5:{hashlib.md5(b'hello').hexdigest()}",  # a refused algorithm
        f"sha384:{hashlib.sha384(b'hello').hexdigest()}",
        f"sha256:{SHA256_HEX}\n",  # a trailing newline must not slip through `$`
        f" sha256:{SHA256_HEX}",
        f"sha256 :{SHA256_HEX}",
        f"sha256::{SHA256_HEX}",
        f"sha256:{SHA256_HEX}:{SHA256_HEX}",
        f"sha256+:{SHA256_HEX}",
    ],
)
def test_parse_refuses_malformed_and_unsupported(value):
    with pytest.raises(DigestInvalid) as excinfo:
        Digest.parse(value)
    assert excinfo.value.code == "DIGEST_INVALID"
    assert excinfo.value.status == 400


def test_parse_error_message_is_bounded():
    with pytest.raises(DigestInvalid) as excinfo:
        Digest.parse("x" * 10_000)
    assert len(excinfo.value.message) < 300


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_of_hashes_bytes_with_the_algorithm(algorithm):
    digest = Digest.of(b"some bytes", algorithm)
    assert digest == Digest(algorithm, hashlib.new(algorithm, b"some bytes").hexdigest())
    assert Digest.parse(str(digest)) == digest


def test_of_defaults_to_sha256():
    assert Digest.of(b"") == Digest.parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_hasher_matches_the_algorithm(algorithm):
    digest = Digest.of(b"abc", algorithm)
    hasher = digest.hasher()
    hasher.update(b"abc")
    assert hasher.hexdigest() == digest.hex
    assert digest.hasher() is not hasher  # a fresh hasher each time


def test_digests_are_immutable_hashable_values():
    digest = Digest.parse(f"sha256:{SHA256_HEX}")
    assert digest == Digest("sha256", SHA256_HEX)
    assert {digest: 1}[Digest.parse(f"sha256:{SHA256_HEX}")] == 1
    assert digest != Digest.of(b"hello", "sha512")
    with pytest.raises(dataclasses.FrozenInstanceError):
        digest.hex = "0" * 64  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("sha256:abc", True), ("latest", False), ("v1.0", False), ("a:b", True), ("", False)],
)
def test_is_digest_distinguishes_references_from_tags(value, expected):
    assert Digest.is_digest(value) is expected
