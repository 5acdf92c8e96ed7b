"""`ion up` as a user runs it: raw-contract modules, retries, poison messages, crash recovery."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shared.messaging.sqlite import SqliteBus
from tests.e2e.ion_process import IonUp, all_events, all_jobs, ion_env, publish, run_ion, trace, wait_for

# A module written only against the original contract: GET with the `secret` header, list-of-pairs
# files, SIDECAR_PORT / SHARED_SECRET / SIDECAR_BASE_DIR.
RAW_MODULE = '''
import json, os, sys, time, urllib.request, urllib.error
base = os.environ["SIDECAR_BASE_DIR"]
url = "http://localhost:" + os.environ["SIDECAR_PORT"]
def call(path):
    request = urllib.request.Request(url + path, headers={"secret": os.environ["SHARED_SECRET"]})
    for _ in range(100):
        try:
            return urllib.request.urlopen(request, timeout=30).read()
        except urllib.error.HTTPError:
            raise
        except OSError:
            time.sleep(0.1)
    sys.exit("no sidecar")
call("/ready")
pairs = json.load(open(os.path.join(base, "in", "meta.json")))
count = int(dict((p["key"], p["value"]) for p in pairs)["count"])
text = open(os.path.join(base, "in", "data", "seed.txt")).read()
os.makedirs(os.path.join(base, "out", "data", "parts"), exist_ok=True)
os.makedirs(os.path.join(base, "out", "events"), exist_ok=True)
for i in range(count):
    open(os.path.join(base, "out", "data", "parts", "p%d.txt" % i), "w").write(text * (i + 1))
    json.dump([{"key": "eventType", "value": "part"}, {"key": "files", "value": "parts/p%d.txt" % i},
               {"key": "index", "value": str(i)}], open(os.path.join(base, "out", "events", "e%d.json" % i), "w"))
json.dump([{"key": "parts", "value": str(count)}], open(os.path.join(base, "out", "meta.json"), "w"))
delay = float(os.environ.get("SLOW", "0"))
time.sleep(delay)
call("/done")
'''

CONSUMER = '''
import os, sys, time, urllib.request
url = "http://127.0.0.1:" + os.environ["SIDECAR_PORT"]
request = urllib.request.Request(url + "/ready", headers={"secret": os.environ["SHARED_SECRET"]})
for _ in range(100):
    try:
        urllib.request.urlopen(request, timeout=30); break
    except OSError:
        time.sleep(0.1)
names = sorted(os.listdir(os.path.join(os.environ["SIDECAR_BASE_DIR"], "in", "data", "parts")))
time.sleep(float(os.environ.get("SLOW", "0")))
urllib.request.urlopen(urllib.request.Request(url + "/done", headers={"secret": os.environ["SHARED_SECRET"]}))
'''


def make_pipeline(folder: Path, slow: str = "0") -> Path:
    (folder / "raw.py").write_text(RAW_MODULE)
    (folder / "consumer.py").write_text(CONSUMER)
    (folder / "fail.py").write_text("import sys\nsys.exit('always broken')\n")
    (folder / "seed.txt").write_text("seed ")
    manifest = folder / "modules.yaml"
    manifest.write_text(textwrap.dedent(f"""
        modules:
          - name: raw
            subscribes_to: start
            publishes: [part]
            command: ["python", "raw.py"]
            env: {{SLOW: "{slow}"}}
          - name: consumer
            subscribes_to: part
            command: ["python", "consumer.py"]
            env: {{SLOW: "{slow}"}}
            concurrency: 3
          - name: broken
            subscribes_to: doomed
            command: ["python", "fail.py"]
            retries: 2
    """))
    return manifest


def finished(env: dict[str, str], correlation_id: str, jobs: int) -> dict | None:  # type: ignore[type-arg]
    document = trace(env, correlation_id)
    states = [job["status"] for job in all_jobs(document)]
    if len(states) == jobs and all(s in ("succeeded", "dead_lettered") for s in states):
        return document
    return None


@pytest.fixture
def platform(tmp_path: Path):  # type: ignore[no-untyped-def]
    manifest = make_pipeline(tmp_path)
    env = ion_env(tmp_path / "home", ION_LOCK_SECONDS="5")
    up = IonUp(manifest, env, tmp_path / "up.log")
    yield manifest, env, up
    up.stop()


def test_raw_contract_module_runs_unchanged(platform, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest, env, up = platform
    ids = publish(env, manifest, "start", "-d", "count=3", "-f", str(tmp_path / "seed.txt"))
    document = wait_for(lambda: finished(env, ids["correlation_id"], 4), what="the raw pipeline")
    raw = document["events"][0]["jobs"][0]
    assert raw["module"] == "raw" and raw["status"] == "succeeded"
    assert raw["insight"]["data"] == {"parts": "3"}
    assert raw["insight"]["files"] == ["parts/p0.txt", "parts/p1.txt", "parts/p2.txt"]
    parts = raw["events"]
    assert sorted(e["data"]["index"] for e in parts) == ["0", "1", "2"]
    assert sorted(f for e in parts for f in e["files"]) == ["parts/p0.txt", "parts/p1.txt", "parts/p2.txt"]
    assert all(job["status"] == "succeeded" for e in parts for job in e["jobs"])
    assert up.running()


def test_failing_module_is_retried_then_dead_lettered_and_poison_is_dead_lettered(platform) -> None:  # type: ignore[no-untyped-def]
    manifest, env, up = platform
    ids = publish(env, manifest, "doomed")
    document = wait_for(lambda: finished(env, ids["correlation_id"], 1), what="the broken job to end")
    job = all_jobs(document)[0]
    assert job["status"] == "dead_lettered" and job["attempt"] == 3
    assert len(job["attempts"]) == 3
    assert "retries spent" in job["reason"] and "always broken" in job["reason"]
    human = run_ion(["trace", ids["correlation_id"]], env)
    assert "dead_lettered" in human.stdout and "always broken" in human.stdout

    bus = SqliteBus(Path(env["ION_HOME"]) / "bus.sqlite3")
    bus.send("start", b"{not json", "malformed-1")
    letters = wait_for(lambda: bus.dead_letters("raw"), what="the malformed message to be dead-lettered")
    assert letters[0].message_id == "malformed-1" and "not JSON" in letters[0].reason
    listed = run_ion(["dead-letters", "raw"], env)
    assert "malformed-1" in listed.stdout and "not JSON" in listed.stdout
    # Still running, still working.
    assert up.running()
    ok = publish(env, manifest, "start", "-d", "count=1", "-f", str(Path(manifest).parent / "seed.txt"))
    wait_for(lambda: finished(env, ok["correlation_id"], 2), what="a good workflow after the bad ones")


def test_sigkill_and_restart_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    manifest = make_pipeline(tmp_path, slow="1.5")
    env = ion_env(tmp_path / "home", ION_LOCK_SECONDS="3")
    up = IonUp(manifest, env, tmp_path / "up1.log")
    correlations = [
        publish(env, manifest, "start", "-d", f"count={n}", "-f", str(tmp_path / "seed.txt"))["correlation_id"]
        for n in (3, 4)
    ]

    def in_flight() -> bool:
        jobs = [job for c in correlations for job in all_jobs(trace(env, c))]
        return any(job["module"] == "consumer" and job["status"] == "running" for job in jobs)

    wait_for(in_flight, what="consumer jobs in flight")
    up.kill()
    again = IonUp(manifest, env, tmp_path / "up2.log")
    try:
        for correlation, count in zip(correlations, (3, 4), strict=True):
            document = wait_for(lambda c=correlation, n=count: finished(env, c, n + 1), timeout=120,
                                what="the workflow to finish after the restart")
            jobs = all_jobs(document)
            assert {job["status"] for job in jobs} == {"succeeded"}
            pairs = [(job["module"], job["job_id"]) for job in jobs]
            assert len(pairs) == len(set(pairs)) == count + 1  # one job per (event, module)
            for job in jobs:  # and one successful attempt per job
                assert [a["status"] for a in job["attempts"]].count("succeeded") == 1
            events = all_events(document)
            assert len(events) == count + 1 and len({e["id"] for e in events}) == count + 1
    finally:
        again.stop()
