"""A trivial module for the per-hop benchmark: /ready, one file and one event in out/, /done.

Standard library only, as a module author's smallest program would be. The event type it emits is
in $NEXT_EVENT.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path


def call(path: str) -> None:
    url = f"http://127.0.0.1:{os.environ['SIDECAR_PORT']}{path}"
    request = urllib.request.Request(url, headers={"secret": os.environ["SHARED_SECRET"]})
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
                return
        except urllib.error.HTTPError:
            raise
        except OSError:
            # The sidecar may start after the module: the contract's retry loop.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def main() -> None:
    base = Path(os.environ["SIDECAR_BASE_DIR"])
    call("/ready")
    (base / "out" / "data").mkdir(parents=True, exist_ok=True)
    (base / "out" / "events").mkdir(parents=True, exist_ok=True)
    (base / "out" / "data" / "hop.txt").write_text(os.environ.get("ION_MODULE_NAME", "hop"))
    event = {"eventType": os.environ["NEXT_EVENT"], "files": ["hop.txt"], "data": {"hop": "1"}}
    (base / "out" / "events" / "next.json").write_text(json.dumps(event))
    call("/done")


if __name__ == "__main__":
    main()
