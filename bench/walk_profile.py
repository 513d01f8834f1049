#!/usr/bin/env python3
"""bench/walk_profile.py - where the time of an offline reading goes.

Makes a core of build/bench/gdb_core_bench (N idle tasks, 5 frames deep)
and splits a reading of it into its phases, each the least CPU time
(time.process_time) of R rounds in one process, so that a loaded machine
moves them less than wall-clock figures:

    start     the interpreter alone (`python3 -c pass`, its own process)
    imports   what `asynctrace ps` imports (its own process)
    core      opening the core and the executable, finding the descriptor
    lists     runtimes, threads, the owned task list (ids, names, links)
    tasks     every task's record, await chain and leaf resource
    table     the `ps` / `info async-tasks` table from those records
    json      the trace document (`ps --json`, `info async-tasks --json`)

and, for GDB, the wall time of `gdb -batch` loading the core with nothing
else (start + core load: what every GDB figure pays before the extension
runs).  Prints BENCH lines (docs/performance.md, "The offline walk"):

    BENCH name=walk.phase_ms.<phase>.<size> value=<ms> unit=ms

usage: bench/walk_profile.py --build BUILD [--tasks N] [--rounds R] [--core FILE]
                             [--package DIR]
"""

import argparse
import gc
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GDB = ["gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off",
       "-iex", "set auto-load python-scripts off"]
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def make_core(exe, n, path):
    env = dict(os.environ, MALLOC_ARENA_MAX="1")
    proc = subprocess.Popen([exe, str(n)], stdout=subprocess.PIPE, env=env)
    try:
        line = proc.stdout.readline().decode()
        if not re.match(r"ready (\d+)", line):
            sys.exit("walk_profile: the program did not reach its checkpoint: %r" % line)
        subprocess.run(GDB + ["-p", str(proc.pid), "-ex", "generate-core-file %s" % path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    finally:
        proc.kill()
        proc.wait()


def child_cpu_s(args):
    """CPU time (user + system) of one child process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def phases(core, exe, rounds, package):
    """{phase: least CPU seconds over `rounds`} of one reading of the core
    by the package in directory `package`."""
    sys.path.insert(0, package)
    from asynctrace import coresource, session, text
    best = {}

    def note(k, v):
        best[k] = min(best.get(k, 1e9), v)
    gc.disable()
    for _ in range(rounds):
        t0 = time.process_time()
        be = coresource.CoreBackend(core, exe)
        be.find_descriptor()
        t1 = time.process_time()
        snap = session.Snapshot(None, None, be)
        t2 = time.process_time()
        snap.freeze()
        t3 = time.process_time()
        text.tasks_table(snap)
        t4 = time.process_time()
        parts = []
        snap.write(parts.append)
        t5 = time.process_time()
        for k, v in (("core", t1 - t0), ("lists", t2 - t1), ("tasks", t3 - t2),
                     ("table", t4 - t3), ("json", t5 - t4)):
            note(k, v)
        del snap, parts
    gc.enable()
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--core", help="an existing core of gdb_core_bench (else one is made)")
    ap.add_argument("--package", default=os.path.join(ROOT, "gdb"),
                    help="the directory holding the asynctrace package to time (to "
                         "compare with another checkout's)")
    args = ap.parse_args()
    exe = os.path.abspath(os.path.join(args.build, "bench", "gdb_core_bench"))
    if not os.access(exe, os.X_OK):
        sys.exit("walk_profile: %s is not built (make bench-build)" % exe)
    tmp = None
    core = args.core
    if core is None:
        tmp = tempfile.mkdtemp(prefix="at-walk-profile-")
        core = os.path.join(tmp, "core")
        make_core(exe, args.tasks, core)
    sid = "%dk" % (args.tasks // 1000) if args.tasks % 1000000 else "%dm" % (args.tasks // 1000000)
    try:
        start = min(child_cpu_s([PYTHON, "-c", "pass"]) for _ in range(args.rounds))
        imports = min(child_cpu_s([PYTHON, "-c",
                                   "import sys; sys.path.insert(0, %r); "
                                   "import asynctrace.cli.main" % args.package])
                      for _ in range(args.rounds)) - start
        walls = []
        for _ in range(args.rounds):
            t0 = time.monotonic()
            subprocess.run(GDB + [exe, core], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            walls.append(time.monotonic() - t0)
        best = phases(core, exe, args.rounds, args.package)
    finally:
        if tmp:
            os.unlink(core)
            os.rmdir(tmp)
    rows = [("start", start, "cpu"), ("imports", imports, "cpu")]
    rows += [(k, best[k], "cpu") for k in ("core", "lists", "tasks", "table", "json")]
    rows.append(("gdb_start_core_load", min(walls), "wall"))
    for name, v, kind in rows:
        print("BENCH name=walk.phase_ms.%s.%s value=%.1f unit=ms runs=%d clock=%s"
              % (name, sid, v * 1e3, args.rounds, kind))
    per_task = (best["lists"] + best["tasks"]) / args.tasks * 1e6
    print("BENCH name=walk.us_per_task.%s value=%.2f unit=us runs=%d clock=cpu "
          "size=\"lists + tasks, per task\"" % (sid, per_task, args.rounds))


if __name__ == "__main__":
    main()
