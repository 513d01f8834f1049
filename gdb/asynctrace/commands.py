"""The GDB commands: info async-tasks, async-bt, info async-threads,
info async-runtimes, info async-deadlocks, info async-diagnose.

Each command parses its arguments first (wrong ones raise gdb.GdbError with
the usage line), takes one Snapshot, and prints a table or a JSON document.
No command runs code in the inferior or writes to it.
"""

import fnmatch
import json
import os

import gdb

from . import deadlock
from . import diagnose
from . import diagnose_text
from . import group
from . import running
from . import taskselect
from . import text
from .abi import AbiError
from .memory import ReadError
from .session import Snapshot, UserError, no_gc

JSON_INDENT_MAX_TASKS = 1000
GROUP_HINT_TASKS = 200  # a table longer than this ends with a hint at --group
DIRECT_WRITE_MIN = 1 << 18


class Usage(Exception):
    pass


def _guard(usage):
    """Turn every failure into a one-line gdb.GdbError (never a traceback)."""

    def wrap(fn):
        def invoke(self, arg, from_tty):
            try:
                return fn(self, arg, from_tty)
            except Usage as e:
                raise gdb.GdbError("%s\nusage: %s" % (e, usage))
            except (UserError, AbiError) as e:
                raise gdb.GdbError("asynctrace: %s" % e)
            except gdb.GdbError:
                raise
            except ReadError as e:
                raise gdb.GdbError("asynctrace: %s" % e)
            except KeyboardInterrupt:
                raise gdb.GdbError("asynctrace: interrupted")
            except gdb.error as e:  # GDB itself refused something (unwinding, ...)
                raise gdb.GdbError("asynctrace: %s" % e)
            except Exception as e:  # a bug here must not look like the program's
                raise gdb.GdbError("asynctrace: internal error (%s: %s)"
                                   % (type(e).__name__, e))
        invoke.__doc__ = fn.__doc__
        return invoke
    return wrap


def _argv(arg):
    try:
        return gdb.string_to_argv(arg or "")
    except gdb.error as e:
        raise Usage(str(e))


def _parse(argv, flags, options):
    """Options of the form --flag and --opt VALUE (or --opt=VALUE); returns
    (dict, positional)."""
    got = {}
    rest = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--"):
            name, eq, value = a.partition("=")
            if name in flags and not eq:
                got[name] = True
            elif name in options:
                if not eq:
                    i += 1
                    if i >= len(argv):
                        raise Usage("option %s needs a value" % name)
                    value = argv[i]
                got[name] = value
            else:
                raise Usage("unknown option %s" % a)
        else:
            rest.append(a)
        i += 1
    return got, rest


def _write(text):
    """Print `text`.  Very large documents go straight to GDB's standard
    output (gdb.write would cost more than the walk), unless GDB is logging
    its output to a file, which only gdb.write feeds."""
    if len(text) < DIRECT_WRITE_MIN or _logging():
        gdb.write(text)
        return
    gdb.flush()
    _write_fd(text)


def _write_text(out):
    """Print a command's text output (a last pass escapes any control
    character a string from memory may still carry)."""
    _write(text.safe_output(out) + "\n")


def _logging():
    try:
        return bool(gdb.parameter("logging enabled"))
    except (gdb.error, RuntimeError):
        return True  # cannot tell: take the safe path


def _emit_snapshot_json(snap):
    """The trace document: indented when small; compact and streamed when
    large (straight to standard output unless GDB is logging)."""
    if snap.ntasks <= JSON_INDENT_MAX_TASKS:
        _write(json.dumps(snap.document, indent=2) + "\n")
        return
    if _logging():
        snap.write(gdb.write)
        gdb.write("\n")
        return
    gdb.flush()
    pending = []
    size = [0]

    def out(piece):
        if len(piece) >= DIRECT_WRITE_MIN:  # a large piece: no copy into a join
            if pending:
                _write_fd("".join(pending))
                del pending[:]
                size[0] = 0
            _write_fd(piece)
            return
        pending.append(piece)
        size[0] += len(piece)
        if size[0] >= DIRECT_WRITE_MIN:
            _write_fd("".join(pending))
            del pending[:]
            size[0] = 0

    snap.write(out)
    pending.append("\n")
    _write_fd("".join(pending))


def _write_fd(text):
    view = memoryview(text.encode("utf-8"))
    while view:
        n = os.write(1, view)
        view = view[n:]


def _int(text_value, what):
    try:
        return int(text_value, 0)
    except ValueError:
        raise Usage("%s must be a number, not %r" % (what, text_value))


SELECT_USAGE = ("[--state STATE] [--name GLOB] [--waits-for KIND|ADDR] [--at LOC] "
                "[--min-wait DUR] [--spawned-at LOC] [--descendants-of ID] "
                "[--sort wait|polls|id] [--limit N] [--group [chain|where|resource|"
                "spawn|state]]")
SELECT_HELP = """
  --state STATE        only tasks in STATE (idle, scheduled, running, complete, cancelled)
  --name GLOB          only tasks whose name matches the shell pattern GLOB
  --waits-for K|ADDR   only tasks waiting on a resource of kind K (mutex, join,
                       channel-recv, ...) or on the object at address ADDR (0x...)
  --at LOC             only tasks with a frame at LOC: file:line, or part of a
                       function or file name
  --min-wait DUR       only tasks waiting (or in their state) at least DUR (500ms, 2s, 5m)
  --spawned-at LOC     only tasks spawned at LOC (as --at)
  --descendants-of ID  only tasks spawned, directly or not, by task ID
  --sort KEY           wait (longest first), polls (most first) or id
  --limit N            at most N tasks (with --group: N groups)
  --group [KEY]        one line per group of tasks with the same await chain
                       (the default key), where (innermost async frame),
                       resource, spawn (site) or state: count, states, ids"""
TASKS_USAGE = "info async-tasks [--json] [--runtime ADDR|ID] " + SELECT_USAGE


def _selection(opts, snap):
    """The Selection of the options (a bad value is a Usage error)."""
    try:
        return taskselect.parse(opts, snap.abi.enums["task_state"],
                                snap.abi.enums["resource_kind"])
    except ValueError as e:
        raise Usage(str(e))


def _select(snap, sel):
    """The selected task records, every task read once."""
    now = diagnose.reading_clock(snap)[0]
    with no_gc():
        return sel.apply([t for _, t in snap.tasks()], now)


def _restrict(snap, chosen):
    """Make the snapshot's lists hold only `chosen`, in its order."""
    order = {t.id: i for i, t in enumerate(chosen)}
    runtimes = []
    for rt, items, errors in snap.runtimes:
        kept = sorted((it for it in items if it[0] in order), key=lambda it: order[it[0]])
        runtimes.append((rt, kept, errors))
    snap.runtimes = runtimes
    snap.ntasks = len(chosen)


def _emit_groups(snap, sel, chosen, as_json):
    now = diagnose.reading_clock(snap)[0]
    names = snap.walker.names
    with no_gc():
        groups = group.group(chosen, sel.group)
        if as_json:
            doc = group.groups_json(groups, sel.group, len(chosen), now, names, sel.limit)
            doc["source"] = snap.source
            _write(json.dumps(doc, indent=1) + "\n")
            return
        out = group.groups_text(groups, sel.group, len(chosen), now, names, sel.limit)
    _write_text(out)


class InfoAsyncTasks(gdb.Command):
    """List every asynctrace task: id, state, time in that state, worker or
thread, polls, name, and where it is (innermost frame and what it waits for).

Usage: info async-tasks [--json] [--runtime ADDR|ID] [filters] [--sort KEY]
                        [--limit N] [--group [KEY]]
  --json               print the trace document (docs/trace-format.md), or
                       with --group the groups (docs/gdb.md)
  --runtime R          only the runtime at address R (0x...), or with id R""" + SELECT_HELP

    def __init__(self):
        super(InfoAsyncTasks, self).__init__("info async-tasks", gdb.COMMAND_STATUS)

    @_guard(TASKS_USAGE)
    def invoke(self, arg, from_tty):
        opts, rest = _parse(taskselect.normalize_group(_argv(arg)), ("--json",),
                            ("--runtime",) + taskselect.VALUE_OPTIONS)
        if rest:
            raise Usage("unexpected argument %r" % rest[0])
        want_rt = _int(opts["--runtime"], "--runtime") if "--runtime" in opts else None
        # 0x... is an address (as printed), a plain number a runtime id.
        by_address = opts.get("--runtime", "").lower().startswith("0x")
        state = opts.get("--state")
        glob = opts.get("--name")

        def keep(tid, st, name):
            if state is not None and st != state:
                return False
            if glob is not None and not fnmatch.fnmatchcase(name, glob):
                return False
            return True

        def rt_filter(rt, addr):
            if want_rt is None:
                return True
            return addr == want_rt if by_address else rt["id"] == want_rt

        # --descendants-of needs every task's parent: no filter on the list walk.
        early = (state or glob) and "--descendants-of" not in opts
        snap = Snapshot(rt_filter if want_rt is not None else None, keep if early else None)
        if state is not None and state not in snap.abi.enums["task_state"]:
            raise Usage("unknown state %r: one of %s" % (
                state, ", ".join(snap.abi.enums["task_state"])))
        sel = _selection(opts, snap)
        if want_rt is not None and not snap.task_counts:
            raise UserError("no runtime has address or id %s (see info async-runtimes)"
                            % opts["--runtime"])
        if sel.needs_records:
            chosen = _select(snap, sel)
            if sel.group:
                _emit_groups(snap, sel, chosen, opts.get("--json"))
                return
            _restrict(snap, chosen)
        if opts.get("--json"):
            _emit_snapshot_json(snap)
            return
        roots = snap.roots_by_task

        def native_of(t):
            if t.address not in roots:
                return None
            lwp, record = roots[t.address]
            nested = t.thread is None
            fn = None if nested else snap.backend.innermost_function(lwp)
            frames, _ = snap.backend.native_frames(lwp, record)
            return (lwp, fn, nested, text.running_lines(frames))

        with no_gc():
            table = text.tasks_table(snap, native_of)
        if snap.ntasks > GROUP_HINT_TASKS:
            table += ("\n(%d tasks: info async-tasks --group summarises them in a screen, "
                      "info async-diagnose says what is wrong)" % snap.ntasks)
        _write_text(table)


BT_USAGE = "async-bt ID...|all [--full] " + SELECT_USAGE
MAX_BT_GROUPS = 25


class AsyncBt(gdb.Command):
    """Backtrace of asynctrace tasks: the await chain, innermost first, ending
with where the task was spawned.  For a task running on a thread, first the
native frames of that thread down to at_root_poll.

Usage: async-bt ID...|all [--full] [filters] [--sort KEY] [--limit N] [--group [KEY]]
  --full               show full file paths, frame addresses and leaf sites
  (filters, --sort, --limit and --group as for info async-tasks; with
  --group, one backtrace per group, of its first task, under the group's
  count and ids)""" + SELECT_HELP

    def __init__(self):
        super(AsyncBt, self).__init__("async-bt", gdb.COMMAND_STACK)

    @_guard(BT_USAGE)
    def invoke(self, arg, from_tty):
        opts, rest = _parse(taskselect.normalize_group(_argv(arg)), ("--full",),
                            taskselect.VALUE_OPTIONS)
        ids = _bt_ids(rest)
        wanted = None if ids is None else set(ids)
        snap = Snapshot(None, (lambda tid, st, name: tid in wanted) if wanted else None)
        sel = _selection(opts, snap)
        filtered = sel.needs_records or sel.state is not None or sel.name is not None
        with no_gc():
            found = {t.id: t for _, t in snap.tasks()}
            order = sorted(found) if ids is None else ids
            if filtered:
                now = diagnose.reading_clock(snap)[0]
                chosen = sel.apply([found[i] for i in order if i in found], now)
                if sel.group:
                    _write_text(_bt_groups(snap, sel, chosen, opts))
                    return
                order = [t.id for t in chosen]
            chunks = _bt_chunks(snap, found, order, bool(opts.get("--full")))
        for rt, _, rt_errors in snap.runtimes:
            if rt_errors:
                chunks.append("runtime %d: %s" % (rt["id"], text.esc("; ".join(rt_errors))))
        if not order:
            chunks.append("no task matches" if filtered else
                          "no tasks could be read" if snap.errors else "no tasks")
        if snap.errors:
            chunks.append("\n".join("note: %s" % text.esc(e) for e in snap.errors))
        _write_text("\n\n".join(chunks))


def _bt_ids(rest):
    if not rest:
        raise Usage("which tasks? give task ids or 'all'")
    if rest == ["all"]:
        return None
    ids = []
    for r in rest:
        if r == "all":
            raise Usage("'all' cannot be combined with task ids")
        v = _int(r, "a task id")
        if v <= 0:
            raise Usage("task ids are positive numbers, not %s" % r)
        ids.append(v)
    return ids


def _bt_one(snap, t, full, chains):
    frames = err = None
    lwp, record = snap.root_of(t)
    if lwp is not None:
        frames, err = snap.backend.native_frames(lwp, record)
    return text.backtrace(t, snap.now, snap.walker.names, lwp, frames, err, full, chains)


def _bt_chunks(snap, found, order, full):
    chains = {}  # await chain shape -> its backtrace lines
    chunks = []
    for tid in order:
        t = found.get(tid)
        if t is None:
            chunks.append("task %d: no such task (it may have finished and been "
                          "freed, or never existed)" % tid)
            continue
        chunks.append(_bt_one(snap, t, full, chains))
    return chunks


def _bt_groups(snap, sel, chosen, opts):
    """One backtrace per group (of its first task) under the group's size."""
    groups = group.group(chosen, sel.group)
    cap = sel.limit or MAX_BT_GROUPS
    chunks = ["%s in %s by %s, largest first" % (
        text.count(len(chosen), "task"), text.count(len(groups), "group"), sel.group)]
    chains = {}
    for g in groups[:cap]:
        chunks.append("%s (%s): %s\n%s" % (
            text.count(len(g.tasks), "task"), group.states_words(g), group.ids_words(g),
            _bt_one(snap, g.example, bool(opts.get("--full")), chains)))
    if len(groups) > cap:
        chunks.append("and %d more groups" % (len(groups) - cap))
    return "\n\n".join(chunks)


THREADS_USAGE = "info async-threads [--json]"


class InfoAsyncThreads(gdb.Command):
    """List every thread registered with asynctrace: LWP, role, worker, runtime,
the task it is polling now, and its chain of root frames (nested block_on).

Usage: info async-threads [--json]"""

    def __init__(self):
        super(InfoAsyncThreads, self).__init__("info async-threads", gdb.COMMAND_STATUS)

    @_guard(THREADS_USAGE)
    def invoke(self, arg, from_tty):
        opts, rest = _parse(_argv(arg), ("--json",), ())
        if rest:
            raise Usage("unexpected argument %r" % rest[0])
        snap = Snapshot()
        if opts.get("--json"):
            _emit_snapshot_json(snap)
            return
        _write_text(text.threads_table(snap.threads, snap.walker.names, snap.now,
                                       snap.errors))


RUNTIMES_USAGE = "info async-runtimes [--json]"


class InfoAsyncRuntimes(gdb.Command):
    """List every asynctrace runtime: flavor, workers, task counts by state,
and the debugger ABI version of the program.

Usage: info async-runtimes [--json]"""

    def __init__(self):
        super(InfoAsyncRuntimes, self).__init__("info async-runtimes", gdb.COMMAND_STATUS)

    @_guard(RUNTIMES_USAGE)
    def invoke(self, arg, from_tty):
        opts, rest = _parse(_argv(arg), ("--json",), ())
        if rest:
            raise Usage("unexpected argument %r" % rest[0])
        snap = Snapshot()
        if opts.get("--json"):
            _emit_snapshot_json(snap)
            return
        _write_text(text.runtimes_table(snap))


DEADLOCKS_USAGE = "info async-deadlocks [--json]"


class InfoAsyncDeadlocks(gdb.Command):
    """Find tasks that can never run again: wait-for cycles (mutex held by a
task, join of a task, full channel whose receiver waits) printed once each,
and tasks stuck on something nobody can provide or behind a cycle.

Usage: info async-deadlocks [--json]"""

    def __init__(self):
        super(InfoAsyncDeadlocks, self).__init__("info async-deadlocks",
                                                 gdb.COMMAND_STATUS)

    @_guard(DEADLOCKS_USAGE)
    def invoke(self, arg, from_tty):
        opts, rest = _parse(_argv(arg), ("--json",), ())
        if rest:
            raise Usage("unexpected argument %r" % rest[0])
        snap = Snapshot()
        with no_gc():
            result, notes = deadlock.of_snapshot(snap)
        if opts.get("--json"):
            _write(json.dumps(deadlock.document(snap, result, notes), indent=2) + "\n")
            return
        _write_text(deadlock.report_with_notes(result, notes))


DIAGNOSE_USAGE = "info async-diagnose [--json]"


class InfoAsyncDiagnose(gdb.Command):
    """Say what is wrong, most certain and most upstream first: wait-for
cycles, locks or permits held by tasks that are gone, waits nobody can
satisfy, threads blocked or spinning inside a poll, tasks stuck behind
those, starvation and far-off timers; then what cannot be settled from
memory.  Fits one screen; --json gives every finding (docs/gdb.md).

Usage: info async-diagnose [--json]"""

    def __init__(self):
        super(InfoAsyncDiagnose, self).__init__("info async-diagnose",
                                                gdb.COMMAND_STATUS)

    @_guard(DIAGNOSE_USAGE)
    def invoke(self, arg, from_tty):
        opts, rest = _parse(_argv(arg), ("--json",), ())
        if rest:
            raise Usage("unexpected argument %r" % rest[0])
        snap = Snapshot()
        with no_gc():
            rep = diagnose.diagnose(snap, lambda t: running.running_facts(snap, t))
        if opts.get("--json"):
            _write(json.dumps(rep, indent=1) + "\n")
            return
        _write_text(diagnose_text.report_text(rep))


def register():
    InfoAsyncTasks()
    AsyncBt()
    InfoAsyncThreads()
    InfoAsyncRuntimes()
    InfoAsyncDeadlocks()
    InfoAsyncDiagnose()
