"""More tests of tests/cli/run.py (native frames, diff, exports, watch):
TESTS is a list of (name, function(ctx)); error_cases(ctx) adds rows to the
error table."""

import re

from gdbrun import TestFailure, run_gdb


def _native_lines(text):
    """The native frame lines of a backtrace, libc frames left out (their
    names depend on libc's debug info), without the frame numbers."""
    out = []
    for line in text.splitlines():
        m = re.match(r"\s+#\d+\s+(0x[0-9a-f]+ in \S+ at (\S+):\d+.*)$", line)
        if m and not m.group(2).startswith(("read.c", "futex", "pthread")):
            out.append(m.group(1))
    return out


def t_native_core(ctx):
    """bt on a core: the native frames of the task inside a poll (LWP in a
    read(2) under a nested block_on) are GDB's, frame for frame."""
    r = ctx.results["states"]
    m = ctx.m
    cli, _ = ctx.run(["bt", "-t", "1", "-t", "2", r["core"], r["exe"]])
    parts, _ = run_gdb([r["exe"], r["core"]], [("bt", "async-bt 1 2")])
    mine, gdbs = _native_lines(cli), _native_lines(parts["bt"])
    if not mine or mine != gdbs:
        raise TestFailure("native frames differ from GDB's:\n%s\n---\n%s"
                          % ("\n".join(mine), "\n".join(gdbs)))
    for pat in (r"0x[0-9a-f]+ in wait_pipe at states.c:%d" % m["native:wait_pipe"],
                r"0x[0-9a-f]+ in inner_work_poll at states.c:%d" % m["native:inner_work"],
                r"0x[0-9a-f]+ in at_root_poll at scheduler.c:\d+"):
        if not any(re.match(pat + "$", x) for x in mine):
            raise TestFailure("no native frame %r in:\n%s" % (pat, cli))


def t_native_pid(ctx):
    """bt on a PID: the same native frames for the task in a poll."""
    from gdbrun import Program
    prog = Program(ctx.prog("states"))
    try:
        cli, _ = ctx.run(["bt", "-t", "2", prog.pid])
        parts, _ = run_gdb(["-p", str(prog.pid)], [("bt", "async-bt 2")])
    finally:
        prog.kill()
    mine, gdbs = _native_lines(cli), _native_lines(parts["bt"])
    if not mine or mine != gdbs:
        raise TestFailure("native frames differ from GDB's:\n%s\n---\n%s"
                          % ("\n".join(mine), "\n".join(gdbs)))


TESTS = [
    ("native frames on a core are GDB's", t_native_core),
    ("native frames on a PID are GDB's", t_native_pid),
]


def error_cases(ctx):
    return []
