"""A test of tests/cli/run.py: the command-line tool on a core whose layout
table is damaged (offsets moved to other aligned, free places of their
records): every command and document reports it and reads as before."""

import json
import os
import re

from gdbrun import CoreImage, TestFailure

NOTE = (r"corrupt: the descriptor's layout table differs from that of debugger ABI 3: "
        r"task\.poll_count has offset 72, size 8 \(expected 64, 8\); mutex\.owner_id has "
        r"offset 16, size 8 \(expected 8, 8\); mutex\.owner has offset 8, size 8 \(expected "
        r"16, 8\) \(read with ABI 3's layout, which this extension knows\)")
COVERS = r"( \(the analysis covers what was readable\))?"


def _entry(img, record, field):
    count, table = img.u32(img.descriptor + 20), img.u64(img.descriptor + 24)
    for i in range(count):
        rec = table + 24 * i
        if img.cstring(img.u64(rec)) == record:
            fields = img.u64(rec + 16)
            for j in range(img.u32(rec + 12)):
                if img.cstring(img.u64(fields + 16 * j)) == field:
                    return fields + 16 * j
    raise TestFailure("no layout entry %s.%s" % (record, field))


def _damaged_core(ctx, r):
    out, _ = ctx.run(["runtimes", r["core"], r["exe"]])
    desc = int(re.search(r"descriptor at (0x[0-9a-f]+)", out).group(1), 16)
    img = CoreImage(r["core"], r["exe"], desc)
    img.put_u32(_entry(img, "mutex", "owner_id") + 8, 16)
    img.put_u32(_entry(img, "mutex", "owner") + 8, 8)
    img.put_u32(_entry(img, "task", "poll_count") + 8, 72)
    path = os.path.join(ctx.tmp, "layout.core")
    img.save(path)
    return path


def t_layout(ctx):
    """ps, bt, deadlocks, diagnose (text and JSON) and dump on the damaged
    core: the note in each, and the document of the undamaged core."""
    r = ctx.results["states"]
    core = _damaged_core(ctx, r)
    for cmd in (["ps"], ["bt"], ["deadlocks"], ["diagnose"], ["threads"], ["runtimes"]):
        out, _ = ctx.run(cmd + [core, r["exe"]])
        if not re.search(r"^ *note: %s%s$" % (NOTE, COVERS), out, re.M):
            raise TestFailure("%s does not report the layout table:\n%s" % (cmd[0], out))
    for cmd, key in ((["dump"], "errors"), (["ps", "--json"], "errors"),
                     (["deadlocks", "--json"], "errors"), (["diagnose", "--json"], "errors")):
        doc = json.loads(ctx.run(cmd + [core, r["exe"]])[0])
        if not doc.get(key) or not re.fullmatch(NOTE + COVERS, doc[key][0]):
            raise TestFailure("%s: %s is %r" % (" ".join(cmd), key, doc.get(key)))
    damaged = json.loads(ctx.run(["dump", core, r["exe"]])[0])
    whole = json.loads(ctx.run(["dump", r["core"], r["exe"]])[0])
    damaged["errors"] = damaged["errors"][1:]
    # (the clock of a core is its file's time: the copy is newer)
    damaged.pop("clock")
    whole.pop("clock")
    if damaged != whole:
        raise TestFailure("the damaged core reads differently from the undamaged one")


TESTS = [("core with a damaged layout table: every command reports it", t_layout)]
