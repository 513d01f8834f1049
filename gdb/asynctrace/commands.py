"""The GDB commands: info async-tasks, async-bt, info async-threads,
info async-runtimes, info async-deadlocks, info async-diagnose.

Each command declares its options in one table (options.py: `-json`-style
options with `--json` aliases, completion of names and values), parses its
arguments first (wrong ones raise gdb.GdbError with the usage line), takes
one Snapshot, and writes a table or a JSON document through GDB's own output
stream (output.py), or to a file with -output.  No command runs code in the
inferior or writes to it.
"""

import fnmatch
import json
import re

import gdb

from . import constants
from . import deadlock
from . import diagnose
from . import diagnose_text
from . import group
from . import output
from . import params
from . import running
from . import taskselect
from . import tasktable
from . import text
from .abi import AbiError
from .memory import ReadError
from .options import Flag, Options, Usage, Value, number
from .session import Snapshot, UserError, no_gc

TASK_STATES = list(constants.TASK_STATES)
GROUP_HINT_TASKS = 200  # a table longer than this ends with a hint at -group


def _guard(fn):
    """Turn every failure into a one-line gdb.GdbError (never a traceback)."""

    def invoke(self, arg, from_tty):
        try:
            text.THREAD_NUMBERS = _thread_numbers()
            return fn(self, arg, from_tty)
        except Usage as e:
            raise gdb.GdbError("%s\nusage: %s" % (e, self.usage()))
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


def _thread_numbers():
    """{LWP: GDB's thread number} of the selected inferior."""
    out = {}
    try:
        for th in gdb.selected_inferior().threads():
            pid, lwp, _ = th.ptid
            out[lwp or pid] = th.num
    except (gdb.error, RuntimeError):
        pass
    return out


def _argv(arg):
    try:
        return gdb.string_to_argv(arg or "")
    except gdb.error as e:
        raise Usage(str(e))


def _int(text_value, what):
    try:
        return int(text_value, 0)
    except ValueError:
        raise Usage("%s must be a number, not %r" % (what, text_value))


def task_states():
    """State names from the program's enum table, else the usual ones."""
    try:
        return list(Snapshot().abi.enums["task_state"])
    except Exception:
        return list(TASK_STATES)


def task_ids():
    """Ids of every task of the program (for completion), as text."""
    try:
        snap = Snapshot()
    except Exception:
        return []
    return [str(t[0]) for _, items, _ in snap.runtimes for t in items]


def resource_kinds():
    try:
        return list(Snapshot(lambda rt, addr: False).abi.enums["resource_kind"])
    except Exception:
        return []


def runtime_ids():
    try:
        snap = Snapshot()
    except Exception:
        return []
    return [str(rt["id"]) for rt, _, _ in snap.runtimes]


JSON = Flag("json", "print the trace document (docs/trace-format.md)")
OUTPUT = Value("output", "FILE", "write the output to FILE instead of GDB's output")
GROUP_KEYS = list(taskselect.GROUP_KEYS)
params.GROUP_KEYS.extend(GROUP_KEYS)
# Filters, sort, limit and grouping of info async-tasks and async-bt
# (taskselect.py; docs/gdb.md, "Selecting and grouping tasks").
SELECT = [
    Value("state", "STATE", "only tasks in STATE (idle, scheduled, running, ...)",
          suggest=task_states),
    Value("name", "GLOB", "only tasks whose name matches the shell pattern GLOB"),
    Value("waits-for", "KIND|ADDR", "only tasks waiting on a resource of kind KIND "
          "(mutex, join, ...) or on the object at ADDR", suggest=lambda: resource_kinds()),
    Value("at", "LOC", "only tasks with a frame at LOC (file:line, or part of a name)"),
    Value("min-wait", "DUR", "only tasks waiting at least DUR (500ms, 2s, 5m)"),
    Value("spawned-at", "LOC", "only tasks spawned at LOC (as -at)"),
    Value("descendants-of", "ID", "only tasks spawned, directly or not, by task ID"),
    Value("sort", "KEY", "wait (longest first), polls (most first) or id",
          suggest=list(taskselect.SORT_KEYS)),
    Value("limit", "N", "at most N tasks (with -group: N groups)"),
    Value("group", "[KEY]", "one line per group of tasks with the same " + "/".join(GROUP_KEYS)
          + " (default chain; `set asynctrace group-by`)", suggest=GROUP_KEYS,
          param="group-by"),
]


class AsyncCommand(gdb.Command):
    """Base of the asynctrace commands: help text, usage and completion come
    from NAME, SUMMARY (one sentence: what `help` and `apropos` list),
    DETAILS, ARGS (positional arguments in the usage line) and OPTIONS."""

    NAME = None
    CLASS = gdb.COMMAND_STATUS
    SUMMARY = ""
    DETAILS = ""
    ARGS = ""
    OPTIONS = Options()

    def __init__(self):
        type(self).__doc__ = self.help_text()
        super(AsyncCommand, self).__init__(self.NAME, self.CLASS)

    @classmethod
    def usage(cls):
        parts = [cls.NAME, cls.OPTIONS.usage(), cls.ARGS]
        return " ".join(p for p in parts if p)

    @classmethod
    def help_text(cls):
        doc = "%s\n\nUsage: %s" % (cls.SUMMARY, cls.usage())
        if cls.OPTIONS.options:
            doc += "\n" + cls.OPTIONS.help_lines()
        if cls.DETAILS:
            doc += "\n\n" + cls.DETAILS
        return doc

    def complete(self, text_, word):
        try:
            return self.OPTIONS.complete(text_, word, self.positional)
        except Exception:
            return []

    positional = None

    def parse(self, arg):
        """(options, positional); defaults of options tied to a parameter
        come from `set asynctrace ...`."""
        defaults = {o.name: params.get(o.param) for o in self.OPTIONS.options
                    if o.param is not None}
        return self.OPTIONS.parse(_argv(arg), defaults)


def _emit_json(sink, snap):
    """The trace document: indented up to `set asynctrace
    json-indent-limit` tasks; compact and streamed beyond."""
    if snap.ntasks <= params.get("json-indent-limit"):
        sink.write(json.dumps(snap.document, indent=2) + "\n")
        return
    snap.write(sink.write)
    sink.write("\n")


_STATE_COLOURS = {"idle": "33", "scheduled": "36", "running": "32",
                  "complete": "2", "cancelled": "31"}
_ROW = re.compile(r"^(\s+\d+\s+)(idle|scheduled|running|complete|cancelled)\b", re.M)


def _colour(table):
    out = _ROW.sub(lambda m: "%s\x1b[%sm%s\x1b[0m" % (
        m.group(1), _STATE_COLOURS[m.group(2)], m.group(2)), table)
    return re.sub(r"^(deadlock|stuck):", "\x1b[1;31m\\1\x1b[0m:", out, flags=re.M)


def _table(sink, table, from_tty):
    """Write a command's text output: a last pass escapes any control
    character a string from memory may still carry, then `set asynctrace
    width` and colour apply."""
    _lines_writer(sink, from_tty)(table + "\n")


def _lines_writer(sink, from_tty):
    """write(piece) for text output in pieces of whole lines (each ending in
    a newline): the passes of _table, piece by piece."""
    width = params.get("width")
    colour = params.color_on(from_tty)

    def write(piece):
        piece = output.cut(text.safe_output(piece), width)
        sink.write(_colour(piece) if colour else piece)
    return write


def _normalize_group(argv):
    """`-group` may stand alone (by chain) or take a key (taskselect.py)."""
    return taskselect.normalize_group(["--group" if a == "-group" else a for a in argv])


def _select_opts(opts):
    """The selection options as taskselect.parse() takes them."""
    out = {"--" + o.name: opts[o.name] for o in SELECT if opts.get(o.name) is not None}
    if out.get("--group") == "none":
        del out["--group"]
    return out


def _selection(sopts, snap):
    """The Selection of the options (a bad value is a Usage error)."""
    try:
        return taskselect.parse(sopts, snap.abi.enums["task_state"],
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


def _emit_groups(sink, snap, sel, chosen, as_json, from_tty):
    now = diagnose.reading_clock(snap)[0]
    names = snap.walker.names
    with no_gc():
        groups = group.group(chosen, sel.group)
        if as_json:
            doc = group.groups_json(groups, sel.group, len(chosen), now, names, sel.limit)
            doc["source"] = snap.source
            sink.write(json.dumps(doc, indent=1) + "\n")
            return
        out = group.groups_text(groups, sel.group, len(chosen), now, names, sel.limit)
    _table(sink, out, from_tty)


class InfoAsyncTasks(AsyncCommand):
    NAME = "info async-tasks"
    SUMMARY = "List every asynctrace task, with its state and where it waits."
    DETAILS = """One line per task: id, state, time in that state, worker or thread,
polls, name, and where it is (the innermost async function and what its
leaf waits for).  Filters combine; "3 tasks shown of 9" says what was left
out.  With -group, one line per group (with -json, the groups as JSON).
`set asynctrace max-tasks` limits the rows, `set asynctrace width` cuts
long lines."""
    OPTIONS = Options(
        JSON,
        Value("runtime", "ADDR|ID", "only the runtime at address ADDR (0x...) or with id ID",
              suggest=runtime_ids),
        *(SELECT + [OUTPUT]))

    def parse(self, arg):
        defaults = {"group": params.get("group-by")}
        return self.OPTIONS.parse(_normalize_group(_argv(arg)), defaults)

    @_guard
    def invoke(self, arg, from_tty):
        opts, rest = self.parse(arg)
        if rest:
            raise Usage("unexpected argument %r" % rest[0])
        runtime = opts["runtime"]
        want_rt = _int(runtime, "-runtime") if runtime is not None else None
        # 0x... is an address (as printed), a plain number a runtime id.
        by_address = (runtime or "").lower().startswith("0x")
        state, glob = opts["state"], opts["name"]
        sopts = _select_opts(opts)

        def keep(tid, st, name):
            if state is not None and st != state:
                return False
            if glob is not None and not fnmatch.fnmatchcase(name, glob):
                return False
            return True

        def rt_filter(rt, addr):
            return addr == want_rt if by_address else rt["id"] == want_rt

        # -descendants-of needs every task's parent: no filter on the list walk.
        early = (state or glob) and "--descendants-of" not in sopts
        snap = Snapshot(rt_filter if want_rt is not None else None, keep if early else None)
        sel = _selection(sopts, snap)
        if want_rt is not None and not snap.task_counts:
            raise UserError("no runtime has address or id %s (see info async-runtimes)"
                            % runtime)
        with output.Sink(opts["output"]) as sink:
            if sel.needs_records:
                chosen = _select(snap, sel)
                if sel.group:
                    _emit_groups(sink, snap, sel, chosen, opts["json"], from_tty)
                    return
                _restrict(snap, chosen)
            if opts["json"]:
                _emit_json(sink, snap)
                return
            cut = _limit_tasks(snap, params.get("max-tasks"))
            _tasks_table(sink, snap, cut, from_tty)


def _tasks_table(sink, snap, cut, from_tty):
    """The table written in pieces as it is made (tasktable.py)."""
    write = _lines_writer(sink, from_tty)
    with no_gc():
        tasktable.write_table(snap, write, running.native_of_snapshot(snap))
    tail = ""
    if cut:
        tail += "(%d more tasks not shown: set asynctrace max-tasks)\n" % cut
    if snap.ntasks > GROUP_HINT_TASKS:
        tail += ("(%d tasks: info async-tasks -group summarises them in a screen, "
                 "info async-diagnose says what is wrong)\n" % snap.ntasks)
    if tail:
        write(tail)


def _limit_tasks(snap, limit):
    """Keep the first `limit` tasks (by runtime, then id) of a Snapshot's
    lists; returns how many were left out."""
    if limit is None:
        return 0
    left = limit
    cut = 0
    kept = []
    for rt, items, errors in snap.runtimes:
        if len(items) > left:
            cut += len(items) - left
            items = items[:left]
        left -= len(items)
        kept.append((rt, items, errors))
    snap.runtimes[:] = kept
    snap.ntasks -= cut
    return cut


def _current_task_ids():
    """Ids of the tasks the selected thread is polling (innermost first)."""
    from . import tasknav
    return tasknav.current_task_ids()


MAX_BT_GROUPS = 25


class AsyncBt(AsyncCommand):
    NAME = "async-bt"
    CLASS = gdb.COMMAND_STACK
    SUMMARY = "Print the await backtrace of asynctrace tasks."
    ARGS = "[ID...|all]"
    DETAILS = """The await chain of each task, innermost first, ending with where the
task was spawned.  For a task running on a thread, first the native frames
of that thread down to at_root_poll.  Without an argument: the tasks the
selected thread is polling.  Filters, -sort, -limit and -group as for info
async-tasks; with -group, one backtrace per group, of its first task, under
the group's count and ids."""
    OPTIONS = Options(
        Flag("full", "show full file paths, frame addresses and leaf sites",
             param="full"),
        *(SELECT + [OUTPUT]))

    def positional(self):
        return ["all"] + task_ids()

    def parse(self, arg):
        defaults = {"full": params.get("full"), "group": params.get("group-by")}
        return self.OPTIONS.parse(_normalize_group(_argv(arg)), defaults)

    @_guard
    def invoke(self, arg, from_tty):
        opts, rest = self.parse(arg)
        ids = _bt_ids(rest)
        if ids is not None and not ids:
            raise UserError("the selected thread is not polling an asynctrace task; "
                            "give task ids or 'all' (see info async-tasks)")
        with output.Sink(opts["output"]) as sink:
            _backtraces(sink, ids, opts, from_tty)


def _bt_ids(rest):
    """Task ids to show, None for all, [] when the selected thread polls none."""
    if not rest:
        return _current_task_ids()
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


def _backtraces(sink, ids, opts, from_tty, limit_param=True):
    """Backtraces of tasks `ids` (None: every task, up to max-tasks)."""
    wanted = None if ids is None else set(ids)
    snap = Snapshot(None, (lambda tid, st, name: tid in wanted) if wanted else None)
    sel = _selection(_select_opts(opts), snap)
    filtered = sel.needs_records or sel.state is not None or sel.name is not None
    full = bool(opts.get("full"))
    with no_gc():
        found = {t.id: t for _, t in snap.tasks()}
        order = sorted(found) if ids is None else ids
        if filtered:
            now = diagnose.reading_clock(snap)[0]
            chosen = sel.apply([found[i] for i in order if i in found], now)
            if sel.group:
                _table(sink, _bt_groups(snap, sel, chosen, full), from_tty)
                return
            order = [t.id for t in chosen]
        limit = params.get("max-tasks") if ids is None and limit_param else None
        left = 0
        if limit is not None and len(order) > limit:
            order, left = order[:limit], len(order) - limit
        first = _bt_write(sink, snap, found, order, full)
    tail = []
    if left:
        tail.append("... %d more tasks (set asynctrace max-tasks)" % left)
    for rt, _, rt_errors in snap.runtimes:
        if rt_errors:
            tail.append("runtime %d: %s" % (rt["id"], text.esc("; ".join(rt_errors))))
    if not order:
        tail.append("no task matches" if filtered else
                    "no tasks could be read" if snap.errors else "no tasks")
    if snap.errors:
        tail.append("\n".join("note: %s" % text.esc(e) for e in snap.errors))
    for chunk in tail:
        sink.write(chunk if first else "\n\n" + chunk)
        first = False
    sink.write("\n")


def _bt_write(sink, snap, found, order, full):
    """Write the backtraces of `order` one by one; True when none was."""
    chains = {}  # await chain shape -> its backtrace lines
    first = True
    for tid in order:
        t = found.get(tid)
        if t is None:
            chunk = ("task %d: no such task (it may have finished and been "
                     "freed, or never existed)" % tid)
        else:
            chunk = text.safe_output(_bt_one(snap, t, full, chains))
        sink.write(chunk if first else "\n\n" + chunk)
        first = False
    return first


def _bt_one(snap, t, full, chains):
    frames = err = None
    lwp, record = snap.root_of(t)
    if lwp is not None:
        frames, err = snap.backend.native_frames(lwp, record)
    return text.backtrace(t, snap.now, snap.walker.names, lwp, frames, err, full, chains)


def _bt_groups(snap, sel, chosen, full):
    """One backtrace per group (of its first task) under the group's size."""
    groups = group.group(chosen, sel.group)
    cap = sel.limit or MAX_BT_GROUPS
    chunks = ["%s in %s by %s, largest first" % (
        text.count(len(chosen), "task"), text.count(len(groups), "group"), sel.group)]
    chains = {}
    for g in groups[:cap]:
        chunks.append("%s (%s): %s\n%s" % (
            text.count(len(g.tasks), "task"), group.states_words(g), group.ids_words(g),
            _bt_one(snap, g.example, full, chains)))
    if len(groups) > cap:
        chunks.append("and %d more groups" % (len(groups) - cap))
    return "\n\n".join(chunks)


class _TableCommand(AsyncCommand):
    """A command with no argument: reads the program once, works out
    self.analyse(snap) (None for a plain listing), then prints
    self.table(snap, data), or with -json self.write_json (by default the
    whole trace document)."""

    def analyse(self, snap):
        return None

    def write_json(self, sink, snap, data):
        _emit_json(sink, snap)

    @_guard
    def invoke(self, arg, from_tty):
        opts, rest = self.parse(arg)
        if rest:
            raise Usage("unexpected argument %r" % rest[0])
        snap = Snapshot()
        data = self.analyse(snap)
        with output.Sink(opts["output"]) as sink:
            if opts["json"]:
                self.write_json(sink, snap, data)
                return
            _table(sink, self.table(snap, data), from_tty)


class InfoAsyncThreads(_TableCommand):
    NAME = "info async-threads"
    SUMMARY = "List the threads that poll asynctrace tasks and what each polls now."
    DETAILS = """Per thread: LWP, role, worker, runtime, the task it is polling now, and
its chain of root frames (nested block_on)."""
    OPTIONS = Options(JSON, OUTPUT)

    def table(self, snap, data):
        return text.threads_table(snap.threads, snap.walker.names, snap.now, snap.errors)


class InfoAsyncRuntimes(_TableCommand):
    NAME = "info async-runtimes"
    SUMMARY = "List the asynctrace runtimes with their task counts by state."
    DETAILS = """Per runtime: flavor, workers, task counts by state; first the debugger
ABI version of the program and where its descriptor was found."""
    OPTIONS = Options(JSON, OUTPUT)

    def table(self, snap, data):
        return text.runtimes_table(snap)


class InfoAsyncDeadlocks(_TableCommand):
    NAME = "info async-deadlocks"
    SUMMARY = "Find asynctrace tasks that wait for each other in a cycle, or forever."
    DETAILS = """Wait-for cycles (mutex held by a task, join of a task, full channel
whose receiver waits) are printed once each, then the tasks stuck on
something nobody can provide or behind a cycle."""
    OPTIONS = Options(JSON, OUTPUT)

    def analyse(self, snap):
        with no_gc():
            return deadlock.of_snapshot(snap)  # (result, notes)

    def write_json(self, sink, snap, data):
        sink.write(json.dumps(deadlock.document(snap, *data), indent=2) + "\n")

    def table(self, snap, data):
        return deadlock.report_with_notes(*data)


class InfoAsyncDiagnose(_TableCommand):
    NAME = "info async-diagnose"
    SUMMARY = "Say what is wrong with the program's tasks, most certain cause first."
    DETAILS = """Wait-for cycles, locks or permits held by tasks that are gone, waits
nobody can satisfy, threads blocked or spinning inside a poll, tasks stuck
behind those, starvation and far-off timers; then what cannot be settled
from memory.  Fits one screen; -json gives every finding (docs/gdb.md)."""
    OPTIONS = Options(JSON, OUTPUT)

    def analyse(self, snap):
        with no_gc():
            return diagnose.diagnose(snap, lambda t: running.running_facts(snap, t))

    def write_json(self, sink, snap, data):
        sink.write(json.dumps(data, indent=1) + "\n")

    def table(self, snap, data):
        return diagnose_text.report_text(data)


COMMANDS = [InfoAsyncTasks, AsyncBt, InfoAsyncThreads, InfoAsyncRuntimes, InfoAsyncDeadlocks,
            InfoAsyncDiagnose]


def register():
    for cls in COMMANDS:
        cls()
