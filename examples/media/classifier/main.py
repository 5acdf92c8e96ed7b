"""Classifies one scene by its words and publishes the label (object forms of the contract)."""

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE = Path(os.environ["SIDECAR_BASE_DIR"])
URL = f"http://127.0.0.1:{os.environ['SIDECAR_PORT']}"
HEADERS = {"Authorization": f"Bearer {os.environ['SHARED_SECRET']}"}
LABELS = {
    "sports": {"match", "goal", "striker", "team", "goalkeeper", "crowd", "save"},
    "music": {"piano", "melody", "concert", "violins", "choir", "orchestra", "singer", "song"},
    "news": {"news", "council", "budget", "reporters", "mayor", "election", "vote", "press"},
    "nature": {"forest", "birds", "river", "deer", "meadow", "mountain", "waterfalls", "pine", "valley"},
}


def call(path: str) -> None:
    request = urllib.request.Request(URL + path, headers=HEADERS, method="POST")
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
event = json.loads((BASE / "in" / "event.json").read_text())
scene_file = BASE / "in" / "data" / event["files"][0]
words = {w.strip(".,:;").lower() for w in scene_file.read_text().split()}
scores = {label: len(words & vocabulary) / len(vocabulary) for label, vocabulary in LABELS.items()}
label, confidence = max(scores.items(), key=lambda item: item[1])
if confidence < float(os.environ.get("MIN_CONFIDENCE", "0")):
    label = "unknown"
scene = event["data"]["scene"]
result = Path(f"labels/scene-{int(scene):03d}.json")
(BASE / "out" / "data" / result.parent).mkdir(parents=True, exist_ok=True)
(BASE / "out" / "data" / result).write_text(json.dumps({"scene": scene, "label": label, "scores": scores}))
(BASE / "out" / "events").mkdir(parents=True, exist_ok=True)
(BASE / "out" / "events" / "classified.json").write_text(json.dumps({
    "eventType": "scene_classified",
    "files": [str(result)],
    "data": {"scene": scene, "label": label, "confidence": f"{confidence:.2f}"},
}))
(BASE / "out" / "meta.json").write_text(json.dumps({"label": label, "confidence": round(confidence, 2)}))
call("/done")
