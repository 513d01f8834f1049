"""The corruption fuzzer's in-GDB driver: many mutations of one core in one
GDB process.

Sourced by tests/fuzz/fuzz.py in `gdb -batch -nx PROG CORE` after the
extension; reads its plan from $ASYNCTRACE_FUZZ_PLAN (JSON: seed, first and
last mutation index, result and progress files, per-command timeout).  A
mutation is a set of byte patches laid over every read the extension makes
(memory.Memory's raw reads): the core file itself is never rewritten, so
thousands of mutations need no reload.  For each mutation every command
runs (with a timer that interrupts a hang), and one JSON line per mutation
goes to the result file; the progress file names the mutation under way, so
that the runner can tell which one killed or hung GDB.
"""

import json
import os
import random
import signal
import sys

import gdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutate  # noqa: E402

from asynctrace import accel, memory, session  # noqa: E402

# Commands run a second time on the pure-Python code when the C forms of
# its hot loops (asynctrace/_speedups.c) are loaded: both must print the
# same.
PURE_CHECKED = ("info async-tasks --json", "info async-tasks", "async-bt all")

COMMANDS = ["info async-tasks --json", "info async-tasks", "async-bt all",
            "info async-threads", "info async-runtimes", "info async-deadlocks",
            "info async-deadlocks --json"]
BAD = ("Traceback", "Python Exception", "internal error", "Error occurred in Python")


class Hang(BaseException):
    pass


PATCHES = {}
_orig_raw = memory.Memory._raw


def _patched_raw(self, address, size):
    data = _orig_raw(self, address, size)
    if not PATCHES:
        return data
    end = address + size
    out = None
    for addr, raw in PATCHES.items():
        if addr < end and addr + len(raw) > address:
            if out is None:
                out = bytearray(data)
            lo = max(addr, address)
            hi = min(addr + len(raw), end)
            out[lo - address:hi - address] = raw[lo - addr:hi - addr]
    return bytes(out) if out is not None else data


memory.Memory._raw = _patched_raw


def _alarm(signum, frame):
    raise Hang()


def run_command(cmd, timeout):
    """(status, output): status ok, error (a one-line gdb error), hang."""
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        out = gdb.execute(cmd, to_string=True)
        return "ok", out
    except Hang:
        return "hang", ""
    except gdb.error as e:
        return ("hang" if "Hang" in str(e) else "error"), str(e)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def verdict(outputs):
    """(task set, deadlock verdict, proven findings of the diagnosis) from
    the JSON outputs, None parts when the command refused."""
    tasks = dead = proven = None
    st, out = outputs["info async-tasks --json"]
    if st == "ok":
        doc = json.loads(out[out.index("{"):])
        # Which tasks exist and in which state (a runtime's id is a label:
        # a changed one changes the output, not the task set).
        tasks = sorted((t["id"], t["state"]) for rt in doc["runtimes"]
                       for t in rt["tasks"])
    st, out = outputs["info async-deadlocks --json"]
    if st == "ok":
        doc = json.loads(out[out.index("{"):])
        dead = ([[e["task"] for e in c] for c in doc["cycles"]],
                sorted(s["task"] for s in doc["stuck"]))
    st, out = outputs.get("info async-diagnose --json", ("missing", ""))
    if st == "ok":
        doc = json.loads(out[out.index("{"):])
        # What the diagnosis proves (its "likely" findings weigh durations,
        # which value mutations may change).
        proven = sorted((f["kind"], sorted((t["task"], t.get("state"), json.dumps(
            t.get("waits"), sort_keys=True)) for t in f["tasks"]))
                        for f in doc["findings"] if f["certainty"] == "proven")
    return tasks, dead, proven


def one_run(commands, timeout):
    outputs = {}
    for cmd in commands:
        outputs[cmd] = run_command(cmd, timeout)
    return outputs


def pure_differs(outputs, timeout):
    """The first command of PURE_CHECKED whose output on the pure-Python
    code differs from the accelerated one's (a note), or None."""
    if accel.speedups is None:
        return None
    accel.pure(True)
    try:
        pure = one_run(PURE_CHECKED, timeout)
    finally:
        accel.pure(False)
    for cmd in PURE_CHECKED:
        if pure[cmd] != outputs[cmd]:
            return "%s: the C walk printed %r, the Python walk %r" % (
                cmd, outputs[cmd][1][:150], pure[cmd][1][:150])
    return None


def marks(cmd, out):
    """What a command's output says about corruption: a one-line refusal,
    the lines that say "corrupt" or "in-flux", the error fields of the JSON
    documents (a set of strings)."""
    found = set()
    for line in out.splitlines():
        if line.startswith("asynctrace: ") or "corrupt" in line or "in-flux" in line:
            found.add(line.strip())
    if "--json" in cmd and "{" in out:
        doc = json.loads(out[out.index("{"):])
        found.update(json.dumps(e, sort_keys=True) for e in
                     (doc.get("errors") or []) + (doc.get("corrupt") or []))
        for rt in doc.get("runtimes", ()):
            if rt.get("error"):
                found.add(rt["error"])
            tasks = rt.get("tasks")
            if isinstance(tasks, list):  # (a diagnosis gives a count)
                found.update(t["error"] for t in tasks if t.get("error"))
    return found


def mentions(cmd, out, base_out):
    """What a command's output reports that the unmutated core's output did
    not (the cores of busy programs have in-flux tasks: the same words there
    say nothing about the mutation): a sorted list."""
    return sorted(marks(cmd, out) - marks(cmd, base_out))


def classify(outputs, base, base_out):
    """hang, traceback, badjson, silent, reported, unchanged (and a note)."""
    for cmd, (st, out) in outputs.items():
        if st == "hang":
            return "hang", cmd
    for cmd, (st, out) in outputs.items():
        for b in BAD:
            if b in out:
                return "traceback", "%s: %s" % (cmd, out[out.find(b):][:300])
        if "\x1b" in out and "--json" not in cmd:
            return "traceback", "%s: raw ESC in text output" % cmd
    try:
        v = verdict(outputs)
        for cmd, (st, out) in outputs.items():
            if st == "ok" and "--json" in cmd:
                json.loads(out[out.index("{"):])
    except (ValueError, KeyError) as e:
        return "badjson", "%s" % e
    for cmd, (_, out) in outputs.items():
        new = mentions(cmd, out, base_out[cmd][1])
        if new:
            return "reported", "%s: %s" % (cmd, new[0][:200])
    if v != base:
        return "silent", json.dumps([v, base])[:400]
    return "unchanged", None


def main():
    plan = json.load(open(os.environ["ASYNCTRACE_FUZZ_PLAN"]))
    signal.signal(signal.SIGALRM, _alarm)
    commands = list(COMMANDS)
    try:
        gdb.execute("help info async-diagnose", to_string=True)
        commands += ["info async-diagnose", "info async-diagnose --json"]
    except gdb.error:
        pass
    base_out = one_run(commands, plan["timeout"])
    base = verdict(base_out)
    base_differs = pure_differs(base_out, plan["timeout"])  # the undamaged core
    snap = session.Snapshot()
    targets = mutate.Targets(snap)
    mem = snap.mem
    results = open(plan["results"], "a")
    for i in range(plan["first"], plan["last"]):
        with open(plan["progress"], "w") as f:
            f.write("%d\n" % i)
        rng = random.Random("%s/%s/%d" % (plan["seed"], plan["core"], i))
        PATCHES.clear()
        desc, patches, cls = mutate.mutation(rng, targets, mem.read)
        PATCHES.update(patches)
        outputs = one_run(commands, plan["timeout"])
        differs = pure_differs(outputs, plan["timeout"]) or base_differs
        PATCHES.clear()
        result, note = classify(outputs, base, base_out)
        if differs is not None:
            result, note = "accel", differs
        results.write(json.dumps({"i": i, "core": plan["core"], "mutation": desc,
                                  "class": cls, "result": result, "note": note}) + "\n")
        results.flush()
    with open(plan["progress"], "w") as f:
        f.write("done\n")


main()
