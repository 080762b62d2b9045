"""scanning/builtin/layers.py: an image's files from its layers, as the OCI image spec lays them over each other."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from scanning.builtin.layers import LayerError, LayerReport, LayerTooLarge, image_files, member_path
from scanning.tests.builders import layer

EVERYTHING = lambda path: True  # noqa: E731


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_every_layer_compression_is_read_by_its_magic_bytes(compression):
    files = image_files([layer(("file", "etc/os-release", b"ID=debian\n"), compression=compression)], EVERYTHING)
    assert files == {"etc/os-release": b"ID=debian\n"}


def test_later_layers_replace_files_and_whiteouts_delete_them():
    base = layer(
        ("file", "var/lib/dpkg/status", b"old"),
        ("file", "usr/lib/python3/dist-packages/a.dist-info/METADATA", b"a"),
        ("file", "usr/lib/python3/dist-packages/b.dist-info/METADATA", b"b"),
    )
    upper = layer(
        ("file", "var/lib/dpkg/status", b"new"),
        ("file", "usr/lib/python3/dist-packages/.wh.a.dist-info", b""),
    )
    files = image_files([base, upper], EVERYTHING)
    assert files == {
        "var/lib/dpkg/status": b"new",
        "usr/lib/python3/dist-packages/b.dist-info/METADATA": b"b",
    }


def test_an_opaque_directory_hides_what_lower_layers_had_in_it_but_not_its_own_files():
    base = layer(("file", "app/node_modules/left-pad/package.json", b"1"), ("file", "app/keep.txt", b"k"))
    upper = layer(
        ("dir", "app/node_modules"),
        ("file", "app/node_modules/.wh..wh..opq", b""),
        ("file", "app/node_modules/right-pad/package.json", b"2"),
    )
    files = image_files([base, upper], EVERYTHING)
    assert files == {"app/node_modules/right-pad/package.json": b"2", "app/keep.txt": b"k"}


def test_a_whiteout_then_a_new_file_in_the_same_layer_is_a_replacement():
    base = layer(("file", "lib/apk/db/installed", b"old"))
    upper = layer(("file", "lib/apk/db/.wh.installed", b""), ("file", "lib/apk/db/installed", b"new"))
    assert image_files([base, upper], EVERYTHING) == {"lib/apk/db/installed": b"new"}


def test_a_file_or_link_over_a_directory_removes_the_directory_below():
    base = layer(("file", "opt/tool/package.json", b"{}"), ("file", "srv/x/package.json", b"{}"))
    upper = layer(("file", "opt/tool", b"now a file"), ("symlink", "srv/x", "/elsewhere"))
    assert image_files([base, upper], EVERYTHING) == {"opt/tool": b"now a file"}


def test_only_wanted_files_are_read():
    files = image_files(
        [layer(("file", "var/lib/dpkg/status", b"s"), ("file", "usr/bin/huge", b"x" * 1000))],
        lambda path: path.endswith("dpkg/status"),
    )
    assert files == {"var/lib/dpkg/status": b"s"}


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("./var/lib/dpkg/status", "var/lib/dpkg/status"),
        ("/var//lib/./dpkg/status", "var/lib/dpkg/status"),
        ("../../etc/passwd", None),
        ("var/../../etc/passwd", None),
        ("a/b/../c", None),
        ("./", None),
    ],
)
def test_member_names_are_normalised_and_escapes_refused(name, path):
    assert member_path(name) == path


def test_hostile_members_are_skipped_and_reported():
    report = LayerReport()
    files = image_files(
        [
            layer(
                ("file", "../../etc/shadow", b"nope"),
                ("file", "/etc/os-release", b"ID=alpine\n"),  # absolute: taken from the root
                ("fifo", "run/pipe"),
                ("chr", "dev/null"),
                ("symlink", "etc/passwd", "/proc/self/environ"),
                ("file", "big.bin", b"x" * 2048),
            )
        ],
        EVERYTHING,
        max_file=1024,
        report=report,
    )
    assert files == {"etc/os-release": b"ID=alpine\n"}
    assert [reason for _name, reason in report.skipped] == [
        "outside the root",
        "device or FIFO",
        "device or FIFO",
        "larger than 1024 bytes",
    ]


def test_a_decompression_bomb_stops_at_the_layer_limit():
    # 64 MiB of zeros in one member: a few dozen KiB compressed.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("zeros")
        info.size = 64 * 1024 * 1024
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    bomb = gzip.compress(raw.getvalue(), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    with pytest.raises(LayerTooLarge):
        image_files([io.BytesIO(bomb)], EVERYTHING, max_layer=16 * 1024 * 1024)


@pytest.mark.parametrize("data", [b"not a layer at all" * 100, b"\x1f\x8b\x08broken gzip", b"\x28\xb5\x2f\xfdbroken"])
def test_a_stream_that_is_no_layer_is_a_layer_error(data):
    with pytest.raises(LayerError):
        image_files([io.BytesIO(data)], EVERYTHING)
