#!/usr/bin/env python3
"""tests/gdb/diagnose_run.py - info async-diagnose on the hang scenarios,
finding by finding.

Each scenario of scenarios/20_* .. 30_* is run by hand to its checkpoint
("ready PID"), GDB attaches (info async-diagnose, its --json, and a core),
and, for the findings that do not depend on time, GDB reads the core too.
The checks are exact: kinds, certainty words, task ids and names, the
resource, the culprit and its state, the await or native line of each task
(from @await/@native markers in the scenario sources), the tasks behind.

Findings that need records the runtime may not keep yet (which task holds a
sender handle, a oneshot's sender, semaphore holders, a notify's last
notifier, a channel's receiver before any receive) are checked both ways:
when the trace document has the field, the proven (or likely) finding;
when it does not, the task listed under "cannot be settled" with the
reason.  The live checks of the starvation scenarios wait 200 ms first, so
the runnable tasks have waited past the threshold.

The haystack runs with 20,000 tasks here (bench/diagnose_bench.py times
100,000).

usage: tests/gdb/diagnose_run.py --build BUILD [-k SUBSTRING]
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gdbrun import ROOT, Program, TestFailure, markers, run_gdb  # noqa: E402

SCN = os.path.join(ROOT, "scenarios")
HEX = r"0x[0-9a-f]+"
BAD = ("Traceback", "Python Exception", "internal error", "Error occurred in Python")
COMMANDS = [("diag", "info async-diagnose"), ("diag_json", "info async-diagnose --json"),
            ("tasks_json", "info async-tasks --json")]


def parse_json(text, what):
    start = text.find("{")
    if start < 0:
        raise TestFailure("%s printed no JSON: %r" % (what, text[:300]))
    return json.loads(text[start:])


class Reading(object):
    """What GDB said about one scenario (attached or from its core)."""

    def __init__(self, parts, what):
        for name, text in parts.items():
            for bad in BAD:
                if bad in text:
                    raise TestFailure("%s: %s printed %r:\n%s" % (what, name, bad, text))
        self.what = what
        self.text = parts["diag"]
        self.rep = parse_json(parts["diag_json"], what + " diagnose --json")
        self.doc = parse_json(parts["tasks_json"], what + " tasks --json")

    def resource(self, tid):
        """The first leaf resource of task `tid` in the trace document."""
        for rt in self.doc["runtimes"]:
            for t in rt["tasks"]:
                if t["id"] == tid:
                    stack = [t["await"]] if t["await"] else []
                    while stack:
                        f = stack.pop()
                        if f.get("resource"):
                            return f["resource"]
                        stack.extend(f["children"])
        raise TestFailure("%s: task %d has no resource" % (self.what, tid))

    def records(self, tid, field):
        res = self.resource(tid)
        return field in res and res[field] not in (None, 0, [])

    def fail(self, msg):
        raise TestFailure("%s: %s\n--- info async-diagnose:\n%s" % (self.what, msg, self.text))

    def kinds(self):
        return [(f["kind"], f["certainty"]) for f in self.rep["findings"]]

    def expect_kinds(self, want):
        if self.kinds() != want:
            self.fail("findings %r, expected %r" % (self.kinds(), want))

    def finding(self, i, kind, certainty, tasks, behind=None, title=None, culprit=None,
                resource=None):
        """Finding i: its kind, certainty, tasks [(id, name, line)], ids
        behind it, a regex for its title, culprit (id, state), resource kind."""
        fs = self.rep["findings"]
        if i >= len(fs):
            self.fail("no finding %d" % (i + 1))
        f = fs[i]
        if (f["kind"], f["certainty"]) != (kind, certainty):
            self.fail("finding %d is %s/%s, expected %s/%s" % (
                i + 1, f["kind"], f["certainty"], kind, certainty))
        got = [(e["task"], e["name"], (e.get("at") or {}).get("line")) for e in f["tasks"]]
        if tasks is not None and got != tasks:
            self.fail("finding %d names %r, expected %r" % (i + 1, got, tasks))
        for e in f["tasks"]:
            if e.get("for_ns") is None or e["for_ns"] < 0:
                self.fail("finding %d: task %d has no duration" % (i + 1, e["task"]))
        if behind is not None and [b["task"] for b in f["behind"]["tasks"]] != behind:
            self.fail("finding %d: behind %r, expected %r" % (
                i + 1, [b["task"] for b in f["behind"]["tasks"]], behind))
        if title is not None and not re.match(title + "$", f["title"]):
            self.fail("finding %d title %r does not match %r" % (i + 1, f["title"], title))
        if culprit is not None:
            c = f["culprit"] or {}
            if (c.get("task"), c.get("state")) != culprit:
                self.fail("finding %d culprit %r, expected %r" % (i + 1, c, culprit))
        if resource is not None and (f["resource"] or {}).get("kind") != resource:
            self.fail("finding %d resource %r, expected %s" % (i + 1, f["resource"], resource))
        return f

    def unsettled(self, kind, ids, why, behind):
        for u in self.rep["unsettled"]:
            if u["kind"] == kind and [t["task"] for t in u["tasks"]] == ids:
                if u["why"] != why or u["behind"]["count"] != behind:
                    self.fail("unsettled %s: %r / %d behind, expected %r / %d" % (
                        kind, u["why"], u["behind"]["count"], why, behind))
                return
        self.fail("no unsettled %s entry for %r" % (kind, ids))

    def lines(self, patterns):
        lines = self.text.splitlines()
        pos = 0
        for pat in patterns:
            rx = re.compile(pat + "$")
            for i in range(pos, len(lines)):
                if rx.match(lines[i]):
                    pos = i + 1
                    break
            else:
                self.fail("no line matches %r after line %d" % (pat, pos))

    def never_no_deadlock(self):
        if "no deadlock" in self.text:
            self.fail("the diagnosis says 'no deadlock'")


# -- the scenarios -------------------------------------------------------------------

def c20(r, m, core):
    r.expect_kinds([("holder-gone", "proven")])
    f = r.finding(0, "holder-gone", "proven", [(3, "teller", m["await:keeper_lock"])],
                  behind=[1], culprit=(2, "cancelled"), resource="mutex",
                  title=r'mutex %s is held by task 2 "holder", which was cancelled while '
                        r'holding it(; it took the lock at vault_keeper '
                        r'20_holder_cancelled.c:%d)?' % (HEX, m["await:keeper_lock"]))
    if "took_lock_at" in (f["culprit"] or {}) and \
            f["culprit"]["took_lock_at"]["line"] != m["await:keeper_lock"]:
        r.fail("lock site %r" % f["culprit"]["took_lock_at"])
    r.lines([r"1\. mutex %s is held by task 2 \"holder\", which was cancelled while holding "
             r"it.*" % HEX,
             r"  proven: the holder can no longer unlock it",
             r"  task 3 \"teller\" waits at vault_keeper 20_holder_cancelled.c:%d for (at least )?\S+ "
             r"on mutex %s" % (m["await:keeper_lock"], HEX),
             r"  stuck behind it: 1 task: 1 \"main\" \(join on task 3\)"])


def c21(r, m, core):
    r.expect_kinds([("holder-gone", "proven")] * 2)
    line = m["await:use_book"]
    r.finding(0, "holder-gone", "proven", [(4, "auditor", line)], behind=[1],
              culprit=(2, "complete"),
              title=r'mutex %s is held by task 2 "leaky", which finished \(complete\) '
                    r'without releasing it.*' % HEX)
    r.finding(1, "holder-gone", "proven", [(5, "archiver", line)], behind=[],
              culprit=(3, "gone"),
              title=r"mutex %s is held by task 3, which no longer exists \(it finished and "
                    r"was freed\).*" % HEX)


def c22(r, m, core):
    if r.records(3, "sender_tasks"):
        r.expect_kinds([("no-provider", "likely")])
        r.finding(0, "no-provider", "likely", [(3, "worker", m["await:worker"])], behind=[1],
                  culprit=(2, "complete"), resource="channel-recv",
                  title=r'channel %s is empty and its sender handle is leaked: held only by '
                        r'task 2 "producer" \(complete\)' % HEX)
    else:
        r.expect_kinds([])
        r.unsettled("channel-recv", [3], "who holds its 1 sender handle(s) is not recorded", 1)
    r.never_no_deadlock()


def c23(r, m, core):
    if r.records(3, "last_notifier"):
        r.expect_kinds([("lost-notify", "likely")])
        r.finding(0, "lost-notify", "likely", [(3, "listener", m["await:listener"])],
                  behind=[1], culprit=(2, "complete"), resource="notify")
    else:
        r.expect_kinds([])
        r.unsettled("notify", [3], "any task may notify it; the runtime does not record "
                    "who can", 1)
    r.never_no_deadlock()


def c24(r, m, core):
    if r.records(3, "sender_task"):
        r.expect_kinds([("no-provider", "likely")])
        r.finding(0, "no-provider", "likely", [(3, "client", m["await:client"])], behind=[1],
                  culprit=(2, "complete"), resource="oneshot",
                  title=r'oneshot %s will never complete: its sender is held by task 2 '
                        r'"server" \(complete\)' % HEX)
    else:
        r.expect_kinds([])
        r.unsettled("oneshot", [3], "the holder of its sender is not recorded", 1)


def c25(r, m, core):
    if r.records(4, "holders"):
        r.expect_kinds([("leaked-permits", "likely")])
        r.finding(0, "leaked-permits", "likely", [(4, "client", m["await:use_pool"])],
                  behind=[1], culprit=(2, "complete"), resource="semaphore",
                  title=r'semaphore %s: 2 of 3 permits leaked by tasks that exited: task 2 '
                        r'"leaker" \(complete\) holds 2' % HEX)
    else:
        r.expect_kinds([])
        r.unsettled("semaphore", [4], "who holds its permits is not recorded", 1)


def c26(r, m, core):
    line = m["await:peer_send"]
    if r.records(2, "receiver_task"):
        r.expect_kinds([("cycle", "proven")])
        f = r.finding(0, "cycle", "proven", [(2, "ping", line), (3, "pong", line)], behind=[1],
                      title=r"deadlock: 2 tasks wait for each other in a cycle "
                            r"\(channel-send\): 2 -> 3 -> 2")
        if [e["waits_on_task"] for e in f["tasks"]] != [3, 2]:
            r.fail("cycle edges %r" % f["tasks"])
    else:
        r.expect_kinds([])
        r.unsettled("channel-send", [2, 3], "the channel's receiver is not recorded", 1)


def c27(r, m, core):
    r.expect_kinds([("blocked-syscall", "likely"), ("all-workers-blocked", "likely")])
    line = m["native:refresh"]
    f = r.finding(0, "blocked-syscall", "likely", [(2, "cache", line)], behind=[3, 1],
                  title=r'task 2 "cache" is blocked in read\(\) inside its poll, at refresh '
                        r'27_holder_in_syscall.c:%d' % line)
    if f["tasks"][0].get("syscall") != "read" or not f["tasks"][0].get("lwp"):
        r.fail("syscall/lwp %r" % f["tasks"][0])
    r.finding(1, "all-workers-blocked", "likely", [(2, "cache", line)],
              title=r"every worker of runtime 1 \(current-thread, 1 worker\) is stuck inside "
                    r"a poll: nothing else on it can run; 0 tasks are runnable")
    r.lines([r"1\. task 2 \"cache\" is blocked in read\(\) inside its poll, at refresh "
             r"27_holder_in_syscall.c:%d" % line,
             r"  likely: the system call may still return; until it does, the thread runs "
             r"nothing else",
             r"  task 2 \"cache\" \(running\) on LWP \d+ in read\(\) at refresh "
             r"27_holder_in_syscall.c:%d for (at least )?\S+" % line,
             r"  stuck behind it: 2 tasks: 3 \"lookup\" \(mutex on task 2\), 1 \"main\" "
             r"\(join on task 3\)"])


def c28(r, m, core):
    a, b = m["native:read_a"], m["native:read_b"]
    r.expect_kinds([("blocked-syscall", "likely")] * 2 + [("all-workers-blocked", "likely"),
                                                           ("starvation", "likely")])
    r.finding(0, "blocked-syscall", "likely", [(2, "reader-a", a)], behind=[1])
    r.finding(1, "blocked-syscall", "likely", [(3, "reader-b", b)], behind=[])
    r.finding(2, "all-workers-blocked", "likely", [(2, "reader-a", a), (3, "reader-b", b)],
              title=r"every worker of runtime 1 \(multi-thread, 2 workers\) is stuck inside a "
                    r"poll: nothing else on it can run; 2 tasks are runnable")
    f = r.finding(3, "starvation", "likely", None)  # longest first: either order
    if sorted(e["task"] for e in f["tasks"]) != [4, 5] or \
            any(e["for_ns"] < 100000000 for e in f["tasks"]):
        r.fail("starving tasks %r" % f["tasks"])
    if f["why"] != "they are scheduled but every worker is stuck inside a poll (see above)":
        r.fail("starvation why %r" % f["why"])


def c29(r, m, core):
    line = m["native:hog"]
    r.expect_kinds([("no-yield", "likely"), ("all-workers-blocked", "likely"),
                    ("starvation", "likely")])
    r.finding(0, "no-yield", "likely", [(2, "hog", line)], behind=[1],
              title=r'task 2 "hog" is running inside its poll without yielding, at hog '
                    r'29_starvation.c:%d' % line)
    f = r.rep["findings"][2]
    if sorted(e["task"] for e in f["tasks"]) != [3, 4, 5] or \
            any(e["for_ns"] < 100000000 for e in f["tasks"]):
        r.fail("starving tasks %r" % f["tasks"])
    r.lines([r"3\. 3 runnable tasks waited long to be polled \(the longest .*\)",
             r"  likely: they are scheduled but every worker is stuck inside a poll "
             r"\(see above\)"])


def c30(r, m, core):
    r.expect_kinds([("cycle", "proven")])
    line = m["await:needle"]
    r.finding(0, "cycle", "proven", [(10000, "needle-a", line), (10001, "needle-b", line)],
              behind=[])
    r.unsettled("notify", list(range(2, 102)), "any task may notify it; the runtime does "
                "not record who can", 0)
    if r.rep["unsettled"][0]["count"] != 6666 or r.rep["tasks"] != 20000:
        r.fail("unsettled count %r" % r.rep["unsettled"][0]["count"])
    if r.rep["waiting_on_movable"]["count"] != 6665 or r.rep["sleeping"]["count"] != 6667:
        r.fail("movable %r, sleeping %r" % (r.rep["waiting_on_movable"]["count"],
                                            r.rep["sleeping"]["count"]))
    if len(r.text.splitlines()) > 20:
        r.fail("the report of 20,000 tasks is longer than a screen")
    r.lines([r"asynctrace diagnosis: 20000 tasks in 1 runtime, 20000 waiting; 1 finding "
             r"\(1 proven\), 0 tasks stuck behind them",
             r"1\. deadlock: 2 tasks wait for each other in a cycle \(mutex\): "
             r"10000 -> 10001 -> 10000",
             r"cannot be settled from memory: 6666 tasks wait on what this analysis cannot "
             r"decide:",
             r"6665 tasks wait on other tasks that are not proven stuck",
             r"6667 tasks asleep \(the next due in .*\)"])


# name, check, also on the core, seconds to wait before attaching
SCENARIOS = [
    ("20_holder_cancelled", c20, True, 0),
    ("21_holder_finished", c21, True, 0),
    ("22_leaked_sender", c22, True, 0),
    ("23_lost_notify", c23, True, 0),
    ("24_oneshot_never_sent", c24, True, 0),
    ("25_leaked_permits", c25, True, 0),
    ("26_channel_cycle", c26, True, 0),
    ("27_holder_in_syscall", c27, True, 0),
    ("28_all_workers_blocked", c28, False, 0.2),
    ("29_starvation", c29, False, 0.2),
    ("30_haystack", c30, True, 0),
]


def run_one(build, tmp, name, check, on_core, wait):
    exe = os.path.join(build, "scenarios", name)
    m = markers(os.path.join(SCN, name + ".c"))
    core = os.path.join(tmp, name + ".core")
    prog = Program(exe, env={"ASYNCTRACE_HAYSTACK_TASKS": "20000"}, timeout=60)
    try:
        time.sleep(wait)
        parts, _ = run_gdb(["-p", str(prog.pid)], COMMANDS +
                           ([("gcore", "generate-core-file %s" % core)] if on_core else []),
                           timeout=120)
    finally:
        prog.kill()
    check(Reading(parts, name + " attached"), m, False)
    if on_core:
        parts, _ = run_gdb([exe, core], COMMANDS, timeout=120)
        check(Reading(parts, name + " core"), m, True)
        os.unlink(core)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-k", dest="only", default=None)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix="asynctrace-diagtest-")
    passed = failed = 0
    start = time.time()
    for name, check, on_core, wait in SCENARIOS:
        if args.only and args.only not in name:
            continue
        t0 = time.time()
        try:
            run_one(build, tmp, name, check, on_core, wait)
        except TestFailure as e:
            failed += 1
            print("FAIL %s (%.1fs)\n  %s" % (name, time.time() - t0,
                                            str(e).replace("\n", "\n  ")))
        except Exception:
            failed += 1
            print("FAIL %s: test error\n%s" % (name, traceback.format_exc()))
        else:
            passed += 1
            print("ok   diagnose %s (%.1fs)" % (name, time.time() - t0))
        sys.stdout.flush()
    print("diagnose tests: %d passed, %d failed (%.1fs)" % (passed, failed,
                                                          time.time() - start))
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
