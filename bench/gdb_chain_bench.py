#!/usr/bin/env python3
"""bench/gdb_chain_bench.py - how long `info async-deadlocks` takes on a core
whose tasks form a long chain of joins behind a deadlock.

Runs build/gdbtests/chain with N joins (tests/gdb/progs/chain.c: two chains
of N/2 tasks each joining the next, one behind a deadlock, one behind a
sleeping task), makes a
core of it with generate-core-file, then times whole GDB runs of
`info async-deadlocks` on that core and prints the median as a BENCH line:

    BENCH name=gdb.deadlocks_chain_s.100k value=<median whole run, s> unit=s ...

The target is a whole run under 2 s at 100,000 chained joins (an analysis
quadratic in the chain took 17.6 s at 16,000).  On a shared, loaded machine
wall times say little, so each round also times, right after, the task
table (`info async-tasks`) and GDB alone on the same core, and the CPU time
(user + system) of each run: the deadlock run's ratio to the table run is
what the analysis adds to the walk both do.  Timings are measured and
reported, never asserted; the script fails only if the verdict is wrong.

usage: bench/gdb_chain_bench.py --build BUILD [--tasks N] [--runs R]
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOADER = os.path.join(ROOT, "gdb", "asynctrace-gdb.py")
GDB = ["gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off"]
TARGET_S = 2.0


def make_core(exe, n, core):
    env = dict(os.environ, MALLOC_ARENA_MAX="1", CHAIN_TASKS=str(n))
    proc = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    try:
        line = proc.stdout.readline().decode()
        m = re.match(r"ready (\d+)", line)
        if not m:
            sys.exit("gdb_chain_bench: the program did not reach its checkpoint: %r" % line)
        subprocess.run(GDB + ["-p", m.group(1), "-ex", "generate-core-file %s" % core],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    finally:
        proc.kill()
        proc.wait()


def timed(cmd):
    """(wall s, CPU s of the child, stdout) of one run."""
    before = os.times()
    t0 = time.perf_counter()
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT).stdout
    wall = time.perf_counter() - t0
    after = os.times()
    used = (after.children_user - before.children_user +
            after.children_system - before.children_system)
    return wall, used, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    exe = os.path.join(os.path.abspath(args.build), "gdbtests", "chain")
    tmp = tempfile.mkdtemp(prefix="asynctrace-chainbench-")
    try:
        core = os.path.join(tmp, "chain.core")
        make_core(exe, args.tasks, core)
        base = GDB + [exe, core, "-ex", "source %s" % LOADER]
        runs = {"deadlocks": base + ["-ex", "info async-deadlocks"],
                "tasks": base + ["-ex", "info async-tasks"], "gdb": base}
        times = {k: [] for k in runs}
        cpu = {k: [] for k in runs}
        outs = {}
        for _ in range(args.runs):
            for k, cmd in runs.items():
                wall, used, outs[k] = timed(cmd)
                times[k].append(wall)
                cpu[k].append(used)
        times, out = times["deadlocks"], outs["deadlocks"]
        text = out.decode("utf-8", "replace")
        stuck = len(re.findall(r"^stuck: task \d+ \"link\": join task", text, re.M))
        if stuck != args.tasks // 2 or not re.search(r"^deadlock: task 2 ", text, re.M):
            sys.exit("gdb_chain_bench: wrong verdict (%d stuck links):\n%s"
                     % (stuck, text[:500]))
        med = statistics.median(times)
        n = "%dk" % (args.tasks // 1000) if args.tasks % 1000 == 0 else str(args.tasks)
        print("chained joins: %d, whole gdb runs: best %.2f s, median %.2f s (target < %.1f s)"
              % (args.tasks, min(times), med, TARGET_S))
        print("BENCH name=gdb.deadlocks_chain_s.%s value=%.3f unit=s runs=%d best=%.3f"
              % (n, med, args.runs, min(times)))
        c = {k: statistics.median(v) for k, v in cpu.items()}
        print("CPU (user+sys) medians: deadlocks %.2f s, task table %.2f s, GDB and the "
              "core alone %.2f s; deadlocks / table = %.2f" % (
                  c["deadlocks"], c["tasks"], c["gdb"], c["deadlocks"] / c["tasks"]))
        print("BENCH name=gdb.deadlocks_chain_cpu_s.%s value=%.3f unit=s table=%.3f gdb=%.3f"
              % (n, c["deadlocks"], c["tasks"], c["gdb"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
