"""`python -m benchmarks [NAME ...]` (what `make bench` runs): every benchmark, or the ones named, in one run.

Prints one table (figure, Ion, baseline, ratio, target, met) and writes it with the machine's
description to bench-results/latest.json. Exit status 1 when a target is not met or a benchmark failed.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from benchmarks import data_plane, dispatch_throughput, per_hop, scale, sidecar_footprint
from benchmarks.harness import REPO, Row

BENCHMARKS: dict[str, Callable[[], list[Row]]] = {
    "dispatch": dispatch_throughput.run,
    "hops": per_hop.run,
    "dataplane": data_plane.run,
    "footprint": sidecar_footprint.run,
    "scale": scale.run,
}
RESULTS = REPO / "bench-results" / "latest.json"


def machine() -> dict[str, Any]:
    memory_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def table(rows: list[Row]) -> str:
    header = ("benchmark", "figure", "Ion", "baseline", "unit", "ratio", "target", "met")
    lines = [header] + [
        (r.benchmark, r.figure, _number(r.ion), _number(r.baseline), r.unit,
         "-" if r.ratio is None else f"{r.ratio:.2f}", r.target,
         "-" if r.met is None else ("yes" if r.met else "NO"))
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    rendered = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in lines]
    rendered.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(rendered)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    rows: list[Row] = []
    started = time.perf_counter()
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        try:
            rows += BENCHMARKS[name]()
        except Exception as error:
            traceback.print_exc()
            rows.append(Row(name, f"failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}",
                            0, None, "-", None, "runs", False))
        print(f"  {name}: {time.perf_counter() - began:.0f}s", file=sys.stderr, flush=True)
    document = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
        "rows": [row.as_dict() for row in rows],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(table(rows))
    print(f"\n{len(rows)} figures in {document['duration_seconds']:.0f}s; written to "
          f"{RESULTS.relative_to(REPO)}")
    return 0 if all(row.met is not False for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
