"""`python -m sidecar`: the standalone sidecar, configured from the environment (`ion sidecar` runs the same)."""

from sidecar.standalone import run_standalone

if __name__ == "__main__":
    raise SystemExit(run_standalone())
