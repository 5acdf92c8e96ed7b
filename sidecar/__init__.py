"""Ion's sidecar: the module contract over HTTP (Quart app served by Hypercorn)."""

from sidecar.app import SidecarState, create_app, sidecar_state
from sidecar.server import serve

__all__ = ["SidecarState", "create_app", "serve", "sidecar_state"]
