"""The C forms of the hot loops (_speedups.c), when built: `speedups` is the
module, or None (not built, built for another Python, or turned off with
ASYNCTRACE_PURE_PYTHON=1, or by pure(True)).  The Python loops are the
reference; the C forms give the same records and the same text, faster.
Callers look `accel.speedups` up when they run (not at import), so that
pure() switches every C form at once (the fuzzer compares both)."""

import os

try:
    from . import _speedups as _module
except ImportError:
    _module = None

speedups = None if os.environ.get("ASYNCTRACE_PURE_PYTHON") else _module


def pure(on):
    """Use only the Python loops (on) or the C forms when built (off);
    returns whether C forms were in use before."""
    global speedups
    before = speedups is not None
    speedups = None if on else _module
    return before
