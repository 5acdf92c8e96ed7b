"""Readers of the Bicep and Terraform trees, enough for the infra tests (no Bicep CLI or Terraform here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
BICEP = INFRA / "bicep"
TERRAFORM = INFRA / "terraform"

# A decorator such as @description('...'), @allowed([...]) or @secure(): one level of parentheses
# inside (descriptions contain "(...)").
_DECORATOR = r"@\w+\((?:[^()]|\([^()]*\))*\)\s*"
_DECLARATION = re.compile(rf"((?:{_DECORATOR})*)^(param|output)\s+(\w+)\s+(\w+)", re.MULTILINE)
_RESOURCE = re.compile(r"^resource\s+(\w+)\s+'([^@']+)@[^']+'\s*(existing)?", re.MULTILINE)


@dataclass(frozen=True)
class BicepDeclaration:
    file: str
    kind: str  # "param" or "output"
    name: str
    type: str
    decorators: str

    @property
    def description(self) -> str | None:
        match = re.search(r"@description\('((?:[^'\\]|\\.)*)'\)", self.decorators)
        return match.group(1) if match else None

    @property
    def secure(self) -> bool:
        return "@secure()" in self.decorators


def bicep_files() -> list[Path]:
    return sorted(BICEP.rglob("*.bicep"))


def bicep_declarations(path: Path, root: Path = ROOT) -> list[BicepDeclaration]:
    text = path.read_text(encoding="utf-8")
    return [
        BicepDeclaration(str(path.relative_to(root)), m.group(2), m.group(3), m.group(4), m.group(1))
        for m in _DECLARATION.finditer(text)
    ]


def bicep_resource_kinds() -> set[str]:
    """ARM types of every resource the Bicep tree creates (not `existing` references)."""
    kinds: set[str] = set()
    for path in bicep_files():
        for match in _RESOURCE.finditer(path.read_text(encoding="utf-8")):
            if not match.group(3):
                kinds.add(match.group(2))
    return kinds


def bicep_object_var(path: Path, name: str) -> dict[str, str]:
    """Keys and raw values of a top-level `var NAME = { key: value ... }` object of one-line values."""
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"^var {name} = \{{\n(.*?)^\}}", text, re.MULTILINE | re.DOTALL)
    assert match, f"{path}: no `var {name} = {{...}}`"
    entries = re.findall(r"^  (\w+): (.+)$", match.group(1), re.MULTILINE)
    return dict(entries)


def bicep_role_ids() -> set[str]:
    """Built-in role definition GUIDs the Bicep tree assigns."""
    ids: set[str] = set()
    for path in bicep_files():
        ids |= set(re.findall(r"^var \w+ = '([0-9a-f-]{36})'", path.read_text(encoding="utf-8"), re.MULTILINE))
    return ids


# --- Terraform ---------------------------------------------------------------------------------


def unquote(value: Any) -> Any:
    """python-hcl2 keeps string literals quoted; strip the quotes, recursively."""
    if isinstance(value, str) and len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1]
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    return value


def terraform_files() -> list[Path]:
    return sorted(TERRAFORM.glob("*.tf"))


@cache
def terraform_document(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = unquote(hcl2.load(handle))
        return document


def terraform_blocks(kind: str) -> dict[str, Any]:
    """Top-level blocks of one kind over every file: variables, outputs by name; locals merged."""
    found: dict[str, Any] = {}
    for path in terraform_files():
        for block in terraform_document(path).get(kind, []):
            found.update(block)
    return found


def terraform_resources() -> dict[tuple[str, str], dict[str, Any]]:
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    for path in terraform_files():
        for block in terraform_document(path).get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    resources[(rtype, name)] = body
    return resources


def terraform_locals() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in terraform_files():
        for block in terraform_document(path).get("locals", []):
            merged.update(block)
    return merged
