"""GDB tests of tests/gdb/progs/diagrec.c: the records a diagnosis reads
(exact holders, lock site, peers, the blocking job's thread) and true
durations, attached (extension loaded before the attach, then after it)
and on a core made right away and read later.

`cases(h)` gives run.py's (name, function) pairs; `h` is the run module
(its helpers: match, parse_json, lines_match, no_bad_output, frame, leaf).
"""

import os
import re
import signal
import subprocess
import time

from gdbrun import LOADER, Program, TestFailure, markers, run_gdb

PROGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs")
STUCK_NS = 1500000000
TOLERANCE = 0.10
H = None  # the run module, set by cases()


def _tasks(doc):
    return {t["id"]: t for rt in doc["runtimes"] for t in rt["tasks"]}


def _leaf(task):
    node = task["await"]
    while node["children"]:
        node = node["children"][0]
    return node


def _runtime(doc, task_id):
    for rt in doc["runtimes"]:
        if any(t["id"] == task_id for t in rt["tasks"]):
            return rt
    raise TestFailure("no runtime has task %d" % task_id)


def _records_expected(m, pooltid):
    def res(task_line, fields):
        return {"line": task_line, "kind": "leaf", "resource": fields}
    return {
        3: res(None, {"kind": "mutex", "owner": 2, "waiters": 1, "lock_function": "locker",
                      "lock_file": lambda f: f.endswith("diagrec.c"),
                      "lock_line": m["lock:locker"]}),
        6: res(None, {"kind": "semaphore", "wanted": 1, "permits": 0, "waiters": 1,
                      "capacity": 3, "holders": [[4, 2], [5, 1]],
                      "holders_truncated": False}),
        9: res(None, {"kind": "channel-recv", "capacity": 4, "len": 0, "senders": 1,
                      "receiver_task": 9, "closed": False, "sender_tasks": [8],
                      "sender_tasks_truncated": False}),
        10: res(None, {"kind": "notify", "waiters": 1, "last_notifier": 1, "notified": 1}),
        11: res(None, {"kind": "oneshot", "receiver_task": 11, "closed": False,
                       "sender_task": 1, "sender_dropped": False}),
        12: res(None, {"kind": "blocking", "job": 1, "thread": pooltid}),
        13: res(None, {"kind": "notify", "waiters": 2, "last_notifier": 0, "notified": 0}),
    }


def check_records(doc, m, pooltid, what):
    """Exact resource fields of every waiting task, and the task index:
    the mutex's holder (2) no longer exists, the leaker (4) and tx_b (8)
    are complete."""
    errors = []
    tasks = _tasks(doc)
    for tid, exp in sorted(_records_expected(m, pooltid).items()):
        if tid not in tasks:
            errors.append("task %d missing" % tid)
            continue
        H.match(_leaf(tasks[tid]), exp, "%s: task %d leaf" % (what, tid), errors)
    if 2 in tasks:
        errors.append("task 2 (the freed mutex holder) is listed")
    for tid in (4, 8):
        if tasks.get(tid, {}).get("state") != "complete":
            errors.append("task %d is not listed as complete" % tid)
    threads = {t["tid"]: t for t in doc["threads"]}
    if threads.get(pooltid, {}).get("role") != "blocking":
        errors.append("thread %d is not the blocking pool's: %r" % (pooltid, threads.get(pooltid)))
    if errors:
        raise TestFailure("\n".join(errors))


def check_durations(doc, exact, what):
    """The stuck task's wait against the reference: the runtime's own clock
    (a 5 ms ticker keeps it within a few ms of the stop), the ticker never
    overdue, the thread blocked in read() never running for less than 0."""
    tasks = _tasks(doc)
    clock = doc["clock"]
    now = clock["now_ns"]
    ref = _runtime(doc, 14)["now_ns"]
    since = _leaf(tasks[13])["resource"]["since_ns"]
    truth = ref - since
    if truth < STUCK_NS:
        raise TestFailure("%s: the stuck task waited only %d ns by the runtime's clock"
                          % (what, truth))
    if clock["exact"] != exact:
        raise TestFailure("%s: clock %r, expected exact=%r" % (what, clock, exact))
    if exact and abs(now - ref) > TOLERANCE * truth:
        raise TestFailure("%s: now is %.3f s from the runtime's clock (stuck %.3f s): %r"
                          % (what, (now - ref) / 1e9, truth / 1e9, clock))
    if not exact and now < ref:
        raise TestFailure("%s: a lower-bound now %d is before the runtime's clock %d"
                          % (what, now, ref))
    deadline = _leaf(tasks[14])["resource"]["deadline_ns"]
    from asynctrace import text
    if deadline < now - text.DUE_SLACK_NS:  # "due", not "overdue"
        raise TestFailure("%s: the 5 ms ticker is %.1f ms overdue" % (what, (now - deadline) / 1e6))
    hog = [t for t in doc["threads"] if t["task"] == 15]
    if not hog or hog[0]["poll_start_ns"] <= 0 or hog[0]["poll_start_ns"] > ref:
        raise TestFailure("%s: hog thread %r" % (what, hog))
    return now, since, truth


def _stuck_row(text):
    m = re.search(r"^\s*13\s+idle\s+(\S+)\s", text, re.M)
    if not m:
        raise TestFailure("no row for task 13 in:\n%s" % text)
    return m.group(1)


def _seconds(word):
    m = re.match(r"^(\d+)\.(\d)s$", word)
    if not m:
        raise TestFailure("duration %r is not like 1.5s" % word)
    return int(m.group(1)) + int(m.group(2)) / 10.0


COMMANDS = [("pause", "shell sleep 1"), ("tasks_json", "info async-tasks --json"),
            ("tasks", "info async-tasks"), ("threads", "info async-threads")]


def _start(ctx):
    prog = Program(ctx.prog("diagrec"))
    m = re.search(rb"pooltid (\d+)", prog.output)
    if not m:
        prog.kill()
        raise TestFailure("diagrec printed no pool thread id: %r" % prog.output)
    return prog, int(m.group(1))


def t_attach_exact(ctx):
    """Loaded before the attach: exact records, now = the stop (±10 % of
    1.5 s) although GDB waits a second before the command; text agrees."""
    m = markers(os.path.join(PROGS, "diagrec.c"))
    prog, pooltid = _start(ctx)
    try:
        parts, whole = run_gdb(["-p", str(prog.pid)], COMMANDS + [("line", CURRENT_LINE)],
                               source=False, extra=["-iex", "source %s" % LOADER])
    finally:
        prog.kill()
    H.no_bad_output(whole, "gdb -iex source -p diagrec")
    doc = H.parse_json(parts["tasks_json"], "info async-tasks --json")
    if doc["clock"]["source"] != "stopped":
        raise TestFailure("clock: %r" % doc["clock"])
    check_records(doc, m, pooltid, "attached")
    now, since, truth = check_durations(doc, True, "attached")
    shown = _seconds(_stuck_row(parts["tasks"]))
    if abs(shown * 1e9 - truth) > TOLERANCE * truth + 1e8:
        raise TestFailure("task 13 shows %.1fs, stuck %.3fs" % (shown, truth / 1e9))
    H.lines_match(parts["tasks"], [r"\(durations up to the moment the process was stopped; "
                                   r"gdb-live\)"], "note")
    if "overdue" in parts["tasks"] or "-0us" in parts["threads"]:
        raise TestFailure("misleading durations:\n%s%s" % (parts["tasks"], parts["threads"]))
    # The running task's current line, from its native frames.
    H.lines_match(parts["line"], [r"LINE hog \S*diagrec.c %d" % m["native:hog"],
                                  r"LINE None"], "Snapshot.current_line")


# Snapshot.current_line of the running hog (15) and of an idle task (13).
CURRENT_LINE = ("python from asynctrace import session; s = session.Snapshot(); "
                "ts = dict((t.id, t) for _, t in s.tasks()); "
                "print('LINE %s' % ' '.join(map(str, s.current_line(ts[15]) or ['?']))); "
                "print('LINE %s' % s.current_line(ts[13]))")


def t_attach_lower_bound(ctx):
    """Loaded after the attach: lower bounds, said so; the ticker is still
    not overdue and no duration is negative."""
    prog, pooltid = _start(ctx)
    try:
        parts, whole = run_gdb(["-p", str(prog.pid)], COMMANDS)
    finally:
        prog.kill()
    H.no_bad_output(whole, "gdb -p diagrec -ex source")
    doc = H.parse_json(parts["tasks_json"], "info async-tasks --json")
    if doc["clock"]["source"] not in ("gdb-start", "runtime-clock"):
        raise TestFailure("clock: %r" % doc["clock"])
    check_durations(doc, False, "loaded late")
    H.lines_match(parts["tasks"], [r"\(durations are lower bounds: .*; gdb-live\)"], "note")
    if "overdue" in parts["tasks"] or "-0us" in parts["threads"] or "-" in _stuck_row(parts["tasks"]):
        raise TestFailure("misleading durations:\n%s%s" % (parts["tasks"], parts["threads"]))


def _kernel_core(ctx):
    """Run diagrec and have the kernel dump it (SIGABRT) at once: (core
    path or None when the system sends cores elsewhere, pool tid, seconds
    the dump took at most)."""
    work = os.path.join(ctx.tmp, "kcore")
    os.makedirs(work, exist_ok=True)
    prog = Program(ctx.prog("diagrec"), cwd=work, cores=True)
    m = re.search(rb"pooltid (\d+)", prog.output)
    t0 = time.time()
    try:
        os.kill(prog.pid, signal.SIGABRT)
        prog.proc.wait(timeout=30)
    finally:
        prog.kill()
    took = time.time() - t0
    for name in ("core", "core.%d" % prog.pid):
        path = os.path.join(work, name)
        if os.path.exists(path):
            return path, int(m.group(1)) if m else None, took
    return None, None, took


def _gdb_core(ctx):
    """The same with GDB's generate-core-file, when the kernel keeps its
    cores elsewhere (the stop-to-write time is then GDB's attach)."""
    core = os.path.join(ctx.tmp, "diagrec.core")
    prog, pooltid = _start(ctx)
    t0 = time.time()
    try:
        subprocess.run(["gdb", "-batch", "-nx", "-iex", "set auto-solib-add off",
                        "-p", str(prog.pid), "-ex", "generate-core-file %s" % core],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    finally:
        prog.kill()
    if not os.path.exists(core):
        raise TestFailure("gdb wrote no core")
    return core, pooltid, time.time() - t0


def t_core(ctx):
    """A core written right away and read a second later: now is the core's
    write time through the runtime's clock pair (the stuck task shows its
    1.5 s, ±10 %); exact records."""
    m = markers(os.path.join(PROGS, "diagrec.c"))
    core, pooltid, took = _kernel_core(ctx)
    kernel = core is not None
    if not kernel:
        core, pooltid, took = _gdb_core(ctx)
    time.sleep(1)
    parts, whole = run_gdb([ctx.prog("diagrec"), core], COMMANDS[1:])
    H.no_bad_output(whole, "gdb diagrec core")
    doc = H.parse_json(parts["tasks_json"], "info async-tasks --json")
    clock = doc["clock"]
    pair = clock.get("pair") or {}
    want = os.stat(core).st_mtime_ns - (pair.get("real_ns", 0) - pair.get("mono_ns", 0))
    want = max(want, max(rt["now_ns"] for rt in doc["runtimes"]))
    if clock["source"] != "core" or not clock["exact"] or clock["now_ns"] != want:
        raise TestFailure("clock %r, expected now %d (core mtime through the pair)"
                          % (clock, want))
    check_records(doc, m, pooltid, "core")
    ref = _runtime(doc, 14)["now_ns"]
    # Written at most the whole dump's time after the stop.
    if not 0 <= clock["now_ns"] - ref <= took * 1e9 + 5e7:
        raise TestFailure("core now is %.3f s after the runtime's clock; the dump took %.3f s"
                          % ((clock["now_ns"] - ref) / 1e9, took))
    if kernel:  # written at once: the ±10 % acceptance applies as is
        _, _, truth = check_durations(doc, True, "core")
        shown = _seconds(_stuck_row(parts["tasks"]))
        if abs(shown * 1e9 - truth) > TOLERANCE * truth + 1e8:
            raise TestFailure("task 13 shows %.1fs, stuck %.3fs" % (shown, truth / 1e9))
    H.lines_match(parts["tasks"], [r"\(durations up to the moment the core file was written; "
                                   r"gdb-core\)"], "note")


def t_units(ctx):
    """fmt_duration's every unit and boundary, and clock.py's choices (no
    GDB needed: both modules are plain Python)."""
    from asynctrace import clock, text
    S, MIN, HOUR, DAY = 10 ** 9, 60 * 10 ** 9, 3600 * 10 ** 9, 86400 * 10 ** 9
    year = 36525 * DAY // 100
    want = [
        (None, "?"), (0, "0us"), (999, "0us"), (420000, "420us"), (999999, "999us"),
        (1000000, "1ms"), (850000000, "850ms"), (999999999, "999ms"), (S, "1.0s"),
        (12400000000, "12.4s"), (59999999999, "59.9s"), (MIN, "1m00s"),
        (3 * MIN + 12 * S, "3m12s"), (HOUR - 1, "59m59s"), (HOUR, "1h00m"),
        (2 * HOUR + 5 * MIN, "2h05m"), (DAY - 1, "23h59m"), (DAY, "1d00h"),
        (41 * DAY + 3 * HOUR + 59 * MIN, "41d03h"), (year - 1, "365d05h"),
        (year, "1.0y"), (29826 * HOUR + 9 * MIN, "3.4y"), (-330000000, "-330ms"),
        (-(2 * HOUR + 5 * MIN), "-2h05m"),
    ]
    bad = ["%r -> %r, expected %r" % (ns, text.fmt_duration(ns), w)
           for ns, w in want if text.fmt_duration(ns) != w]
    if text.since(100, 150) != "0us" or text.since(10 ** 9, 0) != "?":
        bad.append("since() of a later or unset timestamp")
    # Live: the stop moment when known (never before the runtime's clock).
    n = clock.live_now(5000, 4000, 3000)
    if (n.ns, n.source, n.exact) != (5000, "stopped", True):
        bad.append("live with a stop: %r" % (n,))
    n = clock.live_now(None, 4000, 4500)
    if (n.ns, n.source, n.exact) != (4500, "gdb-start", False):
        bad.append("live, GDB started after the runtime's last reading: %r" % (n,))
    n = clock.live_now(None, 4000, 3000)
    if (n.ns, n.source, n.exact) != (4000, "runtime-clock", False):
        bad.append("live, runtime's clock only: %r" % (n,))
    # Core: mtime through the pair; a coarse mtime just before the runtime's
    # reading is fine; far before it, or no pair: lower bound.
    path = os.path.join(ctx.tmp, "timed")
    with open(path, "w") as f:
        f.write("x")
    os.utime(path, ns=(10 ** 18 + 7 * S, 10 ** 18 + 7 * S))
    pair = (2 * S, 10 ** 18)  # wall = mono + 1e18 - 2 s
    n = clock.core_now(path, pair, 8 * S)
    if (n.ns, n.source, n.exact) != (9 * S, "core", True):
        bad.append("core: %r" % (n,))
    n = clock.core_now(path, pair, 9 * S + 10 ** 6)
    if (n.ns, n.source, n.exact) != (9 * S + 10 ** 6, "core", True):
        bad.append("core, mtime a tick early: %r" % (n,))
    n = clock.core_now(path, pair, 10 * S)
    if (n.source, n.exact) != ("runtime-clock", False) or n.ns != 10 * S:
        bad.append("core older than the runtime's clock: %r" % (n,))
    n = clock.core_now(path, None, 8 * S)
    if (n.source, n.exact) != ("runtime-clock", False):
        bad.append("core without a pair: %r" % (n,))
    if clock.floor_of([0, 5, 3]) != 5 or clock.floor_of([]) != 0:
        bad.append("floor_of")
    if bad:
        raise TestFailure("\n".join(bad))


def cases(h):
    global H
    H = h
    return [("durations: text format and the choice of now (unit)", t_units),
            ("diagrec: records and exact durations, loaded before attach", t_attach_exact),
            ("diagrec: lower-bound durations, loaded after attach", t_attach_lower_bound),
            ("diagrec: core made right away, read later", t_core)]
