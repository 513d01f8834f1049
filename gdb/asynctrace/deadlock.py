"""Deadlock analysis on task records (records.py): the wait-for graph of
idle tasks.

Each idle task's await tree becomes a condition: leaves give atoms (wait for
task N: a mutex's holder, a joined task, the receiver of a full bounded
channel; "never": a receive on a channel with no sender left, a oneshot whose
sender is gone; "free": anything that can make progress on its own, such as
a timer or I/O), async frames and join-all need all of their children,
select and timeout need any one.  The tasks that can never run again are the
greatest fixpoint of "cannot be satisfied assuming every other task can
progress".  Among them, wait-for cycles are reported once each (starting at
their lowest task id); the rest are "stuck", with the reason.
"""

FREE = ("free",)
MAX_CYCLES = 100
MAX_STEPS = 200000


def _atom(res, self_id):
    kind = res.kind
    if res.error:
        return FREE
    obj = res.object_text
    via = {"kind": kind, "object": obj}
    if kind == "mutex":
        owner = res.get("owner") or 0
        return ("task", owner, via) if owner else FREE
    if kind == "join":
        target = res.get("task") or 0
        return ("task", target, via) if target else FREE
    if kind == "channel-send":
        cap = res.get("capacity")
        rx = res.get("receiver_task") or 0
        if res.get("closed") or cap is None or res.get("len", 0) < cap or not rx:
            return FREE
        return ("task", rx, via)
    if kind == "channel-recv":
        if res.get("len", 0) > 0:
            return FREE
        if res.get("closed") or res.get("senders", 1) == 0:
            return ("never", "channel %s has no sender left" % obj)
        return FREE
    if kind == "oneshot":
        if res.get("closed"):
            return ("never", "oneshot %s lost its sender without a value" % obj)
        return FREE
    return FREE


def _condition(frame, self_id, depth=0):
    """("and"|"or", [conditions]) or an atom."""
    if frame is None or depth > 256:
        return FREE
    res = frame.resource
    kids = frame.children
    if res is not None:
        return _atom(res, self_id)
    if not kids:
        return FREE
    subs = [_condition(k, self_id, depth + 1) for k in kids]
    if frame.kind in ("select", "timeout"):
        return ("or", subs)
    return ("and", subs)


def _simplify(cond):
    """FREE for a condition that holds whatever other tasks do."""
    tag = cond[0]
    if tag == "and":
        subs = [c for c in (_simplify(c) for c in cond[1]) if c is not FREE]
        if not subs:
            return FREE
        return subs[0] if len(subs) == 1 else ("and", subs)
    if tag == "or":
        subs = [_simplify(c) for c in cond[1]]
        if any(c is FREE for c in subs):
            return FREE
        return subs[0] if len(subs) == 1 else ("or", subs)
    return cond


def _satisfiable(cond, dead):
    tag = cond[0]
    if tag == "free":
        return True
    if tag == "never":
        return False
    if tag == "task":
        return cond[1] not in dead
    if tag == "and":
        return all(_satisfiable(c, dead) for c in cond[1])
    return any(_satisfiable(c, dead) for c in cond[1])


def _atoms(cond, out):
    tag = cond[0]
    if tag in ("and", "or"):
        for c in cond[1]:
            _atoms(c, out)
    elif tag != "free":
        out.append(cond)
    return out


# Resource kinds that can make a task wait on another task or forever; a
# task waiting on none of them can always make progress.
BLOCKING_KINDS = ("mutex", "join", "channel-send", "channel-recv", "oneshot")


def analyse(tasks_list, waiting):
    """Deadlock analysis of idle tasks.  `tasks_list`: the Task records that
    may be blocked (every idle task waiting on a BLOCKING_KINDS resource, at
    least); `waiting`: how many tasks wait in all.  Returns {"cycles":
    [...], "stuck": [...], "waiting": N}, the document's parts."""
    tasks = {}
    conds = {}
    for t in tasks_list:
        tasks[t.id] = t
        tree = t.await_tree() if t.state == "idle" else None
        if tree is not None:
            cond = _simplify(_condition(tree, t.id))
            if cond is not FREE:
                conds[t.id] = cond
    dead = set(conds)
    changed = True
    while changed:
        changed = False
        for tid in sorted(dead):
            if _satisfiable(conds[tid], dead):
                dead.discard(tid)
                changed = True
    edges = {}
    for tid in dead:
        edges[tid] = [(a[1], a[2]) for a in _atoms(conds[tid], [])
                      if a[0] == "task" and a[1] in dead]
    cycles = _cycles(edges)
    on_cycle = set(tid for cyc in cycles for tid, _ in cyc)
    doc_cycles = [[{"task": tid, "name": tasks[tid].name, "via": via}
                   for tid, via in cyc] for cyc in cycles]
    stuck = []
    for tid in sorted(dead - on_cycle):
        stuck.append({"task": tid, "name": tasks[tid].name,
                      "reason": _reason(conds[tid], dead, on_cycle, tasks)})
    return {"cycles": doc_cycles, "stuck": stuck, "waiting": waiting}


def _cycles(edges):
    """Elementary cycles of the graph, each once, starting at its lowest id."""
    found = []
    steps = [0]
    for start in sorted(edges):
        if len(found) >= MAX_CYCLES:
            break
        # DFS over nodes >= start, so each cycle is found from its lowest id.
        stack = [(start, iter(edges.get(start, ())))]
        path = [(start, None)]
        on_path = {start}
        while stack and steps[0] < MAX_STEPS and len(found) < MAX_CYCLES:
            steps[0] += 1
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                on_path.discard(path.pop()[0])
                continue
            target, via = nxt
            if target == start:
                cyc = [(n, None) for n, _ in path]
                # via of each node: what it waits for toward the next node
                vias = [v for _, v in path[1:]] + [via]
                found.append([(cyc[i][0], vias[i]) for i in range(len(cyc))])
                continue
            if target < start or target in on_path or target not in edges:
                continue
            path.append((target, via))
            on_path.add(target)
            stack.append((target, iter(edges.get(target, ()))))
    return found


def _reason(cond, dead, on_cycle, tasks):
    """Why a stuck task cannot move: its first blocked atom, or for a
    select (an "or") every branch."""
    if cond[0] == "or":
        return "every branch it waits on is blocked: " + "; ".join(
            _reason(c, dead, on_cycle, tasks) for c in cond[1])
    if cond[0] == "and":
        for c in cond[1]:
            if not _satisfiable(c, dead):
                return _reason(c, dead, on_cycle, tasks)
    if cond[0] == "never":
        return cond[1]
    if cond[0] == "task" and cond[1] in dead:
        target = cond[1]
        what = "in a deadlock cycle" if target in on_cycle else "stuck"
        return "%s, and task %d \"%s\" is %s" % (
            via_words(cond[2], target), target, tasks[target].name, what)
    return "it waits on something that cannot be settled"


def via_words(via, target=None):
    kind = via.get("kind")
    obj = via.get("object")
    if kind == "mutex":
        return "mutex %s held by task %d" % (obj, target) if target else "mutex %s" % obj
    if kind == "join":
        return "join task %d" % target if target else "join"
    if kind == "channel-send":
        return "send on full channel %s" % obj
    return "%s %s" % (kind, obj)


def cycle_text(cycle):
    parts = []
    for entry in cycle:
        parts.append('task %d "%s"' % (entry["task"], entry["name"]))
        via = entry["via"]
        if via["kind"] == "join":
            parts.append("join")
        elif via["kind"] == "channel-send":
            parts.append("full channel %s" % via["object"])
        else:
            parts.append("%s %s" % (via["kind"], via["object"]))
    parts.append("task %d" % cycle[0]["task"])
    return " -> ".join(parts)


def report_text(result):
    lines = []
    for cyc in result["cycles"]:
        lines.append("deadlock: " + cycle_text(cyc))
    for s in result["stuck"]:
        lines.append('stuck: task %d "%s": %s' % (s["task"], s["name"], s["reason"]))
    if not lines:
        if result["waiting"]:
            lines.append("no wait-for cycle found; %d waiting tasks wait on things this "
                         "analysis cannot settle: see info async-diagnose"
                         % result["waiting"])
        else:
            lines.append("no wait-for cycle found: no task is waiting")
    return "\n".join(lines)
