"""`asynctrace`: the GDB commands' answers without GDB, on a PID, a core with
its executable, or a trace document (docs/cli.md).

Every failure the user can cause is one line `asynctrace: ...` on standard
error and a documented exit status (backend.py EXIT_*); never a traceback.

Each command imports the modules it needs when it runs (the tool starts in
a fraction of the time it takes to import all of them: docs/performance.md).
"""

import argparse
import json
import sys

from .. import text
from ..abi import AbiError
from ..backend import EXIT_ERROR, EXIT_USAGE, UserError
from ..memory import ReadError
from ..session import no_gc
from . import filters
from .sources import Source


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UserError("%s (see asynctrace %s--help)" % (
            message, (self.prog.split(" ", 1)[1] + " ") if " " in self.prog else ""),
            EXIT_USAGE)


def _source_args(p):
    p.add_argument("source", nargs="+", metavar="PID | CORE EXE | FILE.json")
    p.add_argument("--no-stop", action="store_true",
                   help="read a PID without stopping it (the picture may be torn)")
    p.add_argument("--unwind", metavar="PATH", help=argparse.SUPPRESS)


def parser():
    top = _Parser(prog="asynctrace", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    p = sub.add_parser("ps", help="the task table (info async-tasks)")
    filters.add_options(p)
    p.add_argument("--json", action="store_true", help="the trace document")
    p.add_argument("--watch", metavar="DURATION",
                   help="redraw every DURATION (PID only) until interrupted")
    p.add_argument("--count", type=int, metavar="N", help="with --watch: N snapshots")
    _source_args(p)
    p = sub.add_parser("bt", help="backtraces of tasks (async-bt)")
    p.add_argument("--task", "-t", action="append", metavar="ID",
                   help="only these tasks (repeat, or ID,ID,...); default all")
    p.add_argument("--full", action="store_true",
                   help="full file paths, frame addresses and leaf sites")
    filters.add_options(p, grouping=False)
    _source_args(p)
    for name, what in (("threads", "threads polling tasks (info async-threads)"),
                       ("runtimes", "runtimes (info async-runtimes)"),
                       ("deadlocks", "wait-for cycles and stuck tasks "
                                     "(info async-deadlocks)"),
                       ("diagnose", "what is wrong, most certain first "
                                    "(info async-diagnose)")):
        p = sub.add_parser(name, help=what)
        p.add_argument("--json", action="store_true")
        _source_args(p)
    p = sub.add_parser("dump", help="the trace document, or an export")
    p.add_argument("--json", action="store_true", help="the trace document (the default)")
    p.add_argument("--format", choices=("json", "pprof", "dot", "folded"), default="json",
                   help="pprof: gzipped task profile; dot: wait-for graph; folded: "
                        "collapsed stacks")
    p.add_argument("--grouped", action="store_true",
                   help="pprof: one sample per group of tasks with the same stack, "
                        "state and wait")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE")
    _source_args(p)
    from . import diffcmd
    diffcmd.add_parser(sub, _source_args)
    return top


def _out(s):
    sys.stdout.write(s)


def _footer(src, snap):
    notes = ["note: %s" % n for n in snap.backend.notes()]
    if src.stopped_ns is not None:
        notes.append("note: process %d was stopped for %s while it was read"
                     % (src.pid, text.duration(src.stopped_ns)))
    return notes


def cmd_ps(args, src):
    keep, rt_filter = filters.make(args)
    snap = src.snapshot(rt_filter, keep)
    sel = filters.selection(args, snap)
    with no_gc():
        chosen = filters.apply(snap, sel)
        if sel.group:
            out = filters.groups(snap, sel, chosen, args.json)
            if args.json:
                _out(json.dumps(out, indent=1) + "\n")
            else:
                _out("\n".join([out.rstrip("\n")] + _footer(src, snap)) + "\n")
            return
    if args.json:
        snap.write(_out)
        _out("\n")
        return
    from .. import running, tasktable
    with no_gc():  # written in pieces as it is made: never the whole table at once
        tasktable.write_table(snap, _out, running.native_of_snapshot(snap))
    _out("".join(line + "\n" for line in _footer(src, snap)))


def _task_ids(values):
    ids = []
    for v in values or []:
        for part in v.split(","):
            try:
                n = int(part, 0)
            except ValueError:
                raise UserError("a task id must be a number, not %r" % part, EXIT_USAGE)
            if n <= 0:
                raise UserError("task ids are positive numbers, not %s" % part, EXIT_USAGE)
            ids.append(n)
    return ids or None


def cmd_bt(args, src):
    ids = _task_ids(args.task)
    wanted = set(ids) if ids else None
    _, rt_filter = filters.make(args)
    snap = src.snapshot(rt_filter, (lambda tid, st, name: tid in wanted) if wanted else None)
    sel = filters.selection(args, snap)
    filtered = sel.needs_records or sel.state is not None or sel.name is not None
    from .. import diagnose
    chains = {}
    chunks = []
    with no_gc():
        found = {t.id: t for _, t in snap.tasks()}
        order = ids or sorted(found)
        if filtered:
            now = diagnose.reading_clock(snap)[0]
            order = [t.id for t in sel.apply([found[i] for i in order if i in found], now)]
        for tid in order:
            t = found.get(tid)
            if t is None:
                chunks.append("task %d: no such task (it may have finished and been "
                              "freed, or never existed)" % tid)
                continue
            frames = err = None
            lwp, record = snap.root_of(t)
            if lwp is not None:
                frames, err = snap.backend.native_frames(lwp, record)
            chunks.append(text.backtrace(t, snap.now, snap.names, lwp, frames, err,
                                         args.full, chains))
    for rt, _, rt_errors in snap.runtimes:
        if rt_errors:
            chunks.append("runtime %d: %s" % (rt["id"], "; ".join(rt_errors)))
    if not order:
        chunks.append("no task matches" if filtered else "no tasks")
    # The reading's own notes (a damaged layout table, a thread polling a
    # task no list has); the backend's come in the footer.
    footer = set(snap.backend.notes())
    notes = ["note: %s" % text.esc(e) for e in snap.errors if e not in footer]
    if notes:
        chunks.append("\n".join(notes))
    _out("\n\n".join(chunks + ["\n".join(_footer(src, snap))]).rstrip("\n") + "\n")


def cmd_threads(args, src):
    snap = src.snapshot()
    if args.json:
        _out(json.dumps(snap.threads, indent=2) + "\n")
        return
    lines = [text.threads_table(snap.threads, snap.names, snap.now, snap.errors)]
    _out("\n".join(lines + _footer(src, snap)) + "\n")


def cmd_runtimes(args, src):
    snap = src.snapshot()
    if args.json:
        _out(json.dumps([rt for rt, _, _ in snap.runtimes], indent=2) + "\n")
        return
    _out("\n".join([text.runtimes_table(snap)] + _footer(src, snap)) + "\n")


def cmd_deadlocks(args, src):
    from .. import deadlock
    snap = src.snapshot()
    with no_gc():
        result, notes = deadlock.of_snapshot(snap)
    if args.json:
        _out(json.dumps(deadlock.document(snap, result, notes), indent=2) + "\n")
        return
    _out("\n".join([deadlock.report_with_notes(result, notes)] + _footer(src, snap)) + "\n")


def cmd_diagnose(args, src):
    from .. import diagnose, diagnose_text, running
    snap = src.snapshot()
    with no_gc():
        rep = diagnose.diagnose(snap, lambda t: running.running_facts(snap, t))
    if args.json:
        _out(json.dumps(rep, indent=1) + "\n")
        return
    _out("\n".join([diagnose_text.report_text(rep)] + _footer(src, snap)) + "\n")


def _dump_json(snap, path):
    """The trace document, to standard output or to `path`, written in
    pieces as it is made (never the whole text at once: 1.1 GB for
    1,000,000 tasks)."""
    if path is None:
        snap.write(_out)
        _out("\n")
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            snap.write(f.write)
            f.write("\n")
    except OSError as e:
        raise UserError("cannot write %s: %s" % (path, e.strerror))


def cmd_dump(args, src):
    from .. import deadlock, exports, pprof, stacks
    snap = src.snapshot()
    if args.format == "json":
        _dump_json(snap, args.output)
        return
    if args.format == "pprof":
        data = pprof.profile(stacks.stacks(snap), args.grouped,
                             comment="asynctrace %s of %s" % (snap.source, src.describe()))
    elif args.format == "folded":
        data = exports.folded(stacks.stacks(snap)).encode("utf-8")
    else:
        data = exports.dot(snap, deadlock.of_snapshot(snap)[0]).encode("utf-8")
    if args.output:
        try:
            with open(args.output, "wb") as f:
                f.write(data)
        except OSError as e:
            raise UserError("cannot write %s: %s" % (args.output, e.strerror))
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(data)


COMMANDS = {"ps": cmd_ps, "bt": cmd_bt, "threads": cmd_threads, "runtimes": cmd_runtimes,
            "deadlocks": cmd_deadlocks, "diagnose": cmd_diagnose, "dump": cmd_dump}


def run(argv):
    args = parser().parse_args(argv)
    if not args.command:
        raise UserError("which command? one of ps, bt, threads, runtimes, deadlocks, "
                        "diagnose, dump, diff (see asynctrace --help)", EXIT_USAGE)
    if args.command == "diff":
        from . import diffcmd
        return diffcmd.run(args)
    src = Source(args.source, args.no_stop, args.unwind)
    if args.command == "ps" and args.watch:
        from . import watch
        return watch.run(args, src)
    COMMANDS[args.command](args, src)
    return 0


def main(argv=None):
    try:
        code = run(sys.argv[1:] if argv is None else argv)
        sys.stdout.flush()
        return code or 0
    except UserError as e:
        sys.stderr.write("asynctrace: %s\n" % e)
        return e.code
    except AbiError as e:
        sys.stderr.write("asynctrace: %s\n" % e)
        return e.code
    except ReadError as e:
        sys.stderr.write("asynctrace: %s\n" % e)
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("asynctrace: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug here must still be one line
        sys.stderr.write("asynctrace: internal error (%s: %s)\n" % (type(e).__name__, e))
        return EXIT_ERROR
