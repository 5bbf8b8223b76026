"""Errors of a wrong argument, raised by the floors below the API and the CLI.

A function that checks what a caller gave raises :class:`InvalidParameter` naming the argument
(``field``), what is wrong with it (``message``) and a machine-readable ``code``. It is a
``ValueError``, so callers that catch ``ValueError`` keep working; the API maps it to a
problem+json answer once (422 ``invalid-parameters``, with an ``errors`` member naming the field),
the CLI prints its message and exits 2.
"""

from __future__ import annotations

from typing import Any


class InvalidParameter(ValueError):
    """An argument is wrong: ``field`` names it, ``message`` says why, ``code`` how (``invalid``, ...).

    ``str(exc)`` is ``message`` unchanged. ``where`` optionally says where the argument came from
    (``query``, ``body``); left None, the API infers it from the request.
    """

    def __init__(self, field: str, message: str, code: str = "invalid", *, where: str | None = None):
        if not field:
            raise ValueError("field: name the wrong argument")
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code
        self.where = where

    def to_dict(self) -> dict[str, Any]:
        """``{"field", "message", "code"}`` (plus ``"in"`` when ``where`` is known)."""
        out: dict[str, Any] = {"field": self.field, "message": self.message, "code": self.code}
        if self.where is not None:
            out["in"] = self.where
        return out


class InvalidDatasetId(InvalidParameter):
    """A dataset id that is not 1-64 letters, digits, ``_`` or ``-`` (path tricks refused)."""

    def __init__(self, dataset_id: Any, message: str):
        super().__init__("dataset_id", message, "invalid_dataset_id")
        self.dataset_id = dataset_id


__all__ = ["InvalidDatasetId", "InvalidParameter"]
