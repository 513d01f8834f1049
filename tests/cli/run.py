#!/usr/bin/env python3
"""tests/cli/run.py - the command-line tool `asynctrace` on a PID, a core and
a trace document, checked against GDB's reading of the same moment, plus
every error it promises (one line, documented exit status, no traceback).

The test programs are those of tests/gdb (their @markers give the lines).
usage: tests/cli/run.py --build BUILD [-k SUBSTRING]
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "gdb"))
from gdbrun import ROOT, Program, TestFailure, markers, run_gdb  # noqa: E402

PROGS = os.path.join(ROOT, "tests", "gdb", "progs")
sys.path.insert(0, HERE)
import cliextra  # noqa: E402
import clilayout  # noqa: E402
import templates  # noqa: E402


class Ctx(object):
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.tool = os.path.join(self.build, "asynctrace")
        self.tmp = tempfile.mkdtemp(prefix="at-cli-")
        self.m = markers(os.path.join(PROGS, "states.c"))
        self.results = {}

    def prog(self, name, stripped=False):
        sub = "stripped/" if stripped else ""
        return os.path.join(self.build, "gdbtests", sub + name)

    def run(self, args, code=0, stdin=None):
        """Run the tool; check its exit status; (stdout, stderr)."""
        p = subprocess.run([self.tool] + [str(a) for a in args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120, input=stdin)
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        if "Traceback" in out + err or "internal error" in err:
            raise TestFailure("asynctrace %s: traceback or internal error:\n%s"
                              % (" ".join(map(str, args)), err[-2000:]))
        if p.returncode != code:
            raise TestFailure("asynctrace %s: exit %d (expected %d); stderr %r"
                              % (" ".join(map(str, args)), p.returncode, code, err[-500:]))
        return out, err


def strip_volatile(doc):
    doc = json.loads(json.dumps(doc))
    doc.pop("source", None)
    doc.pop("clock", None)
    return doc


def expect_lines(text, patterns, what):
    """Every regex of `patterns` matches a whole line of `text`, in order."""
    lines = text.splitlines()
    pos = 0
    for pat in patterns:
        rx = re.compile(pat + "$")
        for i in range(pos, len(lines)):
            if rx.match(lines[i]):
                pos = i + 1
                break
        else:
            raise TestFailure("%s: no line matching %r (after line %d) in:\n%s"
                              % (what, pat, pos, text[:3000]))


def states_table(m, pid_column, native=True):
    """The task table of the states program (tests/gdb/progs/states.c); a
    running task shows the line its poll executes when native frames are
    known (a PID, a core), its function's line otherwise (a document)."""
    step = m["native:blocking_step"] if native else m["site:blocking_step"]
    inner = m["native:inner_work"] if native else m["site:inner_work"]
    d = r"\s+\S+\s+"  # the FOR column
    hexa = r"0x[0-9a-f]+"
    return [
        r"runtime 1 \(current-thread, 1 worker\) at %s: 9 tasks" % hexa,
        r"\s+ID\s+STATE\s+FOR\s+ON\s+POLLS\s+NAME\s+WHERE",
        r"\s+3\s+idle%sw0\s+1\s+\"main\"\s+main_task states.c:%d  -> notify %s \(4 waiters\)"
        % (d, m["await:main_task"], hexa),
        r"\s+4\s+idle%sw0\s+1\s+\"holder\"\s+holder states.c:%d  -> notify %s \(4 waiters\)"
        % (d, m["await:holder"], hexa),
        r"\s+5\s+idle%sw0\s+1\s+\"transfer\"\s+lock_account states.c:%d  -> mutex %s held "
        r"by task 4 \"holder\"" % (d, m["await:lock_account"], hexa),
        r"\s+6\s+idle%sw0\s+1\s+\"sleeper\"\s+nap states.c:%d  -> sleep until \+\S+"
        % (d, m["await:nap"]),
        r"\s+7\s+idle%sw0\s+1\s+\"consumer\"\s+consumer states.c:%d  -> recv on channel "
        r"%s \(0/4, senders: 1\)" % (d, m["await:consumer"], hexa),
        r"\s+8\s+idle%sw0\s+1\s+\"producer\"\s+producer states.c:%d  -> send on channel "
        r"%s \(1/1, senders: 1\)" % (d, m["await:producer"], hexa),
        r"\s+9\s+idle%sw0\s+1\s+\"joiner\"\s+joiner states.c:%d  -> join task 4 \"holder\""
        % (d, m["await:joiner"]),
        r"\s+10\s+idle%sw0\s+1\s+\"combo\"\s+leg_a states.c:%d  -> notify %s \(4 waiters\)"
        r"  \(\+1 more\)" % (d, m["await:leg_a"], hexa),
        r"\s+11\s+idle%sw0\s+1\s+\"selector\"\s+selector states.c:%d  -> sleep until \S+"
        r"  \(\+1 more\)" % (d, m["await:selector"]),
        r"runtime 2 \(current-thread, 1 worker\) at %s: 1 task" % hexa,
        r"\s+1\s+running%s%s\s+1\s+\"outer\"\s+.*blocking_step states.c:%d"
        % (d, pid_column, step),
        r"runtime 3 \(current-thread, 1 worker\) at %s: 1 task" % hexa,
        r"\s+2\s+running%s%s\s+1\s+\"inner\"\s+.*inner_work states.c:%d"
        % (d, pid_column, inner),
    ]


# -- the states program: PID (stopping), GDB at the same moment, core, document --

def t_pid_vs_gdb(ctx):
    """On a PID (stopping mode) the tool reads the same document as GDB
    attached right after, the same table, and the program runs on."""
    exe = ctx.prog("states")
    core = os.path.join(ctx.tmp, "states.core")
    prog = Program(exe)
    try:
        pid = prog.pid
        ps, _ = ctx.run(["ps", pid])
        dump, _ = ctx.run(["dump", "--json", pid])
        bt, _ = ctx.run(["bt", "--task", "5", "--task", "10", pid])
        threads, _ = ctx.run(["threads", pid])
        runtimes, _ = ctx.run(["runtimes", pid])
        deadlocks, _ = ctx.run(["deadlocks", pid])
        nostop, _ = ctx.run(["ps", "--no-stop", pid])
        parts, _ = run_gdb(["-p", str(pid)], [
            ("json", "info async-tasks --json"),
            ("gcore", "generate-core-file %s" % core)])
        code, out, err = prog.release()
    finally:
        prog.kill()
    if code != 0 or "done" not in out:
        raise TestFailure("the program did not finish after the readings: exit %d" % code)
    gdb_doc = json.loads(parts["json"][parts["json"].find("{"):])
    doc = json.loads(dump)
    if doc["source"] != "pid" or doc["clock"]["kind"] != "live":
        raise TestFailure("source/clock of the PID dump: %r %r" % (doc["source"], doc["clock"]))
    if strip_volatile(doc) != strip_volatile(gdb_doc):
        raise TestFailure("the PID dump differs from GDB's document of the same moment")
    lwp = [t["tid"] for t in doc["threads"] if t["task"] == 2][0]
    expect_lines(ps, states_table(ctx.m, "LWP %d" % lwp) + [
        r"\(durations up to the moment the process was stopped; pid\)",
        r"note: process %d was stopped for \S+ while it was read" % pid], "ps PID")
    expect_lines(nostop, [r"note: read without stopping the process \(--no-stop\): "
                          r"the picture may be torn"], "ps --no-stop")
    if "was stopped for" in nostop:
        raise TestFailure("--no-stop output claims the process was stopped")
    m = ctx.m
    expect_lines(bt, [
        r'task 5 "transfer" idle for \S+, worker 0, 1 poll',
        r"  #0  at_mutex_lock\s+waiting for mutex 0x[0-9a-f]+ held by task 4 \"holder\" "
        r"\(for \S+\)",
        r"  #1  lock_account at states.c:%d" % m["await:lock_account"],
        r"  #2  transfer at states.c:%d" % m["await:transfer"],
        r'  spawned by task 3 "main" at states.c:%d \(in main_task_poll\)' % m["spawn:transfer"],
        r'task 10 "combo" idle for \S+, worker 0, 1 poll',
        r"  branch 1 of 2:",
        r"  #1  leg_a at states.c:%d" % m["await:leg_a"],
        r"  branch 2 of 2:",
        r"  #1  leg_b at states.c:%d" % m["await:leg_b"]], "bt PID")
    if re.findall(r"^task (\d+) ", bt, re.M) != ["5", "10"]:
        raise TestFailure("bt --task 5 --task 10 printed other tasks:\n" + bt)
    expect_lines(threads, [r"\s+LWP\s+ROLE\s+WORKER\s+RUNTIME\s+TASK\s+POLLING FOR\s+ROOT FRAMES",
                           r"\s+%d\s+block-on\s+-\s+1\s+-\s+-\s+-" % pid,
                           r"\s+%d\s+block-on\s+-\s+3\s+2 \"inner\"\s+\S+\s+task 2 <- task 1"
                           % lwp], "threads PID")
    expect_lines(runtimes, [
        r"asynctrace debugger ABI version 3, descriptor at 0x[0-9a-f]+ \(found by section "
        r"\.asynctrace_debug of .*states\), generation \d+",
        r"runtime 1 at 0x[0-9a-f]+: current-thread, 1 worker, 9 tasks \(9 idle\), "
        r"9 spawned in total"], "runtimes PID")
    expect_lines(deadlocks, [r"no wait-for cycle found; 9 waiting tasks wait on things this "
                             r"analysis cannot settle: see .*diagnose"], "deadlocks PID")
    ctx.results["states"] = {"doc": doc, "core": core, "exe": exe, "lwp": lwp,
                             "dump": dump, "ps": ps}


def t_core(ctx):
    """CORE EXE (and the stripped EXE): the same document and table."""
    r = ctx.results["states"]
    for exe in (r["exe"], ctx.prog("states", True)):
        dump, _ = ctx.run(["dump", r["core"], exe])
        doc = json.loads(dump)
        if doc["source"] != "core" or doc["clock"]["kind"] != "recorded":
            raise TestFailure("source/clock of the core dump: %r" % doc["clock"])
        if strip_volatile(doc) != strip_volatile(r["doc"]):
            raise TestFailure("the core's document differs from the PID's (%s)" % exe)
        ps, _ = ctx.run(["ps", r["core"], exe])
        # (no line numbers from a stripped executable's native frames)
        expect_lines(ps, states_table(ctx.m, "LWP %d" % r["lwp"], exe == r["exe"]) +
                     [r"\(durations up to the moment the core file was written; core\)"],
                     "ps CORE")
        bt, _ = ctx.run(["bt", "-t", "9", r["core"], exe])
        expect_lines(bt, [r'task 9 "joiner" idle for \S+, worker 0, 1 poll',
                          r"  #0  at_join\s+waiting for join task 4 \"holder\" \(for \S+\)",
                          r"  #1  joiner at states.c:%d" % ctx.m["await:joiner"]], "bt CORE")


def t_document(ctx):
    """A trace document (the PID's dump) gives the same table and the same
    document back."""
    r = ctx.results["states"]
    path = os.path.join(ctx.tmp, "states.json")
    with open(path, "w") as f:
        f.write(r["dump"])
    ps, _ = ctx.run(["ps", path])
    expect_lines(ps, states_table(ctx.m, "LWP %d" % r["lwp"], False), "ps FILE.json")
    again = json.loads(ctx.run(["dump", path])[0])
    if strip_volatile(again) != strip_volatile(r["doc"]):
        raise TestFailure("dump of a document does not give the document back")
    only, _ = ctx.run(["ps", "--state", "running", path])
    if re.search(r"^\s+3\s+idle", only, re.M) or not re.search(r"^\s+2\s+running", only, re.M):
        raise TestFailure("ps --state running on a document:\n" + only)
    waits, _ = ctx.run(["ps", "--waits-for", "join", path])
    if re.findall(r"^\s+(\d+)\s+idle", waits, re.M) != ["9"]:
        raise TestFailure("ps --waits-for join on a document:\n" + waits)
    bt, _ = ctx.run(["bt", "--waits-for", "join", path])
    if re.findall(r"^task (\d+) ", bt, re.M) != ["9"]:
        raise TestFailure("bt --waits-for join on a document:\n" + bt)
    grouped, _ = ctx.run(["ps", "--group", "state", path])
    expect_lines(grouped, [r"11 tasks in 2 groups by state, largest first:",
                           r"  COUNT  STATE    IDS",
                           r"      9  idle     3, 4, 5, 6, 7 \(and 4 more\)",
                           r"      2  running  1, 2"], "ps --group state")
    bt, _ = ctx.run(["bt", "-t", "2", path])
    expect_lines(bt, [r'task 2 "inner" running for \S+, on LWP %d.*' % r["lwp"],
                      r"  native frames unavailable: a trace document has no native "
                      r"frames of LWP %d" % r["lwp"]], "bt FILE.json")


def t_errors(ctx):
    """Every promised error: one line, its exit status, no traceback."""
    r = ctx.results["states"]
    tmp = ctx.tmp
    trunc = os.path.join(tmp, "trunc.core")
    with open(r["core"], "rb") as f, open(trunc, "wb") as g:
        g.write(f.read(200000))
    notjson = os.path.join(tmp, "plain.txt")
    with open(notjson, "w") as f:
        f.write("hello\n")
    other = os.path.join(tmp, "other.json")
    with open(other, "w") as f:
        f.write('{"format": "something-else"}')
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        cases = [
            (["ps", "999999999"], 3, r"no such process: 999999999"),
            (["ps", os.path.join(tmp, "missing.json")], 3, r"no such file or process: .*"),
            (["ps", str(sleeper.pid)], 5, r"this program does not contain the asynctrace "
                                           r"runtime .*"),
            (["ps", trunc, r["exe"]], 7, r"the core .*trunc.core is truncated: it has "
                                         r"200000 bytes, its segments need \d+"),
            (["ps", r["exe"], r["exe"]], 7, r".* is not a core file"),
            (["ps", r["core"], ctx.prog("mt")], 8, r".*/mt is not the executable the core "
                                                   r".* was made from \(its build-id is "
                                                   r"[0-9a-f]+, the core's is [0-9a-f]+\)"),
            (["ps", notjson], 1, r".*plain.txt is not a JSON document .*"),
            (["ps", other], 1, r".*other.json is not an asynctrace trace document .*"),
            (["ps", r["core"]], 2, r".* is an ELF file: give a core with its executable .*"),
            (["ps"], 2, r"the following arguments are required: .*"),
            (["frobnicate", "1"], 2, r"argument COMMAND: invalid choice: .*"),
            (["ps", "--state", "sleepy", r["core"], r["exe"]], 2,
             r"unknown state 'sleepy': one of idle, scheduled, running, complete, cancelled"),
            (["bt", "-t", "x", r["core"], r["exe"]], 2, r"a task id must be a number, not 'x'"),
        ]
        cases += cliextra.error_cases(ctx)
        for args, code, pattern in cases:
            out, err = ctx.run(args, code)
            lines = err.splitlines()
            if len(lines) != 1 or not re.match("asynctrace: " + pattern + "$", lines[0]):
                raise TestFailure("asynctrace %s: expected one line matching %r, got %r"
                                  % (" ".join(args), pattern, err))
    finally:
        sleeper.kill()
        sleeper.wait()
    # Not permitted: another user may not stop the process.
    nobody = shutil.which("setpriv")
    if os.geteuid() == 0 and nobody:
        tool, tool_dir = readable_copy_of_tool(ctx.tool)
        prog = Program(r["exe"])
        try:
            p = subprocess.run([nobody, "--reuid=65534", "--regid=65534", "--clear-groups",
                                tool, "ps", str(prog.pid)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
        finally:
            prog.kill()
            shutil.rmtree(tool_dir, ignore_errors=True)
        err = p.stderr.decode()
        if p.returncode != 4 or not re.match(
                r"asynctrace: not permitted to \S+ process %d \(it belongs to another user, "
                r"or ptrace is restricted\).*\n$" % prog.pid, err):
            raise TestFailure("as another user: exit %d, %r" % (p.returncode, err))


def readable_copy_of_tool(tool):
    """A copy of the tool and its package that another user can run (the
    checkout itself may sit in a directory only its owner can enter)."""
    d = tempfile.mkdtemp(prefix="at-cli-tool-")
    os.chmod(d, 0o755)
    with open(tool) as f:
        script = f.read()
    pydir = re.search(r'^PYDIR = "([^"]*)"', script, re.M).group(1)
    shutil.copytree(os.path.join(pydir, "asynctrace"), os.path.join(d, "asynctrace"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    for root, dirs, files in os.walk(d):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    copy = os.path.join(d, "asynctrace-tool")
    with open(copy, "w") as f:
        f.write(script.replace('PYDIR = "%s"' % pydir, 'PYDIR = "%s"' % d))
    os.chmod(copy, 0o755)
    return copy, d


TESTS = [
    ("PID (stopping) agrees with GDB at the same moment", t_pid_vs_gdb),
    ("core + executable (and stripped)", t_core),
    ("trace document", t_document),
    ("errors: one line, exit status", t_errors),
] + cliextra.TESTS + clilayout.TESTS + templates.TESTS


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-k", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    ctx = Ctx(args.build)
    passed = failed = 0
    t0 = time.time()
    for name, fn in TESTS:
        if args.k and args.k not in name and not name.startswith("PID"):
            continue
        start = time.time()
        try:
            fn(ctx)
            print("ok   %s (%.1fs)" % (name, time.time() - start))
            passed += 1
        except TestFailure as e:
            print("FAIL %s: %s" % (name, e))
            failed += 1
        except Exception:
            print("FAIL %s: %s" % (name, traceback.format_exc()))
            failed += 1
        sys.stdout.flush()
    print("cli tests: %d passed, %d failed (%.1fs)" % (passed, failed, time.time() - t0))
    if not args.keep:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
