"""The one error the contract raises: an HTTP status and a message naming the file and the problem."""

from __future__ import annotations

from shared.errors import IonError


class ContractError(IonError):
    """A request the sidecar refuses; `status_code` is the HTTP answer (400, 401, 409, 500...)."""

    def __init__(self, status_code: int, message: str) -> None:
        self.status_code = status_code
        self.message = message
        super().__init__(message)
