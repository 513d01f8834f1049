"""Text output for people: durations, resources in words, the task table,
backtraces, the thread and runtime tables.  Works from the records walk.py
builds (records.py), plus native frames for tasks running on a thread."""

from . import constants as C

NS_PER_S = 1000000000

# Every string from the program's memory (task names, function and file
# names, anything a corrupt record yields) goes through esc() before it is
# printed: control characters (ESC, newlines, C1 codes, DEL) become \xNN
# escapes, backslashes and double quotes are escaped, so memory cannot move
# the terminal's cursor, change its colours or forge a table line.
_ESCAPES = {c: "\\x%02x" % c for c in list(range(0x20)) + list(range(0x7f, 0xa0))}
_ESCAPES.update({ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n",
                 ord("\t"): "\\t", ord("\r"): "\\r"})
_SAFE = {c: v for c, v in _ESCAPES.items() if c != ord("\n")}
_SAFE.update({ord("\\"): None, ord('"'): None})
_SAFE = {c: v for c, v in _SAFE.items() if v is not None}
_LINE = {c: v for c, v in _ESCAPES.items() if c not in (ord("\\"), ord('"'))}
_esc_cache = {}


def esc(s):
    """`s` (a str from the program's memory) safe to print on one line."""
    if s is None:
        return s
    hit = _esc_cache.get(s)
    if hit is None:
        hit = s.translate(_ESCAPES)
        if len(_esc_cache) < 100000:
            _esc_cache[s] = hit
    return hit


def quote_name(name):
    """A task name from memory, quoted and escaped for text output."""
    return '"%s"' % esc(name) if name is not None else "(no name)"


def esc_line(s):
    """A message (which may quote names from memory) kept on one line and
    free of control characters; quotes are left as they are."""
    if s is None or s.isprintable():  # (no control character: nothing to do)
        return s
    return s.translate(_LINE)


def safe_output(text):
    """The whole text of a command with any control character left (but
    newlines) escaped: the last line of defence against terminal
    injection."""
    return text.translate(_SAFE)


# GDB's thread number of each LWP, filled by the GDB commands before they
# format (front ends without GDB thread numbers leave it empty).
THREAD_NUMBERS = {}


def lwp_text(lwp):
    """`LWP 1234 (thread 2)`, or `LWP 1234` when GDB's number is unknown."""
    num = THREAD_NUMBERS.get(lwp)
    return "LWP %d" % lwp if num is None else "LWP %d (thread %d)" % (lwp, num)


# A timer this little past its deadline is "due", not "overdue": the stop
# moment is known to some milliseconds, and a loaded machine runs a woken
# thread tens of milliseconds late; a timer that cannot fire (its thread
# stuck) is soon far past this.
DUE_SLACK_NS = 250000000

NS_PER_MIN = 60 * NS_PER_S
NS_PER_H = 60 * NS_PER_MIN
NS_PER_D = 24 * NS_PER_H
NS_PER_Y = 36525 * NS_PER_D // 100  # a Julian year


def fmt_duration(ns):
    """A duration in at most two units, truncated (never rounded up):
    420us, 850ms, 12.4s, 3m12s, 2h05m, 41d03h, 3.4y; "?" for None."""
    if ns is None:
        return "?"
    neg = ns < 0
    ns = -ns if neg else ns
    if ns < 1000000:
        s = "%dus" % (ns // 1000)
    elif ns < NS_PER_S:
        s = "%dms" % (ns // 1000000)
    elif ns < NS_PER_MIN:
        tenths = ns // (NS_PER_S // 10)
        s = "%d.%ds" % (tenths // 10, tenths % 10)
    elif ns < NS_PER_H:
        sec = ns // NS_PER_S
        s = "%dm%02ds" % (sec // 60, sec % 60)
    elif ns < NS_PER_D:
        minutes = ns // NS_PER_MIN
        s = "%dh%02dm" % (minutes // 60, minutes % 60)
    elif ns < NS_PER_Y:
        hours = ns // NS_PER_H
        s = "%dd%02dh" % (hours // 24, hours % 24)
    else:
        tenths = ns * 10 // NS_PER_Y
        s = "%d.%dy" % (tenths // 10, tenths % 10)
    return "-" + s if neg else s


duration = fmt_duration  # the name the rest of the package uses

# The unit steps of fmt_duration: (below this many ns, text changes every
# this many ns).  A year's tenths are not whole ns: duration_span's own case.
_STEPS = ((1000000, 1000), (NS_PER_S, 1000000), (NS_PER_MIN, NS_PER_S // 10),
          (NS_PER_H, NS_PER_S), (NS_PER_D, NS_PER_MIN), (NS_PER_Y, NS_PER_H))


def duration_span(ns):
    """(duration(ns), lo, hi): duration(x) is that same text for every
    integer lo <= x < hi (what lets a table format a column of nearby
    durations once: tasktable.py)."""
    if ns < 0:
        words, lo, hi = duration_span(-ns)
        return "-" + words, 1 - hi, min(1 - lo, 0)
    below = 0
    for top, step in _STEPS:
        if ns < top:
            lo = max(ns - ns % step, below)
            return fmt_duration(ns), lo, min(lo + step, top)
        below = top
    tenths = ns * 10 // NS_PER_Y
    # ns * 10 // Y == tenths exactly for ceil(tenths * Y / 10) <= ns < ceil((tenths + 1) * Y / 10)
    return (fmt_duration(ns), max(-(-tenths * NS_PER_Y // 10), NS_PER_Y),
            -(-(tenths + 1) * NS_PER_Y // 10))


def since(now, t):
    """How long ago timestamp t was, or "?" when t is unset.  A timestamp
    after `now` (possible only when now is a lower bound) counts as 0."""
    if not t or now is None:
        return "?"
    return duration(max(now - t, 0))


def count(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def resource_words(res, now, names=None):
    """What a leaf waits for (a Resource), in words."""
    if res is None:
        return "not waiting"
    kind = esc(res.kind)
    obj = res.object_text or "0x0"
    names = names or {}
    if res.error:
        return "%s %s (%s)" % (kind, obj, esc(res.error))

    def task_ref(tid):
        name = names.get(tid)
        return 'task %d "%s"' % (tid, esc(name)) if name else "task %d" % tid

    if kind == "sleep":
        return _sleep_words(res.get("deadline_ns"), now)
    if kind == "mutex":
        owner = res.get("owner")
        words = "mutex %s held by %s" % (obj, task_ref(owner)) if owner else \
            "mutex %s (not held)" % obj
        if res.get("waiters", 0) > 1:
            words += ", %d waiters" % res.get("waiters")
        return words
    if kind == "semaphore":
        return "semaphore %s (wants %d, %d available, %s)" % (
            obj, res.get("wanted", 0), res.get("permits", 0),
            count(res.get("waiters", 0), "waiter"))
    if kind == "notify":
        return "notify %s (%s)" % (obj, count(res.get("waiters", 0), "waiter"))
    if kind in ("channel-send", "channel-recv"):
        cap = res.get("capacity")
        fill = "%d/%s" % (res.get("len", 0), "unbounded" if cap is None else cap)
        words = "%s channel %s (%s, senders: %d" % (
            "send on" if kind == "channel-send" else "recv on", obj, fill,
            res.get("senders", 0))
        if kind == "channel-send" and res.get("receiver_task"):
            words += ", receiver: %s" % task_ref(res.get("receiver_task"))
        if res.get("closed"):
            words += ", closed"
        return words + ")"
    if kind == "oneshot":
        if res.get("closed"):
            return "oneshot %s (sender dropped without sending)" % obj
        return "oneshot %s" % obj
    if kind == "join":
        return "join %s" % task_ref(res.get("task", 0))
    if kind in ("read", "write"):
        return "%s fd %d" % (kind, res.get("fd", -1))
    if kind == "blocking":
        return "blocking job %d" % res.get("job", 0)
    return kind or "?"


def leaf_paths(frame, limit=64):
    """Paths (lists of Frames, root first) from `frame` to each leaf of its
    await tree, in await order."""
    out = []
    stack = [(frame, [frame])]
    while stack and len(out) < limit:
        node, path = stack.pop()
        kids = node.children
        if not kids:
            out.append(path)
            continue
        for child in reversed(kids):
            stack.append((child, path + [child]))
    return out


def frame_where(frame):
    """function file:line of a frame (a Frame or a Head)."""
    if frame.function is None:
        return esc(frame.error) or "?"
    return "%s %s:%s" % (esc(frame.function), short_file(frame.file), frame.line)


def short_file(path):
    if not path:
        return "?"
    return esc(path.rsplit("/", 1)[-1])


def running_lines(frames):
    """{async function: the line its poll is executing} from the native
    frames of a thread inside a task's poll (`fn_poll` or `fn` frames,
    innermost first): a running task's frames show where it is, not where
    its function starts."""
    out = {}
    for f in frames or ():
        fn = f.function
        if not fn or not f.line or f.inline:
            continue
        if fn.endswith("_poll"):
            fn = fn[:-5]
        out.setdefault(fn, f.line)
    return out


def task_where(task, now, names, native=None):
    """The WHERE column: innermost user frame and what the task waits for.
    `native` is (LWP, function the thread is in, nested[, {function: line
    executing}]) for a task being polled on a thread."""
    lead = None
    if native is not None:
        lwp, fn, nested = native[:3]
        if nested:
            lead = "%s, under a nested block_on" % lwp_text(lwp)
        else:
            lead = lwp_text(lwp)
            if fn:
                lead += " in %s" % esc(fn)
    tree = task.await_tree()
    if tree is None:
        text = esc(task.error) or ""
        return (lead + "  " + text).strip() if lead else text
    paths = leaf_paths(tree)
    waiting = [p for p in paths if p[-1].resource is not None]
    path = waiting[0] if waiting else paths[0]
    user = None
    for f in reversed(path):
        if f.kind == "async" or f.function is None:
            user = f
            break
    parts = []
    if lead:
        parts.append(lead)
    if user is not None:
        lines = native[3] if native is not None and len(native) > 3 else None
        if lines and user.function in lines and user.function is not None:
            parts.append("%s %s:%s" % (user.function, short_file(user.file),
                                       lines[user.function]))
        else:
            parts.append(frame_where(user))
    leaf = path[-1]
    if leaf.error:
        parts.append(esc(leaf.error))
    elif leaf.resource is not None and native is None:
        parts.append("-> " + resource_words(leaf.resource, now, names))
    if len(waiting) > 1:
        parts.append("(+%d more)" % (len(waiting) - 1))
    return "  ".join(parts)


def chain_where(chain):
    """task_where of a healthy task not on a thread whose await tree is a
    chain of this shape, up to the resource words (the whole of it when the
    chain does not end in a leaf)."""
    user = None
    for head in reversed(chain.heads):
        if head.kind == "async":
            user = frame_where(head)
            break
    if not chain.leaf:
        return user or ""
    return user + "  -> " if user is not None else "-> "


def tasks_table(snap, native_of=None):
    """The `info async-tasks` table of a Snapshot as one string;
    `native_of(task)` gives (LWP, function, nested) for a task being polled
    on a thread, else None (tasktable.py: write_table writes it in pieces)."""
    from . import tasktable
    return tasktable.tasks_table(snap, native_of)


def _sleep_words(deadline, now):
    """resource_words of a sleep without an error."""
    if now is None or not deadline:
        return "sleep"
    left = deadline - now
    if left >= 0:
        return "sleep until +%s" % duration(left)
    if -left < DUE_SLACK_NS:
        return "sleep due now"
    return "sleep until %s (overdue)" % duration(left)


def now_note(snap):
    """The closing line that says what durations are measured against."""
    note = getattr(snap, "now_note", None)
    if note is None:
        return clock_note(snap.clock_kind, snap.now, snap.source)
    return "(%s; %s)" % (note, snap.source)


def clock_note(kind, now, source):
    if kind == "live":
        return "(durations against the live clock; %s)" % source
    return ("(durations against the last clock reading the program recorded, "
            "%d ns; %s)" % (now, source))


def _columns(rows, right=()):
    """Rows (tuples of str) as aligned lines: every column but the last
    padded to its widest cell, the columns in `right` right-aligned."""
    columns = list(zip(*rows))
    cells = []
    for i, col in enumerate(columns[:-1]):
        cells.append(("%%%ds" if i in right else "%%-%ds") % max(map(len, col)))
    fmt = "  " + "  ".join(cells + ["%s"])
    return [(fmt % r).rstrip() for r in rows]


# -- backtraces ---------------------------------------------------------------

def task_header(task, now, lwp=None):
    parts = ['task %d "%s" %s for %s' % (task.id, esc(task.name), esc(task.state),
                                         since(now, task.state_ns))]
    if lwp is not None:
        parts.append("on " + lwp_text(lwp))
    if task.worker >= 0:
        parts.append("worker %d" % task.worker)
    parts.append(count(task.polls, "poll"))
    if task.flags:
        parts.append("flags: %s" % " ".join(task.flags))
    head = ", ".join(parts)
    if task.error:
        head += "\n  %s" % esc(task.error)
    return head


def _waiting_line(num, function, res, now, names, prefix):
    text = "%s#%-2d %-16s waiting for %s" % (prefix, num, esc(function),
                                           resource_words(res, now, names))
    if res.since_ns and now:
        text += " (for %s)" % duration(now - res.since_ns)
    return text


def _frame_line(num, frame, now, names, full, prefix, lines=None):
    if frame.function is None:
        return "%s#%-2d %s" % (prefix, num, esc(frame.error) if frame.error is not None
                                else "?")
    kind = frame.kind
    res = frame.resource
    if res is not None:
        text = _waiting_line(num, frame.function, res, now, names, prefix)
        if full:
            text += "\n%s     leaf at %s:%s, frame 0x%x" % (
                prefix, esc(frame.file), frame.line, frame.address)
    else:
        line = frame.line
        if lines and kind == "async" and frame.function in lines:
            line = lines[frame.function]
        text = "%s#%-2d %s at %s:%s" % (prefix, num, esc(frame.function),
                                        short_file(frame.file) if not full
                                        else esc(frame.file), line)
        if kind not in ("async", "leaf"):
            text += "  [%s of %d]" % (esc(kind), len(frame.children))
        if full:
            text += "  frame 0x%x" % frame.address
    if frame.error:
        text += "\n%s     %s" % (prefix, esc(frame.error))
    return text


def await_lines(tree, now, names, full, first_num=0, prefix="  ", lines=None):
    """The await tree as backtrace lines, innermost first.  A tree with
    combinators prints one branch per leaf; later branches stop where they
    join a frame already printed.  `lines`: {async function: line being
    executed} of a running task (running_lines)."""
    out = []
    paths = leaf_paths(tree)
    printed = {}  # id of a Frame -> (branch, number)
    for b, path in enumerate(paths):
        if len(paths) > 1:
            out.append("%sbranch %d of %d:" % (prefix, b + 1, len(paths)))
        num = first_num
        for frame in reversed(path):
            key = id(frame)
            if key in printed:
                pb, pn = printed[key]
                out.append("%s#%-2d ... joins #%d of branch %d (%s)" % (
                    prefix, num, pn, pb + 1, esc(frame.function) or "0x%x" % frame.address))
                break
            out.append(_frame_line(num, frame, now, names, full, prefix, lines))
            printed[key] = (b, num)
            num += 1
    return out


def native_lines(frames, full, prefix="  "):
    lines = []
    for f in frames:
        where = ""
        if f.file:
            where = " at %s:%d" % (esc(f.file) if full else short_file(f.file), f.line)
        lines.append("%s#%-2d 0x%016x in %s%s%s" % (
            prefix, f.level, f.pc, esc(f.function) or "??", where,
            " [inlined]" if f.inline else ""))
    return lines


def spawned_line(task, names):
    sp = task.spawn
    parent = task.parent
    who = ("task %d" % parent) if parent else "the program (outside any task)"
    if parent and names.get(parent):
        who = 'task %d "%s"' % (parent, esc(names[parent]))
    if sp is None:
        return "  spawned by %s" % who
    verb = "started by block_on in" if sp.kind == "block-on" else "spawned by"
    return "  %s %s at %s:%s (in %s)" % (verb, who, short_file(sp.file),
                                         sp.line, esc(sp.function))


def backtrace(task, now, names, lwp=None, native=None, native_error=None,
              full=False, chains=None):
    """async-bt of one Task; `lwp` is the thread polling it (if any) and
    `native` that thread's frames down to the task's at_root_poll.
    `chains` (a dict kept across the tasks of one reading) caches the lines
    of await chains, which without --full depend only on the chain's shape
    but for the leaf's line."""
    chain = task.chain
    if chains is not None and chain is not None and lwp is None and not full:
        lines = chains.get(chain)
        if lines is None:
            lines = await_lines(task.await_tree(), now, names, False)
            lines = chains[chain] = lines[1:] if chain.leaf else lines
        if chain.leaf:
            lines = [_waiting_line(0, chain.heads[-1].function, task.resource, now,
                                   names, "  ")] + lines
        return "\n".join([task_header(task, now)] + lines + [spawned_line(task, names)])
    lines = [task_header(task, now, lwp)]
    num = 0
    if lwp is not None:
        if native:
            lines.append("  native frames of %s, down to at_root_poll:" % lwp_text(lwp))
            lines.extend(native_lines(native, full))
            if not native[-1].is_root:
                lines.append("  (at_root_poll not reached after %d frames)" % len(native))
            num = native[-1].level + 1
            lines.append("  await chain:")
        elif native_error:
            lines.append("  native frames unavailable: %s" % esc(native_error))
    tree = task.await_tree()
    if tree is None:
        lines.append("  (no await frames: %s)" % (
            "the task has finished" if task.state in ("complete", "cancelled")
            else "the task has no future"))
    else:
        lines.extend(await_lines(tree, now, names, full, num,
                                 lines=running_lines(native) if lwp is not None else None))
    lines.append(spawned_line(task, names))
    return "\n".join(lines)


# -- threads and runtimes -------------------------------------------------------

def threads_table(threads, names, now, errors):
    """The `info async-threads` table."""
    if not threads:
        return "\n".join(["no thread has polled asynctrace tasks yet"] +
                         ["note: %s" % esc(e) for e in errors])
    numbered = bool(THREAD_NUMBERS)
    rows = [("LWP", "ROLE", "WORKER", "RUNTIME", "TASK", "POLLING FOR", "ROOT FRAMES")]
    if numbered:
        rows[0] = ("THREAD",) + rows[0]
    for t in threads:
        task = "-"
        if t["task"] is not None:
            task = "%d" % t["task"]
            if names.get(t["task"]):
                task += ' "%s"' % esc(names[t["task"]])
        roots = " <- ".join("task %d" % r for r in t["roots"]) or "-"
        row = (str(t["tid"]), esc(t["role"]),
               str(t["worker"]) if t["worker"] >= 0 else "-",
               str(t["runtime"]) if t["runtime"] is not None else "-",
               task, since(now, t["poll_start_ns"]) if t["task"] else "-", roots)
        if numbered:
            num = THREAD_NUMBERS.get(t["tid"])
            row = (str(num) if num is not None else "-",) + row
        rows.append(row)
    lines = _columns(rows, right=(0, 1) if numbered else (0,))
    for e in errors:
        lines.append("note: %s" % esc(e))
    return "\n".join(lines)


def runtimes_table(snap):
    """The `info async-runtimes` text (from the list walk only: no await
    trees are read)."""
    abi = snap.abi
    lines = ["asynctrace debugger ABI version %d, descriptor at 0x%x (found by %s), "
             "generation %d" % (abi.version, abi.address, abi.found_by, snap.generation)]
    if not snap.runtimes:
        lines.append("no runtime exists")
    for rt, tasks, errors in snap.runtimes:
        counts = {}
        for task in tasks:
            counts[task[3]] = counts.get(task[3], 0) + 1
        by_state = ", ".join("%d %s" % (counts[s], esc(s)) for s in abi.enums["task_state"]
                             if counts.get(s))
        lines.append("runtime %d at %s: %s, %s, %s (%s), %d spawned in total%s" % (
            rt["id"], rt["address"], esc(rt["flavor"]), count(rt["workers"], "worker"),
            count(len(tasks), "task"), by_state or "none", rt["spawned_total"],
            ", shut down" if snap.runtime_flags.get(rt["id"], 0) & C.RTF_SHUTDOWN
            else ""))
        if errors:
            lines.append("  %s" % esc("; ".join(errors)))
    lines.append(now_note(snap))
    for e in snap.errors:
        lines.append("note: %s" % esc(e))
    return "\n".join(lines)
