"""The wait-for graph of a reading for `info async-diagnose`: what each idle
task waits for, as a condition over other tasks, and which tasks can never
run again (the greatest fixpoint of "unsatisfiable").

A leaf's resource becomes an atom:
  ("task", ID, res)     waits until task ID moves (a mutex holder, a joined
                        task, the receiver of a full channel, a sender)
  ("never", KEY, res)   nobody can provide it, from what the runtime records
                        (KEY names the root cause: a finished holder, a
                        channel with no live sender, ...)
  ("unknown", WHY, res) cannot be settled from memory (a notify, I/O, a
                        damaged record: never counted as free)
  FREE                  progresses on its own (a timer, a ready resource)
Async frames and join-all need all their children ("and"), select and
timeout any one ("or").  Fields the runtime may not record yet are read with
res.get(name, default), so the analysis works with older programs too.
No gdb here: this module reads records only.
"""

from .deadlock import FREE, simplify  # one condition algebra

FINISHED = frozenset(("complete", "cancelled"))
MAX_DEPTH = 256


class Graph(object):
    """The analysis of one reading.  `state_of`: task id -> state name of
    every task on a list (a missing id is a task that no longer exists,
    unless `incomplete`: some list could not be read whole, so a missing
    task may just be unread)."""

    def __init__(self, state_of, now, incomplete=False):
        self.state_of = state_of
        self.now = now
        self.incomplete = incomplete
        self.conds = {}  # task id -> condition (not FREE)
        self.tasks = {}  # task id -> Task record (tasks with a condition)
        self.rev = {}  # task id -> [ids of tasks with an atom on it]
        self.dead = set()
        self.self_id = 0  # the task whose condition is being built

    # -- atoms ---------------------------------------------------------------

    def alive(self, tid):
        """False only for a task known to be finished or gone: a damaged
        state, or a task missing from a list that could not be read whole,
        counts as alive (a verdict never rests on what was not read)."""
        st = self.state_of.get(tid)
        if st is None:
            return self.incomplete
        return st not in FINISHED

    def gone_words(self, tid):
        """"complete", "cancelled" or "no longer exists" (for a task that is
        not alive)."""
        st = self.state_of.get(tid)
        return st if st is not None else "no longer exists"

    def atom(self, res):
        """The atom of a leaf's Resource."""
        if res.error is not None:
            return ("unknown", "its %s record is damaged (%s)" % (res.kind, res.error), res)
        fn = _ATOMS.get(res.kind)
        if fn is None:
            return FREE
        return fn(self, res)

    def _mutex(self, res):
        owner = res.get("owner", 0)
        if not owner:
            return FREE
        if not self.alive(owner):
            return ("never", ("holder-gone", res.object), res)
        return ("task", owner, res)

    def _join(self, res):
        target = res.get("task", 0)
        if not target or not self.alive(target):
            return FREE
        return ("task", target, res)

    def _send(self, res):
        cap = res.get("capacity")
        if res.get("closed") or cap is None or res.get("len", 0) < cap:
            return FREE
        rx = res.get("receiver_task", 0)
        if not rx:
            return ("unknown", "the channel's receiver is not recorded", res)
        if not self.alive(rx):
            return ("never", ("receiver-gone", res.object), res)
        return ("task", rx, res)

    def _recv(self, res):
        if res.get("len", 0) > 0:
            return FREE
        if res.get("closed") or res.get("senders", 1) == 0:
            return ("never", ("no-sender", res.object), res)
        holders = res.get("sender_tasks")
        if holders is None or res.get("sender_tasks_truncated"):
            return ("unknown", "who holds its %d sender handle(s) is not recorded"
                    % res.get("senders", 1), res)
        if res.get("senders", 0) > len(holders) or 0 in holders:
            return ("unknown", "a sender handle is held outside any task", res)
        if self.self_id in holders:
            return ("unknown", "its own task is charged with a sender handle (handed "
                    "on, perhaps: not recorded)", res)
        live = [h for h in holders if self.alive(h)]
        if not live:
            return ("never", ("sender-leaked", res.object), res)
        return _any([("task", h, res) for h in live])

    def _oneshot(self, res):
        if res.get("closed") or res.get("sender_dropped"):
            return ("never", ("oneshot-dropped", res.object), res)
        sender = res.get("sender_task", 0)
        if not sender:
            return ("unknown", "the holder of its sender is not recorded", res)
        if sender == self.self_id:
            return ("unknown", "it created the oneshot and handed its sender on (to "
                    "whom is not recorded)", res)
        if not self.alive(sender):
            return ("never", ("oneshot-leaked", res.object), res)
        return ("task", sender, res)

    def _semaphore(self, res):
        if res.get("permits", 0) >= res.get("wanted", 1):
            return FREE
        holders = res.get("holders")
        if holders is None or res.get("holders_truncated"):
            return ("unknown", "who holds its permits is not recorded", res)
        live = [h for h, _ in holders if self.alive(h)]
        held_live = sum(n for h, n in holders if self.alive(h))
        if res.get("permits", 0) + held_live < res.get("wanted", 1):
            return ("never", ("permits-leaked", res.object), res)
        return _any([("task", h, res) for h in live])

    def _notify(self, res):
        return ("unknown", "any task may notify it; the runtime does not record "
                "who can", res)

    def _io(self, res):
        return ("unknown", "it waits for fd %d to be ready" % res.get("fd", -1), res)

    def _blocking(self, res):
        return ("unknown", "it waits for blocking job %d" % res.get("job", 0), res)

    # -- conditions ------------------------------------------------------------

    def condition(self, task):
        """The simplified condition of an idle Task (FREE when it can move)."""
        self.self_id = task.id
        if task.chain is not None:
            return self.atom(task.resource) if task.resource is not None else FREE
        return simplify(self._tree(task.tree, 0))

    def _tree(self, frame, depth):
        if frame is None or depth > MAX_DEPTH:
            return ("unknown", "its await tree is too deep to read", None)
        if frame.resource is not None:
            return self.atom(frame.resource)
        if frame.head is None:
            return ("unknown", frame.error or "a frame cannot be read", None)
        if not frame.children:
            return FREE
        subs = [self._tree(k, depth + 1) for k in frame.children]
        return ("or" if frame.kind in ("select", "timeout") else "and", subs)

    def add(self, task, cond):
        """Record an idle task's (non-FREE) condition."""
        tid = task.id
        self.conds[tid] = cond
        self.tasks[tid] = task
        rev = self.rev
        for a in atoms(cond):
            if a[0] == "task":
                lst = rev.get(a[1])
                if lst is None:
                    rev[a[1]] = [tid]
                elif lst[-1] != tid:
                    lst.append(tid)

    def solve(self):
        """The tasks that can never run again: those whose condition cannot
        hold while every other task of the set is stuck (worklist: each
        task is re-checked only when a task it waits for gets free)."""
        conds = self.conds
        dead = self.dead = set(t for t, c in conds.items() if _can_block(c))
        work = list(dead)
        rev = self.rev
        while work:
            tid = work.pop()
            if tid in dead and _sat(conds[tid], dead):
                dead.discard(tid)
                work.extend(rev.get(tid, ()))
        return dead

    def behind(self, roots, taken):
        """Ids of the tasks that wait (transitively) on `roots`, not in
        `taken` (which grows: each task is listed behind one finding)."""
        out = []
        stack = list(roots)
        rev = self.rev
        while stack:
            for w in rev.get(stack.pop(), ()):
                if w not in taken:
                    taken.add(w)
                    out.append(w)
                    stack.append(w)
        return out


_ATOMS = {
    "mutex": Graph._mutex,
    "join": Graph._join,
    "channel-send": Graph._send,
    "channel-recv": Graph._recv,
    "oneshot": Graph._oneshot,
    "semaphore": Graph._semaphore,
    "notify": Graph._notify,
    "read": Graph._io,
    "write": Graph._io,
    "blocking": Graph._blocking,
}


def _any(subs):
    if not subs:
        return FREE
    return subs[0] if len(subs) == 1 else ("or", subs)


def _sat(cond, dead):
    tag = cond[0]
    if tag == "task":
        return cond[1] not in dead
    if tag == "never":
        return False
    if tag == "and":
        return all(_sat(c, dead) for c in cond[1])
    if tag == "or":
        return any(_sat(c, dead) for c in cond[1])
    return True  # free, unknown


def _can_block(cond):
    """False when the condition holds whatever other tasks do (nothing but
    unknowns decide it)."""
    return not _sat(cond, _ALL)


class _All(object):
    def __contains__(self, _):
        return True


_ALL = _All()


def atoms(cond, out=None):
    """The atoms of a condition, in await order."""
    out = [] if out is None else out
    if cond[0] in ("and", "or"):
        for c in cond[1]:
            atoms(c, out)
    elif cond[0] != "free":
        out.append(cond)
    return out


def edges(graph, tid):
    """(target id, resource) of each task atom of `tid` toward a dead task."""
    dead = graph.dead
    return [(a[1], a[2]) for a in atoms(graph.conds[tid])
            if a[0] == "task" and a[1] in dead]
