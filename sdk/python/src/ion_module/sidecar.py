"""The two sidecar calls, /ready and /done, over plain HTTP on localhost (standard library only)."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable

# Connection-level failures mean "the sidecar is not listening yet": keep trying.
_NOT_UP_YET = (
    ConnectionRefusedError,
    ConnectionResetError,
    ConnectionAbortedError,
    http.client.RemoteDisconnected,
)


class SidecarError(Exception):
    """The sidecar refused a call; `message` is the sidecar's own explanation (it names the file)."""

    def __init__(self, call: str, status: int, message: str) -> None:
        super().__init__(f"sidecar {call} failed ({status}): {message}")
        self.call = call
        self.status = status
        self.message = message


class SidecarUnavailable(SidecarError):
    """The sidecar never answered within the deadline."""


class SidecarClient:
    """Calls the sidecar at 127.0.0.1:port, sending the shared secret in the `secret` header."""

    def __init__(
        self, port: int, secret: str, *, host: str = "127.0.0.1", call_timeout: float = 3600.0
    ) -> None:
        self._host = host
        self._port = port
        self._secret = secret
        # /ready and /done block while files stream to or from storage: allow for large inputs.
        self._call_timeout = call_timeout

    def __repr__(self) -> str:  # never show the secret
        return f"SidecarClient(host={self._host!r}, port={self._port})"

    def _call(self, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self._call_timeout)
        try:
            connection.request("GET", path, headers={"secret": self._secret, "Accept": "application/json"})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def _checked(self, call: str, status: int, body: bytes) -> None:
        if status != 200:
            raise SidecarError(call, status, error_message(body, status))

    def ready(
        self,
        *,
        deadline_seconds: float = 120.0,
        first_delay: float = 0.05,
        max_delay: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """GET /ready, retrying with exponential backoff while the sidecar is not up yet."""
        give_up_at = time.monotonic() + deadline_seconds
        delay = first_delay
        last: BaseException | None = None
        while True:
            try:
                status, body = self._call("/ready")
            except _NOT_UP_YET as exc:
                last = exc
            else:
                self._checked("/ready", status, body)
                return
            remaining = give_up_at - time.monotonic()
            if remaining <= 0:
                waited = f"within {deadline_seconds:g}s ({last})"
                raise SidecarUnavailable("/ready", 0, f"no sidecar answered on port {self._port} {waited}")
            sleep(min(delay, remaining))
            delay = min(delay * 2, max_delay)

    def done(self) -> None:
        """GET /done once: the sidecar validates all of out/ and commits it, or says what is wrong."""
        status, body = self._call("/done")
        self._checked("/done", status, body)


def error_message(body: bytes, status: int) -> str:
    """The `message` of the sidecar's JSON error, or the raw body when it is not JSON."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        return text or f"HTTP {status}"
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        return str(document["message"])
    return text or f"HTTP {status}"
