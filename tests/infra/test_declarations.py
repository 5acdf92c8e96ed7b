"""Every Terraform file parses and documents its inputs; every Bicep parameter is described, secrets secure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.iac import (
    ROOT,
    bicep_declarations,
    bicep_files,
    terraform_blocks,
    terraform_document,
    terraform_files,
)

# Names of values that are secrets; a secret's *reference* (a Key Vault secret URI, an identity id) is not.
SECRET_NAME = re.compile(r"(password|secret|key|token|connectionstring|credential|mongodburi)$", re.IGNORECASE)
REFERENCE_NAME = re.compile(r"(SecretUri|Id|Name)$")


def test_both_trees_exist() -> None:
    assert (ROOT / "infra/bicep/main.bicep").is_file()
    assert len(bicep_files()) > 5
    assert len(terraform_files()) > 5


@pytest.mark.parametrize("path", terraform_files(), ids=lambda p: p.name)
def test_terraform_file_parses(path: Path) -> None:
    document = terraform_document(path)
    assert document, f"{path.name} parsed to nothing"


def test_every_terraform_variable_has_a_type_and_a_description() -> None:
    variables = terraform_blocks("variable")
    assert len(variables) > 20
    for name, body in variables.items():
        assert body.get("type"), f"variable {name} has no type"
        assert str(body.get("description", "")).strip(), f"variable {name} has no description"


def test_every_terraform_output_has_a_description() -> None:
    outputs = terraform_blocks("output")
    assert outputs
    for name, body in outputs.items():
        assert str(body.get("description", "")).strip(), f"output {name} has no description"


def test_every_bicep_parameter_and_output_has_a_description() -> None:
    declarations = [d for path in bicep_files() for d in bicep_declarations(path)]
    params = [d for d in declarations if d.kind == "param"]
    assert len(params) > 50  # the reader found the declarations
    for declaration in declarations:
        assert declaration.description, f"{declaration.file}: {declaration.kind} {declaration.name} has no @description"


def test_bicep_secrets_are_secure() -> None:
    """A parameter that carries a secret is @secure(); none does today (identities replace keys)."""
    for path in bicep_files():
        for declaration in bicep_declarations(path):
            if (declaration.kind == "param" and SECRET_NAME.search(declaration.name)
                    and not REFERENCE_NAME.search(declaration.name)):
                assert declaration.secure, f"{declaration.file}: param {declaration.name} must be @secure()"
            if declaration.kind == "output":
                assert not declaration.secure
                assert not re.search(r"(password|secret|key)$", declaration.name, re.IGNORECASE), (
                    f"{declaration.file}: output {declaration.name} looks like a secret"
                )


def test_the_bicep_reader_sees_decorators(tmp_path: Path) -> None:
    """Guards the reader the tests above rely on."""
    path = tmp_path / "probe.bicep"
    path.write_text("@secure()\n@description('a (b) c')\nparam mongoPassword string\n", encoding="utf-8")
    (declaration,) = bicep_declarations(path, root=tmp_path)
    assert declaration.name == "mongoPassword"
    assert declaration.secure
    assert declaration.description == "a (b) c"
