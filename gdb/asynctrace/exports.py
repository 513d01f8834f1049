"""Exports of one reading for other tools: collapsed stacks (`folded`, for
flame-graph tools) and the wait-for graph (`dot`, for Graphviz: tasks,
the resources they wait on, the tasks holding those; the edges of wait-for
cycles in red).  pprof's format is in pprof.py.
"""

from . import deadlock

WAIT_EDGE_KINDS = ("mutex", "join", "channel-send", "channel-recv", "oneshot")


def folded(task_stacks):
    """One line per distinct stack: `name;root;...;leaf COUNT`, sorted."""
    counts = {}
    for ts in task_stacks:
        frames = ["%s" % ts.task.name or "task"]
        frames += ["%s" % f[0] for f in ts.frames]
        if ts.wait:
            frames.append("[%s]" % ts.wait)
        key = ";".join(f.replace(";", ":").replace(" ", "_") for f in frames)
        counts[key] = counts.get(key, 0) + 1
    return "".join("%s %d\n" % (k, counts[k]) for k in sorted(counts))


def _q(s):
    """A DOT string literal (newlines become line breaks)."""
    return '"%s"' % str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _task_node(t):
    return "t%d" % t


def dot(snap, result):
    """The wait-for graph of a Snapshot as Graphviz text; `result` is
    deadlock.analyse's (its cycles are drawn in red)."""
    on_cycle = set()
    cycle_edges = set()
    for cyc in result["cycles"]:
        ids = [step["task"] for step in cyc]
        on_cycle.update(ids)
        for i, tid in enumerate(ids):
            cycle_edges.add((tid, ids[(i + 1) % len(ids)]))
    stuck = {s["task"] for s in result["stuck"]}
    lines = ["digraph asynctrace {", "  rankdir=LR;",
             '  node [shape=box, fontname="monospace"];']
    tasks = {}
    edges = []
    resources = {}
    every = {}
    for _, t in snap.tasks():
        every[t.id] = t
        for res in t.resources():
            if res.kind not in WAIT_EDGE_KINDS:
                continue
            atom = deadlock._atom(res, t.id)
            rnode = "r%x" % res.object if res.object else "r%d_%s" % (t.id, res.kind)
            resources[rnode] = "%s %s" % (res.kind, res.object_text or "")
            tasks[t.id] = t
            target = atom[1] if atom[0] == "task" and atom[1] else None
            color = "red" if (t.id, target) in cycle_edges else None
            edges.append((_task_node(t.id), rnode, color))
            if target is not None:
                edges.append((rnode, _task_node(target), color))
                tasks.setdefault(target, None)
    names = snap.names
    for tid in sorted(tasks):
        t = tasks[tid] or every.get(tid)
        label = 'task %d "%s"\n%s' % (tid, names.get(tid, ""),
                                      t.state if t is not None else "")
        attrs = ["label=%s" % _q(label)]
        if tid in on_cycle:
            attrs += ["color=red", "penwidth=2"]
        elif tid in stuck:
            attrs.append("color=orange")
        lines.append("  %s [%s];" % (_task_node(tid), ", ".join(attrs)))
    for rnode in sorted(resources):
        lines.append("  %s [shape=ellipse, label=%s];" % (rnode, _q(resources[rnode])))
    for a, b, color in edges:
        lines.append("  %s -> %s%s;" % (a, b, " [color=red, penwidth=2]" if color else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"
