"""API key fingerprints: what logs, principals and session checks show instead of a key."""

from __future__ import annotations

import hashlib


def key_id(key: str) -> str:
    """A non-secret 8-hex-digit id of ``key`` (sha256 prefix) for logs.

    Parameters
    ----------
    key : str
        The API key (secret).

    Returns
    -------
    str
        Eight lowercase hex digits.
    """
    return hashlib.sha256(key.encode()).hexdigest()[:8]
