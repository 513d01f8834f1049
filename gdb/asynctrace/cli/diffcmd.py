"""`asynctrace diff A B` (two trace documents or PIDs) and `asynctrace diff
--interval 2s PID` (two readings of a PID, that far apart): the analysis is
diff.py's."""

import json
import sys
import time

from .. import diff
from ..backend import EXIT_USAGE, UserError
from .sources import Source


def add_parser(sub, source_args):
    p = sub.add_parser("diff", help="what changed between two readings")
    p.add_argument("--interval", metavar="DURATION",
                   help="read the one PID twice, DURATION apart (e.g. 2s, 500ms)")
    p.add_argument("--json", action="store_true")
    source_args(p)


def duration_s(value):
    """Seconds of "2s", "500ms", "1m", "1.5" (seconds)."""
    v = value.strip().lower()
    for suffix, scale in (("ms", 1e-3), ("us", 1e-6), ("s", 1.0), ("m", 60.0)):
        if v.endswith(suffix):
            v, mult = v[:-len(suffix)], scale
            break
    else:
        mult = 1.0
    try:
        s = float(v) * mult
    except ValueError:
        raise UserError("%r is not a duration (like 2s or 500ms)" % value, EXIT_USAGE)
    if s <= 0 or s > 86400:
        raise UserError("the duration %r is out of range" % value, EXIT_USAGE)
    return s


def run(args):
    if args.interval:
        if len(args.source) != 1 or not args.source[0].isdigit():
            raise UserError("--interval reads one PID twice: asynctrace diff --interval "
                            "2s PID", EXIT_USAGE)
        wait = duration_s(args.interval)
        src = Source(args.source, args.no_stop, args.unwind)
        a = src.snapshot()
        time.sleep(wait)
        b = src.snapshot()
        labels = ("process %s" % args.source[0], "%s later" % args.interval)
    else:
        if len(args.source) != 2:
            raise UserError("diff compares two readings: asynctrace diff A.json B.json "
                            "(or --interval 2s PID)", EXIT_USAGE)
        a = Source([args.source[0]], args.no_stop, args.unwind).snapshot()
        b = Source([args.source[1]], args.no_stop, args.unwind).snapshot()
        labels = tuple(args.source)
    result = diff.compare(a, b)
    if args.json:
        result["format"] = "asynctrace-diff"
        result["version"] = 1
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        sys.stdout.write(diff.report_text(result, *labels) + "\n")
    return 0
