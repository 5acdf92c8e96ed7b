"""Blob conformance: every BlobStore implementation passes these same cases.

Only the interface is used. Names are unique per test so the suite can run against a shared
server, and URLs are treated as opaque except for the round trip through name_from_url.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from shared.blob.base import BlobStore
from shared.errors import InvalidName, NotFound

MIB = 1024 * 1024


def unique_prefix() -> str:
    return f"conformance-{uuid.uuid4().hex[:12]}"


def write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(MIB), b""):
            sha.update(chunk)
    return sha.hexdigest()


def test_a_multi_mib_file_round_trips_byte_identical(blob: BlobStore, tmp_path: Path) -> None:
    source = write(tmp_path / "in" / "video.bin", os.urandom(5 * MIB + 12345))
    name = f"{unique_prefix()}/video.bin"

    url = blob.put(source, name)
    blob.get(name, tmp_path / "out" / "deep" / "video.bin")

    assert url == blob.url(name)
    assert digest(tmp_path / "out" / "deep" / "video.bin") == digest(source)
    assert (tmp_path / "out" / "deep" / "video.bin").stat().st_size == 5 * MIB + 12345


def test_an_empty_file_round_trips(blob: BlobStore, tmp_path: Path) -> None:
    name = f"{unique_prefix()}/empty.txt"
    blob.put(write(tmp_path / "empty.txt", b""), name)
    blob.get(name, tmp_path / "copy.txt")

    assert (tmp_path / "copy.txt").read_bytes() == b""
    assert blob.exists(name)


def test_nested_names_are_separate_blobs(blob: BlobStore, tmp_path: Path) -> None:
    prefix = unique_prefix()
    names = {
        f"{prefix}/a.txt": b"top",
        f"{prefix}/frames/0001.png": b"frame one",
        f"{prefix}/frames/deeper/0002.png": b"frame two",
        f"{prefix}/with space/und ümlaut %20.txt": b"odd characters",
    }
    for i, (name, content) in enumerate(names.items()):
        blob.put(write(tmp_path / "src" / f"{i}.bin", content), name)

    for i, (name, content) in enumerate(names.items()):
        target = tmp_path / "dst" / f"{i}.bin"
        blob.get(name, target)
        assert target.read_bytes() == content


def test_put_overwrites(blob: BlobStore, tmp_path: Path) -> None:
    name = f"{unique_prefix()}/result.json"
    blob.put(write(tmp_path / "v1.json", b'{"v": 1, "padding": "' + b"x" * 1000 + b'"}'), name)
    blob.put(write(tmp_path / "v2.json", b'{"v": 2}'), name)

    blob.get(name, tmp_path / "got.json")
    assert (tmp_path / "got.json").read_bytes() == b'{"v": 2}'


def test_get_overwrites_an_existing_local_file(blob: BlobStore, tmp_path: Path) -> None:
    name = f"{unique_prefix()}/a.txt"
    blob.put(write(tmp_path / "a.txt", b"short"), name)
    target = write(tmp_path / "target.txt", b"a much longer previous content")

    blob.get(name, target)
    assert target.read_bytes() == b"short"


def test_exists(blob: BlobStore, tmp_path: Path) -> None:
    prefix = unique_prefix()
    blob.put(write(tmp_path / "f", b"x"), f"{prefix}/dir/file.txt")

    assert blob.exists(f"{prefix}/dir/file.txt")
    assert not blob.exists(f"{prefix}/dir/other.txt")
    assert not blob.exists(f"{prefix}/missing/file.txt")


def test_url_and_name_from_url_round_trip(blob: BlobStore, tmp_path: Path) -> None:
    prefix = unique_prefix()
    for name in (f"{prefix}/a.txt", f"{prefix}/sub dir/b #1 100%.txt", f"{prefix}/ünï/çødé.png"):
        url = blob.put(write(tmp_path / "f", b"x"), name)
        assert blob.name_from_url(url) == name
        assert blob.name_from_url(blob.url(name)) == name


def test_name_from_url_rejects_foreign_urls(blob: BlobStore) -> None:
    for url in ("https://example.org/somewhere/else.txt", "file:///etc/passwd", "not a url", ""):
        with pytest.raises(InvalidName):
            blob.name_from_url(url)


@pytest.mark.parametrize(
    "name", ["", "/etc/passwd", "../outside.txt", "a/../../outside.txt", "a/", "a\\b", "a\x00b", "a/./b", "a//b"]
)
def test_invalid_names_are_rejected(blob: BlobStore, tmp_path: Path, name: str) -> None:
    source = write(tmp_path / "f", b"x")
    with pytest.raises(InvalidName):
        blob.put(source, name)
    with pytest.raises(InvalidName):
        blob.get(name, tmp_path / "out")
    with pytest.raises(InvalidName):
        blob.exists(name)
    with pytest.raises(InvalidName):
        blob.url(name)
    assert not (tmp_path / "out").exists()
    # A filesystem store lives in tmp_path/"blobs": an escape would land beside it, or one level up.
    assert not (tmp_path / "outside.txt").exists()
    assert not (tmp_path.parent / "outside.txt").exists()


def test_get_of_a_missing_blob_raises_not_found_and_writes_nothing(blob: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        blob.get(f"{unique_prefix()}/missing.bin", tmp_path / "out" / "missing.bin")
    assert not (tmp_path / "out" / "missing.bin").exists()


def test_put_of_a_missing_local_file_fails_and_stores_nothing(blob: BlobStore, tmp_path: Path) -> None:
    name = f"{unique_prefix()}/never.bin"
    with pytest.raises(FileNotFoundError):
        blob.put(tmp_path / "does-not-exist.bin", name)
    assert not blob.exists(name)
