"""No key, password or connection string is committed; role assignments, not keys, give access."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.iac import INFRA, ROOT, terraform_resources

SCANNED = sorted(
    p for p in [*INFRA.rglob("*"), *(ROOT / "tests" / "infra").rglob("*"), ROOT / "scripts/install.d/infra.sh",
                ROOT / "shared/infra_params.py", ROOT / "shared/cli/infra.py"]
    if p.is_file() and p.suffix in {".bicep", ".bicepparam", ".tf", ".json", ".tfvars", ".md", ".py", ".sh", ".yaml"}
    and p.name != Path(__file__).name and "__pycache__" not in p.parts
)

SECRET_PATTERNS = {
    "storage or Service Bus key in a connection string": re.compile(r"(AccountKey|SharedAccessKey)=[A-Za-z0-9+/]{20,}"),
    "Application Insights instrumentation key": re.compile(r"InstrumentationKey=[0-9a-f-]{36}", re.IGNORECASE),
    "SAS signature": re.compile(r"[?&]sig=[A-Za-z0-9%+/=]{20,}"),
    "credentials in a MongoDB URI": re.compile(r"mongodb(\+srv)?://[^\s:/@'\"]+:[^\s@'\"]+@"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "base64 account key": re.compile(r"['\"][A-Za-z0-9+/]{86}==['\"]"),
    "password literal": re.compile(r"(password|passwd|secret)\s*[:=]\s*['\"][^'\"$@{][^'\"]{5,}['\"]", re.IGNORECASE),
}


def test_the_scan_covers_the_tree() -> None:
    names = {p.name for p in SCANNED}
    assert {"main.bicep", "functionapp.tf", "README.md", "infra_params.py"} <= names


@pytest.mark.parametrize("label", sorted(SECRET_PATTERNS))
def test_no_secret_literal(label: str) -> None:
    pattern = SECRET_PATTERNS[label]
    hits = [f"{p.relative_to(ROOT)}: {m.group(0)[:12]}..." for p in SCANNED
            for m in pattern.finditer(p.read_text(encoding="utf-8", errors="replace"))]
    assert not hits, f"{label} committed: {hits}"


@pytest.mark.parametrize("label", sorted(SECRET_PATTERNS))
def test_the_patterns_catch_secrets(label: str) -> None:
    samples = {
        "storage or Service Bus key in a connection string": "AccountKey=" + "Ab12" * 10,
        "Application Insights instrumentation key": "InstrumentationKey=00000000-1111-2222-3333-444444444444",
        "SAS signature": "https://a.blob.core.windows.net/c/b?sv=2022&sig=" + "AbCd" * 8,
        "credentials in a MongoDB URI": "mongodb://ion:hunter22@host:10255/",
        "private key": "-----BEGIN RSA PRIVATE KEY-----",
        "base64 account key": "'" + "A" * 86 + "=='",
        "password literal": 'password = "correct-horse"',
    }
    assert SECRET_PATTERNS[label].search(samples[label])


def test_bicep_reads_no_keys_except_the_mongodb_secret() -> None:
    """Access is by role assignment; the one key read writes the MongoDB URI into Key Vault."""
    for path in INFRA.rglob("*.bicep"):
        text = path.read_text(encoding="utf-8")
        for call in re.findall(r"\.(list\w+)\(", text):
            assert path.name == "metadata.bicep" and call == "listConnectionStrings", f"{path.name}: {call}"
        assert "listConnectionStrings().connectionStrings[0].connectionString" not in text or (
            "Microsoft.KeyVault/vaults/secrets" in text
        )


def test_terraform_reads_no_keys_except_the_mongodb_secret() -> None:
    key_attribute = re.compile(r"(primary|secondary)_\w*(key|connection_string)")
    for (rtype, name), body in terraform_resources().items():
        found = key_attribute.findall(str(body))
        if found:
            assert (rtype, name) == ("azurerm_key_vault_secret", "mongodb_uri"), f"{rtype}.{name} reads a key"


def test_local_authentication_is_off_where_the_sdks_allow() -> None:
    resources = terraform_resources()
    assert resources[("azurerm_storage_account", "ion")]["shared_access_key_enabled"] is False
    assert resources[("azurerm_servicebus_namespace", "ion")]["local_auth_enabled"] is False
    assert resources[("azurerm_cosmosdb_account", "metadata")]["local_authentication_disabled"] == "${local.is_cosmos}"
    assert resources[("azurerm_container_registry", "ion")]["admin_enabled"] is False
    assert resources[("azurerm_batch_account", "jobs")]["allowed_authentication_modes"] == ["AAD"]
    assert resources[("azurerm_application_insights", "ion")]["local_authentication_disabled"] is True
    bicep = {p.name: p.read_text(encoding="utf-8") for p in INFRA.rglob("*.bicep")}
    assert "allowSharedKeyAccess: false" in bicep["storage.bicep"]
    assert "disableLocalAuth: true" in bicep["servicebus.bicep"]
    assert "disableLocalAuth: isCosmos" in bicep["metadata.bicep"]
    assert "adminUserEnabled: false" in bicep["registry.bicep"]
    assert "DisableLocalAuth: true" in bicep["monitoring.bicep"]
    assert "disableLocalAccounts: true" in bicep["kubernetes.bicep"]
