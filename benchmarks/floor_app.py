"""The floor for the sidecar footprint: a bare Quart app on Hypercorn that only answers /healthz.

Run as `python -m benchmarks.floor_app PORT`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, jsonify

app = Quart("floor")


@app.route("/healthz")
async def healthz() -> Any:
    return jsonify({"statusCode": 200, "message": "ok"})


def main() -> None:
    config = Config()
    config.bind = [f"127.0.0.1:{int(sys.argv[1])}"]
    config.accesslog = None
    asyncio.run(serve(app, config, mode="asgi"))


if __name__ == "__main__":
    main()
