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


def validator_error(code: str, message: str, **ctx: Any) -> Exception:
    """The error a pydantic validator raises for a wrong value, with a reason ``code`` the glossary
    words (``glossary.REASONS``) and the values it is worded from (``ctx``): pydantic reports ``code``
    as the error's type, so the reason reads in the user's language like a built-in one. A model
    validator names the argument it checked with ``field`` (a dotted path, added to the error's
    location); ``message`` is the English text, with no ``{...}`` of its own."""
    from pydantic_core import PydanticCustomError

    return PydanticCustomError(code, message, {k: v for k, v in ctx.items() if v is not None})


def validator_error_from(exc: InvalidParameter, field: str | None = None) -> Exception:
    """:func:`validator_error` of an :class:`InvalidParameter` raised by a check a validator calls."""
    return validator_error(exc.code, exc.message, **exc.ctx, field=field)


def validation_items(exc: Exception, field: str = "") -> list[dict[str, Any]]:
    """Every error of a pydantic ``ValidationError`` as an ``errors[]`` item: ``field`` (dotted, under
    ``field``), ``message`` (English), ``code`` (the validator's type) and ``ctx`` (its plain values)."""
    errors = exc.errors() if callable(getattr(exc, "errors", None)) else []  # type: ignore[attr-defined]
    items = []
    for err in errors:
        ctx = {k: v for k, v in (err.get("ctx") or {}).items() if isinstance(v, (str, int, float, bool))}
        parts = [field] + [str(x) for x in err.get("loc", ())] + [str(ctx.pop("field", ""))]
        item: dict[str, Any] = {"field": ".".join(p for p in parts if p) or "params",
                                "message": str(err.get("msg", "")).removeprefix("Value error, "),
                                "code": str(err.get("type") or "value_error")}
        if ctx:
            item["ctx"] = ctx
        items.append(item)
    return items


def invalid_from_validation(exc: Exception, field: str, message: str | None = None) -> InvalidParameter:
    """The first error of a validation error (pydantic's ``errors()``) as an :class:`InvalidParameter`
    naming ``field.<location>``, with the validator's type as ``code`` and its plain ``ctx`` values,
    so the reason can be worded in the user's language; ``message`` is the English text (default:
    the field and the validator's message)."""
    items = validation_items(exc, field)
    if not items:
        return InvalidParameter(field, message or f"{field}: {exc}", "value_error")
    first = items[0]
    return InvalidParameter(first["field"], message or f"{first['field']}: {first['message']}", first["code"],
                            ctx=first.get("ctx"))


class InvalidDatasetId(InvalidParameter):
    """A dataset id that is not 1-64 letters, digits, ``_`` or ``-`` (path tricks refused)."""

    def __init__(self, dataset_id: Any, message: str):
        super().__init__("dataset_id", message, "invalid_dataset_id")
        self.dataset_id = dataset_id


__all__ = ["InvalidDatasetId", "InvalidParameter", "invalid_from_validation", "validation_items", "validator_error",
           "validator_error_from"]
