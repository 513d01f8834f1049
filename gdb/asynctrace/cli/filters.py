"""The task selection of `asynctrace ps` and `bt`: the options of info
async-tasks (filters, sort, limit, grouping; taskselect.py and group.py do
the work), plus --runtime ADDR|ID."""

import fnmatch

from .. import taskselect
from ..backend import EXIT_USAGE, UserError

GROUP_KEYS = taskselect.GROUP_KEYS


def add_options(p, grouping=True):
    p.add_argument("--state", help="only tasks in STATE (idle, scheduled, running, "
                                   "complete, cancelled)")
    p.add_argument("--name", metavar="GLOB", help="only tasks whose name matches GLOB")
    p.add_argument("--waits-for", metavar="KIND|ADDR",
                   help="only tasks waiting on a resource of kind KIND or at ADDR")
    p.add_argument("--at", metavar="LOC", help="only tasks with a frame at LOC "
                                               "(file:line, or part of a name)")
    p.add_argument("--min-wait", metavar="DUR", help="only tasks waiting at least DUR")
    p.add_argument("--spawned-at", metavar="LOC", help="only tasks spawned at LOC")
    p.add_argument("--descendants-of", metavar="ID", help="only tasks spawned by task ID")
    p.add_argument("--sort", metavar="KEY", help="wait, polls or id")
    p.add_argument("--limit", metavar="N", help="at most N tasks (or groups)")
    if grouping:
        p.add_argument("--group", metavar="KEY", nargs="?", const="chain",
                       help="one line per group: chain (default), where, resource, "
                            "spawn, state")
    p.add_argument("--runtime", metavar="ADDR|ID",
                   help="only the runtime at address 0x... or with this id")


def _opts(args):
    out = {}
    for name in taskselect.VALUE_OPTIONS:
        value = getattr(args, name[2:].replace("-", "_"), None)
        if value is not None:
            out[name] = value
    return out


def make(args):
    """(keep(id, state, name) or None, runtime_filter(rt, addr) or None) for
    the list walk (--descendants-of needs every task: no early filter)."""
    state = args.state
    glob = args.name
    want_rt = None
    by_address = False
    if args.runtime is not None:
        try:
            want_rt = int(args.runtime, 0)
        except ValueError:
            raise UserError("--runtime must be a number, not %r" % args.runtime,
                            EXIT_USAGE)
        by_address = args.runtime.lower().startswith("0x")

    def keep(tid, st, name):
        if state is not None and st != state:
            return False
        return glob is None or fnmatch.fnmatchcase(name, glob)

    def rt_filter(rt, addr):
        return addr == want_rt if by_address else rt["id"] == want_rt

    early = (state or glob) and args.descendants_of is None
    return (keep if early else None, rt_filter if want_rt is not None else None)


def selection(args, snap):
    """The taskselect.Selection of the options, checked against the
    program's names (a bad value is a usage error)."""
    try:
        sel = taskselect.parse(_opts(args), snap.abi.enums["task_state"],
                               snap.abi.enums.get("resource_kind", ()))
    except ValueError as e:
        raise UserError(str(e), EXIT_USAGE)
    if args.runtime is not None and not snap.task_counts:
        raise UserError("no runtime has address or id %s (see asynctrace runtimes)"
                        % args.runtime, EXIT_USAGE)
    return sel


def apply(snap, sel):
    """Narrow the snapshot's lists to the selected tasks, in the selection's
    order; returns the chosen Task records (None when nothing beyond
    state and name was asked)."""
    if not sel.needs_records:
        return None
    from .. import diagnose
    now = diagnose.reading_clock(snap)[0]
    chosen = sel.apply([t for _, t in snap.tasks()], now)
    order = {t.id: i for i, t in enumerate(chosen)}
    runtimes = []
    for rt, items, errors in snap.runtimes:
        kept = sorted((it for it in items if it[0] in order), key=lambda it: order[it[0]])
        runtimes.append((rt, kept, errors))
    snap.runtimes = runtimes
    snap.ntasks = len(chosen)
    return chosen


def groups(snap, sel, chosen, as_json):
    """The grouped table (text) or document (dict) of the chosen tasks."""
    from .. import diagnose, group
    now = diagnose.reading_clock(snap)[0]
    gs = group.group(chosen, sel.group)
    if as_json:
        doc = group.groups_json(gs, sel.group, len(chosen), now, snap.names, sel.limit)
        doc["source"] = snap.source
        return doc
    return group.groups_text(gs, sel.group, len(chosen), now, snap.names, sel.limit)
