"""Writes a caption for one classified scene; it publishes nothing, its outputs are the result."""

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
            time.sleep(delay)
    raise SystemExit(f"sidecar not reachable for {path}")


call("/ready")
pairs = json.loads((BASE / "in" / "meta.json").read_text())
data = {pair["key"]: pair["value"] for pair in pairs}
labels = sorted((BASE / "in" / "data").rglob("*.json"))
scores = json.loads(labels[0].read_text())["scores"]
caption = f"Scene {data['scene']}: {data['label']} (confidence {data['confidence']})"
out = BASE / "out" / "data" / "captions" / f"scene-{int(data['scene']):03d}.txt"
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(caption + "\n")
(BASE / "out" / "meta.json").write_text(json.dumps([
    {"key": "caption", "value": caption},
    {"key": "runner_up", "value": sorted(scores, key=scores.get)[-2]},
]))
call("/done")
