#!/usr/bin/env python3
"""bench/cli_bench.py - the command-line tool against GDB.

Runs build/bench/gdb_core_bench (N idle tasks, 5 frames deep), makes a core
of it with GDB, then times whole runs of `asynctrace ps CORE EXE` and of
`gdb -batch CORE -ex 'info async-tasks'` (the same table) on that core,
alternating; then `asynctrace ps PID` on a live process with --pid-tasks
tasks: the whole run, and how long the process was stopped (the tool's own
measure, from its note line).  Prints BENCH lines (docs/performance.md):

    BENCH name=cli.ps_core_s.100k value=<median, s> unit=s peer=<gdb median> ...
    BENCH name=gdb.ps_core_s.100k value=<median, s> unit=s
    BENCH name=cli.ps_pid_s.10k value=<median, s> unit=s
    BENCH name=cli.pid_stop_ms.10k value=<median, ms> unit=ms
    BENCH name=cli.ps_core_s.1m value=<median, s> unit=s
    BENCH name=cli.ps_core_rss_mib.1m value=<highest max RSS, MiB> unit=MiB

Targets: the core run <= 0.5x GDB's; the PID run < 0.2 s with the
process stopped < 50 ms; 1,000,000 tasks on a core < 8 s and < 1 GiB
(--big-tasks 0 leaves that out).  Measurements, not assertions.

usage: bench/cli_bench.py --build BUILD [--tasks N] [--pid-tasks N] [--runs R]
                          [--big-tasks N]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOADER = os.path.join(ROOT, "gdb", "asynctrace-gdb.py")
GDB = ["gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off",
       "-iex", "set auto-load python-scripts off"]


def start_program(exe, n):
    env = dict(os.environ, MALLOC_ARENA_MAX="1")
    proc = subprocess.Popen([exe, str(n)], stdout=subprocess.PIPE, env=env)
    line = proc.stdout.readline().decode()
    if not re.match(r"ready (\d+)", line):
        proc.kill()
        sys.exit("cli_bench: the program did not reach its checkpoint: %r" % line)
    return proc


def timed(args):
    """(wall s, None, stdout) of one whole run."""
    t0 = time.monotonic()
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit("cli_bench: %s failed: %s" % (" ".join(args[:3]), p.stderr.decode()[-500:]))
    return wall, None, p.stdout.decode("utf-8", "replace")


def timed_rss(args):
    """(wall s, max RSS MiB) of one whole run, its output thrown away."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("cli_bench: %s failed: %s" % (" ".join(args[:3]),
                                                p.stderr.read().decode()[-500:]))
    return wall, usage.ru_maxrss / 1024.0


def make_core(exe, n, path):
    """A core of `exe` holding n tasks, written to `path` (returned)."""
    proc = start_program(exe, n)
    try:
        subprocess.run(GDB + ["-p", str(proc.pid), "-ex", "generate-core-file %s" % path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    finally:
        proc.kill()
        proc.wait()
    return path


def big_core(exe, tool, n, runs, tmp):
    """`asynctrace ps` on a core of n tasks: BENCH lines of time and memory."""
    core = make_core(exe, n, os.path.join(tmp, "core-big"))
    try:
        walls, rss = [], []
        for _ in range(runs):
            w, r = timed_rss([tool, "ps", core, exe])
            walls.append(w)
            rss.append(r)
    finally:
        os.unlink(core)
    sid = size_id(n)
    print("BENCH name=cli.ps_core_s.%s value=%.3f unit=s runs=%d best=%.3f"
          % (sid, statistics.median(walls), runs, min(walls)))
    print("BENCH name=cli.ps_core_rss_mib.%s value=%.1f unit=MiB runs=%d "
          "size=\"highest max RSS of the runs\"" % (sid, max(rss), runs))


def size_id(n):
    return "%dk" % (n // 1000) if n % 1000000 else "%dm" % (n // 1000000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--pid-tasks", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--big-tasks", type=int, default=1000000)
    args = ap.parse_args()
    exe = os.path.abspath(os.path.join(args.build, "bench", "gdb_core_bench"))
    tool = os.path.abspath(os.path.join(args.build, "asynctrace"))
    for path in (exe, tool):
        if not os.access(path, os.X_OK):
            sys.exit("cli_bench: %s is not built (make bench-build)" % path)
    tmp = tempfile.mkdtemp(prefix="at-cli-bench-")
    core = make_core(exe, args.tasks, os.path.join(tmp, "core"))
    cli, gdb = [], []
    for _ in range(args.runs):
        w, _, out = timed([tool, "ps", core, exe])
        cli.append(w)
        w, _, gout = timed(GDB + [exe, core, "-ex", "source %s" % LOADER,
                                  "-ex", "info async-tasks"])
        gdb.append(w)
    if out.count("\n") < args.tasks:
        sys.exit("cli_bench: asynctrace ps printed %d lines for %d tasks"
                 % (out.count("\n"), args.tasks))
    sid = size_id(args.tasks)
    c, g = statistics.median(cli), statistics.median(gdb)
    print("BENCH name=cli.ps_core_s.%s value=%.3f unit=s runs=%d best=%.3f peer=%.3f "
          "ratio=%.2f" % (sid, c, args.runs, min(cli), g, c / g))
    print("BENCH name=gdb.ps_core_s.%s value=%.3f unit=s runs=%d best=%.3f"
          % (sid, g, args.runs, min(gdb)))
    os.unlink(core)
    proc = start_program(exe, args.pid_tasks)
    walls, stops = [], []
    try:
        for _ in range(args.runs):
            w, _, out = timed([tool, "ps", str(proc.pid)])
            m = re.search(r"was stopped for (\d+(?:\.\d+)?)(us|ms|s) ", out)
            if not m:
                sys.exit("cli_bench: no stop time in the output")
            scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
            walls.append(w)
            stops.append(float(m.group(1)) * scale)
    finally:
        proc.kill()
        proc.wait()
    sid = size_id(args.pid_tasks)
    print("BENCH name=cli.ps_pid_s.%s value=%.3f unit=s runs=%d best=%.3f"
          % (sid, statistics.median(walls), args.runs, min(walls)))
    print("BENCH name=cli.pid_stop_ms.%s value=%.1f unit=ms runs=%d best=%.1f"
          % (sid, statistics.median(stops), args.runs, min(stops)))
    if args.big_tasks:
        big_core(exe, tool, args.big_tasks, args.runs, tmp)
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
