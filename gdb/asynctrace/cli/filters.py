"""The task filters of `asynctrace ps` (the options of info async-tasks):
--state, --name GLOB, --runtime ADDR|ID."""

import fnmatch

from ..backend import EXIT_USAGE, UserError


def add_options(p):
    p.add_argument("--state", help="only tasks in STATE (idle, scheduled, running, "
                                   "complete, cancelled)")
    p.add_argument("--name", metavar="GLOB", help="only tasks whose name matches GLOB")
    p.add_argument("--runtime", metavar="ADDR|ID",
                   help="only the runtime at address 0x... or with this id")


def make(args):
    """(keep(id, state, name) or None, runtime_filter(rt, addr) or None)."""
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

    return (keep if (state or glob) else None,
            rt_filter if want_rt is not None else None)


def check(args, snap):
    """Usage errors only the reading can tell (an unknown state, a runtime
    that does not exist)."""
    states = snap.abi.enums["task_state"]
    if args.state is not None and args.state not in states:
        raise UserError("unknown state %r: one of %s" % (args.state, ", ".join(states)),
                        EXIT_USAGE)
    if args.runtime is not None and not snap.task_counts:
        raise UserError("no runtime has address or id %s (see asynctrace runtimes)"
                        % args.runtime, EXIT_USAGE)
