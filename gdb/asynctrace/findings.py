"""The finders of `info async-diagnose` (diagnose.py runs them after its
pass over the tasks): each adds findings to a Diagnosis.  A finding is a
dict: kind, certainty ("proven", "likely", "unsettled"), why (what the
certainty rests on), title (one line), resource, culprit, tasks (the tasks
it names), roots (ids the "stuck behind" search starts from) and, after
attach_behind(), behind.  No gdb here.
"""

from . import deadlock
from . import waitgraph as wg

MS = 1000000
LONG_POLL_NS = 100 * MS  # a poll this long has not yielded
STARVE_NS = 100 * MS  # runnable this long without a poll
FAR_TIMER_NS = 24 * 3600 * 1000 * MS  # a timer set further ahead than this
JSON_CAP = 100  # tasks listed per finding in JSON (counts are exact)
SYSCALL_PREFIXES = ("__GI___libc_", "__GI___", "__libc_", "__GI_", "__")


def find_all(d):
    on_cycle = _cycles(d)
    _never(d, on_cycle)
    _running(d)
    _starvation(d)
    _lost_notify(d)
    _far_timers(d)


def _finding(kind, certainty, why, title, tasks, roots, resource=None, culprit=None):
    return {"kind": kind, "certainty": certainty, "why": why, "title": title,
            "resource": resource, "culprit": culprit, "count": len(tasks),
            "tasks": tasks, "roots": roots}


def _res_ref(res):
    return {"kind": res.kind, "object": res.object_text} if res is not None else None


# -- proven: cycles and things nobody can provide ------------------------------------

def cycles_of(d):
    """Wait-for cycles among the tasks that can never run again (each once,
    from its lowest id), as lists of (task id, resource it waits on)."""
    g = d.graph
    edges = {tid: wg.edges(g, tid) for tid in g.dead}
    return deadlock._cycles(edges)


def _cycles(d):
    on_cycle = set()
    seen = set()
    for cyc in cycles_of(d):
        ids = [tid for tid, _ in cyc]
        if tuple(ids) in seen:  # the same tasks through another resource
            continue
        seen.add(tuple(ids))
        on_cycle.update(ids)
        tasks = []
        for i, (tid, res) in enumerate(cyc):
            e = d.entry(d.graph.tasks[tid], res)
            e["waits_on_task"] = ids[(i + 1) % len(ids)]
            tasks.append(e)
        kinds = sorted(set(res.kind for _, res in cyc))
        title = "deadlock: %d tasks wait for each other in a cycle (%s): %s" % (
            len(ids), ", ".join(kinds), " -> ".join(str(i) for i in ids + ids[:1]))
        d.findings.append(_finding(
            "cycle", "proven", "every task of the cycle waits for the next one and "
            "nothing else can release them", title, tasks, ids))
    return on_cycle


_NEVER_KIND = {"holder-gone": "holder-gone", "permits-leaked": "leaked-permits"}


def _never(d, on_cycle):
    """Dead tasks waiting on something nobody can provide, one finding per
    root cause (resource)."""
    g = d.graph
    groups = {}
    order = []
    for tid in sorted(g.dead):
        if tid in on_cycle:
            continue
        for a in wg.atoms(g.conds[tid]):
            if a[0] != "never":
                continue
            key = a[1]
            if key not in groups:
                groups[key] = (a[2], [])
                order.append(key)
            members = groups[key][1]
            if not members or members[-1].id != tid:
                members.append(g.tasks[tid])
    for key in order:
        res, members = groups[key]
        title, culprit = _never_words(d, key[0], res)
        tasks = [d.entry(t, _leaf_on(t, res)) for t in members]
        bookkept = key[0] in _BOOKKEPT
        d.findings.append(_finding(
            _NEVER_KIND.get(key[0], "no-provider"), "likely" if bookkept else "proven",
            _NEVER_WHY[key[0]] + (_BOOKKEPT_WHY if bookkept else ""), title, tasks,
            [t.id for t in members], _res_ref(res), culprit))


# Root causes read from the runtime's holder bookkeeping (by task, with a
# parent rule): strong evidence, not proof (docs/abi.md, "Holder tables").
_BOOKKEPT = ("sender-leaked", "oneshot-leaked", "permits-leaked")
_BOOKKEPT_WHY = (" (by the runtime's bookkeeping of holders; a handle or permit "
                 "handed to a task its holder did not spawn would not show)")

_NEVER_WHY = {
    "holder-gone": "the holder can no longer unlock it",
    "receiver-gone": "nobody can receive from it",
    "no-sender": "every sender handle is gone",
    "sender-leaked": "no live task holds a sender handle",
    "oneshot-dropped": "its sender was dropped",
    "oneshot-leaked": "the task holding its sender has exited",
    "permits-leaked": "the live holders cannot release enough permits",
}


def _leaf_on(task, res):
    """The resource record of `task` on the same object as `res` (each
    task has its own record: its since_ns differs)."""
    for r in task.resources():
        if r.kind == res.kind and r.object == res.object:
            return r
    return res


def _task_words(d, tid):
    name = d.names.get(tid)
    return 'task %d "%s"' % (tid, name) if name is not None else "task %d" % tid


def _gone_words(d, tid):
    st = d.state_of.get(tid)
    if st == "complete":
        return "which finished (complete) without releasing it"
    if st == "cancelled":
        return "which was cancelled while holding it"
    return "which no longer exists (it finished and was freed)"


def _never_words(d, code, res):
    """(title, culprit) of a root cause."""
    obj = res.object_text
    if code == "holder-gone":
        owner = res.get("owner", 0)
        culprit = d.task_ref(owner)
        title = "mutex %s is held by %s, %s" % (obj, _task_words(d, owner),
                                                 _gone_words(d, owner))
        if res.get("lock_function"):
            site = {"function": res.get("lock_function"), "file": res.get("lock_file"),
                    "line": res.get("lock_line", 0)}
            culprit["took_lock_at"] = site
            title += "; it took the lock at %s %s:%s" % (
                site["function"], _base(site["file"]), site["line"])
        return title, culprit
    if code == "receiver-gone":
        rx = res.get("receiver_task", 0)
        return ("channel %s is full and its receiver %s %s" % (
            obj, _task_words(d, rx), _gone_words(d, rx).replace("releasing", "receiving")),
            d.task_ref(rx))
    if code == "no-sender":
        why = "closed" if res.get("closed") else "every sender handle was dropped"
        return "channel %s is empty and nobody can send on it (%s)" % (obj, why), None
    if code == "sender-leaked":
        holders = res.get("sender_tasks") or []
        who = ", ".join("%s (%s)" % (_task_words(d, h), d.graph.gone_words(h))
                        for h in holders[:3])
        return ("channel %s is empty and its sender handle is leaked: held only by %s"
                % (obj, who)), (d.task_ref(holders[0]) if holders else None)
    if code == "oneshot-dropped":
        return "oneshot %s will never complete: its sender was dropped" % obj, None
    if code == "oneshot-leaked":
        s = res.get("sender_task", 0)
        return ("oneshot %s will never complete: its sender is held by %s (%s)" % (
            obj, _task_words(d, s), d.graph.gone_words(s))), d.task_ref(s)
    return _permits_words(d, res)


def _permits_words(d, res):
    holders = res.get("holders") or []
    gone = [(h, n) for h, n in holders if not d.graph.alive(h)]
    cap = res.get("capacity")
    leaked = sum(n for _, n in gone)
    who = ", ".join("%s (%s) holds %d" % (_task_words(d, h), d.graph.gone_words(h), n)
                    for h, n in gone[:3])
    title = "semaphore %s: %d%s permits leaked by tasks that exited: %s" % (
        res.object_text, leaked, " of %d" % cap if cap else "", who or "none recorded")
    return title, (d.task_ref(gone[0][0]) if gone else None)


def _base(path):
    return path.rsplit("/", 1)[-1] if path else "?"


# -- likely: threads stuck inside a poll, starvation, lost wake-ups, timers -----------

def _thread_of(d, tid):
    for th in d.snap.threads:
        if th.get("task") == tid:
            return th
    return None


def user_frame(frames):
    """The innermost native frame in the program's own code (not libc, not
    the runtime), else the innermost named one, else None."""
    named = None
    for f in frames or ():
        fn = f.function or ""
        if named is None and fn:
            named = f
        if (not f.file or "/runtime/src/" in f.file or fn.startswith(("at_", "_"))
                or f.file.startswith(("./", "../"))):
            continue  # libc (built elsewhere: relative paths) or the runtime
        return f
    return named


def syscall_name(frames):
    """The system call a thread sits in, from its innermost frame's name
    (__GI___libc_read -> read), or None."""
    if not frames or not frames[0].function:
        return None
    fn = frames[0].function
    for p in SYSCALL_PREFIXES:
        if fn.startswith(p):
            fn = fn[len(p):]
            break
    return fn


def _running(d):
    blocked_by_rt = {}
    for rt, t in d.running:
        nat = d.native_of(t) if d.native_of is not None else None
        th = _thread_of(d, t.id)
        polled = d.since(th["poll_start_ns"]) if th is not None else None
        e = d.entry(t, None, polled)
        frames = nat.get("frames") if nat else None
        uf = user_frame(frames)
        if uf is not None:
            fn = uf.function or "?"
            # fn_poll is async function fn: name it as its await chain does
            e["at"] = {"function": fn[:-5] if fn.endswith("_poll") else fn,
                       "file": uf.file, "line": uf.line}
        if nat:
            e["lwp"] = nat.get("lwp")
        where = _where_words(e["at"])
        if nat and nat.get("in_syscall"):
            call = syscall_name(frames) or "a system call"
            e["syscall"] = call
            f = _finding("blocked-syscall", "likely", "the system call may still return; "
                         "until it does, the thread runs nothing else",
                         "%s is blocked in %s() inside its poll%s" % (
                             _task_words(d, t.id), call, where), [e], [t.id])
        elif polled is not None and polled >= LONG_POLL_NS or (not d.exact and nat):
            certain = polled is not None and polled >= LONG_POLL_NS
            f = _finding("no-yield", "likely" if certain else "unsettled",
                         "a poll should return quickly; this one has not yielded" if certain
                         else "it may be making progress: the reading's clock gives only "
                         "a lower bound", "%s is running inside its poll without "
                         "yielding%s" % (_task_words(d, t.id), where), [e], [t.id])
        else:
            continue
        d.findings.append(f)
        if th is not None and th.get("role") in ("worker", "block-on"):
            blocked_by_rt.setdefault(th.get("runtime"), []).append(e)
    _all_workers(d, blocked_by_rt)


def _where_words(at):
    if not at:
        return ""
    return ", at %s %s:%s" % (at["function"], _base(at["file"]), at["line"])


def _all_workers(d, blocked_by_rt):
    for rt, items, _ in d.snap.runtimes:
        stuck = blocked_by_rt.get(rt["id"], [])
        workers = rt.get("workers") or 1
        if not stuck or len(stuck) < workers:
            continue
        queued = sum(1 for it in items if it[3] == "scheduled")
        title = ("every worker of runtime %d (%s, %d worker%s) is stuck inside a poll: "
                 "nothing else on it can run; %d task%s runnable" % (
                     rt["id"], rt["flavor"], workers, "" if workers == 1 else "s",
                     queued, " is" if queued == 1 else "s are"))
        d.findings.append(_finding("all-workers-blocked", "likely",
                                   "no worker is free to poll another task",
                                   title, stuck, []))


def _starvation(d):
    if not d.scheduled:
        return
    d.scheduled.sort(key=lambda x: -x[0])
    tasks = [d.entry(t, None, w) for w, t in d.scheduled]
    title = "%d runnable task%s waited long to be polled (the longest %s)" % (
        len(tasks), "" if len(tasks) == 1 else "s", d.dur(d.scheduled[0][0]))
    busy = [f for f in d.findings if f["kind"] == "all-workers-blocked"]
    why = ("they are scheduled but every worker is stuck inside a poll (see above)" if busy
           else "they are scheduled but no worker has polled them")
    d.findings.append(_finding("starvation", "likely", why, title, tasks, []))


def _lost_notify(d):
    for obj, (res, waiters) in sorted(d.lost_notify.items()):
        last = res.get("last_notifier", 0)
        title = ("notify %s was last signalled by %s, %s; no task recorded will "
                 "signal it again" % (res.object_text, _task_words(d, last),
                                      "which has %s" % ("finished" if d.state_of.get(last)
                                                         else "exited and been freed")))
        tasks = [d.entry(t, _leaf_on(t, res)) for t in waiters]
        d.findings.append(_finding("lost-notify", "likely", "any task holding a pointer "
                                   "to it could still notify it", title, tasks,
                                   [t.id for t in waiters], _res_ref(res),
                                   d.task_ref(last)))


def _far_timers(d):
    if not d.far_timers:
        return
    d.far_timers.sort(key=lambda x: -x[0])
    tasks = []
    for ahead, t, res in d.far_timers:
        e = d.entry(t, res)
        e["due_in_ns"] = ahead
        tasks.append(e)
    title = "%d timer%s set implausibly far ahead (up to %s)" % (
        len(tasks), "" if len(tasks) == 1 else "s", d.dur(d.far_timers[0][0], True))
    d.findings.append(_finding("far-timer", "likely", "a deadline this far away is "
                               "usually a unit or overflow bug", title, tasks,
                               [t.id for _, t, _ in d.far_timers]))


# -- stuck behind --------------------------------------------------------------------

def attach_behind(d):
    """Give each finding (in rank order) the tasks that wait on its tasks,
    transitively; each task is listed once, behind the first finding that
    reaches it.  Dead tasks reached by none get a finding of their own."""
    g = d.graph
    taken = set()
    for f in d.findings:
        taken.update(e["task"] for e in f["tasks"])
    for f in d.findings:
        ids = g.behind(f.pop("roots"), taken)
        f["behind"] = {"count": len(ids), "tasks": [_behind_ref(d, i) for i in ids[:JSON_CAP]]}
    rest = sorted(tid for tid in g.dead if tid not in taken)
    if rest:
        taken.update(rest)
        tasks = [d.entry(g.tasks[tid]) for tid in rest]
        d.findings.append({"kind": "stuck", "certainty": "proven",
                           "why": "each waits for a task that can never run again",
                           "title": "%d task%s can never run again" % (
                               len(rest), "" if len(rest) == 1 else "s"),
                           "resource": None, "culprit": None, "count": len(rest),
                           "tasks": tasks, "behind": {"count": 0, "tasks": []}})
    d.listed = taken


def _behind_ref(d, tid):
    e = d.task_ref(tid)
    for a in wg.atoms(d.graph.conds.get(tid, wg.FREE)):
        if a[0] == "task":
            e["waits"] = {"kind": a[2].kind, "object": a[2].object_text, "task": a[1]}
            break
    return e
