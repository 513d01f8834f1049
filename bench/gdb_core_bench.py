#!/usr/bin/env python3
"""bench/gdb_core_bench.py - how long GDB takes to list every task of a core.

Runs build/bench/gdb_core_bench (N idle tasks, each suspended 5 frames deep),
makes a core of it with GDB's generate-core-file, then times whole GDB runs
on that core: once with only the extension loaded (the baseline: GDB's own
start-up and core loading) and once with `info async-tasks --json`, the two
alternating.  Prints best and median wall and CPU times, the output size,
and the cost per task ((best run - best baseline) / N), then the figure as
a BENCH line (docs/performance.md):

    BENCH name=gdb.core_json_s.100k value=<median whole run, s> unit=s runs=R ...

The target is a whole run under 1.5 s at 100,000 tasks; the script reports
it, it does not fail on it (timings are measurements, not assertions).  It
fails only if the document is wrong.

usage: bench/gdb_core_bench.py --build BUILD [--tasks N] [--runs R]
"""

import argparse
import json
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
TARGET_S = 1.5


def start_program(exe, n):
    env = dict(os.environ, MALLOC_ARENA_MAX="1")
    proc = subprocess.Popen([exe, str(n)], stdout=subprocess.PIPE, env=env)
    line = proc.stdout.readline().decode()
    m = re.match(r"ready (\d+)", line)
    if not m:
        proc.kill()
        sys.exit("gdb_core_bench: the program did not reach its checkpoint: %r" % line)
    return proc


def timed(args, out_path):
    """(wall s, CPU s, max RSS MiB) of one GDB run (reaped with wait4: the
    figures are that process's own)."""
    start = time.perf_counter()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc
    if rc != 0:
        sys.exit("gdb_core_bench: gdb exited with %d: %s" % (rc, " ".join(args)))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0


def size_id(n):
    """100000 -> "100k", 1000000 -> "1m" (the suffix of the figure's id)."""
    if n % 1000000 == 0:
        return "%dm" % (n // 1000000)
    if n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    exe = os.path.join(os.path.abspath(args.build), "bench", "gdb_core_bench")
    tmp = tempfile.mkdtemp(prefix="asynctrace-gdbbench-")
    try:
        core = os.path.join(tmp, "bench.core")
        proc = start_program(exe, args.tasks)
        try:
            subprocess.run(["gdb", "-batch", "-nx", "-p", str(proc.pid), "-ex",
                            "generate-core-file %s" % core],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=300, check=True)
        finally:
            proc.kill()
            proc.wait()
        base = ["gdb", "-batch", "-nx", exe, core, "-ex", "source %s" % LOADER]
        out = os.path.join(tmp, "out.json")
        baseline, runs = [], []
        for _ in range(args.runs):
            baseline.append(timed(base, out))
            runs.append(timed(base + ["-ex", "info async-tasks --json"], out))
        with open(out) as f:
            text = f.read()
        doc = json.loads(text[text.index("{"):])
        ntasks = sum(len(rt["tasks"]) for rt in doc["runtimes"])
        deep = [t for rt in doc["runtimes"] for t in rt["tasks"] if t["name"] == "worker"]
        depth = 0
        node = deep[0]["await"] if deep else None
        while node:
            depth += 1
            node = node["children"][0] if node["children"] else None
        if ntasks != args.tasks + 1 or depth != 5:
            sys.exit("gdb_core_bench: wrong document: %d tasks (want %d), depth %d"
                     % (ntasks, args.tasks + 1, depth))
        best = min(r[0] for r in runs)
        median = statistics.median(r[0] for r in runs)
        best_base = min(b[0] for b in baseline)
        best_cpu = min(r[1] for r in runs)
        base_cpu = min(b[1] for b in baseline)
        rss = max(r[2] for r in runs)
        per_task_us = (best - best_base) / args.tasks * 1e6
        print("gdb core bench: %d idle tasks, 5 frames deep; core %.1f MB; load average %s"
              % (args.tasks, os.path.getsize(core) / 1e6,
                 " ".join("%.2f" % x for x in os.getloadavg())))
        print("  gdb start-up and core load (baseline): best %.2f s wall, %.2f s cpu"
              % (best_base, base_cpu))
        print("  info async-tasks --json, whole gdb run: best %.2f s, median %.2f s wall; "
              "best %.2f s cpu; output %.1f MB; gdb max RSS %.0f MiB"
              % (best, median, best_cpu, len(text) / 1e6, rss))
        print("  per task: %.1f us wall, %.1f us cpu (run minus baseline, / %d)"
              % (per_task_us, (best_cpu - base_cpu) / args.tasks * 1e6, args.tasks))
        print("  target (whole run under %.1f s): %s" % (
            TARGET_S, "met" if best < TARGET_S else "NOT met (%.2f s)" % best))
        print('BENCH name=gdb.core_json_s.%s value=%.3f unit=s runs=%d '
              'size="core of %d idle tasks 5 frames deep, info async-tasks --json, '
              'whole gdb run" best_s=%.3f baseline_s=%.3f cpu_s=%.3f output_mb=%.1f '
              'rss_mib=%.1f' % (size_id(args.tasks), median, len(runs), args.tasks, best,
                               best_base, best_cpu, len(text) / 1e6, rss))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
