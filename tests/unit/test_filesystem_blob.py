"""The filesystem blob store beyond the conformance suite: containment, atomicity, streaming."""

from __future__ import annotations

import os
import shutil
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from shared.blob import filesystem
from shared.blob.filesystem import OPEN_FOLDERS, FilesystemBlobStore
from shared.errors import InvalidName, NotFound

MIB = 1024 * 1024


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


def source(tmp_path: Path, content: bytes = b"content") -> Path:
    path = tmp_path / "source.bin"
    path.write_bytes(content)
    return path


def test_blobs_are_files_under_the_root_and_urls_are_their_file_urls(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    url = store.put(source(tmp_path), "wf/ev/module/frames/1.png")

    assert (store.root / "wf/ev/module/frames/1.png").read_bytes() == b"content"
    assert url == (store.root / "wf/ev/module/frames/1.png").as_uri()


@pytest.mark.parametrize("name", ["a//b", "a/./b", "./a"])
def test_non_canonical_names_are_rejected(store: FilesystemBlobStore, tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidName):
        store.put(source(tmp_path), name)


def test_a_symlink_out_of_the_root_is_refused(store: FilesystemBlobStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for blobs")
    (store.root / "escape").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidName):
        store.get("escape/secret.txt", tmp_path / "stolen.txt")
    with pytest.raises(InvalidName):
        store.put(source(tmp_path), "escape/planted.txt")
    with pytest.raises(InvalidName):
        store.exists("escape/secret.txt")
    assert not (tmp_path / "stolen.txt").exists()
    assert not (outside / "planted.txt").exists()


def test_name_from_url_refuses_a_url_next_to_the_root(store: FilesystemBlobStore, tmp_path: Path) -> None:
    sibling = tmp_path / "blobs-other" / "a.txt"
    with pytest.raises(InvalidName):
        store.name_from_url(sibling.as_uri())
    with pytest.raises(InvalidName):
        store.name_from_url(store.root.as_uri())


def test_a_failed_put_keeps_the_old_blob_and_leaves_no_partial_file(
    store: FilesystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put(source(tmp_path, b"old content"), "a/result.bin")

    def broken_copy(src: Any, dst: Any, length: int = 0) -> None:
        dst.write(src.read(3))
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copyfileobj", broken_copy)
    with pytest.raises(OSError, match="disk full"):
        store.put(source(tmp_path, b"new content"), "a/result.bin")

    assert (store.root / "a/result.bin").read_bytes() == b"old content"
    assert os.listdir(store.root / "a") == ["result.bin"]


def test_a_name_below_an_existing_blob_is_refused(store: FilesystemBlobStore, tmp_path: Path) -> None:
    store.put(source(tmp_path), "a")
    with pytest.raises(InvalidName, match="a/b"):
        store.put(source(tmp_path), "a/b")
    with pytest.raises(InvalidName):
        store.put(source(tmp_path), "")
    store.put(source(tmp_path), "c/d")
    with pytest.raises(InvalidName, match="folder"):
        store.put(source(tmp_path), "c")


def test_put_and_get_stream_in_chunks(store: FilesystemBlobStore, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as file:
        for _ in range(24):
            file.write(os.urandom(MIB))

    tracemalloc.start()
    try:
        store.put(big, "big.bin")
        store.get("big.bin", tmp_path / "back.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 4 * MIB  # a whole-file read would need 24 MiB
    assert (tmp_path / "back.bin").stat().st_size == 24 * MIB


def test_a_kept_folder_deleted_underneath_is_walked_to_again(store: FilesystemBlobStore, tmp_path: Path) -> None:
    store.put(source(tmp_path, b"first"), "wf/ev/mod/a.txt")
    shutil.rmtree(store.root / "wf")

    with pytest.raises(NotFound):
        store.get("wf/ev/mod/a.txt", tmp_path / "back.txt")
    store.put(source(tmp_path, b"second"), "wf/ev/mod/b.txt")
    assert (store.root / "wf/ev/mod/b.txt").read_bytes() == b"second"

    shutil.rmtree(store.root)  # the whole store: a write starts it again
    store.put(source(tmp_path, b"third"), "wf/ev/mod/c.txt")
    assert (store.root / "wf/ev/mod/c.txt").read_bytes() == b"third"


def test_a_kept_folder_replaced_by_a_symlink_is_refused(store: FilesystemBlobStore, tmp_path: Path) -> None:
    store.put(source(tmp_path), "wf/ev/mod/a.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(store.root / "wf" / "ev")
    (store.root / "wf" / "ev").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidName, match="symlink"):
        store.put(source(tmp_path), "wf/ev/mod/planted.txt")
    assert list(outside.iterdir()) == []


def test_open_folders_are_bounded_and_released_on_close(tmp_path: Path) -> None:
    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = open_descriptors()
    store = FilesystemBlobStore(tmp_path / "blobs")
    for index in range(OPEN_FOLDERS * 2):
        store.put(source(tmp_path, str(index).encode()), f"wf/ev-{index}/mod/out.txt")
    assert open_descriptors() - before <= OPEN_FOLDERS
    for index in range(OPEN_FOLDERS * 2):  # evicted folders are walked to again
        store.get(f"wf/ev-{index}/mod/out.txt", tmp_path / "back.txt")
        assert (tmp_path / "back.txt").read_bytes() == str(index).encode()

    store.close()
    assert open_descriptors() == before


def test_urls_spell_names_as_file_urls_and_read_back(store: FilesystemBlobStore, tmp_path: Path) -> None:
    for name in ("a b/ü%20x.txt", "wf/ev/mod/100%.bin", "plain.txt"):
        url = store.put(source(tmp_path), name)
        assert url == (store.root / name).as_uri() == store.url(name)
        assert store.name_from_url(url) == name
    with pytest.raises(InvalidName):
        store.name_from_url(f"{store.root.as_uri()}/a//b")


def test_blobs_are_ordinary_files_and_no_partial_file_remains(store: FilesystemBlobStore, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        store.put(source(tmp_path, b"x" * (2 * MIB)), "wf/big.bin")
        store.put(source(tmp_path, b"small"), "wf/small.bin")
    finally:
        os.umask(previous)
    assert sorted(os.listdir(store.root / "wf")) == ["big.bin", "small.bin"]
    assert (store.root / "wf/big.bin").stat().st_mode & 0o777 == 0o644


def test_many_writers_in_one_folder(store: FilesystemBlobStore, tmp_path: Path) -> None:
    sources = []
    for index in range(32):
        path = tmp_path / f"in-{index}.bin"
        path.write_bytes(os.urandom(100 * 1024 + index))
        sources.append(path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda path: store.put(path, f"wf/ev/mod/{path.name}"), sources))
    for path in sources:
        assert (store.root / "wf/ev/mod" / path.name).read_bytes() == path.read_bytes()
    assert len(os.listdir(store.root / "wf/ev/mod")) == len(sources)


def test_a_failed_get_leaves_no_partial_file_and_keeps_an_existing_one(
    store: FilesystemBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put(source(tmp_path, b"blob content"), "wf/a.bin")
    existing = tmp_path / "in" / "existing.bin"
    existing.parent.mkdir()
    existing.write_bytes(b"old")

    def broken_stream(src: Any, out: Any) -> None:
        out.write(src.read(4))
        raise OSError("disk full")

    monkeypatch.setattr(filesystem, "_stream", broken_stream)
    for target in (tmp_path / "in" / "new.bin", existing):
        with pytest.raises(OSError, match="disk full"):
            store.get("wf/a.bin", target)
    assert sorted(os.listdir(tmp_path / "in")) == ["existing.bin"]
    assert existing.read_bytes() == b"old"

    monkeypatch.undo()
    store.get("wf/a.bin", existing)  # an existing file is replaced whole
    assert existing.read_bytes() == b"blob content"
