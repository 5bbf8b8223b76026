"""Errors of a wrong argument, raised by the floors below the API and the CLI.

A function that checks what a caller gave raises :class:`InvalidParameter` naming the argument
(``field``), what is wrong with it (``message``) and a machine-readable ``code``. It is a
``ValueError``, so callers that catch ``ValueError`` keep working; the API maps it to a
problem+json answer once (422 ``invalid-parameters``, with an ``errors`` member naming the field),
the CLI prints it and exits 2. ``code`` and ``ctx`` are what the glossary words the reason from
(``glossary.REASONS``), so a Chinese answer says why as well as which argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class InvalidParameter(ValueError):
    """An argument is wrong: ``field`` names it, ``message`` says why, ``code`` how (``invalid``, ...).

    ``str(exc)`` is ``message`` unchanged. ``where`` optionally says where the argument came from
    (``query``, ``body``); left None, the API infers it from the request.
    """

    def __init__(self, field: str, message: str, code: str = "invalid", *, where: str | None = None,
                 ctx: Mapping[str, Any] | None = None):
        if not field:
            raise ValueError("field: name the wrong argument")
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code
        self.where = where
        self.ctx = dict(ctx or {})

    def to_dict(self) -> dict[str, Any]:
        """``{"field", "message", "code"}`` (plus ``"in"`` when ``where`` is known, ``"ctx"``, the
        values the reason is worded from, when given)."""
        out: dict[str, Any] = {"field": self.field, "message": self.message, "code": self.code}
        if self.where is not None:
            out["in"] = self.where
        if self.ctx:
            out["ctx"] = self.ctx
        return out


def invalid_from_validation(exc: Exception, field: str, message: str) -> InvalidParameter:
    """The first error of a validation error (pydantic's ``errors()``) as an :class:`InvalidParameter`
    naming ``field.<location>``, with the validator's type as ``code`` and its plain ``ctx`` values,
    so the reason can be worded in the user's language; ``message`` is the English text."""
    errors = exc.errors() if callable(getattr(exc, "errors", None)) else []  # type: ignore[attr-defined]
    if not errors:
        return InvalidParameter(field, message, "value_error")
    first = errors[0]
    loc = ".".join(str(x) for x in first.get("loc", ()))
    ctx = {k: v for k, v in (first.get("ctx") or {}).items() if isinstance(v, (str, int, float, bool))}
    return InvalidParameter(f"{field}.{loc}" if loc else field, message, str(first.get("type") or "value_error"), ctx=ctx)


class InvalidDatasetId(InvalidParameter):
    """A dataset id that is not 1-64 letters, digits, ``_`` or ``-`` (path tricks refused)."""

    def __init__(self, dataset_id: Any, message: str):
        super().__init__("dataset_id", message, "invalid_dataset_id")
        self.dataset_id = dataset_id


__all__ = ["InvalidDatasetId", "InvalidParameter"]
