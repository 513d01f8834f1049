"""The Python API for user scripts inside GDB (docs/gdb.md, "Python API"):

    import asynctrace
    for t in asynctrace.tasks(state="idle"):
        print(t.id, t.name, t.state, t.await_tree().function)

Each call takes a fresh reading of the selected inferior (a live process or
a core) and returns records: tasks as records.Task (id, address, name,
state, flags, parent, spawn, polls, created_ns, state_ns, poll_start_ns,
poll_end_ns, worker, thread, error, await_tree(), resources()), runtimes as
Runtime, threads as Thread.  Errors raise asynctrace.Error with the same
one-sentence message the commands print.
"""

from collections import namedtuple
import fnmatch

import gdb

from .abi import AbiError
from .memory import ReadError
from .session import Snapshot, UserError, no_gc

Runtime = namedtuple("Runtime", "id address flavor workers task_count spawned_total errors")
Thread = namedtuple("Thread", "lwp num role worker runtime task roots")


class Error(Exception):
    """Why the program could not be read (one sentence)."""


def _snapshot(runtime_filter=None, keep=None):
    try:
        return Snapshot(runtime_filter, keep)
    except (UserError, AbiError, ReadError) as e:
        raise Error(str(e))


def tasks(state=None, name=None, runtime=None):
    """Task records of every task (by runtime, then id); `state` (a name),
    `name` (a shell pattern) and `runtime` (an id) filter."""
    def keep(tid, st, nm):
        return (state is None or st == state) and (name is None or
                                                    fnmatch.fnmatchcase(nm, name))
    snap = _snapshot(None if runtime is None else (lambda rt, addr: rt["id"] == runtime),
                     None if state is None and name is None else keep)
    with no_gc():
        return [t for _, t in snap.tasks()]


def runtimes():
    snap = _snapshot(None, lambda tid, st, nm: False)
    return [Runtime(rt["id"], int(rt["address"], 16), rt["flavor"], rt["workers"],
                    snap.task_counts.get(rt["id"]), rt["spawned_total"], list(errors))
            for rt, _, errors in snap.runtimes]


def threads():
    snap = _snapshot(lambda rt, addr: False)
    nums = {}
    for th in gdb.selected_inferior().threads():
        nums[th.ptid[1] or th.ptid[0]] = th.num
    return [Thread(t["tid"], nums.get(t["tid"]), t["role"], t["worker"], t["runtime"],
                   t["task"], list(t["roots"])) for t in snap.threads]
