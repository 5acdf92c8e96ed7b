"""`python -m sidecar`: the standalone sidecar, configured from the environment (what the image runs)."""

from sidecar.standalone import run_standalone

if __name__ == "__main__":
    raise SystemExit(run_standalone())
