"""The one rule for whole numbers in parameters: range-checked where they are parsed.

JSON lets a caller send ``99999999999999999999``; Python turns it into an int of any size, which the
JSON encoder of the service (orjson: 64-bit integers) and the solvers (OR-Tools and HiGHS seeds are
32-bit) cannot take. Every whole-number field of a parameter model is declared with :func:`whole`
(or typed :data:`WholeNumber`), so a number outside its range is a 422 naming the field, before
anything is stored or solved.

- :data:`INT64_MIN`, :data:`INT64_MAX`: the widest range any whole-number field accepts;
- :data:`SEED_MAX`: the largest solver seed (CP-SAT and HiGHS take a 32-bit seed);
- :func:`whole`: a pydantic ``Field`` for a whole number between ``ge`` and ``le`` (clipped to the
  64-bit range);
- :func:`check_whole`: the same check for a plain value (``ValueError`` naming the argument).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: largest solver seed: CP-SAT's ``random_seed`` and HiGHS' ``random_seed`` are 32-bit
SEED_MAX = 2**31 - 1

#: a whole number within the 64-bit range (for fields without a narrower range of their own)
WholeNumber = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]


def whole(default: Any = ..., *, ge: int | None = None, le: int | None = None, **kw: Any) -> Any:
    """A pydantic ``Field`` for a whole number in ``[ge, le]``, clipped to the 64-bit range.

    Parameters
    ----------
    default : int
        The default (``...``: required).
    ge, le : int, optional
        Inclusive bounds; missing bounds are those of a signed 64-bit integer.
    **kw
        Passed to ``pydantic.Field`` (``description`` and the like).
    """
    lo = INT64_MIN if ge is None else max(int(ge), INT64_MIN)
    hi = INT64_MAX if le is None else min(int(le), INT64_MAX)
    if lo > hi:
        raise ValueError(f"ge ({ge}) must not exceed le ({le})")
    return Field(default, ge=lo, le=hi, **kw)


def seed_field(**kw: Any) -> Any:
    """The ``seed`` field of a solver's parameters: 0 .. :data:`SEED_MAX`."""
    kw.setdefault("description", f"solver seed, 0..{SEED_MAX} (same seed and data, same answer)")
    return whole(0, ge=0, le=SEED_MAX, **kw)


def check_whole(value: Any, name: str, *, lo: int = INT64_MIN, hi: int = INT64_MAX) -> int:
    """``value`` as an int within ``[lo, hi]``; ``ValueError`` naming ``name`` otherwise.

    Bools, fractions and text that is not a whole number are refused."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        value = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 20 or not text.lstrip("+-").isdigit():
            raise ValueError(f"{name} must be a whole number, got {value[:40]!r}")
        value = int(text)
    elif not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}")
    return int(value)


def in_int64(value: int) -> bool:
    """True when ``value`` fits a signed 64-bit integer."""
    return INT64_MIN <= value <= INT64_MAX


__all__ = ["INT64_MAX", "INT64_MIN", "SEED_MAX", "WholeNumber", "check_whole", "in_int64", "seed_field",
           "whole"]
