"""The C forms of the walk's hot loops (_speedups.c), when built: `speedups`
is the module, or None (not built, built for another Python, or turned off
with ASYNCTRACE_PURE_PYTHON=1).  The Python loops in lists.py and walk.py
are the reference; the C forms give the same records, faster."""

import os

speedups = None
if not os.environ.get("ASYNCTRACE_PURE_PYTHON"):
    try:
        from . import _speedups as speedups
    except ImportError:
        speedups = None
