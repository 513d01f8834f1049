#!/usr/bin/env python3
"""tests/fuzz/fuzz.py - the corruption fuzzer: cores of several test programs,
mutated deterministically from a seed, every command run on each mutation.

For each program (tests/gdb/progs: states, deadlock, mt, chain) a core is
made at its checkpoint; one GDB process per core runs tests/fuzz/driver.py,
which lays each mutation over the core's memory and runs every command.
Each run is one of: hang, traceback, crash (GDB died), badjson, silent (the
task set, the deadlock verdict or the diagnosis's proven findings differ
from the unmutated core's and no output reports corruption the unmutated
core's output did not), reported, unchanged.  Mutations of values the ABI
keeps no second copy of (a task's state among the known ones, a channel's
fill, a closed bit: mutate.DECISIVE_VALUES) may change a verdict: those
count as "value", listed by field.  A verdict changed by a count, a time, a
line or a label (mutate.VALUE_ONLY) is "silent".  Then cores taken at random moments of a busy multi-thread
program (tests/fuzz/busy.c): no traceback, valid JSON, and no deadlock
except through records marked corrupt or in-flux.

usage: tests/fuzz/fuzz.py --build BUILD [--count N] [--seed S] [--timeout S]
                          [--busy-cores N] [--jobs N] [--keep]
With the walk's C accelerator loaded, the task table, its JSON and every
backtrace of each mutation are also printed by the pure-Python walk: any
difference is "accel".
Prints the tally; exits 1 on any hang, traceback, crash, bad JSON, silent
verdict change or accel difference.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "gdb"))
from gdbrun import LOADER, Program, TestFailure, run_gdb  # noqa: E402

PROGRAMS = [("states", {}), ("deadlock", {}), ("mt", {}), ("chain", {"CHAIN_TASKS": "20"})]
FAILING = ("hang", "traceback", "crash", "badjson", "silent", "accel")
RESULTS = FAILING + ("value", "reported", "unchanged")


def make_core(exe, env, path):
    prog = Program(exe, env=env)
    try:
        parts, whole = run_gdb(["-p", str(prog.pid)], [("gcore", "generate-core-file %s"
                                                        % path)], source=False)
        prog.release()
    finally:
        prog.kill()
    if not os.path.exists(path):
        raise TestFailure("no core of %s: %s" % (exe, whole[-500:]))


def fuzz_core(exe, core, name, first, last, args, tmp, out):
    """Run mutations [first, last) of one core; returns result dicts."""
    results = os.path.join(tmp, "%s.results" % name)
    progress = os.path.join(tmp, "%s.progress" % name)
    found = []
    start = first
    while start < last:
        plan = os.path.join(tmp, "%s.plan" % name)
        with open(plan, "w") as f:
            json.dump({"seed": args.seed, "core": name, "first": start, "last": last,
                       "results": results, "progress": progress,
                       "timeout": args.timeout}, f)
        if os.path.exists(progress):
            os.unlink(progress)
        cmd = ["gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off", exe, core,
               "-ex", "source %s" % LOADER, "-ex", "source %s" % os.path.join(
                   HERE, "driver.py")]
        budget = (last - start) * args.timeout * 10 + 60
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=dict(
                                   os.environ, ASYNCTRACE_FUZZ_PLAN=plan),
                               timeout=budget)
            died = p.returncode != 0
            tail = p.stdout.decode("utf-8", "replace")[-1500:]
        except subprocess.TimeoutExpired:
            died, tail = True, "timeout"
        done = {}
        if os.path.exists(results):
            for line in open(results):
                r = json.loads(line)
                done[r["i"]] = r
        prog = open(progress).read().strip() if os.path.exists(progress) else ""
        if prog == "done" and not died:
            break
        if not prog.isdigit():  # GDB failed before the first mutation
            raise TestFailure("the fuzz driver did not start on %s:\n%s" % (name, tail))
        bad = int(prog)
        with open(results, "a") as f:
            f.write(json.dumps({"i": bad, "core": name, "mutation": "?", "class": "?",
                                "result": "hang" if tail == "timeout" else "crash",
                                "note": tail[-300:]}) + "\n")
        start = bad + 1
    for line in open(results):
        r = json.loads(line)
        if r["result"] == "silent" and r["class"] == "value":
            r["result"] = "value"
        found.append(r)
    return found


def busy_cores(args, tmp):
    """Cores of tests/fuzz/busy taken at random moments: problems found."""
    exe = os.path.join(os.path.abspath(args.build), "fuzz", "busy")
    problems = []
    proc = subprocess.Popen([exe], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline().decode()
        m = re.match(r"ready (\d+)", line)
        if not m:
            raise TestFailure("busy did not start: %r" % line)
        for n in range(args.busy_cores):
            time.sleep(0.05 + 0.05 * (n % 4))
            core = os.path.join(tmp, "busy.core")
            subprocess.run(["gdb", "-batch", "-nx", "-p", m.group(1), "-ex",
                            "generate-core-file %s" % core], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=120)
            parts, whole = run_gdb([exe, core], [
                ("tasks_json", "info async-tasks --json"), ("tasks", "info async-tasks"),
                ("bt", "async-bt all"), ("deadlocks", "info async-deadlocks"),
                ("deadlocks_json", "info async-deadlocks --json")], timeout=120)
            problems.extend("busy core %d: %s" % (n, p) for p in check_busy(parts, whole))
    finally:
        proc.kill()
        proc.wait()
    return problems


def check_busy(parts, whole):
    out = []
    for b in ("Traceback", "Python Exception", "internal error"):
        if b in whole:
            out.append("%s: %s" % (b, whole[whole.find(b):][:300]))
    try:
        doc = json.loads(parts["tasks_json"][parts["tasks_json"].index("{"):])
        dl = json.loads(parts["deadlocks_json"][parts["deadlocks_json"].index("{"):])
    except (ValueError, KeyError) as e:
        return out + ["bad JSON: %s" % e]
    for rt in doc["runtimes"]:
        for t in rt["tasks"]:
            e = t.get("error")
            if e and not (e.startswith("corrupt: ") or e.startswith("in-flux: ")):
                out.append("task %d: error %r" % (t["id"], e))
    # The busy program never deadlocks: any finding must rest on a record
    # marked corrupt or in-flux.
    marked = set(c["task"] for c in dl["corrupt"])
    for cyc in dl["cycles"]:
        if not any(e["task"] in marked for e in cyc):
            out.append("an unmarked deadlock cycle %r" % [e["task"] for e in cyc])
    for s in dl["stuck"]:
        if "depends_on_corrupt" not in s:
            out.append("task %d reported stuck without a corrupt record: %s"
                       % (s["task"], s["reason"]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--busy-cores", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2, help="GDB processes at a time")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="asynctrace-fuzz-")
    t0 = time.time()
    tally = dict.fromkeys(RESULTS, 0)
    by_class = {}
    failures = []
    values = []
    try:
        per = -(-args.count // len(PROGRAMS))
        jobs = []
        for k, (name, env) in enumerate(PROGRAMS):
            exe = os.path.join(os.path.abspath(args.build), "gdbtests", name)
            core = os.path.join(tmp, "%s.core" % name)
            make_core(exe, env, core)
            jobs.append((exe, core, name, k * per, min(args.count, (k + 1) * per)))
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            done = list(pool.map(lambda j: fuzz_core(*(j + (args, tmp, None))), jobs))
        for found in done:
            for r in found:
                tally[r["result"]] += 1
                c = by_class.setdefault(r["class"], dict.fromkeys(RESULTS, 0))
                c[r["result"]] += 1
                if r["result"] in FAILING:
                    failures.append(r)
                elif r["result"] == "value":
                    values.append([r])
        busy = busy_cores(args, tmp) if args.busy_cores else []
    except TestFailure as e:
        print("fuzz: %s" % e)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    for r in failures[:30]:
        print("FAIL %-9s %s #%d %s (%s): %s" % (r["result"], r["core"], r["i"],
                                               r["mutation"], r["class"], r["note"]))
    fields = {}
    for r in [r for rs in values for r in rs]:
        m = re.match(r"(\w+) 0x[0-9a-f]+ \.(\S+) ", r["mutation"])
        key = "%s.%s" % m.groups() if m else r["mutation"]
        fields[key] = fields.get(key, 0) + 1
    if fields:
        print("value changes by field: " + ", ".join(
            "%s %d" % kv for kv in sorted(fields.items(), key=lambda kv: (-kv[1], kv[0]))))
    for p in busy[:30]:
        print("FAIL busy %s" % p)
    print("fuzz tally (seed %s, %d mutations of %d cores, %.0f s): %s" % (
        args.seed, sum(tally.values()), len(PROGRAMS), time.time() - t0,
        ", ".join("%d %s" % (tally[k], k) for k in RESULTS)))
    for cls in sorted(by_class):
        print("  %-8s %s" % (cls, ", ".join("%d %s" % (v, k) for k, v in
                                             by_class[cls].items() if v)))
    print("busy cores: %d taken at random moments, %d problems" % (args.busy_cores,
                                                                  len(busy)))
    return 1 if failures or busy else 0


if __name__ == "__main__":
    sys.exit(main())
