"""Splits an uploaded "video" (a transcript) into scenes and publishes one event per scene.

Written against the raw module contract only: two HTTP calls and files, no helper library.
"""

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE = Path(os.environ["SIDECAR_BASE_DIR"])
URL = f"http://127.0.0.1:{os.environ['SIDECAR_PORT']}"
SECRET = os.environ["SHARED_SECRET"]


def call(path: str) -> None:
    request = urllib.request.Request(URL + path, headers={"secret": SECRET})
    for delay in (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2):
        try:
            with urllib.request.urlopen(request, timeout=60):
                return
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{path} failed: {error.code} {error.read().decode()}") from None
        except OSError:
            time.sleep(delay)  # the sidecar may start after the module
    raise SystemExit(f"sidecar not reachable for {path}")


call("/ready")
inputs = sorted((BASE / "in" / "data").rglob("*.txt"))
scenes = [block.strip() for path in inputs for block in path.read_text().split("\n\n") if block.strip()]
(BASE / "out" / "events").mkdir(parents=True, exist_ok=True)
for index, scene in enumerate(scenes, start=1):
    relative = f"scenes/scene-{index:03d}.txt"
    target = BASE / "out" / "data" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(scene + "\n")
    pairs = [
        {"key": "eventType", "value": "scene_detected"},
        {"key": "files", "value": relative},
        {"key": "scene", "value": str(index)},
        {"key": "words", "value": str(len(scene.split()))},
    ]
    (BASE / "out" / "events" / f"scene-{index:03d}.json").write_text(json.dumps(pairs))
insight = [{"key": "scenes", "value": str(len(scenes))}, {"key": "source", "value": inputs[0].name}]
(BASE / "out" / "meta.json").write_text(json.dumps(insight))
call("/done")
print(f"split {len(scenes)} scenes")
