#!/usr/bin/env python3
"""tests/gdb/conventions.py - the extension follows GDB's conventions, with
real GDB in batch mode on the test programs:

- options in GDB's style (`-json`, `--json` aliases, unique prefixes) and
  completion of options, their values, states and task ids;
- one-sentence help summaries (`help`, `apropos`), `set/show asynctrace`
  parameters and their effect;
- output only through GDB's stream: `pipe`, `gdb.execute(...,
  to_string=True)`, `-output FILE` and MI, on 5,000 tasks;
- GDB's own views: the frame filter in `bt`, `async-bt` without arguments,
  `async-task N`, $_async_task() and $_async_task_name(), GDB thread
  numbers, the Python API.

usage: tests/gdb/conventions.py --build BUILD [-k SUBSTRING]
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gdbrun import LOADER, Program, TestFailure, markers, run_gdb  # noqa: E402

PROGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs")
BAD = ("Traceback", "Python Exception", "internal error", "Error occurred in Python")
MANY = 5000  # tasks of the output tests (plus main)
COMMANDS = ("info async-tasks", "async-bt", "info async-threads", "info async-runtimes",
            "info async-deadlocks", "async-task")


def no_bad(text, what):
    for bad in BAD:
        if bad in text:
            raise TestFailure("%s printed %r:\n%s" % (what, bad, text[-2000:]))


def lines_of(text):
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def equal(got, want, what):
    if got != want:
        raise TestFailure("%s:\n  got  %r\n  want %r" % (what, got, want))


def match_lines(text, patterns, what):
    """Each regex matches a whole line, in order (other lines may come between)."""
    lines = lines_of(text)
    pos = 0
    for pat in patterns:
        rx = re.compile(pat + "$")
        for i in range(pos, len(lines)):
            if rx.match(lines[i]):
                pos = i + 1
                break
        else:
            raise TestFailure("%s: no line matches %r after line %d:\n%s"
                              % (what, pat, pos, text[-3000:]))


class Context(object):
    def __init__(self, build):
        self.bin = os.path.join(os.path.abspath(build), "gdbtests")
        self.tmp = tempfile.mkdtemp(prefix="asynctrace-conv-")
        self.m = markers(os.path.join(PROGS, "states.c"))

    def prog(self, name):
        return os.path.join(self.bin, name)

    def gdb(self, prog, commands, env=None):
        p = Program(self.prog(prog), env=env)
        try:
            parts, whole = run_gdb(["-p", str(p.pid)], commands)
        finally:
            p.kill()
        no_bad(whole, prog)
        return parts, p.pid


# -- options, completion, help, parameters -------------------------------------------------

def t_completion(ctx):
    """complete: option names, option values, states, task ids."""
    parts, _ = ctx.gdb("states", [
        ("opts", "complete info async-tasks -"),
        ("long", "complete info async-tasks --st"),
        ("state", "complete info async-tasks -state "),
        ("state_i", "complete info async-tasks -json --state i"),
        ("runtime", "complete info async-tasks -runtime "),
        ("bt", "complete async-bt "),
        ("bt1", "complete async-bt 1"),
        ("bt_opt", "complete async-bt -f"),
        ("task", "complete async-task 1"),
        ("threads", "complete info async-threads -"),
        ("deadlocks", "complete info async-deadlocks -o"),
        ("set", "complete set asynctrace "),
        ("group", "complete info async-tasks -group "),
        ("sort", "complete async-bt -sort "),
        ("waits", "complete info async-tasks -waits-for mu"),
    ])
    equal(lines_of(parts["opts"]), ["info async-tasks -" + o for o in sorted(
        ("json", "name", "output", "runtime", "state", "waits-for", "at", "min-wait",
         "spawned-at", "descendants-of", "sort", "limit", "group"))], "options")
    equal(lines_of(parts["group"]), ["info async-tasks -group " + k for k in
                                     ("chain", "resource", "spawn", "state", "where")],
          "-group keys")
    equal(lines_of(parts["sort"]), ["async-bt -sort " + k for k in ("id", "polls", "wait")],
          "-sort keys")
    equal(lines_of(parts["waits"]), ["info async-tasks -waits-for mutex"], "resource kinds")
    equal(lines_of(parts["long"]), ["info async-tasks --state"], "--st")
    equal(lines_of(parts["state"]), ["info async-tasks -state " + s for s in
                                     ("cancelled", "complete", "idle", "running", "scheduled")],
          "states")
    equal(lines_of(parts["state_i"]), ["info async-tasks -json --state idle"], "state i")
    equal(lines_of(parts["runtime"]), ["info async-tasks -runtime %d" % i for i in (1, 2, 3)],
          "runtime ids")
    equal(lines_of(parts["bt"]), ["async-bt " + w for w in sorted(
        ["-full", "-output", "-state", "-name", "-waits-for", "-at", "-min-wait", "-spawned-at",
         "-descendants-of", "-sort", "-limit", "-group", "all"] +
        [str(i) for i in range(1, 12)])], "async-bt ids")
    equal(lines_of(parts["bt1"]), ["async-bt 1", "async-bt 10", "async-bt 11"], "ids 1*")
    equal(lines_of(parts["bt_opt"]), ["async-bt -full"], "-f")
    equal(lines_of(parts["task"]), ["async-task 1", "async-task 10", "async-task 11"], "task")
    equal(lines_of(parts["threads"]), ["info async-threads -json",
                                       "info async-threads -output"], "threads options")
    equal(lines_of(parts["deadlocks"]), ["info async-deadlocks -output"], "-o")
    equal(lines_of(parts["set"]), ["set asynctrace " + p for p in
                                   ("color", "full", "group-by", "json-indent-limit",
                                    "max-tasks", "width")], "parameters")


def t_help(ctx):
    """help and apropos: a whole sentence per command; usage from the table."""
    parts, _ = ctx.gdb("states", [("apropos", "apropos asynctrace"),
                                  ("help", "help info async-tasks"),
                                  ("help_bt", "help async-bt")])
    listed = {}
    for line in lines_of(parts["apropos"]):
        name, sep, summary = line.partition(" -- ")
        if sep:
            listed[name] = summary
    for cmd in COMMANDS:
        summary = listed.get(cmd)
        if summary is None:
            raise TestFailure("apropos asynctrace does not list %s:\n%s"
                              % (cmd, parts["apropos"]))
        if not re.match(r"^[A-Z].*[A-Za-z)]\.$", summary) or len(summary) > 80:
            raise TestFailure("summary of %s is not one whole sentence: %r" % (cmd, summary))
    match_lines(parts["help"], [
        r"List every asynctrace task, with its state and where it waits\.",
        r"Usage: info async-tasks \[-json\] \[-runtime ADDR\|ID\] \[-state STATE\] "
        r"\[-name GLOB\] .* \[-group \[KEY\]\] \[-output FILE\]",
        r"  -json +print the trace document \(docs/trace-format\.md\) \(also --json\)",
        r"  -state STATE +only tasks in STATE .*\(also --state\)"], "help info async-tasks")
    match_lines(parts["help_bt"], [
        r"Print the await backtrace of asynctrace tasks\.",
        r"Usage: async-bt \[-full\] \[-state STATE\] .* \[-output FILE\] \[ID\.\.\.\|all\]"],
        "help async-bt")


def t_options(ctx):
    """-json, --json, --state=idle, -st idle (prefix), -- end the same."""
    parts, _ = ctx.gdb("states", [
        ("a", "info async-tasks -state idle -name h*"),
        ("b", "info async-tasks --state=idle --name=h*"),
        ("c", "info async-tasks -st idle -n h*"),
        ("j1", "info async-runtimes -json"),
        ("j2", "info async-runtimes --json"),
        ("bt", "async-bt -- 5")])
    def rows(k):  # id, state, name and WHERE (not the time, which moves)
        return [(r.split()[:2], r.split('  "', 1)[1]) for r in lines_of(parts[k])
                if re.match(r"^ +\d+ ", r)]
    equal([r[0] for r in rows("a")], [["4", "idle"]], "-state idle -name h*")
    for k in ("b", "c"):
        equal(rows(k), rows("a"), "option spelling " + k)
    d1, d2 = json.loads(parts["j1"]), json.loads(parts["j2"])
    equal(sorted(t["id"] for r in d1["runtimes"] for t in r["tasks"]), list(range(1, 12)),
          "-json")
    equal(len(d1["runtimes"]), len(d2["runtimes"]), "--json")
    match_lines(parts["bt"], [r"task 5 \"transfer\" idle for \S+, worker 0, 1 poll"], "--")


def t_parameters(ctx):
    """set/show asynctrace: defaults and their effect."""
    out = os.path.join(ctx.tmp, "indent.json")
    parts, _ = ctx.gdb("states", [
        ("show", "show asynctrace max-tasks"),
        ("set", "set asynctrace max-tasks 2"),
        ("show2", "show asynctrace max-tasks"),
        ("tasks", "info async-tasks"),
        ("bt_all", "async-bt all"),
        ("unset", "set asynctrace max-tasks unlimited"),
        ("full", "set asynctrace full on"),
        ("bt_full", "async-bt 5"),
        ("nofull", "set asynctrace full off"),
        ("width", "set asynctrace width 40"),
        ("narrow", "info async-tasks"),
        ("wide", "set asynctrace width unlimited"),
        ("color", "set asynctrace color on"),
        ("colored", "info async-tasks -state idle"),
        ("nocolor", "set asynctrace color off"),
        ("plain", "info async-tasks -state idle"),
        ("indent0", "set asynctrace json-indent-limit 0"),
        ("compact", "info async-runtimes -json"),
        ("bad", "set asynctrace max-tasks many"),
        ("group", "show asynctrace group-by"),
        ("group_set", "set asynctrace group-by state"),
        ("grouped", "info async-tasks"),
        ("ungrouped", "info async-tasks -group none")])
    equal(lines_of(parts["show"]), ["asynctrace max-tasks is unlimited."], "show")
    equal(lines_of(parts["show2"]), ["asynctrace max-tasks is 2."], "show after set")
    match_lines(parts["tasks"], [
        r"runtime 1 \(current-thread, 1 worker\) at 0x[0-9a-f]+: 2 tasks shown of 9",
        r" +3  idle .*", r" +4  idle .*",
        r"runtime 2 .*: 0 tasks shown of 1", r"runtime 3 .*: 0 tasks shown of 1",
        r"\(9 more tasks not shown: set asynctrace max-tasks\)"], "max-tasks table")
    equal(re.findall(r"^task (\d+) ", parts["bt_all"], re.M), ["1", "2"], "max-tasks bt all")
    match_lines(parts["bt_all"], [r"\.\.\. 9 more tasks \(set asynctrace max-tasks\)"], "bt")
    match_lines(parts["bt_full"], [r"       leaf at runtime/src/\S+:\d+, frame 0x[0-9a-f]+"],
                "full on")
    if max(len(line) for line in lines_of(parts["narrow"])) > 40:
        raise TestFailure("width 40 left longer lines:\n" + parts["narrow"])
    match_lines(parts["narrow"], [r"   5  idle .*~"], "width cut")
    if "\x1b[33midle\x1b[0m" not in parts["colored"]:
        raise TestFailure("color on: no coloured state:\n%r" % parts["colored"])
    if "\x1b[" in parts["plain"]:
        raise TestFailure("color off still has escapes")
    compact = parts["compact"].strip()
    if "\n" in compact or not compact.startswith('{"format":"asynctrace-trace"'):
        raise TestFailure("json-indent-limit 0: document not compact:\n" + compact[:300])
    match_lines(parts["bad"], [r"No symbol \"many\" in current context\."], "bad value")
    equal(lines_of(parts["group"]), ["asynctrace group-by is none."], "group-by")
    match_lines(parts["grouped"], [r"11 tasks in 2 groups by state.*"], "group-by state")
    match_lines(parts["ungrouped"], [r"runtime 1 \(current-thread, 1 worker\) at .*"],
                "-group none")


# -- output through GDB ------------------------------------------------------------------

def t_output(ctx):
    """5,000 tasks: pipe, to_string, -output FILE give the same document."""
    path = os.path.join(ctx.tmp, "many.json")
    script = os.path.join(ctx.tmp, "capture.py")
    with open(script, "w") as f:
        f.write("import gdb, json\n"
                "s = gdb.execute('info async-tasks -json', to_string=True)\n"
                "d = json.loads(s)\n"
                "gdb.write('captured %d chars, %d tasks\\n' % (len(s), "
                "sum(len(r['tasks']) for r in d['runtimes'])))\n")
    parts, _ = ctx.gdb("many", [
        ("pipe", "pipe info async-tasks -json | wc -c"),
        ("file", "info async-tasks -json -output %s" % path),
        ("capture", "source %s" % script),
        ("table", "pipe info async-tasks | grep -c shaped")], env={"AT_TEST_TASKS": str(MANY)})
    with open(path) as f:
        text = f.read()
    doc = json.loads(text)
    ids = [t["id"] for r in doc["runtimes"] for t in r["tasks"]]
    equal(ids, list(range(1, MANY + 2)), "-output document task ids")
    equal(lines_of(parts["file"]), ["asynctrace: wrote %d bytes to %s" % (len(text), path)],
          "-output message")
    equal(lines_of(parts["pipe"]), [str(len(text.encode()))], "pipe | wc -c")
    equal(lines_of(parts["capture"]), ["captured %d chars, %d tasks" % (len(text), MANY + 1)],
          "to_string")
    equal(lines_of(parts["table"]), [str(MANY)], "pipe | grep -c")


def t_mi(ctx):
    """gdb -i=mi on 5,000 tasks: the table and a -json document arrive as
    console stream records only; -output FILE writes the whole document
    and answers with one record.  (GDB 13 writes MI stream records one byte
    per system call, so the whole 5 MB document is only sent to a file.)"""
    path = os.path.join(ctx.tmp, "mi.json")
    p = Program(ctx.prog("many"), env={"AT_TEST_TASKS": str(MANY)})
    try:
        args = ["gdb", "-nx", "-q", "-i=mi", "-p", str(p.pid)]
        cmds = ("-interpreter-exec console \"source %s\"\n" % LOADER +
                "-interpreter-exec console \"info async-tasks\"\n"
                "-interpreter-exec console \"info async-tasks -json -name main\"\n"
                "-interpreter-exec console \"info async-tasks -json -output %s\"\n" % path +
                "-gdb-exit\n")
        r = subprocess.run(args, input=cmds.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=300)
    finally:
        p.kill()
    out = r.stdout.decode("utf-8", "replace")
    streams = [[]]
    for line in out.splitlines():
        if line.rstrip() == "(gdb)":
            continue
        m = re.match(r'^(\d*)([~@&^*=+])(.*)$', line)
        if not m:
            raise TestFailure("MI output has a line that is no MI record: %r" % line[:200])
        kind, body = m.group(2), m.group(3)
        if kind == "~":
            streams[-1].append(json.loads(body))  # an MI C string is a JSON string here
        elif kind == "^":
            if body.startswith("exit"):
                continue
            if not body.startswith("done"):
                raise TestFailure("MI command failed: %s" % line[:300])
            streams.append([])
    texts = ["".join(x) for x in streams]
    if len(texts) < 5:
        raise TestFailure("MI: expected 4 ^done records:\n%s" % out[-2000:])
    rows = [line for line in texts[1].splitlines() if "\"shaped\"" in line]
    equal(len(rows), MANY, "MI table rows")
    doc = json.loads(texts[2])
    equal([t["name"] for r in doc["runtimes"] for t in r["tasks"]], ["main"], "MI -json")
    with open(path) as f:
        whole = f.read()
    ids = [t["id"] for r in json.loads(whole)["runtimes"] for t in r["tasks"]]
    equal(ids, list(range(1, MANY + 2)), "MI -output document")
    equal(texts[3], "asynctrace: wrote %d bytes to %s\n" % (len(whole), path), "MI -output")


# -- GDB's own views ----------------------------------------------------------------------

def t_frames(ctx):
    """bt with the frame filter; async-bt without argument; async-task;
    convenience functions; GDB thread numbers."""
    m = ctx.m
    parts, pid = ctx.gdb("states", [
        ("fn_main", "print $_async_task()"),
        ("name_main", "print $_async_task_name()"),
        ("task_idle", "async-task 5"),
        ("thread", "thread 2"),
        ("bt", "bt"),
        ("fn", "print $_async_task()"),
        ("name", "print $_async_task_name()"),
        ("name5", "print $_async_task_name(5)"),
        ("name99", "print $_async_task_name(99)"),
        ("abt", "async-bt"),
        ("back", "thread 1"),
        ("task", "async-task 1"),
        ("which", "thread"),
        ("frame", "frame"),
        ("nofilter", "bt -no-filters 3")])
    equal(lines_of(parts["fn_main"]), ["$1 = 0"], "$_async_task() on the main thread")
    equal(lines_of(parts["name_main"]), ['$2 = ""'], "$_async_task_name() on main")
    match_lines(parts["task_idle"], [
        r"task 5 \"transfer\" is idle: suspended at an await, not on any thread "
        r"\(no thread to select\)",
        r"task 5 \"transfer\" idle for \S+, worker 0, 1 poll",
        r"  #1  lock_account at states.c:%d" % m["await:lock_account"]], "async-task 5")
    match_lines(parts["bt"], [
        r"#\d+ +0x[0-9a-f]+ in wait_pipe \(\) at tests/gdb/progs/states.c:%d"
        % m["native:wait_pipe"],
        r"#\d+ +0x[0-9a-f]+ in inner_work_poll \[async inner_work at states.c:%d\] \(.*"
        % m["site:inner_work"],
        r"#\d+ +at_root_poll \[task 2 \"inner\"\] \(.*",
        r"#\d+ +0x[0-9a-f]+ in blocking_step_poll \[async blocking_step at states.c:%d\] .*"
        % m["site:blocking_step"],
        r"#\d+ +outer_poll \[async outer at states.c:%d\] .*" % m["await:outer"],
        r"#\d+ +at_root_poll \[task 1 \"outer\"\] \(.*",
        r"#\d+ +0x[0-9a-f]+ in blocker_main .*"], "bt with the frame filter")
    equal(lines_of(parts["fn"]), ["$3 = 2"], "$_async_task() on thread 2")
    equal(lines_of(parts["name"]), ['$4 = "inner"'], "$_async_task_name()")
    equal(lines_of(parts["name5"]), ['$5 = "transfer"'], "$_async_task_name(5)")
    equal(lines_of(parts["name99"]), ['$6 = ""'], "$_async_task_name(99)")
    match_lines(parts["abt"], [
        r"task 2 \"inner\" running for \S+, on LWP \d+ \(thread 2\), worker 0, 1 poll, "
        r"flags: block-on",
        r"  native frames of LWP \d+ \(thread 2\), down to at_root_poll:",
        r"task 1 \"outer\" running for \S+, on LWP \d+ \(thread 2\), .*"], "async-bt")
    match_lines(parts["task"], [r"\[Switching to thread 2 \(LWP \d+\), polling task 1 "
                                r"\"outer\"\]",
                                r"#\d+ +at_root_poll \(.*"], "async-task 1")
    match_lines(parts["which"], [r"\[Current thread is 2 .*"], "selected thread")
    match_lines(parts["frame"], [r"#\d+ +at_root_poll \(.*"], "selected frame")
    if "[task" in parts["nofilter"] or "[async" in parts["nofilter"]:
        raise TestFailure("bt -no-filters still decorated:\n" + parts["nofilter"])


def t_printers(ctx):
    """A pretty printer for every public type."""
    parts, _ = ctx.gdb("states", [
        ("mutex", "print bank"), ("chan", "print *inbox"), ("join", "print holder_h"),
        ("notify", "print go"), ("oneshot", "print *reply"), ("sem", "print spare"),
        ("runtime", "print *rt_main"), ("task", "print *holder_h.task"),
        ("frame", "print *holder_h.task->root"), ("raw", "print/r spare.permits")])
    m = ctx.m
    hexa = r"0x[0-9a-f]+"
    want = {
        "mutex": r"\$1 = mutex held by task 4, locked in holder at \S*states\.c:%d, 1 waiter"
                 % m["lock:holder"],
        "chan": r"\$2 = channel 0/4, senders: 1, receiver task 7",
        "join": r"\$3 = join handle of task 4 \"holder\" idle for \S+, 1 poll, holder "
                r"states.c:%d  -> notify %s \(4 waiters\)" % (m["await:holder"], hexa),
        "notify": r"\$4 = notify, 4 waiters",
        "oneshot": r"\$5 = oneshot, receiver task 10",
        "sem": r"\$6 = semaphore, 3 permits available \(0 of 3 taken\), 0 waiters",
        "runtime": r"\$7 = runtime 1: current-thread, 1 worker, 9 tasks, 9 spawned in total",
        "task": r"\$8 = task 4 \"holder\" idle for \S+, 1 poll, holder states.c:%d  -> "
                r"notify %s \(4 waiters\)" % (m["await:holder"], hexa),
        "frame": r"\$9 = async frame holder at tests/gdb/progs/states.c:%d, awaiting "
                 r"at_notify_wait" % m["await:holder"],
        "raw": r"\$10 = 3",
    }
    for name, pat in want.items():
        match_lines(parts[name], [pat], "print " + name)


def t_python_api(ctx):
    """asynctrace.tasks(), runtimes(), threads() for user scripts."""
    script = os.path.join(ctx.tmp, "api.py")
    with open(script, "w") as f:
        f.write("import asynctrace\n"
                "for t in asynctrace.tasks():\n"
                "    print(t.id, t.name, t.state, t.thread is not None)\n"
                "print([r.id for r in asynctrace.runtimes()])\n"
                "print([(th.lwp, th.task) for th in asynctrace.threads()"
                " if th.task is not None][0][1])\n"
                "print([t.id for t in asynctrace.tasks(state='running')])\n")
    parts, _ = ctx.gdb("states", [("api", "source %s" % script)])
    match_lines(parts["api"], [r"3 main idle False",
        r"4 holder idle False", r"11 selector idle False", r"1 outer running False",
        r"2 inner running True", r"\[1, 2, 3\]", r"2",
        r"\[1, 2\]"], "Python API")


CASES = [
    ("completion of options, values, states, task ids", t_completion),
    ("help and apropos summaries", t_help),
    ("option spellings", t_options),
    ("set/show asynctrace parameters", t_parameters),
    ("output: pipe, to_string, -output on 5,000 tasks", t_output),
    ("output: MI on 5,000 tasks", t_mi),
    ("frames: bt filter, async-bt, async-task, $_async_task", t_frames),
    ("pretty printers of every public type", t_printers),
    ("Python API", t_python_api),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-k", dest="only", default=None)
    args = ap.parse_args()
    ctx = Context(args.build)
    passed = failed = 0
    for name, fn in CASES:
        if args.only and args.only not in name:
            continue
        t0 = time.time()
        try:
            fn(ctx)
        except TestFailure as e:
            failed += 1
            print("FAIL %s (%.1fs)\n  %s" % (name, time.time() - t0,
                                            str(e).replace("\n", "\n  ")))
        else:
            passed += 1
            print("ok   %s (%.1fs)" % (name, time.time() - t0))
        sys.stdout.flush()
    print("gdb convention tests: %d passed, %d failed" % (passed, failed))
    if failed:
        print("files kept in %s" % ctx.tmp)
    else:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
