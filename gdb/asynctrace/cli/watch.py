"""`asynctrace ps --watch 1s PID`: the task table again every interval,
tasks with the same name, state and await position grouped in one row, with
polls per second (since the previous reading) and how long the group's
tasks have gone without a poll.  On a terminal the screen is redrawn; on a
pipe each reading is printed after the previous one.  --count N stops after
N readings; otherwise it runs until interrupted.
"""

import sys
import time

from .. import stacks, text
from . import filters
from .diffcmd import duration_s

CLEAR = "\x1b[H\x1b[2J"


def _groups(snap, prev, dt):
    """Rows (count, state, polls/s or None, stuck ns, name, where, ids)."""
    groups = {}
    names = snap.names
    for _, t in snap.tasks():
        ts = stacks.task_stack(t, snap.now)
        key = (t.name, t.state, ts.frames, ts.wait)
        g = groups.get(key)
        if g is None:
            where = text.task_where(t, snap.now, names)
            g = groups[key] = [0, t.state, 0, 0, t.name, where, [], False]
        g[0] += 1
        g[6].append(t.id)
        before = prev.get(t.id)
        if before is not None and dt:
            g[2] += (t.polls - before) * 1e9 / dt
            g[7] = True
        last = max(t.state_ns, t.poll_end_ns)
        if t.state == "idle" and snap.now and last and snap.now > last:
            g[3] = max(g[3], snap.now - last)
    return sorted(groups.values(), key=lambda g: min(g[6]))


def render(snap, prev, dt, header):
    rows = [("TASKS", "STATE", "POLLS/S", "NO POLL FOR", "NAME", "WHERE")]
    for count, state, rate, stuck, name, where, ids, has_rate in _groups(snap, prev, dt):
        label = ",".join("%d" % i for i in ids[:4]) + (",..." if len(ids) > 4 else "")
        rows.append(("%d (%s)" % (count, label), state,
                     "%.1f" % rate if has_rate else "-",
                     text.duration(stuck) if stuck else "-", '"%s"' % name, where))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [header]
    for r in rows:
        lines.append("  " + "  ".join(c.ljust(widths[i]) if i < len(widths) else c
                                      for i, c in enumerate(r)).rstrip())
    return "\n".join(lines)


def run(args, src):
    interval = duration_s(args.watch)
    keep, rt_filter = filters.make(args)
    tty = sys.stdout.isatty()
    prev, prev_now = {}, None
    n = 0
    while args.count is None or n < args.count:
        if n:
            time.sleep(interval)
        snap = src.snapshot(rt_filter, keep)
        filters.apply(snap, filters.selection(args, snap))
        dt = snap.now - prev_now if prev_now else None
        stop = (", stopped %s" % text.duration(src.stopped_ns)
                if src.stopped_ns is not None else ", not stopped (--no-stop)"
                if src.kind == "pid" else "")
        header = "%s at %s: %d tasks%s" % (src.describe(), time.strftime("%H:%M:%S"),
                                           snap.ntasks, stop)
        out = render(snap, prev, dt, header)
        sys.stdout.write((CLEAR + out + "\n") if tty else (out + "\n\n" if args.count is None
                                                           or n + 1 < args.count else
                                                           out + "\n"))
        sys.stdout.flush()
        prev = {t.id: t.polls for _, t in snap.tasks()}
        prev_now = snap.now
        n += 1
    return 0
