"""`info async-diagnose`: from one reading to a ranked list of findings,
most certain and most upstream first (docs/gdb.md, "Diagnosing a hang").

The reading is anything with a Snapshot's interface (runtimes, tasks(),
threads, walker.names, now); native facts about tasks being polled on a
thread come from `native_of(task)` (the GDB front end unwinds the thread;
other sources may give None).  Each finding is a dict ready for JSON:
kind, certainty ("proven", "likely", "unsettled"), why, title, the culprit
and resource, the tasks it names (with their await line and how long they
have waited) and the tasks stuck behind it.  diagnose_text.py prints it.
One pass over the tasks, then work proportional to the tasks that wait on
other tasks.  No gdb here.
"""

from . import findings
from . import text
from . import waitgraph as wg
from .findings import FAR_TIMER_NS, JSON_CAP, STARVE_NS
from .text import leaf_paths

CERTAINTY_RANK = {"proven": 0, "likely": 1, "unsettled": 2}
KIND_RANK = {k: i for i, k in enumerate((
    "cycle", "holder-gone", "no-provider", "leaked-permits", "blocked-syscall",
    "no-yield", "all-workers-blocked", "lost-notify", "starvation", "far-timer",
    "stuck"))}


def reading_clock(snap):
    """(now_ns, exact, source) of a reading (fields the runtime may not
    record yet default to "not exact")."""
    now = getattr(snap, "now_ns", None)
    if now is None:
        now = getattr(snap, "now", None)
    exact = bool(getattr(snap, "now_exact", False))
    source = getattr(snap, "now_source", None) or getattr(snap, "clock_kind", "?")
    return now, exact, source


class Diagnosis(object):
    """State of one diagnosis while it is built."""

    def __init__(self, snap, native_of):
        self.snap = snap
        self.native_of = native_of
        self.now, self.exact, self.now_source = reading_clock(snap)
        self.names = snap.walker.names
        state_of = {}
        for _, items, _ in snap.runtimes:
            for item in items:
                state_of[item[0]] = item[3]
        self.state_of = state_of
        # A list that could not be read whole (not a note about the reading).
        incomplete = any(errs for _, _, errs in snap.runtimes) or any(
            "corrupt" in e for e in getattr(snap, "errors", ()))
        self.graph = wg.Graph(state_of, self.now, incomplete)
        self.findings = []
        self.unsettled = {}  # why -> [count, longest wait, [task ids], kind]
        self.sleeping = [0, None]  # count, earliest deadline
        self.scheduled = []  # (waited ns, task)
        self.running = []  # (rt, task)
        self.far_timers = []  # (ahead ns, task, resource)
        self.lost_notify = {}  # notify object -> [resource, [tasks]]
        self.ntasks = len(state_of)
        self.waiting = 0

    # -- small helpers ---------------------------------------------------------

    def since(self, ns):
        """now - ns; a lower bound when now is (never below 0: a reading
        whose now is only the program's last clock reading may be older
        than a thread's poll start)."""
        if not ns or self.now is None:
            return None
        d = self.now - ns
        return d if d >= 0 or self.exact else 0

    def dur(self, ns, exact=False):
        """A duration in words; "at least" when the reading's now is only
        a lower bound (`exact`: a span that does not depend on now's error
        would still be exact, but every span here is measured from now)."""
        fmt = getattr(text, "fmt_duration", None) or text.duration
        if ns is None:
            return "an unknown time"
        return fmt(ns) if (self.exact or exact) else "at least " + fmt(ns)

    def task_ref(self, tid):
        return {"task": tid, "name": self.names.get(tid),
                "state": self.state_of.get(tid, "gone")}

    def entry(self, task, res=None, waited=None):
        """A task as a finding lists it: id, name, state, await line, what
        it waits on and for how long."""
        e = self.task_ref(task.id)
        e["at"] = await_site(task, res)
        if res is not None:
            e["waits"] = {"kind": res.kind, "object": res.object_text}
        if waited is None:
            waited = self.since(res.since_ns if res is not None and res.since_ns
                                else task.state_ns)
        e["for_ns"] = waited
        return e

    # -- the pass over every task ------------------------------------------------

    def scan(self):
        graph = self.graph
        for rt, t in self.snap.tasks():
            st = t.state
            if st == "idle":
                self.waiting += 1
                cond = graph.condition(t)
                if cond is wg.FREE:
                    self._free(t)
                elif cond[0] == "unknown":
                    self._unsettled(t, cond)
                else:
                    graph.add(t, cond)
            elif st == "scheduled":
                waited = self.since(t.state_ns)
                if waited is not None and waited >= STARVE_NS:
                    self.scheduled.append((waited, t))
            elif st == "running":
                self.running.append((rt, t))

    def _free(self, t):
        if t.chain is not None:
            res = t.resource
        else:
            rs = t.resources()
            res = rs[0] if len(rs) == 1 else None
        if res is None or res.kind != "sleep":
            return
        deadline = res.get("deadline_ns", 0)
        self.sleeping[0] += 1
        if deadline and (self.sleeping[1] is None or deadline < self.sleeping[1]):
            self.sleeping[1] = deadline
        if deadline and self.now is not None and deadline - self.now > FAR_TIMER_NS:
            self.far_timers.append((deadline - self.now, t, res))

    def _unsettled(self, t, cond):
        why = cond[1]
        res = cond[2]
        slot = self.unsettled.get(why)
        if slot is None:
            slot = self.unsettled[why] = [0, None, [], res.kind if res else "?"]
        slot[0] += 1
        waited = self.since(res.since_ns if res is not None and res.since_ns
                            else t.state_ns)
        if waited is not None and (slot[1] is None or waited > slot[1]):
            slot[1] = waited
        slot[2].append(t.id)  # all of them: the tasks behind are searched from each
        if res is not None and res.kind == "notify":
            self._notify_check(t, res)

    def _notify_check(self, t, res):
        last = res.get("last_notifier", 0)
        if last and not self.graph.alive(last):
            slot = self.lost_notify.setdefault(res.object, [res, []])
            slot[1].append(t)


def await_site(task, res=None):
    """{function, file, line} of the innermost async frame above the leaf
    waiting on `res` (or above the first leaf), or None."""
    chain = task.chain
    if chain is not None:
        for head in reversed(chain.heads):
            if head.kind == "async":
                return {"function": head.function, "file": head.file, "line": head.line}
        return None
    tree = task.tree
    if tree is None:
        return None
    paths = leaf_paths(tree)
    pick = paths[0] if paths else []
    for p in paths:
        if res is not None and p[-1].resource is res:
            pick = p
            break
    for f in reversed(pick):
        if f.kind == "async":
            return {"function": f.function, "file": f.file, "line": f.line}
    return None


def diagnose(snap, native_of=None):
    """The diagnosis of a reading, as a JSON-ready dict."""
    d = Diagnosis(snap, native_of)
    d.scan()
    d.graph.solve()
    findings.find_all(d)
    d.findings.sort(key=lambda f: (CERTAINTY_RANK[f["certainty"]], KIND_RANK[f["kind"]]))
    findings.attach_behind(d)
    return report(d)


def report(d):
    runtimes = [{"id": rt["id"], "flavor": rt["flavor"], "workers": rt["workers"],
                 "tasks": len(items)} for rt, items, _ in d.snap.runtimes]
    unsettled = []
    for why, (n, longest, ids, kind) in sorted(d.unsettled.items(),
                                               key=lambda kv: -kv[1][0]):
        behind = d.graph.behind(ids, d.listed)
        unsettled.append({"kind": kind, "why": why, "count": n, "longest_ns": longest,
                          "tasks": [d.task_ref(i) for i in ids[:JSON_CAP]],
                          "behind": {"count": len(behind),
                                     "tasks": [d.task_ref(i) for i in behind[:JSON_CAP]]}})
    moving = [tid for tid in d.graph.conds if tid not in d.graph.dead
              and tid not in d.listed]
    errors = list(getattr(d.snap, "errors", []))
    errors += [e for _, _, errs in d.snap.runtimes for e in errs]
    return {
        "format": "asynctrace-diagnosis", "version": 1,
        "source": getattr(d.snap, "source", None),
        "clock": {"now_ns": d.now, "source": d.now_source, "exact": d.exact},
        "tasks": d.ntasks, "waiting": d.waiting, "runtimes": runtimes,
        "findings": d.findings,
        "unsettled": unsettled,
        "sleeping": {"count": d.sleeping[0],
                     "next_due_ns": (d.sleeping[1] - d.now)
                     if d.sleeping[1] and d.now is not None else None},
        "waiting_on_movable": {"count": len(moving),
                               "tasks": [d.task_ref(t) for t in sorted(moving)[:JSON_CAP]]},
        "errors": errors,
    }

