"""Deadlock analysis on task records (records.py): the wait-for graph of
idle tasks.

Each idle task's await tree becomes a condition: leaves give atoms (wait for
task N: a mutex's holder, a joined task, the receiver of a full bounded
channel; "never": a receive on a channel with no sender left, a oneshot whose
sender is gone; "free": anything that can make progress on its own, such as
a timer or I/O; "corrupt": a record that does not check out, so what the
task waits for is unknown), async frames and join-all need all of their
children, select and timeout need any one.  The tasks that can never run
again are the greatest fixpoint of "cannot be satisfied assuming every other
task can progress".

A damaged record is never taken as "free": the fixpoint is computed twice,
with corrupt atoms unsatisfiable and satisfiable.  A task stuck either way
rests on verified records only; a task stuck only in the first is reported
with the corrupt record its verdict depends on.  Every task record with a
problem that the analysis met is listed ("corrupt" in the result).

Everything is linear in the number of tasks and atoms: the fixpoint is a
worklist over reverse dependencies, cycles are looked for only inside
strongly connected components.
"""

from . import text

FREE = ("free",)
MAX_CYCLES = 100
MAX_STEPS = 200000
MAX_DEPTH = 256


def _atom(res, self_id):
    kind = res.kind
    if res.error:
        return ("corrupt", self_id, res.error)
    if kind == "join" or kind == "mutex":  # the usual waits: field 0 is the task
        target = res.values[0] if res.values else 0
        if not target:
            return FREE
        return ("task", target, {"kind": kind, "object": "0x%x" % res.object
                                 if res.object else None})
    obj = res.object_text
    via = {"kind": kind, "object": obj}
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
    if frame is None:
        return FREE
    if depth > MAX_DEPTH:
        return ("corrupt", self_id, "await tree deeper than %d frames" % MAX_DEPTH)
    if frame.head is None:
        return ("corrupt", self_id, frame.error or "unreadable frame")
    res = frame.resource
    kids = frame.children
    if res is not None:
        return _atom(res, self_id)
    subs = [_condition(k, self_id, depth + 1) for k in kids]
    if frame.error:  # children cut or lost: what they wait for is unknown
        subs.append(("corrupt", self_id, frame.error))
    if not subs:
        return FREE
    if frame.kind in ("select", "timeout"):
        return ("or", subs)
    return ("and", subs)


def simplify(cond):
    """FREE for a condition that holds whatever other tasks do (the
    condition algebra of this module and of waitgraph.py)."""
    tag = cond[0]
    if tag == "and":
        subs = [c for c in (simplify(c) for c in cond[1]) if c is not FREE]
        if not subs:
            return FREE
        return subs[0] if len(subs) == 1 else ("and", subs)
    if tag == "or":
        subs = [simplify(c) for c in cond[1]]
        if any(c is FREE for c in subs):
            return FREE
        return subs[0] if len(subs) == 1 else ("or", subs)
    return cond


def _satisfiable(cond, dead, corrupt_ok):
    tag = cond[0]
    if tag == "free":
        return True
    if tag == "never":
        return False
    if tag == "corrupt":
        return corrupt_ok
    if tag == "task":
        return cond[1] not in dead
    if tag == "and":
        return all(_satisfiable(c, dead, corrupt_ok) for c in cond[1])
    return any(_satisfiable(c, dead, corrupt_ok) for c in cond[1])


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


def damage(t):
    """The first problem of a Task's record or await tree, or None."""
    if t.error:
        return t.error
    if t.chain is not None:
        r = t.resource
        return r.error if r is not None else None
    stack = [t.tree] if t.tree is not None else []
    while stack:
        f = stack.pop()
        if f.error:
            return f.error
        if f.resource is not None and f.resource.error:
            return f.resource.error
        stack.extend(f.children)
    return None


def needs_analysis(t, kinds=BLOCKING_KINDS):
    """Whether the deadlock analysis must see Task `t`: an idle task waiting
    on a resource that can block it, or any task whose record is damaged
    (what it waits for, or even its state, is unknown)."""
    if t.chain is not None and t.error is None:  # the usual task: one leaf
        res = t.resource
        if res is None or res.error is None:
            return t.state == "idle" and res is not None and res.kind in kinds
    if t.state == "idle" and any(r.kind in kinds for r in t.resources()):
        return True
    return damage(t) is not None


def _conditions(tasks_list):
    """{id: Task}, {id: condition} (not FREE), {id: damage text}, and
    [(id, name, damage text)] of every damaged task (two may share an id)."""
    tasks = {}
    conds = {}
    damaged = {}
    listed = []
    for t in tasks_list:
        tasks[t.id] = t
        if t.error is None and t.chain is not None:  # the usual task: one leaf
            res = t.resource
            d = res.error if res is not None else None
        else:
            d = damage(t)
        if d is not None:
            damaged[t.id] = d
            listed.append((t.id, t.name, d))
        if t.state == "idle":
            if t.chain is not None:  # one child per frame: the leaf decides
                cond = _atom(t.resource, t.id) if t.resource is not None else FREE
            else:
                tree = t.await_tree()
                cond = simplify(_condition(tree, t.id)) if tree is not None else FREE
            if cond is FREE and t.error and not t.resources():
                cond = ("corrupt", t.id, t.error)  # what it waits for is lost
        elif t.state.startswith("?") or (t.error and t.state not in
                                         ("running", "complete", "cancelled")):
            cond = ("corrupt", t.id, d or "unknown state")
        else:
            cond = FREE
        if cond is not FREE:
            conds[t.id] = cond
    return tasks, conds, damaged, listed


def _fixpoint(conds, corrupt_ok):
    """The greatest set of tasks whose conditions cannot be satisfied when
    every task outside the set can progress."""
    for cond in conds.values():
        if cond[0] in ("and", "or"):
            return _worklist(conds, corrupt_ok)
    return _chains(conds, corrupt_ok)


def _chains(conds, corrupt_ok):
    """_fixpoint when every condition is one atom (the usual case): each
    task waits for at most one other, so the wait-for graph is a set of
    chains ending in a task that can progress, in a dead atom ("never",
    or "corrupt" unless corrupt_ok) or in a cycle.  One walk along each
    chain decides every task on it."""
    dead = set()
    done = set()
    for start, cond in conds.items():
        if start in done:
            continue
        path = []
        on_path = set()
        n = start
        while True:
            if n in done:
                verdict = n in dead
                break
            cond = conds.get(n)
            if cond is None:  # waits for nothing this analysis blocks
                verdict = False
                break
            if n in on_path:  # a cycle: every task on the path waits on it
                verdict = True
                break
            path.append(n)
            on_path.add(n)
            tag = cond[0]
            if tag == "task":
                n = cond[1]
                continue
            verdict = tag == "never" or (tag == "corrupt" and not corrupt_ok)
            break
        done.update(path)
        if verdict:
            dead.update(path)
    return dead


def _worklist(conds, corrupt_ok):
    """_fixpoint for any conditions (a worklist: each task is looked at
    again only when a task it waits for leaves the set)."""
    dependents = {}
    single = {}  # tid -> the one task it waits for (the usual condition)
    for tid, cond in conds.items():
        if cond[0] == "task":
            target = cond[1]
            single[tid] = target
            if target in conds:
                deps = dependents.get(target)
                if deps is None:
                    dependents[target] = [tid]
                else:
                    deps.append(tid)
            continue
        for a in _atoms(cond, []):
            if a[0] == "task" and a[1] in conds:
                dependents.setdefault(a[1], []).append(tid)
    dead = set(conds)
    # Only a task waiting for one outside the set (or a compound
    # condition) can leave it first; the rest leave when what they wait
    # for does.
    work = [tid for tid, cond in conds.items()
            if cond[0] != "task" or cond[1] not in conds]
    get_single = single.get
    get_deps = dependents.get
    discard = dead.discard
    while work:
        tid = work.pop()
        if tid not in dead:
            continue
        target = get_single(tid)
        if target is not None:
            ok = target not in dead
        else:
            ok = _satisfiable(conds[tid], dead, corrupt_ok)
        if ok:
            discard(tid)
            deps = get_deps(tid)
            if deps:
                work.extend(deps)
    return dead


def analyse(tasks_list, waiting):
    """Deadlock analysis.  `tasks_list`: the Task records that may be
    blocked (every task needs_analysis() accepts, at least); `waiting`: how
    many tasks wait in all.  Returns {"cycles": [...], "stuck": [...],
    "corrupt": [...], "waiting": N}, the document's parts."""
    tasks, conds, damaged, listed = _conditions(tasks_list)
    dead = _fixpoint(conds, False)  # corrupt records: cannot progress
    if damaged:
        sure = _fixpoint(conds, True)  # corrupt records: could progress
    else:
        sure = dead
    edges = {}
    for tid in dead:
        cond = conds[tid]
        if cond[0] == "task":
            edges[tid] = [(cond[1], cond[2])] if cond[1] in dead else []
        else:
            edges[tid] = [(a[1], a[2]) for a in _atoms(cond, [])
                          if a[0] == "task" and a[1] in dead]
    cycles = _cycles(edges, closed=True)
    on_cycle = set(tid for cyc in cycles for tid, _ in cyc)
    doc_cycles = []
    for cyc in cycles:
        entries = []
        for tid, via in cyc:
            entry = {"task": tid, "name": tasks[tid].name, "via": via}
            if tid in damaged:
                entry["corrupt"] = damaged[tid]
            entries.append(entry)
        doc_cycles.append(entries)
    stuck = []
    for tid in sorted(dead - on_cycle):
        entry = {"task": tid, "name": tasks[tid].name,
                 "reason": _reason(conds[tid], dead, on_cycle, tasks)}
        if tid not in sure:
            entry["depends_on_corrupt"] = _corrupt_cause(tid, conds, dead, damaged)
        stuck.append(entry)
    listed.sort(key=lambda c: c[0])
    corrupt = [{"task": tid, "name": name, "error": error} for tid, name, error in listed]
    return {"cycles": doc_cycles, "stuck": stuck, "corrupt": corrupt, "waiting": waiting}


def _corrupt_cause(tid, conds, dead, damaged):
    """The first damaged task that `tid`'s verdict rests on (breadth first
    over what it waits for), as an id, or `tid` itself."""
    seen = {tid}
    queue = [tid]
    for t in queue:
        for a in _atoms(conds.get(t, FREE), []):
            if a[0] == "corrupt":
                return a[1]
            if a[0] == "task" and a[1] in dead and a[1] not in seen:
                seen.add(a[1])
                queue.append(a[1])
    for t in queue:
        if t in damaged:
            return t
    return tid


def _prune(edges):
    """`edges` without the nodes that cannot be on a cycle: repeatedly drop
    nodes that no edge enters or none leaves (a chain of joins goes away
    entirely, in linear time)."""
    succ = {n: [t for t, _ in es if t in edges] for n, es in edges.items()}
    indeg = dict.fromkeys(succ, 0)
    pred = {n: [] for n in succ}
    for n, ts in succ.items():
        for t in ts:
            indeg[t] += 1
            pred[t].append(n)
    outdeg = {n: len(ts) for n, ts in succ.items()}
    gone = set()
    work = [n for n in succ if not indeg[n] or not outdeg[n]]
    while work:
        n = work.pop()
        if n in gone:
            continue
        gone.add(n)
        for t in succ[n]:
            indeg[t] -= 1
            if not indeg[t]:
                work.append(t)
        for f in pred[n]:
            outdeg[f] -= 1
            if not outdeg[f]:
                work.append(f)
    return {n: [(t, v) for t, v in es if t not in gone and t in edges]
            for n, es in edges.items() if n not in gone}


def _sccs(edges):
    """Strongly connected components of more than one node, or with a self
    edge (Tarjan's algorithm, iterative)."""
    edges = _prune(edges)
    index = {}
    low = {}
    stack = []
    on_stack = set()
    out = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for target, _ in it:
                if target not in edges:
                    continue
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(edges.get(target, ()))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    comp.append(n)
                    if n == node:
                        break
                if len(comp) > 1 or any(t == node for t, _ in edges.get(node, ())):
                    out.append(set(comp))
    return out


def _functional_cycles(edges):
    """The cycles of a graph where every node has at most one edge (each
    task waits for one other: the usual case), each from its lowest id:
    one walk along the edges from each node not yet seen."""
    walk_of = {}
    found = []
    for start in sorted(edges):
        if start in walk_of:
            continue
        path = []
        n = start
        while n is not None and n not in walk_of:
            walk_of[n] = start
            path.append(n)
            es = edges.get(n)
            n = es[0][0] if es else None
        if n is None or walk_of[n] != start:
            continue
        ring = path[path.index(n):]
        low = ring.index(min(ring))
        ring = ring[low:] + ring[:low]
        found.append([(t, edges[t][0][1]) for t in ring])
        if len(found) >= MAX_CYCLES:
            break
    return found


def _cycles(edges, closed=False):
    """Elementary cycles of the graph, each once, starting at its lowest id
    (searched for inside strongly connected components only).  `closed`:
    every edge already ends at a node of the graph."""
    if not closed:
        edges = {n: [(t, v) for t, v in es if t in edges] for n, es in edges.items()}
    if all(len(es) <= 1 for es in edges.values()):
        found = _functional_cycles(edges)
        found.sort(key=lambda c: c[0][0])
        return found
    found = []
    steps = [0]
    for comp in _sccs(edges):
        sub = {n: [(t, v) for t, v in edges[n] if t in comp] for n in comp}
        _component_cycles(sub, found, steps)
    found.sort(key=lambda c: c[0][0])
    return found


def _component_cycles(edges, found, steps):
    for start in sorted(edges):
        if len(found) >= MAX_CYCLES:
            return
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
                # via of each node: what it waits for toward the next node
                vias = [v for _, v in path[1:]] + [via]
                found.append([(path[i][0], vias[i]) for i in range(len(path))])
                continue
            if target < start or target in on_path or target not in edges:
                continue
            path.append((target, via))
            on_path.add(target)
            stack.append((target, iter(edges.get(target, ()))))


def _reason(cond, dead, on_cycle, tasks):
    """Why a stuck task cannot move: its first blocked atom, or for a
    select (an "or") every branch."""
    tag = cond[0]
    if tag == "or":
        return "every branch it waits on is blocked: " + "; ".join(
            _reason(c, dead, on_cycle, tasks) for c in cond[1])
    if tag == "and":
        for c in cond[1]:
            if not _satisfiable(c, dead, False):
                return _reason(c, dead, on_cycle, tasks)
        return "every branch it waits on is blocked"
    if tag == "never":
        return cond[1]
    if tag == "task" and cond[1] in dead:
        target = cond[1]
        what = "in a deadlock cycle" if target in on_cycle else "stuck"
        return "%s, and task %d \"%s\" is %s" % (
            via_words(cond[2], target), target, text.esc(tasks[target].name), what)
    if tag == "corrupt":
        return "what it waits for cannot be told: %s" % cond[2]
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


# -- text -------------------------------------------------------------------

def cycle_text(cycle):
    parts = []
    for entry in cycle:
        parts.append('task %d "%s"' % (entry["task"], text.esc(entry["name"])))
        via = entry["via"]
        if via["kind"] == "join":
            parts.append("join")
        elif via["kind"] == "channel-send":
            parts.append("full channel %s" % via["object"])
        else:
            parts.append("%s %s" % (via["kind"], via["object"]))
    parts.append("task %d" % cycle[0]["task"])
    line = " -> ".join(parts)
    for entry in cycle:
        if entry.get("corrupt"):
            line += " (through task %d, whose record is corrupt: %s)" % (
                entry["task"], text.esc(entry["corrupt"]))
            break
    return line


def report_text(result):
    """The `info async-deadlocks` text: cycles, stuck tasks, and every
    corrupt record the analysis met."""
    lines = []
    names = {e["task"]: e["name"] for e in result["corrupt"]}
    for cyc in result["cycles"]:
        lines.append("deadlock: " + cycle_text(cyc))
    for s in result["stuck"]:
        line = 'stuck: task %d "%s": %s' % (s["task"], text.esc(s["name"]),
                                          text.esc_line(s["reason"]))
        cause = s.get("depends_on_corrupt")
        if cause is not None:
            if cause == s["task"]:
                line = "maybe " + line + " (its own record is corrupt)"
            else:
                line = "maybe %s (this rests on task %d \"%s\", whose record is corrupt)" % (
                    line, cause, text.esc(names.get(cause, "?")))
        lines.append(line)
    if not lines:
        if result["waiting"]:
            lines.append("no wait-for cycle found; %d waiting tasks wait on things this "
                         "analysis cannot settle: see info async-diagnose"
                         % result["waiting"])
        else:
            lines.append("no wait-for cycle found: no task is waiting")
        if result["corrupt"]:
            lines[-1] += (" (among the records that check out: %d task records are "
                          "corrupt, so this may be wrong)" % len(result["corrupt"]))
    for c in result["corrupt"]:
        lines.append('corrupt: task %d "%s": %s' % (c["task"], text.esc(c["name"]),
                                                   text.esc(c["error"])))
    return "\n".join(lines)


def of_snapshot(snap):
    """(result, notes): the analysis of every idle task of a reading, and
    the list-level problems met while reading (every front end's one call)."""
    candidates = snap.blocked(needs_analysis)
    waiting = sum(1 for _, tasks, _ in snap.runtimes for t in tasks if t[3] == "idle")
    result = analyse(candidates, waiting)
    notes = ["; ".join(errors) for _, _, errors in snap.runtimes if errors]
    notes += snap.errors
    return result, notes


def document(snap, result, notes):
    """The JSON document of `info async-deadlocks --json` / `asynctrace deadlocks --json`."""
    return {"format": "asynctrace-deadlocks", "version": 1, "source": snap.source,
            "cycles": result["cycles"], "stuck": result["stuck"],
            "corrupt": result["corrupt"], "errors": notes}


def report_with_notes(result, notes):
    """report_text plus one line per problem met while reading."""
    out = report_text(result)
    if notes:
        out += "\n" + "\n".join("note: %s (the analysis covers what was readable)"
                                 % text.esc(n) for n in notes)
    return out
