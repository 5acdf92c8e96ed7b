"""Relative paths a module names: they must stay inside their folder."""

from __future__ import annotations

from pathlib import Path


def relative_path_problem(name: str) -> str | None:
    """Why `name` cannot be a path relative to a folder, or None when it can."""
    if not name:
        return "is empty"
    if "\\" in name or "\x00" in name:
        return "contains a backslash or NUL"
    if name.startswith("/"):
        return "is absolute"
    parts = name.split("/")
    if ".." in parts:
        return "contains '..'"
    if name.endswith("/") or all(part in ("", ".") for part in parts):
        return "does not name a file"
    return None


def normalize(name: str) -> str:
    """'./a//b.png' -> 'a/b.png' (call after relative_path_problem returned None). Plain string work:
    a job may name thousands of files."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def inside(path: Path, root: Path) -> bool:
    """True when `path`, with every symlink resolved, is `root` or lies under it."""
    resolved = path.resolve()
    base = root.resolve()
    return resolved == base or base in resolved.parents


def linked_part(base_dir: Path, relative: str) -> str | None:
    """The first folder on the way from `base_dir` to `relative` (itself included) that is a symlink,
    as a relative path, or None. Missing parts are fine: the sidecar makes them as real folders.

    A link there would make every containment check pass (both sides resolve through it) and send the
    sidecar's reads and writes wherever the module pointed it.
    """
    path = base_dir
    parts = relative.split("/")
    for depth, part in enumerate(parts, start=1):
        path = path / part
        if path.is_symlink():
            return "/".join(parts[:depth])
    return None
