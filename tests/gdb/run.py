#!/usr/bin/env python3
"""tests/gdb/run.py - the GDB extension's tests, with real GDB in batch mode.

Each test program (tests/gdb/progs/*.c) brings its tasks into known states
and stops at a checkpoint; GDB attaches to it (gdb -batch -nx -p PID), makes
a core with generate-core-file, and is run again on that core.  The checks
use exact task ids, states, frames with file:line (lines come from @await /
@spawn / @site / @native markers in the sources), resources and owners, and
deadlock cycles; then the program is released and must finish and exit 0.
The same checks run on stripped copies; deliberately corrupted cores must
give clear reports, no traceback and no hang.

usage: tests/gdb/run.py --build BUILD [-k SUBSTRING] [--keep]
Prints one line per test and "N passed, N failed"; exit status 1 on failure.
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
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gdbrun import (ROOT, CoreImage, Program, TestFailure, markers, run_gdb)  # noqa: E402
from diagrec_tests import cases as diagrec_cases  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "gdb"))
from asynctrace import constants  # noqa: E402  (checked against abi.h)
from asynctrace import records  # noqa: E402  (resource fields, checked)

PROGS = os.path.join(ROOT, "tests", "gdb", "progs")
HEX = r"0x[0-9a-f]+"
BAD_OUTPUT = ("Traceback", "Python Exception", "internal error", "Error occurred in Python")


def base(path):
    return path.rsplit("/", 1)[-1] if path else path


# -- matching documents against expectations -------------------------------------

def match(actual, expected, path, errors):
    """Compare; None in `expected` matches anything.  Dicts: only the keys
    given are compared."""
    if expected is None:
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            errors.append("%s: expected an object, got %r" % (path, actual))
            return
        for k, v in expected.items():
            if k not in actual:
                errors.append("%s: key %r missing" % (path, k))
            else:
                match(actual[k], v, "%s.%s" % (path, k), errors)
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            errors.append("%s: expected %d items, got %r" % (
                path, len(expected), actual if not isinstance(actual, list) else len(actual)))
            return
        for i, (a, e) in enumerate(zip(actual, expected)):
            match(a, e, "%s[%d]" % (path, i), errors)
    elif callable(expected):
        if not expected(actual):
            errors.append("%s: %r is not as expected" % (path, actual))
    elif actual != expected:
        errors.append("%s: expected %r, got %r" % (path, expected, actual))


def frame(function, line, kind="async", resource=None, children=(), file=None):
    return {"function": function, "file": (lambda f: base(f) == file) if file else None,
            "line": line, "kind": kind, "resource": resource,
            "children": list(children), "address": lambda a: bool(re.match(HEX + "$", a))}


def leaf(function, resource):
    return {"function": function, "kind": "leaf", "resource": resource, "children": []}


def strip_volatile(doc):
    """A document without what legitimately differs between two readings of
    the same moment (who read it, and the clock it measured against)."""
    doc = json.loads(json.dumps(doc))
    doc.pop("source", None)
    doc.pop("clock", None)
    return doc


def shape(doc):
    """Address-free form of a trace document (for stripped vs unstripped)."""
    def f(fr):
        res = fr.get("resource")
        if res:
            res = {k: v for k, v in res.items()
                   if k not in ("object", "since_ns", "deadline_ns")}
        return (fr["function"], base(fr["file"]), fr["line"], fr["kind"],
                json.dumps(res, sort_keys=True), tuple(f(c) for c in fr["children"]),
                fr.get("error"))
    out = []
    for rt in doc["runtimes"]:
        for t in rt["tasks"]:
            out.append((rt["id"], t["id"], t["name"], t["state"], tuple(t["flags"]),
                        t["parent"], base(t["spawn"]["file"]), t["spawn"]["line"],
                        t["spawn"]["function"], t["polls"], t["worker"],
                        t["thread"] is not None, f(t["await"]) if t["await"] else None,
                        t.get("error")))
    threads = [(th["role"], th["runtime"], th["task"], tuple(th["roots"]))
               for th in doc["threads"]]
    return out, threads


def parse_json(text, what):
    start = text.find("{")
    if start < 0:
        raise TestFailure("%s printed no JSON: %r" % (what, text[:300]))
    try:
        return json.loads(text[start:])
    except ValueError as e:
        raise TestFailure("%s printed invalid JSON (%s): %r" % (what, e, text[start:start + 300]))


def no_bad_output(text, what):
    for bad in BAD_OUTPUT:
        if bad in text:
            raise TestFailure("%s printed %r:\n%s" % (what, bad, text[-2000:]))


def lines_match(text, patterns, what):
    """Every regex in `patterns` matches a whole line of `text`, in order."""
    lines = [line.rstrip() for line in text.splitlines()]
    pos = 0
    for pat in patterns:
        rx = re.compile(pat + "$")
        for i in range(pos, len(lines)):
            if rx.match(lines[i]):
                pos = i + 1
                break
        else:
            raise TestFailure("%s: no line matches %r after line %d; output:\n%s"
                              % (what, pat, pos, text))


class Context(object):
    def __init__(self, build, keep):
        self.build = os.path.abspath(build)
        self.bin = os.path.join(self.build, "gdbtests")
        self.tmp = tempfile.mkdtemp(prefix="asynctrace-gdbtest-")
        self.keep = keep
        self.m = markers(os.path.join(PROGS, "states.c"))
        self.dm = markers(os.path.join(PROGS, "deadlock.c"))
        self.mm = markers(os.path.join(PROGS, "mt.c"))
        self.results = {}

    def prog(self, name, stripped=False):
        return os.path.join(self.bin, "stripped" if stripped else "", name) \
            if stripped else os.path.join(self.bin, name)


# -- expectations for states.c --------------------------------------------------------

def states_expected(m):
    notify4 = {"kind": "notify", "waiters": 4, "last_notifier": 0, "notified": 0}

    def spawned(line):
        return {"kind": "spawn", "function": "main_task_poll",
                "file": lambda f: base(f) == "states.c", "line": line}

    def task(tid, name, state, parent, spawn, tree, flags=(), thread=False):
        return {"id": tid, "name": name, "state": state, "flags": list(flags),
                "parent": parent, "spawn": spawn, "polls": 1, "worker": 0,
                "thread": (lambda v: isinstance(v, int)) if thread else
                (lambda v: v is None), "await": tree,
                "created_ns": lambda v: v > 0, "state_ns": lambda v: v > 0,
                "last_poll_start_ns": lambda v: v > 0, "last_poll_end_ns": None}

    rt1 = [
        task(3, "main", "idle", 0,
             {"kind": "block-on", "function": "main", "line": m["spawn:main"]},
             frame("main_task", m["await:main_task"], file="states.c",
                   children=[leaf("at_notify_wait", notify4)]), flags=["block-on"]),
        task(4, "holder", "idle", 3, spawned(m["spawn:holder"]),
             frame("holder", m["await:holder"], children=[leaf("at_notify_wait", notify4)])),
        task(5, "transfer", "idle", 3, spawned(m["spawn:transfer"]),
             frame("transfer", m["await:transfer"], children=[
                 frame("lock_account", m["await:lock_account"], children=[
                     leaf("at_mutex_lock", {
                     "kind": "mutex", "owner": 4, "waiters": 1, "lock_function": "holder",
                     "lock_file": lambda f: base(f) == "states.c",
                     "lock_line": m["lock:holder"]})])])),
        task(6, "sleeper", "idle", 3, spawned(m["spawn:sleeper"]),
             frame("nap", m["await:nap"], children=[leaf("at_sleep", {"kind": "sleep"})])),
        task(7, "consumer", "idle", 3, spawned(m["spawn:consumer"]),
             frame("consumer", m["await:consumer"], children=[leaf("at_chan_recv", {
                 "kind": "channel-recv", "capacity": 4, "len": 0, "senders": 1,
                 "receiver_task": 7, "closed": False, "sender_tasks": [0],
                 "sender_tasks_truncated": False})])),
        task(8, "producer", "idle", 3, spawned(m["spawn:producer"]),
             frame("producer", m["await:producer"], children=[leaf("at_chan_send", {
                 "kind": "channel-send", "capacity": 1, "len": 1, "senders": 1,
                 "receiver_task": 0, "closed": False, "sender_tasks": [8],
                 "sender_tasks_truncated": False})])),
        task(9, "joiner", "idle", 3, spawned(m["spawn:joiner"]),
             frame("joiner", m["await:joiner"], children=[
                 leaf("at_join", {"kind": "join", "task": 4})])),
        task(10, "combo", "idle", 3, spawned(m["spawn:combo"]),
             frame("combo", m["await:combo"], children=[
                 frame("at_join_all", None, kind="join-all", children=[
                     frame("leg_a", m["await:leg_a"], children=[
                         leaf("at_notify_wait", notify4)]),
                     frame("leg_b", m["await:leg_b"], children=[
                         leaf("at_oneshot_recv", {"kind": "oneshot", "receiver_task": 10,
                                                  "closed": False, "sender_task": 0,
                                                  "sender_dropped": False})])])])),
        task(11, "selector", "idle", 3, spawned(m["spawn:selector"]),
             frame("selector", m["await:selector"], children=[
                 frame("at_select", None, kind="select", children=[
                     leaf("at_sleep", {"kind": "sleep"}),
                     leaf("at_notify_wait", notify4)])])),
    ]
    rt2 = [task(1, "outer", "running", 0,
                {"kind": "block-on", "function": "blocker_main", "line": m["spawn:outer"]},
                frame("outer", m["await:outer"], children=[
                    frame("blocking_step", m["site:blocking_step"])]), flags=["block-on"])]
    rt3 = [task(2, "inner", "running", 1,
                {"kind": "block-on", "function": "blocking_step_poll",
                 "line": m["spawn:inner"]},
                frame("inner_work", m["site:inner_work"]), flags=["block-on"],
                thread=True)]
    rt = {"flavor": "current-thread", "workers": 1}
    return {
        "format": "asynctrace-trace", "version": 1,
        "runtimes": [dict(rt, id=1, tasks=rt1, spawned_total=9),
                     dict(rt, id=2, tasks=rt2, spawned_total=1),
                     dict(rt, id=3, tasks=rt3, spawned_total=1)],
        "threads": [{"role": "block-on", "worker": -1, "runtime": 1, "task": None,
                     "roots": []},
                    {"role": "block-on", "worker": -1, "runtime": 3, "task": 2,
                     "roots": [2, 1]}],
        "errors": [],
    }


def check_states_doc(doc, source, m, what):
    errors = []
    exp = states_expected(m)
    exp["source"] = source
    exp["clock"] = {"kind": "live" if source == "gdb-live" else "recorded",
                    "now_ns": lambda v: v > 0,
                    "pair": {"mono_ns": lambda v: v > 0, "real_ns": lambda v: v > 1.7e18}}
    # Loaded after the attach (the runner sources the extension with -ex):
    # only lower bounds; a core: its write time, exact.
    if source == "gdb-core":
        exp["clock"].update(source="core", exact=True)
    else:
        exp["clock"].update(source=lambda v: v in ("gdb-start", "runtime-clock"),
                            exact=False)
    match(doc, exp, "document", errors)
    now = doc["clock"]["now_ns"]
    # Sleep deadlines: an hour after the checkpoint.
    for rt in doc["runtimes"]:
        for t in rt["tasks"]:
            if t["name"] in ("sleeper", "selector"):
                node = t["await"]
                while node["children"]:
                    node = node["children"][0]
                left = node["resource"]["deadline_ns"] - now
                if not 3500e9 < left <= 3600e9:
                    errors.append("%s: sleep deadline %d ns away" % (t["name"], left))
    # Threads: the main thread is the process, the blocker its inner task's.
    tids = [th["tid"] for th in doc["threads"]]
    if tids != sorted(tids):
        errors.append("threads are not sorted by tid: %r" % tids)
    if errors:
        raise TestFailure("%s:\n  %s" % (what, "\n  ".join(errors)))


STATES_COMMANDS = [
    ("tasks_json", "info async-tasks --json"),
    ("tasks", "info async-tasks"),
    ("bt", "async-bt 5 2 1 10 42"),
    ("bt_full", "async-bt 5 --full"),
    ("bt_all", "async-bt all"),
    ("threads", "info async-threads"),
    ("threads_json", "info async-threads --json"),
    ("runtimes", "info async-runtimes"),
    ("runtimes_json", "info async-runtimes --json"),
    ("deadlocks", "info async-deadlocks"),
    ("deadlocks_json", "info async-deadlocks --json"),
    ("running_json", "info async-tasks --json --state running"),
    ("glob_json", "info async-tasks --name t* --json"),
    ("rt3_json", "info async-tasks --runtime 3 --json"),
    ("state_idle", "info async-tasks --state=idle --name=*er"),
    ("waits_mutex_json", "info async-tasks --waits-for mutex --json"),
    ("at_json", "info async-tasks --at states.c:95 --json"),
    ("desc_json", "info async-tasks --descendants-of 3 --name *er --sort id --limit 2 --json"),
    ("none_json", "info async-tasks --at nowhere.c:1 --json"),
    ("group", "info async-tasks --group where --limit 2"),
    ("group_state_json", "info async-tasks --group state --json"),
    ("bt_group", "async-bt all --group state --limit 1"),
    ("bt_oneshot", "async-bt all --waits-for oneshot"),
    ("bt_none", "async-bt all --waits-for write"),
]

USAGE_COMMANDS = [
    ("u_badopt", "info async-tasks --bogus"),
    ("u_badopt1", "info async-tasks -bogus"),
    ("u_bt_none", "async-bt"),
    ("u_bt_word", "async-bt seven"),
    ("u_bt_zero", "async-bt 0"),
    ("u_bt_mixed", "async-bt all 3"),
    ("u_state", "info async-tasks -state sleeping"),
    ("u_state_noval", "info async-tasks --state"),
    ("u_flag_value", "info async-tasks -json=yes"),
    ("u_threads_arg", "info async-threads now"),
    ("u_runtime", "info async-tasks --runtime 0x1"),
    ("u_runtime_word", "info async-tasks -runtime main"),
    ("u_deadlocks", "info async-deadlocks --all"),
    ("u_runtimes", "info async-runtimes x"),
    ("u_quote", "async-bt 'unterminated"),
    ("u_task_none", "async-task"),
    ("u_task_missing", "async-task 99"),
    ("u_output_dir", "info async-tasks -output /nonexistent/dir/x.txt"),
    ("u_group", "info async-tasks --group color"),
    ("u_minwait", "info async-tasks --min-wait 5"),
    ("u_bt_sort", "async-bt all --sort name"),
    ("u_waits", "info async-tasks -waits-for lock"),
]

TASKS_USAGE = re.escape("usage: info async-tasks [-json] [-runtime ADDR|ID] [-state STATE] "
                        "[-name GLOB] [-waits-for KIND|ADDR] [-at LOC] [-min-wait DUR] "
                        "[-spawned-at LOC] [-descendants-of ID] [-sort KEY] [-limit N] "
                        "[-group [KEY]] [-output FILE]")
BT_USAGE = re.escape("usage: async-bt [-full] [-state STATE] [-name GLOB] ") + ".*" + \
    re.escape(" [-group [KEY]] [-output FILE] [ID...|all]")
TASKS_OPTIONS = ("\\(options: -json, -runtime, -state, -name, -waits-for, -at, -min-wait, "
                 "-spawned-at, -descendants-of, -sort, -limit, -group, -output\\)")
USAGE_EXPECT = {
    "u_badopt": ["unknown option --bogus " + TASKS_OPTIONS, TASKS_USAGE],
    "u_badopt1": ["unknown option -bogus " + TASKS_OPTIONS, TASKS_USAGE],
    "u_bt_none": [re.escape("asynctrace: the selected thread is not polling an asynctrace "
                            "task; give task ids or 'all' (see info async-tasks)")],
    "u_bt_word": ["a task id must be a number, not 'seven'", BT_USAGE],
    "u_bt_zero": ["task ids are positive numbers, not 0", BT_USAGE],
    "u_bt_mixed": ["'all' cannot be combined with task ids", BT_USAGE],
    "u_state": ["unknown state 'sleeping': one of idle, scheduled, running, complete, "
                "cancelled", TASKS_USAGE],
    "u_state_noval": [re.escape("option -state needs a value (STATE)"), TASKS_USAGE],
    "u_flag_value": ["option -json takes no value", TASKS_USAGE],
    "u_threads_arg": ["unexpected argument 'now'",
                      re.escape("usage: info async-threads [-json] [-output FILE]")],
    "u_runtime": ["asynctrace: no runtime has address or id 0x1 \\(see info async-runtimes\\)"],
    "u_runtime_word": ["-runtime must be a number, not 'main'", TASKS_USAGE],
    "u_deadlocks": ["unknown option --all \\(options: -json, -output\\)",
                    re.escape("usage: info async-deadlocks [-json] [-output FILE]")],
    "u_runtimes": ["unexpected argument 'x'",
                   re.escape("usage: info async-runtimes [-json] [-output FILE]")],
    "u_quote": [".*", BT_USAGE],
    "u_task_none": ["give one task id", re.escape("usage: async-task ID")],
    "u_task_missing": [re.escape("asynctrace: task 99: no such task (it may have finished "
                                 "and been freed, or never existed)")],
    "u_output_dir": ["asynctrace: cannot write /nonexistent/dir/x.txt: No such file or "
                     "directory"],
    "u_group": ["unknown grouping key 'color': one of chain, where, resource, spawn, state",
                TASKS_USAGE],
    "u_minwait": [re.escape("--min-wait needs a duration with a unit (ns, us, ms, s, m, h, "
                            "d), like 500ms or 2s, not '5'"), TASKS_USAGE],
    "u_bt_sort": ["unknown sort key 'name': one of wait, polls, id", BT_USAGE],
    "u_waits": [re.escape("unknown resource kind (or an address 0x...) 'lock': one of "
                          "none, sleep, mutex, semaphore, notify, ") + ".*", TASKS_USAGE],
}

PRINTER_COMMANDS = [
    ("p_mutex", "print bank"),
    ("p_chan", "print *inbox"),
    ("p_task", "print *holder_h.task"),
    ("p_frame", "print *holder_h.task->root"),
    ("p_raw", "print/r bank.owner_id"),
]


def check_states_text(parts, m, stripped, pid):
    """Exact text of the table, backtraces, threads and runtimes."""
    def part(name):
        text = parts.get(name)
        if text is None:
            raise TestFailure("gdb did not run %s" % name)
        no_bad_output(text, name)
        return text

    d = r"\S+"  # a duration
    # A running task shows the line its poll executes (from the thread's
    # native frames); without symbols, where its function starts.
    run_line = (lambda fn: m["site:" + fn]) if stripped else (lambda fn: m["native:" + fn])
    lines_match(part("tasks"), [
        r"runtime 1 \(current-thread, 1 worker\) at %s: 9 tasks" % HEX,
        r"  ID  STATE +FOR +ON +POLLS +NAME +WHERE",
        r"   3  idle +%s +w0 +1  \"main\" +main_task states.c:%d  -> notify %s \(4 waiters\)"
        % (d, m["await:main_task"], HEX),
        r"   5  idle +%s +w0 +1  \"transfer\" +lock_account states.c:%d  -> mutex %s held by "
        r"task 4 \"holder\"" % (d, m["await:lock_account"], HEX),
        r"   6  idle +%s +w0 +1  \"sleeper\" +nap states.c:%d  -> sleep until \+59m5\ds"
        % (d, m["await:nap"]),
        r"   7  idle +%s +w0 +1  \"consumer\" +consumer states.c:%d  -> recv on channel %s "
        r"\(0/4, senders: 1\)" % (d, m["await:consumer"], HEX),
        r"   8  idle +%s +w0 +1  \"producer\" +producer states.c:%d  -> send on channel %s "
        r"\(1/1, senders: 1\)" % (d, m["await:producer"], HEX),
        r"   9  idle +%s +w0 +1  \"joiner\" +joiner states.c:%d  -> join task 4 \"holder\""
        % (d, m["await:joiner"]),
        r"  10  idle +%s +w0 +1  \"combo\" +leg_a states.c:%d  -> notify %s \(4 waiters\)  "
        r"\(\+1 more\)" % (d, m["await:leg_a"], HEX),
        r"runtime 2 \(current-thread, 1 worker\) at %s: 1 task" % HEX,
        r"   1  running +%s +LWP \d+ \(thread 2\) +1  \"outer\" +LWP \d+ \(thread 2\), "
        r"under a nested block_on  "
        r"blocking_step states.c:%d" % (d, run_line("blocking_step")),
        r"runtime 3 \(current-thread, 1 worker\) at %s: 1 task" % HEX,
        r"   2  running +%s +LWP \d+ \(thread 2\) +1  \"inner\" +LWP \d+ \(thread 2\) in "
        r"\S*read\S*  inner_work "
        r"states.c:%d" % (d, run_line("inner_work")),
        r"\(durations (up to the moment the (process was stopped|core file was written)|"
        r"are lower bounds: .*); gdb-(live|core)\)",
    ], "info async-tasks")

    bt = part("bt")
    lines_match(bt, [
        r"task 5 \"transfer\" idle for %s, worker 0, 1 poll" % d,
        r"  #0  at_mutex_lock +waiting for mutex %s held by task 4 \"holder\" \(for %s\)"
        % (HEX, d),
        r"  #1  lock_account at states.c:%d" % m["await:lock_account"],
        r"  #2  transfer at states.c:%d" % m["await:transfer"],
        r"  spawned by task 3 \"main\" at states.c:%d \(in main_task_poll\)" % m["spawn:transfer"],
        r"",
        r"task 2 \"inner\" running for %s, on LWP \d+ \(thread 2\), worker 0, 1 poll, "
        r"flags: block-on" % d,
        r"  native frames of LWP \d+ \(thread 2\), down to at_root_poll:",
        r"  #0  0x[0-9a-f]{16} in \S*read\S*.*",
    ] + ([
        r"  #(\d) +0x[0-9a-f]{16} in \?\?",
    ] if stripped else [
        r"  #\d +0x[0-9a-f]{16} in wait_pipe at states.c:%d" % m["native:wait_pipe"],
        r"  #\d +0x[0-9a-f]{16} in inner_work_poll at states.c:%d" % m["native:inner_work"],
        r"  #\d +0x[0-9a-f]{16} in at_root_poll at scheduler.c:\d+",
    ]) + [
        r"  await chain:",
        r"  #\d +inner_work at states.c:%d" % run_line("inner_work"),
        r"  started by block_on in task 1 \"outer\" at states.c:%d \(in blocking_step_poll\)"
        % m["spawn:inner"],
        r"",
        r"task 1 \"outer\" running for %s, on LWP \d+ \(thread 2\), worker 0, 1 poll, "
        r"flags: block-on" % d,
        r"  native frames of LWP \d+ \(thread 2\), down to at_root_poll:",
    ] + ([] if stripped else [
        r"  #\d+ +0x[0-9a-f]{16} in blocking_step_poll at states.c:%d" % m["native:blocking_step"],
        r"  #\d+ +0x[0-9a-f]{16} in outer_poll at states.c:%d" % m["await:outer"],
        r"  #\d+ +0x[0-9a-f]{16} in at_root_poll at scheduler.c:\d+",
    ]) + [
        r"  await chain:",
        r"  #\d+ blocking_step at states.c:%d" % run_line("blocking_step"),
        r"  #\d+ outer at states.c:%d" % m["await:outer"],
        r"  started by block_on in the program \(outside any task\) at states.c:%d "
        r"\(in blocker_main\)" % m["spawn:outer"],
        r"",
        r"task 10 \"combo\" idle for %s, worker 0, 1 poll" % d,
        r"  branch 1 of 2:",
        r"  #0  at_notify_wait +waiting for notify %s \(4 waiters\) \(for %s\)" % (HEX, d),
        r"  #1  leg_a at states.c:%d" % m["await:leg_a"],
        r"  #2  at_join_all at combinators.c:\d+  \[join-all of 2\]",
        r"  #3  combo at states.c:%d" % m["await:combo"],
        r"  branch 2 of 2:",
        r"  #0  at_oneshot_recv +waiting for oneshot %s \(for %s\)" % (HEX, d),
        r"  #1  leg_b at states.c:%d" % m["await:leg_b"],
        r"  #2  \.\.\. joins #2 of branch 1 \(at_join_all\)",
        r"  spawned by task 3 \"main\" at states.c:%d \(in main_task_poll\)" % m["spawn:combo"],
        r"",
        r"task 42: no such task \(it may have finished and been freed, or never existed\)",
    ], "async-bt 5 2 1 10 42")
    if "at_root_poll not reached" in bt:
        raise TestFailure("async-bt did not find at_root_poll:\n" + bt)
    # Native frames: the stripped binary finds the same root frame.
    n_native = len(re.findall(r"^  #\d+ +0x[0-9a-f]{16} in ", bt.split("\n\n")[1], re.M))
    if n_native < 4:
        raise TestFailure("task 2 has %d native frames:\n%s" % (n_native, bt))

    lines_match(part("bt_full"), [
        r"task 5 \"transfer\" idle for %s, worker 0, 1 poll" % d,
        r"  #0  at_mutex_lock +waiting for mutex %s held by task 4 \"holder\" \(for %s\)"
        % (HEX, d),
        r"       leaf at \S+sync.c:\d+, frame %s" % HEX,
        r"  #1  lock_account at \S*tests/gdb/progs/states.c:%d  frame %s"
        % (m["await:lock_account"], HEX),
        r"  #2  transfer at \S*tests/gdb/progs/states.c:%d  frame %s" % (m["await:transfer"], HEX),
    ], "async-bt 5 --full")

    bt_all = part("bt_all")
    heads = re.findall(r"^task (\d+) ", bt_all, re.M)
    if heads != [str(i) for i in range(1, 12)]:
        raise TestFailure("async-bt all printed tasks %r" % heads)

    lines_match(part("threads"), [
        r"  THREAD +LWP  ROLE +WORKER  RUNTIME  TASK +POLLING FOR  ROOT FRAMES",
        r" +1 +%d  block-on  - +1 +- +- +-" % pid,
        r" +2 +\d+  block-on  - +3 +2 \"inner\" +%s +task 2 <- task 1" % d,
    ], "info async-threads")
    lines_match(part("runtimes"), [
        r"asynctrace debugger ABI version 3, descriptor at %s \(found by %s\), generation \d+"
        % (HEX, r"section \.asynctrace_debug of \S+/stripped/states" if stripped
           else "symbol asynctrace_debug"),
        r"runtime 1 at %s: current-thread, 1 worker, 9 tasks \(9 idle\), 9 spawned in total"
        % HEX,
        r"runtime 2 at %s: current-thread, 1 worker, 1 task \(1 running\), 1 spawned in total"
        % HEX,
        r"runtime 3 at %s: current-thread, 1 worker, 1 task \(1 running\), 1 spawned in total"
        % HEX,
    ], "info async-runtimes")
    lines_match(part("deadlocks"), [
        r"no wait-for cycle found; 9 waiting tasks wait on things this analysis cannot "
        r"settle: see info async-diagnose"], "info async-deadlocks")
    dl = parse_json(part("deadlocks_json"), "info async-deadlocks --json")
    if dl.get("format") != "asynctrace-deadlocks" or dl["cycles"] or dl["stuck"]:
        raise TestFailure("deadlocks document: %r" % dl)
    lines_match(part("state_idle"), [
        r"runtime 1 .*: 6 tasks shown of 9",
        r"   4  idle .*\"holder\".*",
        r"   5  idle .*\"transfer\".*",
        r"   6  idle .*\"sleeper\".*",
        r"   7  idle .*\"consumer\".*",
        r"   8  idle .*\"producer\".*",
        r"   9  idle .*\"joiner\".*",
        r"runtime 2 .*: 0 tasks shown of 1",
    ], "info async-tasks --state=idle --name=*er")


def check_filters(parts):
    def ids(name):
        doc = parse_json(parts[name], name)
        return [(rt["id"], [t["id"] for t in rt["tasks"]]) for rt in doc["runtimes"]]
    got = ids("running_json")
    if got != [(1, []), (2, [1]), (3, [2])]:
        raise TestFailure("--state running gave %r" % got)
    got = ids("glob_json")
    if got != [(1, [5]), (2, []), (3, [])]:
        raise TestFailure("--name t* gave %r" % got)
    got = ids("rt3_json")
    if got != [(3, [2])]:
        raise TestFailure("--runtime 3 gave %r" % got)
    for name, want in (("waits_mutex_json", [(1, [5]), (2, []), (3, [])]),
                       ("at_json", [(1, [7]), (2, []), (3, [])]),
                       ("desc_json", [(1, [4, 5]), (2, []), (3, [])]),
                       ("none_json", [(1, []), (2, []), (3, [])])):
        got = ids(name)
        if got != want:
            raise TestFailure("%s gave %r, not %r" % (name, got, want))
    lines_match(parts["group"], [
        r"11 tasks in 11 groups by where, largest first:",
        r"  COUNT  STATE    IDS",
        r"      1  running  1",
        r"         blocking_step states.c:\d+",
        r"      1  running  2",
        r"         inner_work states.c:\d+",
        r"  and 9 more groups \(9 tasks\)"], "--group where --limit 2")
    doc = parse_json(parts["group_state_json"], "--group state --json")
    errors = []
    match(doc, {"format": "asynctrace-groups", "version": 1, "by": "state", "tasks": 11,
                "groups": [{"key": "idle", "count": 9, "states": {"idle": 9},
                            "ids": [3, 4, 5, 6, 7, 8, 9, 10, 11],
                            "example": {"id": 3, "name": "main"}},
                           {"key": "running", "count": 2, "ids": [1, 2]}],
                "more_groups": 0}, "groups", errors)
    if errors:
        raise TestFailure("\n  ".join(errors))
    lines_match(parts["bt_group"], [
        r"11 tasks in 2 groups by state, largest first",
        r"",
        r"9 tasks \(idle\): 3, 4, 5, 6, 7 \(and 4 more\)",
        r"task 3 \"main\" idle for \S+, worker 0, 1 poll, flags: block-on",
        r"  #0  at_notify_wait +waiting for notify %s \(4 waiters\) \(for \S+\)" % HEX,
        r"",
        r"and 1 more groups"], "async-bt --group state")
    lines_match(parts["bt_none"], [r"no task matches"], "async-bt --waits-for write")
    lines_match(parts["bt_oneshot"], [r"task 10 \"combo\" idle .*"], "--waits-for oneshot")
    if parts["bt_oneshot"].count("\ntask ") + parts["bt_oneshot"].startswith("task ") != 1:
        raise TestFailure("--waits-for oneshot: more than task 10:\n" + parts["bt_oneshot"])


def check_usage(parts):
    for name, pats in USAGE_EXPECT.items():
        text = parts.get(name, "")
        no_bad_output(text, name)
        lines_match(text, pats, name)


def check_printers(parts):
    lines_match(parts["p_mutex"], [r"\$\d+ = mutex held by task 4, locked in holder at \S*states\.c:36, 1 waiter"],
                "print bank")
    lines_match(parts["p_chan"], [r"\$\d+ = channel 0/4, senders: 1, receiver task 7"],
                "print *inbox")
    lines_match(parts["p_task"], [
        r"\$\d+ = task 4 \"holder\" idle for \S+, 1 poll, holder states.c:\d+  -> notify %s "
        r"\(4 waiters\)" % HEX], "print *holder_h.task")
    lines_match(parts["p_frame"], [
        r"\$\d+ = async frame holder at \S+states.c:\d+, awaiting at_notify_wait"],
        "print *holder_h.task->root")
    lines_match(parts["p_raw"], [r"\$\d+ = 4"], "print/r")


# -- the test cases -----------------------------------------------------------------

def header_defines(header):
    """abi.h's object-like AT_* macros whose bodies are integer expressions
    of numbers and earlier such macros, by name, evaluated."""
    defines = {}
    for m in re.finditer(r"^#define (AT_\w+)[ \t]+([^\n]*)", header, re.M):
        body = re.sub(r"/\*.*?\*/", "", m.group(2)).strip()
        expr = re.sub(r"\b(0x[0-9a-fA-F]+|\d+)[uU]\b", r"\1", body)
        expr = re.sub(r"\bAT_\w+\b", lambda n: repr(defines.get(n.group(0))), expr)
        if expr and re.fullmatch(r"[0-9a-fA-Fx()|&~<> ]+", expr):
            defines[m.group(1)] = eval(expr)  # digits and bit operators only
    return defines


def header_rule(header, name, defines):
    """The function-like macro NAME(flags) of abi.h as a Python function."""
    m = re.search(r"^#define %s\(flags\)((?:[^\n]*\\\n)*[^\n]*)" % name, header, re.M)
    if not m:
        raise TestFailure("abi.h has no macro %s(flags)" % name)
    body = re.sub(r"\\\n", " ", m.group(1))
    body = re.sub(r"\bAT_\w+\b", lambda n: repr(defines[n.group(0)]), body)
    body = body.replace("&&", " and ").replace("||", " or ")
    body = re.sub(r"!(?!=)", " not ", body)
    if not re.fullmatch(r"[0-9()|&!=<> a-z]+", body):
        raise TestFailure("cannot read the macro %s: %r" % (name, body))
    return lambda flags: bool(eval(body, {}, {"flags": flags}))


def t_constants(ctx):
    """The Python package's ABI constants and flag rules are those of abi.h."""
    header = open(os.path.join(ROOT, "runtime", "include", "asynctrace", "abi.h")).read()
    defines = header_defines(header)
    for name, value in constants.HEADER_NAMES.items():
        if defines.get(name) != value:
            raise TestFailure("%s is %r in abi.h but %r in gdb/asynctrace/constants.py"
                              % (name, defines.get(name), value))
    for name, rule in constants.HEADER_RULES.items():
        c_rule = header_rule(header, name, defines)
        for flags in range(16):
            if c_rule(flags) != rule(flags):
                raise TestFailure("%s(0x%x) is %r in abi.h but %r in constants.py"
                                  % (name, flags, c_rule(flags), rule(flags)))
    state_list = re.search(r"#define AT_TASK_STATES\(X\)(.*?)\n\n", header, re.S)
    c_states = re.findall(r'X\(AT_TASK_\w+, "([^"]+)"\)', state_list.group(1) if state_list else "")
    if not c_states or tuple(c_states) != constants.TASK_STATES:
        raise TestFailure("task states are %r in abi.h (AT_TASK_STATES) but %r in "
                          "gdb/asynctrace/constants.py" % (c_states, constants.TASK_STATES))
    flag_list = re.search(r"#define AT_TASK_FLAG_NAMES\(X\)(.*?)\n\n", header, re.S)
    c_flags = [(defines[name], text) for name, text in
               re.findall(r'X\((AT_TF_\w+), "([^"]+)"\)', flag_list.group(1) if flag_list else "")]
    if not c_flags or c_flags != list(constants.TASK_FLAGS):
        raise TestFailure("task flags are %r in abi.h (AT_TASK_FLAG_NAMES) but %r in "
                          "gdb/asynctrace/constants.py" % (c_flags, list(constants.TASK_FLAGS)))
    sec = re.search(r'#define AT_DEBUG_SECTION "([^"]+)"', header).group(1)
    if sec not in constants.DEBUG_SECTIONS:
        raise TestFailure("section %s is not among %r" % (sec, constants.DEBUG_SECTIONS))


def states_attach(ctx, stripped):
    key = "stripped" if stripped else "plain"
    exe = ctx.prog("states", stripped)
    snap = os.path.join(ctx.tmp, "states-%s.snapshot.json" % key)
    core = os.path.join(ctx.tmp, "states-%s.core" % key)
    prog = Program(exe, env={"AT_TEST_SNAPSHOT": snap})
    try:
        cmds = list(STATES_COMMANDS) + [("gcore", "generate-core-file %s" % core)]
        if not stripped:
            cmds += USAGE_COMMANDS + PRINTER_COMMANDS
        parts, whole = run_gdb(["-p", str(prog.pid)], cmds)
        code, out, err = prog.release()
    finally:
        prog.kill()
    ctx.results[key] = {"parts": parts, "pid": prog.pid, "core": core, "exe": exe,
                        "snapshot": snap, "exit": (code, out, err)}
    no_bad_output(whole, "gdb -p")
    doc = parse_json(parts["tasks_json"], "info async-tasks --json")
    ctx.results[key]["doc"] = doc
    check_states_doc(doc, "gdb-live", ctx.m, "attached (%s)" % key)
    check_states_text(parts, ctx.m, stripped, prog.pid)
    check_filters(parts)
    for name in ("threads_json", "runtimes_json"):
        other = parse_json(parts[name], name)
        if strip_volatile(other) != strip_volatile(doc):
            raise TestFailure("%s differs from info async-tasks --json" % name)
    if not stripped:
        check_usage(parts)
        check_printers(parts)
    if not os.path.exists(core):
        raise TestFailure("generate-core-file made no core: %s" % parts.get("gcore"))


def t_states_attach(ctx):
    """gdb -p on states: every task, frame, resource, thread, text format."""
    states_attach(ctx, False)


def t_states_continues(ctx):
    """After gdb detached, the program finishes its work and exits 0."""
    code, out, err = ctx.results["plain"]["exit"]
    if code != 0 or "joins: 0 -125 0 0 0 0 0" not in out or "done" not in out:
        raise TestFailure("exit %d, stdout %r, stderr %r" % (code, out, err))


def states_core(ctx, key):
    r = ctx.results[key]
    parts, whole = run_gdb([r["exe"], r["core"]], STATES_COMMANDS)
    no_bad_output(whole, "gdb PROG CORE")
    doc = parse_json(parts["tasks_json"], "info async-tasks --json (core)")
    check_states_doc(doc, "gdb-core", ctx.m, "core (%s)" % key)
    check_states_text(parts, ctx.m, key == "stripped", r["pid"])
    if strip_volatile(doc) != strip_volatile(r["doc"]):
        raise TestFailure("the core's document differs from the attached one")


def t_states_core(ctx):
    """gdb PROG CORE gives the same document as gdb -p, and the same text."""
    states_core(ctx, "plain")


def t_states_snapshot(ctx):
    """The in-process snapshot (at_snapshot_take) of the same moment agrees."""
    r = ctx.results["plain"]
    with open(r["snapshot"]) as f:
        snap = json.load(f)
    if snap.get("source") != "snapshot":
        raise TestFailure("reference is not a snapshot: %r" % snap.get("source"))
    a, b = strip_volatile(snap), strip_volatile(r["doc"])
    if a != b:
        diffs = []
        match(b, a, "gdb", diffs)
        raise TestFailure("gdb and the in-process snapshot differ:\n  " +
                          "\n  ".join(diffs[:20]))


def resources_of(doc):
    """Every resource object of a trace document, in document order."""
    out = []

    def frame(fr):
        if fr.get("resource"):
            out.append(fr["resource"])
        for c in fr.get("children", ()):
            frame(c)
    for rt in doc["runtimes"]:
        for t in rt["tasks"]:
            if t.get("await"):
                frame(t["await"])
    return out


def t_resource_fields(ctx):
    """The C JSON writer (the in-process snapshot) and the Python one (GDB)
    write each resource kind's fields as records.RESOURCE_FIELDS lists them,
    in that order."""
    r = ctx.results["plain"]
    with open(r["snapshot"]) as f:
        snap = json.load(f)
    seen = set()
    for who, doc in (("C writer", snap), ("Python writer", r["doc"])):
        for res in resources_of(doc):
            keys = [k for k in res if k != "error"]
            want = ["kind", "object", "since_ns"] + list(records.RESOURCE_FIELDS[res["kind"]])
            if keys != want:
                raise TestFailure("%s: %s resource has fields %r; records.RESOURCE_FIELDS "
                                  "says %r" % (who, res["kind"], keys, want))
            seen.add(res["kind"])
    need = {"sleep", "mutex", "notify", "channel-send", "channel-recv", "oneshot", "join"}
    if not need <= seen:
        raise TestFailure("the states program shows no %s resource" % sorted(need - seen))


def t_stripped_attach(ctx):
    """The same checks on a stripped copy (section lookup, no DWARF)."""
    states_attach(ctx, True)
    code, out, err = ctx.results["stripped"]["exit"]
    if code != 0 or "done" not in out:
        raise TestFailure("stripped program: exit %d, %r %r" % (code, out, err))
    if shape(ctx.results["stripped"]["doc"]) != shape(ctx.results["plain"]["doc"]):
        raise TestFailure("stripped and unstripped documents differ")


def t_stripped_core(ctx):
    """A core of the stripped copy."""
    states_core(ctx, "stripped")


# -- multi-thread runtime -------------------------------------------------------------

MT_COMMANDS = [("tasks_json", "info async-tasks --json"),
               ("threads", "info async-threads"),
               ("diagnose", "info async-diagnose"),
               ("bt", "async-bt 2 4")]


def check_mt(parts, mm, what):
    doc = parse_json(parts["tasks_json"], what)
    lines_match(parts["diagnose"], [
        r"asynctrace diagnosis: 5 tasks in 1 runtime, 4 waiting; 1 finding \(0 proven\), "
        r"0 tasks stuck behind them",
        r"1\. task 2 \"spinner\" is blocked in read\(\) inside its poll, at block_in_read "
        r"mt.c:%d" % mm["native:block_in_read"],
        r"  likely: the system call may still return; .*",
        r"  task 2 \"spinner\" \(running\) on LWP \d+ in read\(\) at block_in_read mt.c:%d "
        r"for (at least )?\S+" % mm["native:block_in_read"],
        r"cannot be settled from memory: 2 tasks wait on what this analysis cannot decide:",
        r"  2 on notify \(.*\), the longest for .*: task 1 \"main\", task 3 \"holder\"; "
        r"1 task behind",
    ], what + ": info async-diagnose")
    if "not proven stuck" in parts["diagnose"]:
        raise TestFailure("%s: the locker is behind the holder's notify" % what)
    errors = []
    workers = [th for th in doc["threads"] if th["role"] == "worker"]
    busy = [th for th in workers if th["task"] is not None]
    match(sorted(th["worker"] for th in workers), [0, 1], "worker indexes", errors)
    match([(th["runtime"], th["task"], th["roots"]) for th in busy], [(1, 2, [2])],
          "busy worker", errors)
    lwp = busy[0]["tid"] if busy else None
    in_worker = lambda v: v in (0, 1)
    match(doc["runtimes"], [{
        "id": 1, "flavor": "multi-thread", "workers": 2, "tasks": [
            {"id": 1, "name": "main", "state": "idle", "flags": ["block-on"],
             "worker": in_worker, "thread": None,
             "await": frame("main_task", mm["await:main_task"], children=[
                 leaf("at_notify_wait", {"kind": "notify", "waiters": 2})])},
            {"id": 2, "name": "spinner", "state": "running", "flags": [], "parent": 1,
             "thread": lwp, "worker": busy[0]["worker"] if busy else None,
             "await": frame("spinner", mm["site:spinner"])},
            {"id": 3, "name": "holder", "state": "idle", "worker": in_worker,
             "await": frame("holder", mm["await:holder"], children=[
                 leaf("at_notify_wait", {"kind": "notify", "waiters": 2})])},
            {"id": 4, "name": "locker", "state": "idle", "worker": in_worker,
             "await": frame("locker", mm["await:locker"], children=[
                 leaf("at_mutex_lock", {"kind": "mutex", "owner": 3, "waiters": 1})])},
            {"id": 5, "name": "sleeper", "state": "idle", "worker": in_worker,
             "await": frame("sleeper", mm["await:sleeper"], children=[
                 leaf("at_sleep", {"kind": "sleep"})])}]}], "runtimes", errors)
    if errors:
        raise TestFailure("%s:\n  %s" % (what, "\n  ".join(errors)))
    lines_match(parts["threads"], [
        r"  THREAD +LWP  ROLE +WORKER  RUNTIME  TASK +POLLING FOR  ROOT FRAMES",
        r" +\d+ +%d  worker  [01] +1 +2 \"spinner\" +\S+ +task 2" % lwp], what + " threads")
    lines_match(parts["bt"], [
        r"task 2 \"spinner\" running for \S+, on LWP %d \(thread \d+\), worker [01], 1 poll"
        % lwp,
        r"  native frames of LWP %d \(thread \d+\), down to at_root_poll:" % lwp,
        r"  #\d+ +0x[0-9a-f]{16} in block_in_read at mt.c:%d" % mm["native:block_in_read"],
        r"  #\d+ +0x[0-9a-f]{16} in spinner_poll at mt.c:%d" % mm["native:spinner"],
        r"  #\d+ +0x[0-9a-f]{16} in at_root_poll at scheduler.c:\d+",
        r"  await chain:",
        r"  #\d+ +spinner at mt.c:%d" % mm["native:spinner"],
        r"  spawned by task 1 \"main\" at mt.c:\d+ \(in main_task_poll\)",
        r"",
        r"task 4 \"locker\" idle for \S+, worker [01], 1 poll",
        r"  #0  at_mutex_lock +waiting for mutex %s held by task 3 \"holder\" \(for \S+\)"
        % HEX,
        r"  #1  locker at mt.c:%d" % mm["await:locker"],
    ], what + " async-bt")
    return doc


def t_mt_attach(ctx):
    """Multi-thread runtime: worker threads, a task running on one of them."""
    exe = ctx.prog("mt")
    core = os.path.join(ctx.tmp, "mt.core")
    snap = os.path.join(ctx.tmp, "mt.snapshot.json")
    prog = Program(exe, env={"AT_TEST_SNAPSHOT": snap})
    try:
        parts, whole = run_gdb(["-p", str(prog.pid)], MT_COMMANDS +
                               [("gcore", "generate-core-file %s" % core)])
        code, out, err = prog.release()
    finally:
        prog.kill()
    ctx.results["mt"] = {"core": core, "exe": exe}
    no_bad_output(whole, "gdb -p mt")
    doc = check_mt(parts, ctx.mm, "mt attached")
    ctx.results["mt"]["doc"] = doc
    with open(snap) as f:
        reference = json.load(f)
    if strip_volatile(reference) != strip_volatile(doc):
        diffs = []
        match(doc, strip_volatile(reference), "gdb", diffs)
        raise TestFailure("mt: gdb and the in-process snapshot differ:\n  " +
                          "\n  ".join(diffs[:20]))
    if code != 0 or "done" not in out:
        raise TestFailure("mt after detach: exit %d, %r %r" % (code, out, err))


def t_nonstop(ctx):
    """Attached in non-stop mode, GDB reports the worker threads running
    while the walk reads: every command says it reads a moving target,
    with the number of running threads."""
    prog = Program(ctx.prog("mt"))
    try:
        parts, whole = run_gdb(["-iex", "set non-stop on", "-p", str(prog.pid)], [
            ("threads", "info threads"),
            ("tasks", "info async-tasks"), ("bt", "async-bt all"),
            ("deadlocks", "info async-deadlocks"), ("diagnose", "info async-diagnose"),
            ("tasks_json", "info async-tasks --json")])
    finally:
        prog.kill()
    no_bad_output(whole, "gdb -p mt in non-stop mode")
    running = len(re.findall(r"\(running\)\s*$", parts["threads"], re.M))
    if not running:
        raise TestFailure("no thread running in non-stop mode:\n" + parts["threads"])
    note = ("in-flux: %d of the program's threads are running (non-stop mode), so this "
            "reads a moving target: records they change may read torn; interrupt them "
            "(interrupt -a) for a consistent picture" % running)
    for name in ("tasks", "bt", "deadlocks", "diagnose"):
        if not re.search(r"^ *note: %s%s$" % (re.escape(note), COVERS), parts[name], re.M):
            raise TestFailure("%s lacks the non-stop note:\n%s" % (name, parts[name]))
    doc = parse_json(parts["tasks_json"], "tasks json in non-stop mode")
    expect(doc["errors"] == [note], "JSON errors in non-stop mode: %r" % doc["errors"])
    # In all-stop mode a thread GDB still lists as running is one that is
    # exiting (attached as it ended): no note.  Such a thread, faked:
    fake = ('python import asynctrace.gdbsource as g; b = g.GdbBackend(); '
            'b.inferior = type("I", (), {"threads": lambda self: [type("T", (), {'
            '"num": 9, "is_valid": lambda s: True, "is_running": lambda s: True})()]})(); '
            'print("NOTES=%r" % (b.notes(),))')
    prog = Program(ctx.prog("mt"))
    try:
        parts, whole = run_gdb(["-p", str(prog.pid)], [("fake", fake)])
    finally:
        prog.kill()
    if parts["fake"].strip() != "NOTES=[]":
        raise TestFailure("all-stop mode, a thread listed as running: %r" % parts["fake"])


def t_mt_core(ctx):
    """The multi-thread program's core."""
    r = ctx.results["mt"]
    parts, whole = run_gdb([r["exe"], r["core"]], MT_COMMANDS)
    no_bad_output(whole, "gdb mt core")
    doc = check_mt(parts, ctx.mm, "mt core")
    if strip_volatile(doc) != strip_volatile(r["doc"]):
        raise TestFailure("mt: the core's document differs from the attached one")


# -- many tasks (cached shapes, streamed output) -------------------------------------

def check_many(text, what):
    doc = parse_json(text, what)
    if "\n" in text.strip():
        raise TestFailure("%s: a 1,501-task document should be one compact line" % what)
    tasks = doc["runtimes"][0]["tasks"]
    if [t["id"] for t in tasks] != list(range(1, 1502)):
        raise TestFailure("%s: task ids are not 1..1501" % what)

    def depth(frame):
        return 1 + max([depth(c) for c in frame["children"]] or [0])
    want = {0: (6, "sleep"), 1: (5, "mutex"), 2: (2, "notify"), 3: (3, "notify"),
            4: (7, "channel-recv")}
    for t in tasks[1:]:
        d, kind = want[(t["id"] - 2) % 5]
        node = t["await"]
        while node["children"]:
            node = node["children"][0]
        if depth(t["await"]) != d or node["resource"]["kind"] != kind:
            raise TestFailure("%s: task %d has depth %d and waits on %s" % (
                what, t["id"], depth(t["await"]), node["resource"]["kind"]))
    return doc


def t_many(ctx):
    """1,501 tasks: the cached fast path agrees with the snapshot, the large
    document is streamed, the program finishes after detach."""
    exe = ctx.prog("many")
    core = os.path.join(ctx.tmp, "many.core")
    snap = os.path.join(ctx.tmp, "many.snapshot.json")
    prog = Program(exe, env={"AT_TEST_SNAPSHOT": snap})
    try:
        parts, whole = run_gdb(["-p", str(prog.pid)], [
            ("tasks_json", "info async-tasks --json"),
            ("gcore", "generate-core-file %s" % core)])
        code, out, err = prog.release()
    finally:
        prog.kill()
    no_bad_output(whole, "gdb -p many")
    doc = check_many(parts["tasks_json"], "many attached")
    with open(snap) as f:
        reference = json.load(f)
    if strip_volatile(reference) != strip_volatile(doc):
        diffs = []
        match(doc, strip_volatile(reference), "gdb", diffs)
        raise TestFailure("many: gdb and the in-process snapshot differ:\n  " +
                          "\n  ".join(diffs[:20]))
    if code != 0 or "done" not in out:
        raise TestFailure("many after detach: exit %d, %r %r" % (code, out, err))
    parts, whole = run_gdb([exe, core], [("tasks_json", "info async-tasks --json"),
                                         ("deadlocks", "info async-deadlocks"),
                                         ("tasks", "info async-tasks"),
                                         ("group", "info async-tasks --group")])
    no_bad_output(whole, "gdb many core")
    core_doc = check_many(parts["tasks_json"], "many core")
    ctx.results["many"] = {"exe": exe, "core": core, "doc": core_doc}
    if strip_volatile(core_doc) != strip_volatile(doc):
        raise TestFailure("many: the core's document differs from the attached one")
    lines_match(parts["deadlocks"], [r"no wait-for cycle found; 1501 waiting tasks wait on .*"],
                "many deadlocks")
    lines_match(parts["tasks"], [r"\(1501 tasks: info async-tasks -group summarises them in "
                                 r"a screen, info async-diagnose says what is wrong\)"],
                "many: the hint at --group")
    lines_match(parts["group"], [
        r"1501 tasks in 6 groups by chain, largest first:",
        r"  COUNT  STATE  IDS",
        r"    300  idle   2, 7, 12, 17, 22 \(and 295 more\)",
        r"         at_sleep sleep <- bottom many.c:\d+ <- level many.c:\d+ <- .*",
        r"    300  idle   3, 8, 13, 18, 23 \(and 295 more\)",
        r"         at_mutex_lock mutex <- bottom many.c:\d+ <- .*",
        r"    300  idle   4, 9, 14, 19, 24 \(and 295 more\)",
        r"    300  idle   5, 10, 15, 20, 25 \(and 295 more\)",
        r"         at_notify_wait notify <- at_join_all combinators.c:\d+ <- shaped many.c:\d+"
        r"  \(\+1 more branches\)",
        r"    300  idle   6, 11, 16, 21, 26 \(and 295 more\)",
        r"      1  idle   1"], "many: --group")


# -- deadlocks --------------------------------------------------------------------------

def check_deadlock_output(parts, dm):
    no_bad_output(parts.get("deadlocks", ""), "info async-deadlocks")
    lines_match(parts["deadlocks"], [
        r"deadlock: task 2 \"a\" -> mutex (%s) -> task 3 \"b\" -> mutex (%s) -> task 2"
        % (HEX, HEX),
        r"deadlock: task 6 \"e\" -> join -> task 7 \"f\" -> join -> task 6",
        r"deadlock: task 8 \"h\" -> mutex %s -> task 9 \"g\" -> full channel %s -> task 8"
        % (HEX, HEX),
        r"stuck: task 4 \"c\": join task 2, and task 2 \"a\" is in a deadlock cycle",
        r"stuck: task 5 \"d\": mutex %s held by task 4, and task 4 \"c\" is stuck" % HEX,
    ], "info async-deadlocks")
    if len(parts["deadlocks"].strip().splitlines()) != 5:
        raise TestFailure("extra deadlock lines:\n" + parts["deadlocks"])
    doc = parse_json(parts["deadlocks_json"], "info async-deadlocks --json")
    tasks = parse_json(parts["tasks_json"], "info async-tasks --json")
    addr = {t["id"]: t["address"] for rt in tasks["runtimes"] for t in rt["tasks"]}
    errors = []

    def via(kind, obj=None):
        return {"kind": kind, "object": obj if obj else (lambda o: bool(re.match(HEX, o)))}
    match(doc, {
        "format": "asynctrace-deadlocks", "version": 1,
        "cycles": [
            [{"task": 2, "name": "a", "via": via("mutex")},
             {"task": 3, "name": "b", "via": via("mutex")}],
            [{"task": 6, "name": "e", "via": via("join", addr[7])},
             {"task": 7, "name": "f", "via": via("join", addr[6])}],
            [{"task": 8, "name": "h", "via": via("mutex")},
             {"task": 9, "name": "g", "via": via("channel-send")}]],
        "stuck": [{"task": 4, "name": "c",
                   "reason": "join task 2, and task 2 \"a\" is in a deadlock cycle"},
                  {"task": 5, "name": "d", "reason": lambda r: r.startswith("mutex ")}],
    }, "deadlocks", errors)
    if errors:
        raise TestFailure("\n  ".join(errors))
    # The lock-order cycle: a waits for what b holds and the other way round.
    by_id = {t["id"]: t for rt in tasks["runtimes"] for t in rt["tasks"]}

    def leaf_res(t):
        node = t["await"]
        while node["children"]:
            node = node["children"][0]
        return node["resource"]
    a, b = leaf_res(by_id[2]), leaf_res(by_id[3])
    if a["owner"] != 3 or b["owner"] != 2 or doc["cycles"][0][0]["via"]["object"] != a["object"]:
        raise TestFailure("cycle objects do not match the tasks' resources")
    if by_id[4]["await"]["line"] != dm["await:hold_and_join"]:
        raise TestFailure("task c is at line %r" % by_id[4]["await"]["line"])


def check_diagnose_output(parts, dm):
    """info async-diagnose on deadlock.c: the three cycles, proven, in id
    order, with c and d stuck behind the first; main's notify unsettled;
    patient waits on the napper, which is not proven stuck."""
    no_bad_output(parts["diagnose"], "info async-diagnose")
    rep = parse_json(parts["diagnose_json"], "info async-diagnose --json")

    def member(tid, name, fn, line, kind, on):
        return {"task": tid, "name": name, "state": "idle",
                "at": {"function": fn, "line": line, "file": None},
                "waits": {"kind": kind, "object": lambda o: bool(re.match(HEX, o))},
                "for_ns": lambda n: n > 0, "waits_on_task": on}
    lp, jo = dm["await:lock_pair"], dm["await:join_other"]
    errors = []
    match(rep, {
        "format": "asynctrace-diagnosis", "version": 1, "tasks": 11, "waiting": 11,
        "findings": [
            {"kind": "cycle", "certainty": "proven", "count": 2,
             "tasks": [member(2, "a", "lock_pair", lp, "mutex", 3),
                       member(3, "b", "lock_pair", lp, "mutex", 2)],
             "behind": {"count": 2, "tasks": [
                 {"task": 4, "name": "c", "waits": {"kind": "join", "task": 2}},
                 {"task": 5, "name": "d", "waits": {"kind": "mutex", "task": 4}}]}},
            {"kind": "cycle", "certainty": "proven",
             "tasks": [member(6, "e", "join_other", jo, "join", 7),
                       member(7, "f", "join_other", jo, "join", 6)],
             "behind": {"count": 0, "tasks": []}},
            {"kind": "cycle", "certainty": "proven",
             "tasks": [member(8, "h", "recv_then_lock", dm["await:recv_then_lock"],
                              "mutex", 9),
                       member(9, "g", "lock_then_send", dm["await:lock_then_send"],
                              "channel-send", 8)]}],
        "unsettled": [{"kind": "notify", "count": 1, "tasks": [{"task": 1, "name": "main"}]}],
        "waiting_on_movable": {"count": 1, "tasks": [{"task": 11, "name": "patient"}]},
        "sleeping": {"count": 1},
    }, "diagnose", errors)
    if errors:
        raise TestFailure("\n  ".join(errors))
    lines_match(parts["diagnose"], [
        r"asynctrace diagnosis: 11 tasks in 1 runtime, 11 waiting; 3 findings \(3 proven\), "
        r"2 tasks stuck behind them",
        r"1\. deadlock: 2 tasks wait for each other in a cycle \(mutex\): 2 -> 3 -> 2",
        r"  proven: every task of the cycle waits for the next one .*",
        r"  task 2 \"a\" waits at lock_pair deadlock.c:%d for (at least )?\S+ on mutex %s "
        r"\(for task 3\)" % (lp, HEX),
        r"  task 3 \"b\" waits at lock_pair deadlock.c:%d .*" % lp,
        r"  stuck behind it: 2 tasks: 4 \"c\" \(join on task 2\), 5 \"d\" \(mutex on task 4\)",
        r"2\. deadlock: 2 tasks wait for each other in a cycle \(join\): 6 -> 7 -> 6",
    ], "info async-diagnose")
    if "no deadlock" in parts["diagnose"]:
        raise TestFailure("diagnose declares no deadlock")


DEADLOCK_COMMANDS = [("deadlocks", "info async-deadlocks"),
                     ("deadlocks_json", "info async-deadlocks --json"),
                     ("diagnose", "info async-diagnose"),
                     ("diagnose_json", "info async-diagnose --json"),
                     ("tasks_json", "info async-tasks --json"),
                     ("runtimes", "info async-runtimes")]


def t_deadlock_attach(ctx):
    """Cycles (mutexes, joins, full channel) and stuck tasks, attached."""
    exe = ctx.prog("deadlock")
    core = os.path.join(ctx.tmp, "deadlock.core")
    prog = Program(exe)
    try:
        parts, whole = run_gdb(["-p", str(prog.pid)], DEADLOCK_COMMANDS +
                               [("gcore", "generate-core-file %s" % core)])
        code, out, err = prog.release()
    finally:
        prog.kill()
    ctx.results["deadlock"] = {"core": core, "exe": exe}
    no_bad_output(whole, "gdb -p deadlock")
    check_deadlock_output(parts, ctx.dm)
    ctx.results["deadlock"]["doc"] = parse_json(parts["tasks_json"], "deadlock tasks")
    ctx.results["deadlock"]["descriptor"] = re.search(
        r"descriptor at (%s)" % HEX, parts["runtimes"]).group(1)
    check_diagnose_output(parts, ctx.dm)
    if code != 0 or "still idle: 11" not in out:
        raise TestFailure("after detach: exit %d, %r %r" % (code, out, err))


def t_deadlock_core(ctx):
    """The same analysis from the core file."""
    r = ctx.results["deadlock"]
    parts, whole = run_gdb([r["exe"], r["core"]], DEADLOCK_COMMANDS)
    no_bad_output(whole, "gdb deadlock core")
    check_deadlock_output(parts, ctx.dm)
    check_diagnose_output(parts, ctx.dm)
    if '"source": "gdb-core"' not in parts["deadlocks_json"]:
        raise TestFailure("deadlock document does not say gdb-core")


def t_join_chain(ctx):
    """Two chains of 1,500 joins, each task joining the next one: one ends
    in a deadlock cycle (every link stuck, in id order), the other in a
    sleeping task (none stuck).  An analysis quadratic in the chain (the
    fixpoint and cycle search of old) takes minutes here; its speed is
    measured by bench-gdb-chain."""
    exe = ctx.prog("chain")
    core = os.path.join(ctx.tmp, "chain.core")
    prog = Program(exe, env={"CHAIN_TASKS": "3000"})
    try:
        parts, whole = run_gdb(["-p", str(prog.pid)], [
            ("gcore", "generate-core-file %s" % core)])
        code, out, err = prog.release()
    finally:
        prog.kill()
    no_bad_output(whole, "gdb -p chain")
    parts, whole = run_gdb([exe, core], [("deadlocks", "info async-deadlocks"),
                                         ("deadlocks_json", "info async-deadlocks --json")],
                           timeout=120)
    no_bad_output(whole, "gdb chain core")
    lines = parts["deadlocks"].strip().splitlines()
    want = [r"deadlock: task 2 \"a\" -> mutex %s -> task 3 \"b\" -> mutex %s -> task 2"
            % (HEX, HEX)]
    want += [r"stuck: task %d \"link\": join task %d, and task %d \"link\" is stuck"
             % (i, i + 1, i + 1) for i in range(4, 1503)]
    want += [r"stuck: task 1503 \"link\": join task 2, and task 2 \"a\" is in a deadlock "
             r"cycle"]
    if len(lines) != len(want):
        raise TestFailure("%d lines for 1,500 stuck links:\n%s" % (
            len(lines), "\n".join(lines[:5])))
    for line, pat in zip(lines, want):
        if not re.match(pat + "$", line):
            raise TestFailure("line %r does not match %r" % (line, pat))
    doc = parse_json(parts["deadlocks_json"], "chain json")
    if len(doc["stuck"]) != 1500 or doc["corrupt"] or len(doc["cycles"]) != 1:
        raise TestFailure("document: %d stuck, %r corrupt" % (len(doc["stuck"]),
                                                             doc["corrupt"]))


# -- corrupted cores ---------------------------------------------------------------------

CORRUPT_COMMANDS = [("tasks_json", "info async-tasks --json"),
                    ("tasks", "info async-tasks"),
                    ("bt_all", "async-bt all"),
                    ("threads", "info async-threads"),
                    ("deadlocks", "info async-deadlocks"),
                    ("runtimes", "info async-runtimes")]


DEADLOCK_CORRUPT_COMMANDS = [("tasks_json", "info async-tasks --json"),
                             ("deadlocks", "info async-deadlocks"),
                             ("deadlocks_json", "info async-deadlocks --json"),
                             ("bt_all", "async-bt all")]


class Patched(object):
    """A copy of a core (the states core unless `key` says which) with the
    layout of its records at hand."""

    def __init__(self, ctx, key="plain"):
        r = ctx.results[key]
        desc = r.get("descriptor")
        if desc is None:
            desc = re.search(r"descriptor at (%s)" % HEX, r["parts"]["runtimes"]).group(1)
        self.ctx = ctx
        self.exe = r["exe"]
        self.img = CoreImage(r["core"], r["exe"], int(desc, 16))
        self.L = self.img.layout()
        self.doc = r["doc"]
        self.task = {t["id"]: int(t["address"], 16)
                     for rt in self.doc["runtimes"] for t in rt["tasks"]}
        self.rt = {rt["id"]: int(rt["address"], 16) for rt in self.doc["runtimes"]}

    def field(self, record, name):
        return self.L[record][name]

    def owned_list(self, rt_id):
        addr = self.img.u64(self.rt[rt_id] + self.field("runtime", "owned_head"))
        out = []
        while addr and len(out) < 100:
            out.append(addr)
            addr = self.img.u64(addr + self.field("task", "owned_next"))
        return out

    def run(self, name, commands=None):
        path = os.path.join(self.ctx.tmp, "corrupt-%s.core" % name)
        self.img.save(path)
        start = time.time()
        parts, whole = run_gdb([self.exe, path], commands or CORRUPT_COMMANDS, timeout=60)
        if time.time() - start > 30:
            raise TestFailure("gdb took %.1f s on a corrupted core" % (time.time() - start))
        no_bad_output(whole, "gdb on corrupted core %s" % name)
        doc = parse_json(parts["tasks_json"], "tasks json on %s" % name)
        return parts, doc


def _rt(doc, rid):
    return [rt for rt in doc["runtimes"] if rt["id"] == rid][0]


def t_corrupt_list_cycle(ctx):
    """owned_next patched into a cycle: reported, the walk ends, no hang."""
    p = Patched(ctx)
    lst = p.owned_list(1)  # newest first: 11, 10, 9, ...
    p.img.put_u64(lst[2] + p.field("task", "owned_next"), lst[0])
    parts, doc = p.run("cycle")
    rt = _rt(doc, 1)
    want = "corrupt: owned list loops back to task 0x%x after 3 tasks" % lst[0]
    if rt.get("error") != want or [t["id"] for t in rt["tasks"]] != [9, 10, 11]:
        raise TestFailure("runtime 1: %r, tasks %r" % (rt.get("error"),
                                                      [t["id"] for t in rt["tasks"]]))
    lines_match(parts["tasks"], [r"runtime 1 .*: 3 tasks", "  " + re.escape(want)],
                "table on cycle")
    lines_match(parts["bt_all"], [r"task 9 .*", r"runtime 1: " + re.escape(want)],
                "async-bt all on cycle")


def t_corrupt_dangling(ctx):
    """owned_next patched to an unmapped address."""
    p = Patched(ctx)
    lst = p.owned_list(1)
    p.img.put_u64(lst[2] + p.field("task", "owned_next"), 0xdead0000)
    parts, doc = p.run("dangling")
    rt = _rt(doc, 1)
    want = "corrupt: owned list: task 0xdead0000 unreadable (after 3 tasks)"
    if rt.get("error") != want or len(rt["tasks"]) != 3:
        raise TestFailure("runtime 1: %r" % rt.get("error"))
    lines_match(parts["deadlocks"], [r"no wait-for cycle found.*",
                                     r"note: %s \(the analysis covers what was readable\)"
                                     % re.escape(want)], "deadlocks on dangling")


def t_corrupt_magic(ctx):
    """A task whose magic is overwritten: the list stops there, clearly."""
    p = Patched(ctx)
    lst = p.owned_list(1)
    p.img.put_u32(lst[2] + p.field("task", "magic"), 0x12345678)
    parts, doc = p.run("magic")
    rt = _rt(doc, 1)
    want = "corrupt: owned list: 0x%x is not a task (magic 0x12345678) (after 2 tasks)" % lst[2]
    if rt.get("error") != want or [t["id"] for t in rt["tasks"]] != [10, 11]:
        raise TestFailure("runtime 1: %r" % rt.get("error"))
    # The other runtimes are untouched.
    if [t["id"] for t in _rt(doc, 3)["tasks"]] != [2]:
        raise TestFailure("runtime 3 was affected")


def t_corrupt_frames(ctx):
    """Frame-level damage: an await cycle, a bad site, a torn (in-flux) task,
    a bad owned_prev, a channel without senders, a oneshot whose sender is
    gone.  Each is reported on its own task; the rest reads normally."""
    p = Patched(ctx)
    T, F = p.task, lambda n: p.field("frame", n)
    root5 = p.img.u64(T[5] + p.field("task", "root"))
    acct = p.img.u64(root5 + F("child"))
    p.img.put_u64(acct + F("child"), root5)                     # task 5: await cycle
    root7 = p.img.u64(T[7] + p.field("task", "root"))
    p.img.put_u64(root7 + F("site"), 0x10)                       # task 7: bad site
    flags9 = p.img.u32(T[9] + p.field("task", "flags"))
    p.img.put_u32(T[9] + p.field("task", "flags"), flags9 | 1)   # task 9: in flux
    p.img.put_u64(T[9] + p.field("task", "owned_prev"), 0x1234)
    p.img.put_u64(T[6] + p.field("task", "owned_prev"), 0x5678)  # task 6: bad prev
    doc = p.doc

    def resource_of(tid):
        t = [t for rt in doc["runtimes"] for t in rt["tasks"] if t["id"] == tid][0]
        node = t["await"]
        while node["children"]:
            node = node["children"][-1]
        return int(node["resource"]["object"], 16)
    chan = resource_of(8)  # the producer's full channel: no senders left
    p.img.put_u64(chan + p.field("chan", "senders"), 0)
    p.img.put_u64(chan + p.field("chan", "rx_task_id"), 8)
    p.img.put_u32(chan + p.field("chan", "flags"), 0)
    oneshot = resource_of(10)
    p.img.put_u32(oneshot + p.field("oneshot", "flags"), 2)      # sender dropped
    parts, got = p.run("frames")
    tasks = {t["id"]: t for rt in got["runtimes"] for t in rt["tasks"]}
    errors = []
    lock = tasks[5]["await"]["children"][0]
    match(lock["children"], [{"function": None, "address": "0x%x" % root5,
                              "error": "corrupt: await tree loops back to frame 0x%x" % root5}],
          "task 5 lock_account children", errors)
    match(tasks[7]["await"], {"function": None, "children": [],
                              "error": "corrupt: site 0x10 unreadable (site of frame 0x%x)"
                              % root7}, "task 7 await", errors)
    match(tasks[9].get("error"), lambda e: e.startswith("in-flux: owned_prev is 0x1234, "),
          "task 9 error", errors)
    match(tasks[9]["flags"], ["in-flux"], "task 9 flags", errors)
    match(tasks[6].get("error"), lambda e: e.startswith("corrupt: owned_prev is 0x5678, "),
          "task 6 error", errors)
    match(len(tasks), 11, "task count", errors)
    if errors:
        raise TestFailure("\n  ".join(errors))
    lines_match(parts["deadlocks"], [
        r"stuck: task 10 \"combo\": oneshot %s lost its sender without a value" % HEX,
    ], "deadlocks (oneshot)")
    lines_match(parts["bt_all"], [
        r"task 5 .*",
        r"  #0  corrupt: await tree loops back to frame 0x%x" % root5,
        r"  #1  lock_account at states.c:\d+",
        r"  #2  transfer at states.c:\d+",
        r"task 6 .*",
        r"  corrupt: owned_prev is 0x5678, expected .*",
        r"task 7 .*",
        r"  #0  corrupt: site 0x10 unreadable \(site of frame 0x%x\)" % root7,
        r"task 9 .*flags: in-flux",
        r"  in-flux: owned_prev is 0x1234, expected .*",
    ], "async-bt all on damaged frames")


def t_corrupt_channel_receiver(ctx):
    """A receiver waiting on a channel whose senders are all gone is stuck."""
    p = Patched(ctx)
    doc = p.doc
    t7 = [t for rt in doc["runtimes"] for t in rt["tasks"] if t["id"] == 7][0]
    chan = int(t7["await"]["children"][0]["resource"]["object"], 16)
    p.img.put_u64(chan + p.field("chan", "senders"), 0)
    parts, got = p.run("nosender")
    lines_match(parts["deadlocks"], [
        r"stuck: task 7 \"consumer\": channel 0x%x has no sender left" % chan],
        "deadlocks (no sender)")
    lines_match(parts["tasks"], [
        r"   7  idle .*recv on channel 0x%x \(0/4, senders: 0\)" % chan], "table")


def t_corrupt_descriptor(ctx):
    """A foreign ABI version, then a broken magic: one sentence each."""
    p = Patched(ctx)
    p.img.put_u32(p.img.descriptor + 8, 99)
    parts, whole = run_gdb([p.exe, _save(p, "abi99")], [("tasks", "info async-tasks")])
    no_bad_output(whole, "abi 99")
    lines_match(parts["tasks"], [
        r"asynctrace: the program uses asynctrace debugger ABI version 99 but this asynctrace "
        r"reads versions 1, 2 and 3: use the asynctrace \(GDB extension or command-line tool\) "
        r"installed with the runtime the program was built with"], "ABI mismatch")
    p.img.put_u32(p.img.descriptor + 8, 2)
    p.img.write(p.img.descriptor, b"XXDEBUG\0")
    parts, whole = run_gdb([p.exe, _save(p, "magic")], [("tasks", "info async-tasks --json")])
    no_bad_output(whole, "bad magic")
    lines_match(parts["tasks"], [
        r"asynctrace: asynctrace_debug at %s does not start with the magic \"ATDEBUG\" "
        r"\(found b'XXDEBUG\\x00'\), so it is not an asynctrace descriptor or its memory "
        r"is corrupt" % HEX], "bad magic")


def _save(p, name):
    path = os.path.join(p.ctx.tmp, "corrupt-%s.core" % name)
    p.img.save(path)
    return path


def t_corrupt_lists(ctx):
    """The runtime list loops and a thread context is garbage."""
    p = Patched(ctx)
    p.img.put_u64(p.rt[1] + p.field("runtime", "next"), p.rt[1])
    threads = p.img.u64(p.img.descriptor + 40)
    p.img.put_u32(threads + p.field("context", "magic"), 0)
    parts, doc = p.run("lists")
    notes = doc["errors"]
    if not any(n == "corrupt: runtime list loops back to 0x%x" % p.rt[1] for n in notes) or \
            not any(n == "corrupt: 0x%x on the thread list is not a thread context "
                    "(magic 0x00000000)" % threads for n in notes):
        raise TestFailure("errors: %r" % notes)
    lines_match(parts["threads"], [
        r"note: corrupt: 0x%x on the thread list is not a thread context .*" % threads],
        "threads note")


# -- corruption must never change a verdict in silence -----------------------------

def _leaf_of(doc, tid):
    t = [t for rt in doc["runtimes"] for t in rt["tasks"] if t["id"] == tid][0]
    node = t["await"]
    while node["children"]:
        node = node["children"][-1]
    return node


def _check_deadlocks_json(parts, name):
    doc = parse_json(parts["deadlocks_json"], name)
    return doc


def t_verdict_mutex_magic(ctx):
    """A zeroed mutex magic in a lock-order cycle: the deadlock is not
    turned into "no deadlock"; the tasks whose verdict rests on the damaged
    mutex say so, and the corrupt record is listed."""
    p = Patched(ctx, "deadlock")
    mutex = int(_leaf_of(p.doc, 2)["resource"]["object"], 16)  # a waits for b's mutex
    p.img.put_u32(mutex + p.field("mutex", "magic"), 0)
    parts, _ = p.run("mutex-magic", DEADLOCK_CORRUPT_COMMANDS)
    want = "corrupt: mutex 0x%x has bad magic 0x00000000" % mutex
    lines_match(parts["deadlocks"], [
        r"deadlock: task 6 \"e\" -> join -> task 7 \"f\" -> join -> task 6",
        r"deadlock: task 8 \"h\" -> .*",
        r"maybe stuck: task 2 \"a\": what it waits for cannot be told: %s "
        r"\(its own record is corrupt\)" % re.escape(want),
        r"maybe stuck: task 3 \"b\": mutex %s held by task 2, and task 2 \"a\" is stuck "
        r"\(this rests on task 2 \"a\", whose record is corrupt\)" % HEX,
        r"maybe stuck: task 4 \"c\": join task 2, and task 2 \"a\" is stuck "
        r"\(this rests on task 2 \"a\", whose record is corrupt\)",
        r"maybe stuck: task 5 \"d\": .*\(this rests on task 2 \"a\", whose record is "
        r"corrupt\)",
        r"corrupt: task 2 \"a\": %s" % re.escape(want),
    ], "deadlocks with a zeroed mutex magic")
    if "no deadlock" in parts["deadlocks"]:
        raise TestFailure("a damaged mutex read as no deadlock:\n" + parts["deadlocks"])
    doc = parse_json(parts["deadlocks_json"], "deadlocks json")
    match(doc["corrupt"], [{"task": 2, "name": "a", "error": want}], "corrupt", errors := [])
    match([s["task"] for s in doc["stuck"] if s.get("depends_on_corrupt") == 2],
          [2, 3, 4, 5], "stuck on the corrupt record", errors)
    if errors:
        raise TestFailure("\n  ".join(errors))


def t_verdict_holder(ctx):
    """A mutex in a lock-order cycle whose holder id is changed to another
    live task (its owner pointer still names the real holder), another
    whose holder id was never handed out, a third whose holder id is zeroed
    under its owner pointer, and a sleep whose wait names an object: each
    is corrupt, never a different verdict."""
    p = Patched(ctx, "deadlock")
    mutex = int(_leaf_of(p.doc, 2)["resource"]["object"], 16)  # a waits for b's mutex
    owner = p.img.u64(mutex + p.field("mutex", "owner"))
    p.img.put_u64(mutex + p.field("mutex", "owner_id"), 9)
    mutex2 = int(_leaf_of(p.doc, 8)["resource"]["object"], 16)  # h waits for g's mutex
    p.img.put_u64(mutex2 + p.field("mutex", "owner_id"), 1 << 40)
    mutex3 = int(_leaf_of(p.doc, 5)["resource"]["object"], 16)  # d waits for c's mutex
    owner3 = p.img.u64(mutex3 + p.field("mutex", "owner"))
    p.img.put_u64(mutex3 + p.field("mutex", "owner_id"), 0)
    sleeper = int(_leaf_of(p.doc, 10)["address"], 16)
    p.img.put_u64(sleeper + p.field("leaf", "wait.object"), mutex)
    parts, _ = p.run("holder", DEADLOCK_CORRUPT_COMMANDS)
    want = ("corrupt: mutex 0x%x names holder task 9, but its owner pointer is 0x%x, not "
            "that task's record 0x%x" % (mutex, owner, p.task[9]))
    want2 = ("corrupt: mutex 0x%x names holder task 1099511627776, an id never handed out "
             "(ids so far are below 12)" % mutex2)
    want4 = ("corrupt: mutex 0x%x has an owner pointer (0x%x) but names no holder task"
             % (mutex3, owner3))
    want3 = "corrupt: a sleep wait with an object (0x%x): its kind or its object is damaged" % mutex
    lines_match(parts["deadlocks"], [
        r"deadlock: task 6 \"e\" -> join -> task 7 \"f\" -> join -> task 6",
        r"maybe stuck: task 2 \"a\": what it waits for cannot be told: %s "
        r"\(its own record is corrupt\)" % re.escape(want),
        r"maybe stuck: task 3 \"b\": .*",
        r"maybe stuck: task 4 \"c\": .*",
        r"maybe stuck: task 5 \"d\": what it waits for cannot be told: %s "
        r"\(its own record is corrupt\)" % re.escape(want4),
        r"maybe stuck: task 8 \"h\": what it waits for cannot be told: %s "
        r"\(its own record is corrupt\)" % re.escape(want2),
        r"maybe stuck: task 9 \"g\": .*",
        r"corrupt: task 2 \"a\": %s" % re.escape(want),
        r"corrupt: task 5 \"d\": %s" % re.escape(want4),
        r"corrupt: task 8 \"h\": %s" % re.escape(want2),
        r"corrupt: task 10 \"\w+\": %s" % re.escape(want3),
    ], "deadlocks with damaged holder ids and a sleep with an object")


def t_verdict_garbage_root(ctx):
    """A garbage root frame under one task of a join cycle, then a frame
    whose child points into another task's leaf: reported as corrupt, never
    a silent "no deadlock" and never an invented cycle."""
    p = Patched(ctx, "deadlock")
    T = p.task
    p.img.put_u64(T[7] + p.field("task", "root"), 0x1000)
    parts, _ = p.run("garbage-root", DEADLOCK_CORRUPT_COMMANDS)
    lines_match(parts["deadlocks"], [
        r"deadlock: task 2 \"a\" -> .*",
        r"deadlock: task 8 \"h\" -> .*",
        r"maybe stuck: task 6 \"e\": join task 7, and task 7 \"f\" is stuck \(this rests "
        r"on task 7 \"f\", whose record is corrupt\)",
        r"maybe stuck: task 7 \"f\": what it waits for cannot be told: corrupt: frame "
        r"0x1000 unreadable \(its own record is corrupt\)",
        r"corrupt: task 7 \"f\": corrupt: frame 0x1000 unreadable",
    ], "deadlocks with a garbage root")
    # Task e's join leaf now hangs under task h's frame: the back link
    # says it is not h's child.
    p = Patched(ctx, "deadlock")
    root8 = p.img.u64(T[8] + p.field("task", "root"))
    root6 = p.img.u64(T[6] + p.field("task", "root"))
    leaf6 = p.img.u64(root6 + p.field("frame", "child"))
    p.img.put_u64(root8 + p.field("frame", "child"), leaf6)
    parts, doc = p.run("foreign-child", DEADLOCK_CORRUPT_COMMANDS)
    want = ("corrupt: frame 0x%x is not part of this await tree (its parent link is "
            "0x%x, not 0x%x)" % (leaf6, root6, root8))
    lines_match(parts["deadlocks"], [
        r"deadlock: task 2 \"a\" -> .*",
        r"deadlock: task 6 \"e\" -> join -> task 7 \"f\" -> join -> task 6",
        r"maybe stuck: task 8 \"h\": what it waits for cannot be told: %s \(its own record "
        r"is corrupt\)" % re.escape(want),
        r"maybe stuck: task 9 \"g\": .*\(this rests on task 8 \"h\", whose record is "
        r"corrupt\)",
        r"corrupt: task 8 \"h\": %s" % re.escape(want),
    ], "deadlocks with a foreign child")
    if re.search(r"deadlock: task 6 .* -> task 8|task 8 \"h\" -> join", parts["deadlocks"]):
        raise TestFailure("an invented cycle:\n" + parts["deadlocks"])
    lines_match(parts["bt_all"], [r"task 8 .*", r"  #0  " + re.escape(want)], "bt")


def t_verdict_lists(ctx):
    """A broken runtime magic, a wrong task_count, a thread context whose
    runtime pointer is garbage, an impossible task state and a duplicate id:
    each says what it is."""
    p = Patched(ctx)
    heads = p.img.u64(p.img.descriptor + 32)
    p.img.put_u32(heads + p.field("runtime", "magic"), 0)
    parts, doc = p.run("rt-magic")
    want = "corrupt: 0x%x on the runtime list is not a runtime (magic 0x00000000)" % heads
    lines_match(parts["bt_all"], [r"no tasks could be read", r"note: " + re.escape(want)],
                "async-bt all on a broken runtime magic")
    lines_match(parts["tasks"], [r"no runtime exists", r".*", r"note: " + re.escape(want)],
                "info async-tasks on a broken runtime magic")
    p = Patched(ctx)
    p.img.put_u64(p.rt[1] + p.field("runtime", "task_count"), 10)
    threads = p.img.u64(p.img.descriptor + 40)
    p.img.put_u64(threads + p.field("context", "runtime"), p.task[4])
    p.img.put_u32(p.task[6] + p.field("task", "state"), 9)
    p.img.put_u64(p.task[8] + p.field("task", "id"), 7)
    parts, doc = p.run("counts")
    lines_match(parts["tasks"], [
        r"runtime 1 .*: 9 tasks",
        r"  corrupt: the runtime's task_count says 10 tasks, but its owned list has 9",
        r"   6  \?9 .*\[corrupt: state 9 is not a task state\]",
        r"   7  idle .*\"producer\".*\[corrupt: id 7 is also the id of task 0x%x\]"
        % p.task[7],
        r"   7  idle .*\"consumer\".*\[corrupt: id 7 is also the id of task 0x%x\]"
        % p.task[8],
    ], "table with bad counts")
    lines_match(parts["threads"], [
        r"note: corrupt: thread %d: its runtime pointer: 0x%x is not a runtime "
        r"\(magic 0x%08x\)" % (p.doc["threads"][0]["tid"], p.task[4], constants.TASK_MAGIC)],
        "thread with a task for a runtime")
    lines_match(parts["deadlocks"], [
        r"corrupt: task 6 \"sleeper\": corrupt: state 9 is not a task state",
        r"corrupt: task 7 \"producer\": corrupt: id 7 is also the id of task 0x%x"
        % p.task[7],
        r"corrupt: task 7 \"consumer\": corrupt: id 7 is also the id of task 0x%x"
        % p.task[8]], "deadlocks list the corrupt tasks")


def t_verdict_truncated(ctx):
    """NULL where a pointer was: a runtime list cut after runtime 1 (the
    thread contexts still name the lost runtime and tasks), an idle task
    whose root is NULL, an idle task whose frame awaits nothing."""
    p = Patched(ctx)
    p.img.put_u64(p.img.descriptor + 32, p.rt[1])
    p.img.put_u64(p.rt[1] + p.field("runtime", "next"), 0)
    p.img.put_u64(p.task[6] + p.field("task", "root"), 0)
    root7 = p.img.u64(p.task[7] + p.field("task", "root"))
    p.img.put_u64(root7 + p.field("frame", "child"), 0)
    parts, doc = p.run("truncated")
    blocker = [th["tid"] for th in p.doc["threads"] if th["runtime"] == 3][0]
    lines_match(parts["tasks"], [
        r"runtime 1 .*: 9 tasks",
        r"   6  idle .*\"sleeper\" +corrupt: an idle task without a future \(its root frame is "
        r"NULL\)",
        r"   7  idle .*\[corrupt: idle, but frame 0x%x of its await chain awaits nothing\]"
        % root7,
        r"note: corrupt: thread %d drives runtime 3, which is not on the runtime list"
        % blocker,
        r"note: corrupt: thread %d polls task 2, which is on no runtime's task list" % blocker,
        r"note: corrupt: thread %d polls task 1, which is on no runtime's task list" % blocker,
    ], "truncated lists and trees")
    lines_match(parts["deadlocks"], [
        r"maybe stuck: task 6 \"sleeper\": what it waits for cannot be told: corrupt: an "
        r"idle task without a future .*",
        r"maybe stuck: task 7 \"consumer\": .*"], "deadlocks on truncated trees")


def _layout_entry(p, record, field):
    """Address of the layout table's (name, offset, size) entry of record.field."""
    count = p.img.u32(p.img.descriptor + 20)
    table = p.img.u64(p.img.descriptor + 24)
    for i in range(count):
        rec = table + 24 * i
        if p.img.cstring(p.img.u64(rec)) == record:
            fields = p.img.u64(rec + 16)
            for j in range(p.img.u32(rec + 12)):
                if p.img.cstring(p.img.u64(fields + 16 * j)) == field:
                    return fields + 16 * j
    raise TestFailure("no layout entry %s.%s" % (record, field))


COVERS = r"( \(the analysis covers what was readable\))?"
LAYOUT_NOTE = (r"corrupt: the descriptor's layout table differs from that of debugger ABI 3: "
               r"%s \(read with ABI 3's layout, which this extension knows\)")


def t_verdict_layout(ctx):
    """A layout table whose field does not fit its record: reported, and the
    walk reads with the layout ABI 3 fixes (every task as before)."""
    p = Patched(ctx)
    p.img.put_u32(_layout_entry(p, "task", "root") + 8, 1 << 30)
    try:
        parts, doc = p.run("layout")
    except TestFailure as e:
        raise TestFailure("the layout table is in the executable's read-only data, "
                          "not in the core, or: %s" % e)
    note = LAYOUT_NOTE % r"task.root has offset 1073741824, size 8 \(expected 32, 8\)"
    want = [(t["id"], t["state"], t.get("error")) for rt in p.doc["runtimes"]
            for t in rt["tasks"]]
    got = [(t["id"], t["state"], t.get("error")) for rt in doc["runtimes"] for t in rt["tasks"]]
    expect(got == want, "tasks read with a damaged layout table: %r, not %r" % (got, want))
    expect(len(doc["errors"]) == 1 and re.fullmatch(note, doc["errors"][0]),
           "JSON errors: %r" % doc["errors"])
    for name in ("tasks", "bt_all", "deadlocks", "threads", "runtimes"):
        if not re.search(r"^note: %s%s$" % (note, COVERS), parts[name], re.M):
            raise TestFailure("%s does not report the layout table:\n%s" % (name, parts[name]))


def t_verdict_layout_moved(ctx):
    """Layout-table offsets moved to other aligned, non-overlapping places
    inside their records (a check of the table's shape alone passes them):
    the mutex's owner_id and owner swapped, its waiters moved into padding,
    a frame's child and sibling swapped.  Every command reports the table,
    and the verdicts are those of the undamaged core."""
    p = Patched(ctx, "deadlock")
    owner_id, owner = _layout_entry(p, "mutex", "owner_id"), _layout_entry(p, "mutex", "owner")
    p.img.put_u32(owner_id + 8, 16)
    p.img.put_u32(owner + 8, 8)
    p.img.put_u32(_layout_entry(p, "mutex", "waiters") + 8, 28)
    child, sibling = _layout_entry(p, "frame", "child"), _layout_entry(p, "frame", "sibling")
    p.img.put_u32(child + 8, 24)
    p.img.put_u32(sibling + 8, 16)
    parts, doc = p.run("layout-moved", DEADLOCK_COMMANDS + [("bt_all", "async-bt all"),
                                                            ("tasks", "info async-tasks")])
    note = LAYOUT_NOTE % (r"frame.child has offset 24, size 8 \(expected 16, 8\); "
                          r"frame.sibling has offset 16, size 8 \(expected 24, 8\); "
                          r"mutex.owner_id has offset 16, size 8 \(expected 8, 8\); "
                          r"mutex.owner has offset 8, size 8 \(expected 16, 8\); "
                          r"mutex.waiters has offset 28, size 4 \(expected 24, 4\)")
    for name in ("tasks", "bt_all", "diagnose"):
        if not re.search(r"^ *note: %s%s$" % (note, COVERS), parts[name], re.M):
            raise TestFailure("%s does not report the layout table:\n%s" % (name, parts[name]))
    lines = parts["deadlocks"].strip().splitlines()
    if not re.fullmatch("note: " + note + COVERS, lines[-1]):
        raise TestFailure("info async-deadlocks does not end with the note:\n" +
                          parts["deadlocks"])
    parts["deadlocks"] = "\n".join(lines[:-1])
    check_deadlock_output(parts, ctx.dm)
    for name in ("deadlocks_json", "diagnose_json", "tasks_json"):
        d = parse_json(parts[name], name)
        errs = d.get("errors", d.get("notes"))
        if not errs or not re.fullmatch(note, errs[0]):
            raise TestFailure("%s: errors %r" % (name, errs))
    base = ctx.results["deadlock"]["doc"]
    if _json_tasks(doc) != _json_tasks(base):
        raise TestFailure("tasks read differently with the damaged table")


def _json_tasks(doc):
    return [(t["id"], t["state"], json.dumps(t.get("await"), sort_keys=True))
            for rt in doc["runtimes"] for t in rt["tasks"]]


def t_escape(ctx):
    """A task name with ESC sequences, a newline and quotes: one table line
    per task, no raw control character anywhere in the text output; the
    JSON document keeps the name as it is."""
    p = Patched(ctx)
    evil = b'e\x1b[31m\n 99 idle "x"\x1b]0;\x07'
    p.img.write(p.task[4] + p.field("task", "name"), evil + b"\0")
    parts, doc = p.run("escape")
    for name in ("tasks", "bt_all", "deadlocks", "threads", "runtimes"):
        if "\x1b" in parts[name] or "\x07" in parts[name]:
            raise TestFailure("%s printed a raw control character:\n%r" % (name, parts[name]))
    lines_match(parts["tasks"], [
        r"   4  idle .* \"e\\x1b\[31m\\n 99 idle \\\"x\\\"\\x1b\]0;\\x07\"  holder .*",
        r"   5  idle .*"], "escaped name")
    if len([l for l in parts["tasks"].splitlines() if re.match(r" +\d+  (idle|running)", l)]) != 11:
        raise TestFailure("not one line per task:\n" + parts["tasks"])
    lines_match(parts["bt_all"], [r"task 4 \"e\\x1b\[31m\\n 99 .*\" idle for .*"], "bt")
    names = [t["name"] for rt in doc["runtimes"] for t in rt["tasks"] if t["id"] == 4]
    if names != [evil.decode()]:
        raise TestFailure("JSON name %r" % names)


def t_tiny_cache(ctx):
    """With a one-block cache every read evicts the last block: the walk of
    1,501 tasks gives the same document as with the normal cache."""
    r = ctx.results.get("many")
    if r is None:
        raise TestFailure("the many-tasks test did not run")
    parts, whole = run_gdb([r["exe"], r["core"]], [
        ("small", "python import asynctrace.memory as m; m.MAX_BLOCKS = 1"),
        ("tasks_json", "info async-tasks --json"), ("deadlocks", "info async-deadlocks")])
    no_bad_output(whole, "tiny cache")
    doc = check_many(parts["tasks_json"], "tiny cache")
    if strip_volatile(doc) != strip_volatile(r["doc"]):
        raise TestFailure("a one-block cache changed the document")
    lines_match(parts["deadlocks"], [r"no wait-for cycle found; 1501 waiting tasks wait on things .*"], "deadlocks")


# -- other situations -----------------------------------------------------------------

def t_no_runtime(ctx):
    """A program without the runtime, and GDB with no process at all."""
    exe = ctx.prog("plain")
    prog = Program(exe)
    try:
        parts, whole = run_gdb(["-p", str(prog.pid)], [("tasks", "info async-tasks"),
                                                       ("bt", "async-bt all")])
        prog.release()
    finally:
        prog.kill()
    no_bad_output(whole, "plain")
    for name in ("tasks", "bt"):
        lines_match(parts[name], [
            r"asynctrace: this program does not contain the asynctrace runtime \(no symbol "
            r"asynctrace_debug and no \.asynctrace_debug section in \S+/plain.*\)"], name)
    # Stopped at main: the descriptor is statically initialised, so it
    # reads fine and lists nothing yet.
    parts, whole = run_gdb([ctx.prog("states")], [
        ("break", "break main"), ("run", "run"), ("tasks", "info async-tasks"),
        ("runtimes", "info async-runtimes"), ("threads", "info async-threads"),
        ("deadlocks", "info async-deadlocks"), ("kill", "kill")])
    no_bad_output(whole, "starti")
    lines_match(parts["tasks"], [r"no runtime exists", r"\(durations up to the moment the process "
                                 r"was stopped; gdb-live\)"], "tasks before main")
    lines_match(parts["runtimes"], [r"asynctrace debugger ABI version 3, .*generation 0",
                                    r"no runtime exists"], "runtimes before main")
    lines_match(parts["threads"], [r"no thread has polled asynctrace tasks yet"], "threads")
    lines_match(parts["deadlocks"], [r"no wait-for cycle found: no task is waiting"], "deadlocks")
    parts, whole = run_gdb([ctx.prog("states")], [("tasks", "info async-tasks")])
    no_bad_output(whole, "no process")
    lines_match(parts["tasks"], [
        r"asynctrace: there is no process or core file to read: attach to a process "
        r"\(gdb -p PID\), run the program, or load a core \(gdb PROG CORE\)"], "no process")


def t_wrong_executable(ctx):
    """A core opened with another program, and with no program at all: each
    says what is wrong; a stripped copy of the right program is accepted."""
    r = ctx.results["plain"]
    parts, whole = run_gdb([ctx.prog("deadlock"), r["core"]], [("tasks", "info async-tasks")])
    no_bad_output(whole, "wrong executable")
    lines_match(parts["tasks"], [
        r"asynctrace: wrong executable: the core was made from \S+/states, whose build id "
        r"[0-9a-f]+ differs from that of \S+/deadlock \([0-9a-f]+\): load the program the "
        r"core came from"], "wrong executable")
    parts, whole = run_gdb(["-ex", "core-file %s" % r["core"]], [("tasks", "info async-tasks")])
    no_bad_output(whole, "no executable")
    lines_match(parts["tasks"], [
        r"asynctrace: no executable: give the program file \(gdb PROG CORE, or `file PROG`\): "
        r"the core was made from \S+/states, and a core alone does not say where the "
        r"asynctrace runtime is"], "no executable")
    parts, whole = run_gdb([ctx.prog("states", True), r["core"]],
                           [("runtimes", "info async-runtimes")])
    no_bad_output(whole, "stripped copy")
    lines_match(parts["runtimes"], [r"runtime 3 at .*"], "stripped copy of the right program")
    # A program started by a relative path: the core names it so.  Read from
    # a directory where that path is another program, the core is still
    # the right program's (its file mappings say which file it was).
    here, there = os.path.join(ctx.tmp, "ran-here"), os.path.join(ctx.tmp, "read-there")
    for d, prog in ((here, "states"), (there, "deadlock")):
        os.makedirs(os.path.join(d, "bin"), exist_ok=True)
        shutil.copy(ctx.prog(prog), os.path.join(d, "bin", "states"))
    core = os.path.join(here, "relative.core")
    prog = Program("bin/states", cwd=here)
    try:
        run_gdb(["-p", str(prog.pid)], [("gcore", "generate-core-file %s" % core)],
                source=False)
    finally:
        prog.kill()
    parts, whole = run_gdb([os.path.join(here, "bin", "states"), core],
                           [("runtimes", "info async-runtimes")], cwd=there)
    no_bad_output(whole, "relative path")
    lines_match(parts["runtimes"], [r"runtime 3 at .*"],
                "a core of a program started by a relative path, read elsewhere")
    parts, whole = run_gdb([ctx.prog("deadlock"), core], [("tasks", "info async-tasks")],
                           cwd=there)
    lines_match(parts["tasks"], [
        r"asynctrace: wrong executable: the core was made from %s, whose build id "
        r"[0-9a-f]+ differs from that of \S+/deadlock \([0-9a-f]+\): load the program "
        r"the core came from" % re.escape(os.path.join(here, "bin", "states"))],
                "wrong executable, relative path")


def expect(cond, what):
    if not cond:
        raise TestFailure(what)


def gdb_scripts_entries(exe):
    """The file names in exe's .debug_gdb_scripts section."""
    out = os.path.join(tempfile.mkdtemp(prefix="asynctrace-scripts-"), "section")
    subprocess.run(["objcopy", "--dump-section", ".debug_gdb_scripts=%s" % out, exe, "/dev/null"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out, "rb") as f:
        data = f.read()
    shutil.rmtree(os.path.dirname(out))
    names = []
    for entry in data.split(b"\0"):
        if entry:
            expect(entry[:1] == b"\x01", "entry type %r" % entry[:1])
            names.append(entry[1:].decode())
    return names


def t_autoload(ctx):
    """The runtime's .debug_gdb_scripts entry names the loader by an absolute
    path: GDB loads it from there, and a planted asynctrace-gdb.py in GDB's
    current directory is never used, even with the widest safe-path."""
    r = ctx.results["plain"]
    names = gdb_scripts_entries(r["exe"])
    expect(len(names) == 1 and names[0].startswith("/") and
           names[0].endswith("/share/gdb/auto-load/asynctrace-gdb.py"),
           "the library's entry is the installed loader, absolute: %r" % names)
    tree = os.path.join(ctx.bin, "autoload", "states")
    loader = os.path.join(ROOT, "gdb", "asynctrace-gdb.py")
    expect(gdb_scripts_entries(tree) == [loader], "the tree copy's entry")
    planted = os.path.join(ctx.tmp, "planted")
    os.makedirs(planted, exist_ok=True)
    with open(os.path.join(planted, "asynctrace-gdb.py"), "w") as f:
        f.write('import gdb\ngdb.write("PLANTED LOADER RAN\\n")\n')
    for exe, loads in ((r["exe"], False), (tree, True)):
        parts, whole = run_gdb(
            [exe] + ([r["core"]] if exe == r["exe"] else []),
            [("runtimes", "info async-runtimes"),
             ("scripts", "info auto-load python-scripts")],
            source=False, cwd=planted,
            extra=["-iex", "set auto-load safe-path /", "-iex", "directory %s" % planted])
        expect("PLANTED" not in whole, "a loader in the current directory ran:\n" + whole)
        if loads:
            lines_match(parts["runtimes"], [r"asynctrace: there is no process or core file .*"],
                        "auto-loaded from the absolute entry")
            lines_match(parts["scripts"], [r"Loaded +Script *",
                                           r"Yes +%s *" % re.escape(loader)], "auto-load list")


CASES = [
    ("abi constants match abi.h", t_constants),
    ("states: attached, every task/frame/resource/thread", t_states_attach),
    ("states: program finishes after detach", t_states_continues),
    ("states: core file", t_states_core),
    ("states: agrees with the in-process snapshot", t_states_snapshot),
    ("states: both JSON writers write records.RESOURCE_FIELDS", t_resource_fields),
    ("states: stripped copy, attached", t_stripped_attach),
    ("states: stripped copy, core file", t_stripped_core),
    ("multi-thread: attached, a task stuck on a worker", t_mt_attach),
    ("multi-thread: core file", t_mt_core),
    ("multi-thread: non-stop mode, threads running: the note (all-stop: none)", t_nonstop),
    ("many tasks: cached shapes, streamed JSON, snapshot agrees", t_many),
    ("deadlock: attached", t_deadlock_attach),
    ("deadlock: core file", t_deadlock_core),
    ("deadlock: two chains of 1,500 joins", t_join_chain),
    ("corrupt: owned list cycle", t_corrupt_list_cycle),
    ("corrupt: dangling owned_next", t_corrupt_dangling),
    ("corrupt: bad task magic", t_corrupt_magic),
    ("corrupt: frames, flux, prev links, lost senders", t_corrupt_frames),
    ("corrupt: channel with no sender left", t_corrupt_channel_receiver),
    ("corrupt: descriptor version and magic", t_corrupt_descriptor),
    ("corrupt: runtime and thread lists", t_corrupt_lists),
    ("verdict: zeroed mutex magic in a cycle", t_verdict_mutex_magic),
    ("verdict: garbage root, child in another task's tree", t_verdict_garbage_root),
    ("verdict: mutex holder id against its pointer, a sleep with an object", t_verdict_holder),
    ("verdict: runtime magic, task_count, thread runtime, state, id", t_verdict_lists),
    ("verdict: NULL runtime link, NULL root, frame awaiting nothing", t_verdict_truncated),
    ("verdict: layout field outside its record", t_verdict_layout),
    ("deadlock: layout table with moved fields", t_verdict_layout_moved),
    ("escape: control characters in a task name", t_escape),
    ("tiny cache: a one-block cache reads the same", t_tiny_cache),
    ("no runtime, no process", t_no_runtime),
    ("wrong executable, no executable", t_wrong_executable),
    ("auto-load from .debug_gdb_scripts", t_autoload),
] + diagrec_cases(sys.modules[__name__])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-k", dest="only", default=None,
                    help="run the tests whose names contain one of A|B|...")
    ap.add_argument("--keep", action="store_true", help="keep cores and snapshots")
    args = ap.parse_args()
    ctx = Context(args.build, args.keep)
    passed = failed = 0
    start = time.time()
    for name, fn in CASES:
        if args.only and not any(k in name for k in args.only.split("|")):
            continue
        t0 = time.time()
        try:
            fn(ctx)
        except TestFailure as e:
            failed += 1
            print("FAIL %s (%.1fs)\n  %s" % (name, time.time() - t0,
                                            str(e).replace("\n", "\n  ")))
        except Exception:
            failed += 1
            print("FAIL %s: test error\n%s" % (name, traceback.format_exc()))
        else:
            passed += 1
            print("ok   %s (%.1fs)" % (name, time.time() - t0))
        sys.stdout.flush()
    print("gdb tests: %d passed, %d failed (%.1fs)" % (passed, failed, time.time() - start))
    if failed or args.keep:
        print("files kept in %s" % ctx.tmp)
    else:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
