"""checkov over infra/, Bicep and Terraform: zero failed checks; every skip is inline with a reason."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.iac import INFRA, ROOT

FRAMEWORKS = ("bicep", "terraform")
SKIP_COMMENT = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def checkov_binary() -> Path:
    tools = Path(os.environ.get("ION_TOOLS") or ROOT / ".tools")
    return tools / "checkov" / "bin" / "checkov"


@pytest.fixture(scope="session")
def checkov_reports() -> dict[str, dict[str, Any]]:
    """One checkov run over both trees per session (it takes tens of seconds)."""
    binary = checkov_binary()
    if not binary.exists():
        pytest.fail(f"checkov is not installed at {binary}: run `make tools` (scripts/install.d/infra.sh)")
    completed = subprocess.run(
        [str(binary), "--directory", str(INFRA), "--framework", *FRAMEWORKS, "--output", "json",
         "--skip-download", "--soft-fail"],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    assert completed.stdout.strip(), f"checkov printed nothing; stderr:\n{completed.stderr[-4000:]}"
    document = json.loads(completed.stdout)
    reports = document if isinstance(document, list) else [document]
    return {report["check_type"]: report for report in reports}


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_checkov_scanned_the_tree(checkov_reports: dict[str, dict[str, Any]], framework: str) -> None:
    assert framework in checkov_reports, f"checkov did not scan {framework}"
    summary = checkov_reports[framework]["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 30, "checkov parsed fewer resources than the tree declares"
    assert summary["passed"] >= 25


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_checkov_finds_no_failed_check(checkov_reports: dict[str, dict[str, Any]], framework: str) -> None:
    failed = checkov_reports[framework]["results"]["failed_checks"]
    described = [f"{c['check_id']} {c['check_name']} ({c['file_path']} {c['resource']})" for c in failed]
    assert not failed, "checkov failed checks:\n" + "\n".join(described)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_skip_has_a_reason(checkov_reports: dict[str, dict[str, Any]], framework: str) -> None:
    for check in checkov_reports[framework]["results"]["skipped_checks"]:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) > 15, f"{check['check_id']} on {check['resource']} is skipped without a reason"


def test_skip_comments_are_inline_and_explained() -> None:
    """Skips live next to the resource, never in a config file or on the command line."""
    assert not list(ROOT.glob(".checkov.y*ml")) and not list(INFRA.rglob(".checkov.y*ml"))
    found = 0
    for path in [*INFRA.rglob("*.bicep"), *INFRA.rglob("*.tf")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = SKIP_COMMENT.search(line)
            if match:
                found += 1
                assert match.group(2) and len(match.group(2).strip()) > 15, f"{path}: {line.strip()}"
    assert found > 0
