"""`ion demo`: the bundled pipeline runs end to end on the embedded default."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import pairwise
from pathlib import Path

from tests.e2e.ion_process import all_jobs, ion_env, run_ion


def test_demo_succeeds_with_a_parallel_fan_out(tmp_path: Path) -> None:
    done = run_ion(["demo", "--json"], ion_env(tmp_path), timeout=180)
    assert done.returncode == 0, done.stderr + done.stdout
    document = json.loads(done.stdout)
    jobs = all_jobs(document)
    assert jobs and {job["status"] for job in jobs} == {"succeeded"}
    splitter = document["events"][0]["jobs"][0]
    assert splitter["module"] == "splitter"
    scenes = splitter["events"]
    assert len(scenes) >= 3
    classifiers = [job for scene in scenes for job in scene["jobs"]]
    assert [job["module"] for job in classifiers] == ["classifier"] * len(scenes)
    assert all(scene["files"] for scene in scenes)
    # Parallel: some classifier attempts overlapped in time.
    spans = sorted(
        (datetime.fromisoformat(a["started_at"]), datetime.fromisoformat(a["finished_at"]))
        for job in classifiers for a in job["attempts"]
    )
    assert any(later_start < earlier_end for (_, earlier_end), (later_start, _) in pairwise(spans))
    captions = [job for c in classifiers for event in c["events"] for job in event["jobs"]]
    assert len(captions) == len(scenes)
    assert all(job["insight"]["data"]["caption"].startswith("Scene ") for job in captions)


def test_demo_human_output_is_a_trace(tmp_path: Path) -> None:
    done = run_ion(["demo"], ion_env(tmp_path), timeout=180)
    assert done.returncode == 0, done.stderr
    assert "workflow" in done.stdout and "splitter" in done.stdout and "succeeded" in done.stdout
    assert "demo finished" in done.stdout
