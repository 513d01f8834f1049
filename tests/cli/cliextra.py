"""More tests of tests/cli/run.py (native frames, diff, exports, watch):
TESTS is a list of (name, function(ctx)); error_cases(ctx) adds rows to the
error table."""

import gzip
import json
import os
import re
import shutil
import subprocess
import time

from gdbrun import Program, TestFailure, markers, run_gdb

PROGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "gdb", "progs")


def _native_lines(text):
    """The native frame lines of a backtrace, libc frames left out (their
    names depend on libc's debug info), without the frame numbers."""
    out = []
    for line in text.splitlines():
        m = re.match(r"\s+#\d+\s+(0x[0-9a-f]+ in \S+ at (\S+):\d+.*)$", line)
        if m and not m.group(2).startswith(("read.c", "futex", "pthread")):
            out.append(m.group(1))
    return out


def t_native_core(ctx):
    """bt on a core: the native frames of the task inside a poll (LWP in a
    read(2) under a nested block_on) are GDB's, frame for frame."""
    r = ctx.results["states"]
    m = ctx.m
    cli, _ = ctx.run(["bt", "-t", "1", "-t", "2", r["core"], r["exe"]])
    parts, _ = run_gdb([r["exe"], r["core"]], [("bt", "async-bt 1 2")])
    mine, gdbs = _native_lines(cli), _native_lines(parts["bt"])
    if not mine or mine != gdbs:
        raise TestFailure("native frames differ from GDB's:\n%s\n---\n%s"
                          % ("\n".join(mine), "\n".join(gdbs)))
    for pat in (r"0x[0-9a-f]+ in wait_pipe at states.c:%d" % m["native:wait_pipe"],
                r"0x[0-9a-f]+ in inner_work_poll at states.c:%d" % m["native:inner_work"],
                r"0x[0-9a-f]+ in at_root_poll at scheduler.c:\d+"):
        if not any(re.match(pat + "$", x) for x in mine):
            raise TestFailure("no native frame %r in:\n%s" % (pat, cli))


_INLINE_PROG = r"""
#include <stdio.h>
#include <unistd.h>
static int fds[2];
static inline __attribute__((always_inline)) int inner(char *c)
{
    return (int)read(fds[0], c, 1);               /* @inner */
}
static inline __attribute__((always_inline)) int middle(char *c)
{
    return inner(c) + 1;                          /* @middle */
}
__attribute__((noinline)) int outer(void)
{
    char c;
    return middle(&c) * 2;                        /* @outer */
}
int main(void)
{
    if (pipe(fds) < 0)
        return 1;
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    return outer();
}
"""


def t_unwind_inline(ctx):
    """The native frames helper shows every call of a chain of inlined
    calls (inner inlined in middle inlined in outer), as GDB does."""
    src = os.path.join(ctx.tmp, "inline2.c")
    exe = os.path.join(ctx.tmp, "inline2")
    with open(src, "w") as f:
        f.write(_INLINE_PROG)
    subprocess.run(["cc", "-g", "-O2", src, "-o", exe], check=True)
    lines = {k: i + 1 for i, text in enumerate(_INLINE_PROG.splitlines())
             for k in ("inner", "middle", "outer") if "/* @%s */" % k in text}
    core = os.path.join(ctx.tmp, "inline2.core")
    prog = Program(exe)
    try:
        run_gdb(["-p", str(prog.pid)], [("gcore", "generate-core-file %s" % core)],
                source=False)
    finally:
        prog.kill()
    out = subprocess.run([os.path.join(ctx.build, "asynctrace-unwind"), "--core", core,
                          "--exe", exe], stdout=subprocess.PIPE, check=True).stdout
    frames = [(f["function"], f["line"], f["inline"])
              for f in json.loads(out.decode().splitlines()[0])["frames"]
              if f["function"] in ("inner", "middle", "outer")]
    want = [("inner", lines["inner"], True), ("middle", lines["middle"], True),
            ("outer", lines["outer"], False)]
    if frames != want:
        raise TestFailure("native frames of a chain of inlined calls: %r, not %r"
                          % (frames, want))
    parts, _ = run_gdb([exe, core], [("bt", "bt")], source=False)
    gdbs = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(inner|middle|outer) .*:(\d+)$",
                      parts["bt"], re.M)
    if [(f, int(n)) for f, n in gdbs] != [(f, n) for f, n, _ in want]:
        raise TestFailure("GDB's frames %r differ from the helper's %r" % (gdbs, want))


def t_native_pid(ctx):
    """bt on a PID: the same native frames for the task in a poll."""
    from gdbrun import Program
    prog = Program(ctx.prog("states"))
    try:
        cli, _ = ctx.run(["bt", "-t", "2", prog.pid])
        parts, _ = run_gdb(["-p", str(prog.pid)], [("bt", "async-bt 2")])
    finally:
        prog.kill()
    mine, gdbs = _native_lines(cli), _native_lines(parts["bt"])
    if not mine or mine != gdbs:
        raise TestFailure("native frames differ from GDB's:\n%s\n---\n%s"
                          % ("\n".join(mine), "\n".join(gdbs)))


def _write(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)


def t_diff(ctx):
    """diff of two readings of a program whose tickers make progress and
    whose other tasks are stuck; then a task finished and one appeared."""
    m = markers(os.path.join(PROGS, "progress.c"))
    prog = Program(ctx.prog("progress"))
    a, b = os.path.join(ctx.tmp, "a.json"), os.path.join(ctx.tmp, "b.json")
    try:
        ctx.run(["dump", "-o", a, prog.pid])
        time.sleep(0.5)
        ctx.run(["dump", "-o", b, prog.pid])
        live, _ = ctx.run(["diff", "--interval", "300ms", "--json", prog.pid])
        watch, _ = ctx.run(["ps", "--watch", "300ms", "--count", "2", prog.pid])
        code, out, _ = prog.release()
    finally:
        prog.kill()
    if code != 0 or "done" not in out:
        raise TestFailure("progress did not finish after the readings: exit %d" % code)
    text, _ = ctx.run(["diff", a, b])
    hexa = "0x[0-9a-f]+"
    from run import expect_lines
    expect_lines(text, [
        r".*a.json -> .*b.json: interval \S+",
        r"0 appeared, 0 finished, 2 made progress, 3 stuck on the same await",
        r"made progress:",
        r"  ID\s+POLLS\s+POLLS/S\s+NAME\s+WHERE",
        r"  2\s+\+\d+\s+[\d.]+\s+\"ticker\"\s+ticker progress.c:%d  -> sleep .*"
        % m["await:ticker"],
        r"  3\s+\+\d+\s+[\d.]+\s+\"ticker\"\s+ticker progress.c:%d  -> sleep .*"
        % m["await:ticker"],
        r"stuck on the same await for the whole interval:",
        r"  ID\s+STATE\s+STUCK FOR\s+NAME\s+WHERE",
        r"  1\s+idle\s+\S+\s+\"main\"\s+main_task progress.c:%d  -> notify %s \(2 waiters\)"
        % (m["await:main"], hexa),
        r"  4\s+idle\s+\S+\s+\"stuck\"\s+stuck progress.c:%d  -> notify %s \(2 waiters\)"
        % (m["await:stuck"], hexa),
        r"  5\s+idle\s+\S+\s+\"blocked\"\s+blocked progress.c:%d  -> mutex %s held by "
        r"task 1 \"main\"" % (m["await:blocked"], hexa)], "diff A B")
    d = json.loads(live)
    got = {k: [e["id"] for e in d[k]] for k in ("appeared", "finished", "progressed", "stuck")}
    if got != {"appeared": [], "finished": [], "progressed": [2, 3], "stuck": [1, 4, 5]}:
        raise TestFailure("diff --interval: %r" % got)
    if not all(e["polls_delta"] >= 10 for e in d["progressed"]) or \
            not 0.25e9 <= d["interval_ns"] <= 5e9:
        raise TestFailure("diff --interval: polls %r, interval %r"
                          % ([e["polls_delta"] for e in d["progressed"]], d["interval_ns"]))
    # Task 4 gone, a task 6 new: finished and appeared.
    with open(b) as f:
        doc = json.load(f)
    tasks = doc["runtimes"][0]["tasks"]
    new = json.loads(json.dumps([t for t in tasks if t["id"] == 4][0]))
    new.update(id=6, name="late", address="0x10")
    doc["runtimes"][0]["tasks"] = [t for t in tasks if t["id"] != 4] + [new]
    c = os.path.join(ctx.tmp, "c.json")
    _write(c, doc)
    d = json.loads(ctx.run(["diff", "--json", a, c])[0])
    if [e["id"] for e in d["appeared"]] != [6] or [e["id"] for e in d["finished"]] != [4] \
            or d["finished"][0]["now"] != "gone":
        raise TestFailure("appeared/finished: %r / %r" % (d["appeared"], d["finished"]))
    # Watch: two readings, the tickers' rate known in the second.
    blocks = watch.strip().split("\n\n")
    if len(blocks) != 2:
        raise TestFailure("ps --watch --count 2 printed %d readings:\n%s" % (len(blocks), watch))
    expect_lines(blocks[0], [r"process \d+ at \S+: 5 tasks, stopped \S+",
                             r"  TASKS\s+STATE\s+POLLS/S\s+NO POLL FOR\s+NAME\s+WHERE",
                             r"  2 \(2,3\)\s+idle\s+-\s+\S+\s+\"ticker\"\s+ticker progress.c:%d .*"
                             % m["await:ticker"]], "watch reading 1")
    expect_lines(blocks[1], [r"  1 \(1\)\s+idle\s+0\.0\s+\S+\s+\"main\".*",
                             r"  2 \(2,3\)\s+idle\s+[1-9][\d.]*\s+\S+\s+\"ticker\".*",
                             r"  1 \(4\)\s+idle\s+0\.0\s+\S+\s+\"stuck\".*"],
                 "watch reading 2")


def _varint(data, pos):
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def _fields(data):
    """[(field number, value)] of a protobuf message (varints and bytes)."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        if key & 7 == 0:
            v, pos = _varint(data, pos)
        elif key & 7 == 2:
            n, pos = _varint(data, pos)
            v, pos = data[pos:pos + n], pos + n
        else:
            raise TestFailure("unexpected wire type %d" % (key & 7))
        out.append((key >> 3, v))
    return out


def t_exports(ctx):
    """pprof (decoded here, and by go tool pprof when installed), dot (the
    cycles in red; dot -Tsvg when installed) and folded, on the deadlock
    program's core."""
    core = os.path.join(ctx.tmp, "deadlock.core")
    exe = ctx.prog("deadlock")
    prog = Program(exe)
    try:
        run_gdb(["-p", str(prog.pid)], [("gcore", "generate-core-file %s" % core)])
    finally:
        prog.kill()
    pb = os.path.join(ctx.tmp, "tasks.pb.gz")
    ctx.run(["dump", "--format", "pprof", "-o", pb, core, exe])
    with open(pb, "rb") as f:
        msg = _fields(gzip.decompress(f.read()))
    strings = [v.decode() for k, v in msg if k == 6]
    samples = [_fields(v) for k, v in msg if k == 2]
    if strings[0] != "" or len(samples) != 11:
        raise TestFailure("pprof: %d samples, strings %r" % (len(samples), strings[:5]))
    labels = []
    for smp in samples:
        for k, v in smp:
            if k == 3:
                lab = dict(_fields(v))
                labels.append((strings[lab[1]], strings[lab[2]] if 2 in lab else lab.get(3)))
    for want in (("task", 2), ("name", "a"), ("state", "idle"), ("wait", "mutex")):
        if want not in labels:
            raise TestFailure("pprof: label %r missing from %r" % (want, labels[:12]))
    for fn in ("lock_pair", "at_mutex_lock", "join_other"):
        if fn not in strings:
            raise TestFailure("pprof: no function %s" % fn)
    go = shutil.which("go")
    if go:
        p = subprocess.run([go, "tool", "pprof", "-top", pb], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        top = p.stdout.decode()
        if p.returncode != 0 or not re.search(r"^\s+5\s+45\.45%.*\s+at_mutex_lock$", top, re.M) \
                or not re.search(r"^\s+3\s+27\.27%.*\s+at_join$", top, re.M):
            raise TestFailure("go tool pprof -top:\n" + top)
    dot, _ = ctx.run(["dump", "--format", "dot", core, exe])
    for a, b in ((2, 3), (3, 2), (6, 7), (7, 6), (8, 9), (9, 8)):
        if not re.search(r"^  t%d -> (r[0-9a-f]+) \[color=red, penwidth=2\];\n"
                         r"(?:.*\n)*?  \1 -> t%d \[color=red" % (a, b), dot, re.M):
            raise TestFailure("dot: no red edge from task %d to task %d:\n%s" % (a, b, dot))
    if re.search(r"t(4|5|11) \[.*color=red", dot):
        raise TestFailure("dot: a task off the cycles is red:\n" + dot)
    if shutil.which("dot"):
        p = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0 or b"<svg" not in p.stdout:
            raise TestFailure("dot -Tsvg refused the graph: %r" % p.stderr)
    folded, _ = ctx.run(["dump", "--format", "folded", core, exe])
    for line in ("a;lock_pair;at_mutex_lock;[mutex] 1", "e;join_other;at_join;[join] 1",
                 "napper;lock_and_nap;at_sleep;[sleep] 1", "main;main_task;at_notify_wait;"
                 "[notify] 1"):
        if line not in folded.splitlines():
            raise TestFailure("folded: no line %r in:\n%s" % (line, folded))


def t_diagnose(ctx):
    """diagnose: on a core the CLI's document equals GDB's (but for its
    source); on the document the same findings; on a PID the blocked read
    is found with its native frame."""
    r = ctx.results["states"]
    m = ctx.m
    mine = json.loads(ctx.run(["diagnose", "--json", r["core"], r["exe"]])[0])
    parts, _ = run_gdb([r["exe"], r["core"]], [("diag", "info async-diagnose --json")])
    theirs = json.loads(parts["diag"][parts["diag"].find("{"):])
    if mine.pop("source") != "core" or theirs.pop("source") != "gdb-core" or mine != theirs:
        raise TestFailure("diagnose --json on the core differs from GDB's")
    kinds = [(f["kind"], f.get("tasks", [{}])[0].get("id") if f.get("tasks") else None)
             for f in mine["findings"]]
    if len(mine["findings"]) != 3:
        raise TestFailure("diagnose: findings %r" % kinds)
    prog = Program(ctx.prog("states"))
    try:
        out, _ = ctx.run(["diagnose", prog.pid])
    finally:
        prog.kill()
    from run import expect_lines
    expect_lines(out, [
        r"asynctrace diagnosis: 11 tasks in 3 runtimes, 9 waiting; 3 findings .*",
        r'1\. task 1 "outer" is blocked in read\(\) inside its poll, at wait_pipe '
        r"states.c:%d" % m["native:wait_pipe"],
        r'2\. task 2 "inner" is blocked in read\(\) inside its poll, at wait_pipe '
        r"states.c:%d" % m["native:wait_pipe"],
        r"3\. every worker of runtime 3 \(current-thread, 1 worker\) is stuck inside a "
        r"poll: .*",
        r"note: process \d+ was stopped for \S+ while it was read"], "diagnose PID")
    path = os.path.join(ctx.tmp, "states-diag.json")
    with open(path, "w") as f:
        f.write(r["dump"])
    doc = json.loads(ctx.run(["diagnose", "--json", path])[0])
    if doc["tasks"] != mine["tasks"] or doc["waiting"] != mine["waiting"]:
        raise TestFailure("diagnose on the document: %r tasks, %r waiting"
                          % (doc["tasks"], doc["waiting"]))


TESTS = [
    ("native frames on a core are GDB's", t_native_core),
    ("diagnose on a core (as GDB's), a PID and a document", t_diagnose),
    ("native frames on a PID are GDB's", t_native_pid),
    ("native frames of a chain of inlined calls are GDB's", t_unwind_inline),
    ("diff, diff --interval, ps --watch on a program making some progress", t_diff),
    ("exports: pprof, dot, folded", t_exports),
]


def _abi99_core(ctx, r):
    """A copy of the states core whose descriptor says ABI version 99."""
    from gdbrun import CoreImage
    out, _ = ctx.run(["runtimes", r["core"], r["exe"]])
    desc = int(re.search(r"descriptor at (0x[0-9a-f]+)", out).group(1), 16)
    img = CoreImage(r["core"], r["exe"], desc)
    img.put_u32(desc + 8, 99)
    path = os.path.join(ctx.tmp, "abi99.core")
    img.save(path)
    return path


def error_cases(ctx):
    r = ctx.results["states"]
    return [
        (["ps", _abi99_core(ctx, r), r["exe"]], 6,
         r"the program uses asynctrace debugger ABI version 99 but this asynctrace reads "
         r"versions 1, 2 and 3: use the asynctrace \(GDB extension or command-line tool\) "
         r"installed with the runtime the program was built with"),
        (["diff", r["core"]], 2, r"diff compares two readings: .*"),
        (["diff", "--interval", "2s", r["core"], r["exe"]], 2,
         r"--interval reads one PID twice: .*"),
        (["diff", "--interval", "soon", "1"], 2, r"'soon' is not a duration .*"),
        (["dump", "--format", "svg", r["core"], r["exe"]], 2, r"argument --format: .*"),
    ]
