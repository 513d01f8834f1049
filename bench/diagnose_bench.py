#!/usr/bin/env python3
"""bench/diagnose_bench.py - how long info async-diagnose and a grouped
listing take on a core of many tasks, next to info async-tasks --json.

Runs build/scenarios/30_haystack with ASYNCTRACE_HAYSTACK_TASKS=N (the hay
waits on a notify, asleep, or on a mutex, and two tasks deadlock), makes a
core with GDB, then times whole GDB runs on it, the commands alternating:
info async-tasks --json (the reference), info async-diagnose, and
info async-tasks --group.  Prints best and median wall times and the ratio
diagnose / --json (target: within 1.2x), and BENCH lines
(docs/performance.md):

    BENCH name=diag.core_diagnose_ratio.100k value=<best diagnose / best json>
    BENCH name=diag.core_diagnose_s.100k value=<median whole run, s>
    BENCH name=diag.core_group_s.100k value=<median whole run, s>  (target < 1 s)

It checks that the diagnosis found the one cycle and that the grouped
listing is a screen; timings are measurements, not assertions.

usage: bench/diagnose_bench.py --build BUILD [--tasks N] [--runs R]
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
COMMANDS = (("json", "info async-tasks --json"), ("diagnose", "info async-diagnose"),
            ("group", "info async-tasks --group"))


def start(exe, n):
    env = dict(os.environ, MALLOC_ARENA_MAX="1", ASYNCTRACE_HAYSTACK_TASKS=str(n))
    proc = subprocess.Popen([exe], stdout=subprocess.PIPE, env=env)
    line = proc.stdout.readline().decode()
    if not re.match(r"ready (\d+)", line):
        proc.kill()
        sys.exit("diagnose_bench: the haystack did not reach its checkpoint: %r" % line)
    return proc


def timed(args, out_path):
    t0 = time.perf_counter()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("diagnose_bench: gdb failed: %s" % " ".join(args))
    return time.perf_counter() - t0, ru.ru_maxrss / 1024.0, ru.ru_utime + ru.ru_stime


def size_id(n):
    return "%dk" % (n // 1000) if n % 1000 == 0 else str(n)


def check(outputs, n):
    diag = outputs["diagnose"]
    if "1. deadlock: 2 tasks wait for each other in a cycle (mutex)" not in diag:
        sys.exit("diagnose_bench: the diagnosis missed the cycle:\n" + diag[:2000])
    group = outputs["group"]
    lines = group[group.index("%d tasks in" % n):].splitlines()
    if len(lines) > 20:
        sys.exit("diagnose_bench: the grouped listing is %d lines" % len(lines))
    doc = json.loads(outputs["json"][outputs["json"].index("{"):])
    if sum(len(rt["tasks"]) for rt in doc["runtimes"]) != n:
        sys.exit("diagnose_bench: the document does not have %d tasks" % n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    exe = os.path.join(os.path.abspath(args.build), "scenarios", "30_haystack")
    tmp = tempfile.mkdtemp(prefix="asynctrace-diagbench-")
    try:
        core = os.path.join(tmp, "haystack.core")
        proc = start(exe, args.tasks)
        try:
            subprocess.run(["gdb", "-batch", "-nx", "-p", str(proc.pid), "-ex",
                            "generate-core-file %s" % core], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=600, check=True)
        finally:
            proc.kill()
            proc.wait()
        base = ["gdb", "-batch", "-nx", exe, core, "-ex", "source %s" % LOADER]
        times = {name: [] for name, _ in COMMANDS}
        cpu = {name: [] for name, _ in COMMANDS}
        rss = {name: 0.0 for name, _ in COMMANDS}
        outputs = {}
        for _ in range(args.runs):
            for name, cmd in COMMANDS:
                out = os.path.join(tmp, name + ".out")
                wall, mib, secs = timed(base + ["-ex", cmd], out)
                times[name].append(wall)
                cpu[name].append(secs)
                rss[name] = max(rss[name], mib)
                with open(out) as f:
                    outputs[name] = f.read()
        check(outputs, args.tasks)
        best = {k: min(v) for k, v in times.items()}
        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = best["diagnose"] / best["json"]
        sid = size_id(args.tasks)
        print("diagnose bench: core of the haystack, %d tasks, one cycle; load average %s"
              % (args.tasks, " ".join("%.2f" % x for x in os.getloadavg())))
        for name, cmd in COMMANDS:
            print("  %-28s best %.2f s, median %.2f s wall; best %.2f s cpu; gdb max RSS "
                  "%.0f MiB" % (cmd, best[name], med[name], min(cpu[name]), rss[name]))
        print("  cpu ratio diagnose / --json: %.2f" % (min(cpu["diagnose"]) / min(cpu["json"])))
        print("  diagnose / --json: %.2f (target within 1.2: %s); grouped listing %s"
              % (ratio, "met" if ratio <= 1.2 else "NOT met",
                 "under 1 s" if best["group"] < 1.0 else "NOT under 1 s"))
        print('BENCH name=diag.core_diagnose_ratio.%s value=%.3f unit=ratio runs=%d '
              'size="core of %d tasks, info async-diagnose / info async-tasks --json, '
              'best whole gdb runs"' % (sid, ratio, args.runs, args.tasks))
        print('BENCH name=diag.core_diagnose_s.%s value=%.3f unit=s runs=%d best_s=%.3f '
              'rss_mib=%.1f' % (sid, med["diagnose"], args.runs, best["diagnose"],
                                rss["diagnose"]))
        print('BENCH name=diag.core_group_s.%s value=%.3f unit=s runs=%d best_s=%.3f '
              'cpu_s=%.3f rss_mib=%.1f' % (sid, med["group"], args.runs, best["group"],
                                          min(cpu["group"]), rss["group"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
