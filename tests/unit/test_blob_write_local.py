"""write_local: how a store writes a fetched blob to a local file, whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from shared.blob.base import write_local


def fill_with(content: bytes, fail_after: int | None = None) -> Callable[[BinaryIO], None]:
    def fill(stream: BinaryIO) -> None:
        if fail_after is None:
            stream.write(content)
            return
        stream.write(content[:fail_after])
        stream.flush()
        raise ConnectionError("connection reset mid-transfer")

    return fill


def test_a_new_file_is_written_in_place(tmp_path: Path) -> None:
    seen: list[str] = []

    def fill(stream: BinaryIO) -> None:
        seen.append(stream.name)
        stream.write(b"fetched")

    write_local(tmp_path / "new.bin", fill)
    assert seen == [str(tmp_path / "new.bin")]  # no temporary name, no rename
    assert (tmp_path / "new.bin").read_bytes() == b"fetched"
    assert os.listdir(tmp_path) == ["new.bin"]


def test_an_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "existing.bin"
    target.write_bytes(b"a much longer previous content")
    write_local(target, fill_with(b"short"))
    assert target.read_bytes() == b"short"
    assert os.listdir(tmp_path) == ["existing.bin"]


def test_a_failed_fill_leaves_no_file_and_keeps_an_existing_one(tmp_path: Path) -> None:
    existing = tmp_path / "existing.bin"
    existing.write_bytes(b"old")
    for target in (tmp_path / "new.bin", existing):
        with pytest.raises(ConnectionError, match="mid-transfer"):
            write_local(target, fill_with(b"0123456789", fail_after=4))
    assert os.listdir(tmp_path) == ["existing.bin"]
    assert existing.read_bytes() == b"old"


def test_a_symlink_at_the_target_is_replaced_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not yours")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "planted.bin").symlink_to(outside)
    (folder / "dangling.bin").symlink_to(tmp_path / "nowhere.txt")

    write_local(folder / "planted.bin", fill_with(b"fetched"))
    write_local(folder / "dangling.bin", fill_with(b"fetched too"))
    assert outside.read_bytes() == b"not yours"
    assert not (tmp_path / "nowhere.txt").exists()
    assert not (folder / "planted.bin").is_symlink()
    assert (folder / "planted.bin").read_bytes() == b"fetched"
    assert (folder / "dangling.bin").read_bytes() == b"fetched too"
    assert sorted(os.listdir(folder)) == ["dangling.bin", "planted.bin"]


def test_an_existing_file_with_the_longest_name_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 255)  # NAME_MAX: the temporary name must not grow with it
    target.write_bytes(b"old")
    write_local(target, fill_with(b"new"))
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == [target.name]
