"""Relative paths a module names in its events: what is refused, and the one spelling each one gets."""

from __future__ import annotations

import pytest

from shared.contract.paths import normalize, relative_path_problem


@pytest.mark.parametrize(("name", "problem"), [
    ("", "is empty"),
    ("a\\b.png", "contains a backslash or NUL"),
    ("a\x00b", "contains a backslash or NUL"),
    ("/etc/passwd", "is absolute"),
    ("//server/share", "is absolute"),
    ("a/../../x", "contains '..'"),
    ("..", "contains '..'"),
    ("frames/", "does not name a file"),
    (".", "does not name a file"),
    ("./.", "does not name a file"),
])
def test_refused_names(name: str, problem: str) -> None:
    assert relative_path_problem(name) == problem


@pytest.mark.parametrize(("name", "spelling"), [
    ("a.png", "a.png"),
    ("./a//b.png", "a/b.png"),
    ("frames/./1.png", "frames/1.png"),
    ("frames/1.png/.", "frames/1.png"),
    ("..a/b..", "..a/b.."),  # dots inside a name are just characters
])
def test_accepted_names_and_their_one_spelling(name: str, spelling: str) -> None:
    assert relative_path_problem(name) is None
    assert normalize(name) == spelling
