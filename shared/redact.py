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
