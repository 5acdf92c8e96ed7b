"""What the tests and the benchmarks both need to run local servers: free ports, installed tools, keys.

No pytest here: the benchmarks import it too.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's and cosmium's published development keys, not secrets.
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
COSMIUM_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_tool(name: str) -> str:
    """A tool's executable from $ION_TOOLS (what `make tools` fills), else from PATH."""
    tools = Path(os.environ.get("ION_TOOLS", REPO / ".tools"))
    for candidate in (tools / "bin" / name, tools / "node_modules" / ".bin" / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name!r} is not installed (looked in {tools} and PATH): run `make tools`")
