"""Stage one of the scale benchmark: /ready, then $FAN_OUT events in out/events, then /done."""

from __future__ import annotations

import json
import os
from pathlib import Path

from benchmarks.chain_module import call


def main() -> None:
    base = Path(os.environ["SIDECAR_BASE_DIR"])
    call("/ready")
    events = base / "out" / "events"
    events.mkdir(parents=True, exist_ok=True)
    for index in range(int(os.environ["FAN_OUT"])):
        (events / f"item-{index:05d}.json").write_text(json.dumps({"eventType": "scale_item",
                                                                   "data": {"item": str(index)}}))
    call("/done")


if __name__ == "__main__":
    main()
