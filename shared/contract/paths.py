"""Relative paths a module names: they must stay inside their folder."""

from __future__ import annotations

from pathlib import Path, PurePosixPath


def relative_path_problem(name: str) -> str | None:
    """Why `name` cannot be a path relative to a folder, or None when it can."""
    if not name:
        return "is empty"
    if "\\" in name or "\x00" in name:
        return "contains a backslash or NUL"
    if name.startswith("/") or PurePosixPath(name).is_absolute():
        return "is absolute"
    parts = PurePosixPath(name).parts
    if ".." in parts:
        return "contains '..'"
    if not parts or name.endswith("/"):
        return "does not name a file"
    return None


def normalize(name: str) -> str:
    """'./a//b.png' -> 'a/b.png' (call after relative_path_problem returned None)."""
    return PurePosixPath(name).as_posix()


def inside(path: Path, root: Path) -> bool:
    """True when `path`, with every symlink resolved, is `root` or lies under it."""
    resolved = path.resolve()
    base = root.resolve()
    return resolved == base or base in resolved.parents
