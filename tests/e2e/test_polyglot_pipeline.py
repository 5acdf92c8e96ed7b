"""The three-language example pipeline (Python → Go → TypeScript) under `ion up`, as a user runs it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.ion_process import REPO, IonUp, all_events, all_jobs, ion_env, publish, trace, wait_for

EXAMPLE = REPO / "examples" / "polyglot"
PARAGRAPHS = [
    "The quick brown fox jumps over the lazy dog.\nThe dog sleeps.",
    "Ion runs modules written in any language, and the fox agrees.",
    "Go counts words; TypeScript summarises them; Python splits the text.",
]


@pytest.fixture(scope="module")
def built_example() -> Path:
    """The Go binary and the compiled TypeScript the manifest runs (build.sh skips what is current)."""
    for tool in ("go", "npm", "node"):
        assert shutil.which(tool), f"{tool} is required to build the polyglot example"
    result = subprocess.run(
        ["bash", str(EXAMPLE / "build.sh")], capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"build.sh failed:\n{result.stdout}\n{result.stderr}"
    return EXAMPLE / "modules.yaml"


def _received(job: dict[str, Any]) -> list[str]:
    """The input files a module reported finding in in/data (object form: a list; pairs form: a string)."""
    assert job["insight"] is not None, f"{job['module']} stored no insight"
    received = job["insight"]["data"]["received"]
    return sorted(received.split(",") if isinstance(received, str) else received)


def _words(text: str) -> int:
    return len([w for w in (re.sub(r"[^a-z0-9]", "", t) for t in text.lower().split()) if w])


def test_python_go_and_typescript_modules_run_as_one_workflow(built_example: Path, tmp_path: Path) -> None:
    story = tmp_path / "story.txt"
    story.write_text("\n\n".join(PARAGRAPHS) + "\n")
    env = ion_env(tmp_path / "home")
    up = IonUp(built_example, env, tmp_path / "ion-up.log")
    try:
        ids = publish(env, built_example, "text_submitted", "-f", str(story))
        expected_jobs = 1 + 2 * len(PARAGRAPHS)

        def finished() -> dict[str, Any] | None:
            assert up.running(), (tmp_path / "ion-up.log").read_text()
            document = trace(env, ids["correlation_id"])
            jobs = all_jobs(document)
            final = {"succeeded", "dead_lettered", "skipped"}
            if len(jobs) == expected_jobs and all(j["status"] in final for j in jobs):
                return document
            return None

        document = wait_for(finished, timeout=180, what="the polyglot pipeline to finish")
    finally:
        up.stop()

    jobs = all_jobs(document)
    assert [(j["module"], j["status"], j["reason"]) for j in jobs if j["status"] != "succeeded"] == []
    assert sorted(j["module"] for j in jobs) == ["splitter"] + ["summariser"] * 3 + ["transformer"] * 3

    # Each stage received exactly the files the previous stage published with its event.
    for event in all_events(document):
        for job in event["jobs"]:
            assert _received(job) == event["files"], (job["module"], event["type"])

    root = document["events"][0]
    assert root["type"] == "text_submitted" and root["files"] == ["story.txt"]
    (splitter,) = root["jobs"]
    parts = sorted(splitter["events"], key=lambda e: int(e["data"]["index"]))
    assert [p["files"] for p in parts] == [[f"parts/part-{i}.txt"] for i in (1, 2, 3)]
    for index, (part, paragraph) in enumerate(zip(parts, PARAGRAPHS, strict=True), start=1):
        (transformer,) = part["jobs"]
        assert transformer["module"] == "transformer"
        (transformed,) = transformer["events"]
        assert transformed["type"] == "part_transformed"
        assert transformed["files"] == [f"counts/part-{index}.json", f"upper/part-{index}.txt"]
        assert transformed["data"]["words"] == str(_words(paragraph))
        (summariser,) = transformed["jobs"]
        summary = summariser["insight"]
        # The TypeScript module read the Go module's files: its insight quotes them.
        assert summary["data"]["index"] == index
        assert summary["data"]["words"] == _words(paragraph)
        assert summary["data"]["first_line"] == paragraph.split("\n")[0].upper()
        assert summary["files"] == [f"summary/part-{index}.md"]
