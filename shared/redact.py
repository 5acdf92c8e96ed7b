"""Keeping secrets out of error messages and logs."""

from __future__ import annotations


def redact_connection_string(text: str, secret: str | None) -> str:
    """Remove a connection string and each of its values (the account key above all) from text."""
    if not secret:
        return text
    pieces = [secret] + [part.split("=", 1)[1] for part in secret.split(";") if "=" in part]
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= 8:  # short values ("true", "443") are not secrets and would garble the text
            text = text.replace(piece, "***")
    return text


def first_line(exc: BaseException, secret: str | None = None) -> str:
    """An error's first line (or its type), without the secret: enough to say what went wrong."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return redact_connection_string(text, secret)


def scrubbed(exc: BaseException, secret: str | None) -> BaseException | None:
    """The cause to chain to a new error, or None when its text would reveal the secret."""
    if secret and redact_connection_string(str(exc), secret) != str(exc):
        return None
    return exc
