"""One way to create a HiGHS solver: the licence banner HiGHS prints to stdout on the first
construction in a process is swallowed, so ``--json`` output, CSV on stdout and logs stay clean."""

from __future__ import annotations

import os
import sys

import highspy

_BANNER_SHOWN = False


def new_highs() -> highspy.Highs:
    """A fresh ``highspy.Highs`` (the first one of the process built with stdout silenced)."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        _BANNER_SHOWN = True
    return h


__all__ = ["new_highs"]
