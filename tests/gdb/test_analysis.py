#!/usr/bin/env python3
"""tests/gdb/test_analysis.py - unit tests of the analysis modules on task
records made by hand (no GDB, no program): filters, sorting and limits
(taskselect.py), every grouping key (group.py), and every kind of finding
of info async-diagnose (waitgraph.py, findings.py, diagnose.py,
diagnose_text.py), with exact ids, resources, lines and certainty words.

Fields the runtime is to record for the diagnosis (docs/trace-format.md:
sender_tasks, holders, capacity, lock site, last_notifier, sender_task) are
added to records.RESOURCE_FIELDS here when this tree does not have them
yet, in the documented order, so these tests hold before and after.

usage: tests/gdb/test_analysis.py [-v]
"""

import json
import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "gdb"))

from asynctrace import (accel, deadlock, diagnose, diagnose_text, group, jsonout, records,  # noqa: E402
                        taskselect, tasktable, text)
from asynctrace.records import Chain, Frame, Head, Resource, Site, Task  # noqa: E402

CONTRACT_FIELDS = {
    "mutex": ("lock_function", "lock_file", "lock_line"),
    "semaphore": ("capacity", "holders", "holders_truncated"),
    "channel-send": ("sender_tasks", "sender_tasks_truncated"),
    "channel-recv": ("sender_tasks", "sender_tasks_truncated"),
    "notify": ("last_notifier", "notified"),
    "oneshot": ("sender_task", "sender_dropped"),
    "blocking": ("thread",),
}
for _kind, _extra in CONTRACT_FIELDS.items():
    _have = records.RESOURCE_FIELDS[_kind]
    records.RESOURCE_FIELDS[_kind] = _have + tuple(f for f in _extra if f not in _have)

S = 1000000000
NOW = 1000 * S
STATES = ("idle", "scheduled", "running", "complete", "cancelled")
KINDS = ("none", "sleep", "mutex", "semaphore", "notify", "channel-send", "channel-recv",
         "oneshot", "join", "read", "write", "yield", "blocking", "dump")
SPAWN_MAIN = Site("spawn", "main_task_poll", "/src/app.c", 90)
SPAWN_POOL = Site("spawn", "pool_poll", "/src/pool.c", 12)


def res(kind, obj=0, since=NOW - 2 * S, **fields):
    names = records.RESOURCE_FIELDS.get(kind, ())
    defaults = {"owner": 0, "waiters": 1, "wanted": 1, "permits": 0, "capacity": None,
                "len": 0, "senders": 1, "receiver_task": 0, "closed": False, "task": 0,
                "fd": 3, "job": 1, "deadline_ns": NOW + 3600 * S, "holders": None,
                "holders_truncated": False, "sender_tasks": None,
                "sender_tasks_truncated": False, "lock_function": None, "lock_file": None,
                "lock_line": 0, "last_notifier": 0, "notified": 0, "sender_task": 0,
                "sender_dropped": False, "thread": 0}
    defaults.update(fields)
    return Resource(kind, obj, since, tuple(defaults[n] for n in names), None)


_chains = {}


def chain(*frames):
    """A shared Chain of (function, file, line, kind) heads, root first."""
    key = tuple(frames)
    if key not in _chains:
        _chains[key] = Chain([Head(*f) for f in frames])
    return _chains[key]


def task(tid, name, state="idle", leaf=None, fn="work", line=10, file="/src/app.c",
         parent=1, spawn=SPAWN_MAIN, polls=1, state_ns=NOW - 2 * S, tree=None, leaf_fn=None):
    if tree is not None:
        return Task(tid, 0x1000 + tid, name, state, (), parent, spawn, polls, 0, state_ns,
                    0, 0, 0, None, None, None, None, None, tree)
    if state in ("complete", "cancelled"):
        return Task(tid, 0x1000 + tid, name, state, (), parent, spawn, polls, 0, state_ns,
                    0, 0, 0, None, None, None, None, None, None)
    heads = [(fn, file, line, "async")]
    if leaf is not None:
        heads.append((leaf_fn or "at_" + leaf.kind.replace("-", "_"), "/rt/sync.c", 5,
                      "leaf"))
    return Task(tid, 0x1000 + tid, name, state, (), parent, spawn, polls, 0, state_ns,
                0, 0, 0, None, None, chain(*heads), (0x10, 0x20)[:len(heads)], leaf, None)


class Walker(object):
    def __init__(self, names):
        self.names = names


class FakeSnap(object):
    """What diagnose() reads of a Snapshot."""

    def __init__(self, tasks, runtimes=None, threads=(), exact=True, now=NOW):
        self.runtimes_tasks = runtimes or [({"id": 1, "flavor": "current-thread",
                                             "workers": 1}, tasks)]
        self.runtimes = [(rt, [(t.id, t.address, None, t.state) for t in ts], [])
                         for rt, ts in self.runtimes_tasks]
        self.walker = Walker({t.id: t.name for _, ts in self.runtimes_tasks for t in ts})
        self.threads = list(threads)
        self.now_ns = now
        self.now_exact = exact
        self.now_source = "core"
        self.source = "test"
        self.errors = []

    def tasks(self):
        for rt, ts in self.runtimes_tasks:
            for t in ts:
                yield rt, t


class NF(object):
    """A native frame."""

    def __init__(self, function, file=None, line=0, pc=0x1000):
        self.function, self.file, self.line, self.pc = function, file, line, pc
        self.inline = False


def kinds(rep):
    return [(f["kind"], f["certainty"]) for f in rep["findings"]]


def ids(entries):
    return [e["task"] for e in entries]


# -- filters, sorting, limits -------------------------------------------------------------

MUTEX_A = 0xA000
SELECT_TASKS = [
    task(1, "main", leaf=res("join", 0x1002, task=2), fn="main_task", line=40,
         parent=0, spawn=Site("block-on", "main", "/src/app.c", 100)),
    task(2, "worker-1", leaf=res("mutex", MUTEX_A, owner=4, since=NOW - 5 * S),
         fn="transfer", line=35, polls=7),
    task(3, "worker-2", leaf=res("mutex", MUTEX_A, owner=4, since=NOW - 1 * S),
         fn="transfer", line=35, polls=2, parent=2, spawn=SPAWN_POOL),
    task(4, "holder", leaf=res("sleep", since=NOW - 3 * S), fn="nap", line=80, polls=9),
    task(5, "fresh", state="scheduled", fn="nap", line=78, parent=3, spawn=SPAWN_POOL,
         state_ns=NOW - 10 * 1000000),
    task(6, "done", state="complete", parent=5),
]


def select(**opts):
    sel = taskselect.parse({"--" + k.replace("_", "-"): v for k, v in opts.items()},
                           STATES, KINDS)
    return [t.id for t in sel.apply(SELECT_TASKS, NOW)]


class TestSelect(unittest.TestCase):
    def test_state(self):
        self.assertEqual(select(state="idle"), [1, 2, 3, 4])
        self.assertEqual(select(state="cancelled"), [])

    def test_name_glob(self):
        self.assertEqual(select(name="worker-*"), [2, 3])
        self.assertEqual(select(name="nobody*"), [])

    def test_waits_for_kind_and_address(self):
        self.assertEqual(select(waits_for="mutex"), [2, 3])
        self.assertEqual(select(waits_for="0x%x" % MUTEX_A), [2, 3])
        self.assertEqual(select(waits_for="0xdead"), [])
        self.assertEqual(select(waits_for="oneshot"), [])

    def test_at(self):
        self.assertEqual(select(at="app.c:35"), [2, 3])
        self.assertEqual(select(at="src/app.c:80"), [4])
        self.assertEqual(select(at="transf"), [2, 3])
        self.assertEqual(select(at="at_mutex"), [2, 3])  # the leaf's function
        self.assertEqual(select(at="app.c:36"), [])
        self.assertEqual(select(at="other.c:35"), [])

    def test_spawned_at(self):
        self.assertEqual(select(spawned_at="pool.c:12"), [3, 5])
        self.assertEqual(select(spawned_at="main"), [1, 2, 4, 6])
        self.assertEqual(select(spawned_at="pool.c:13"), [])

    def test_min_wait(self):
        self.assertEqual(select(min_wait="2s"), [1, 2, 4, 6])
        self.assertEqual(select(min_wait="4500ms"), [2])
        self.assertEqual(select(min_wait="1h"), [])

    def test_descendants(self):
        self.assertEqual(select(descendants_of="2"), [3, 5, 6])
        self.assertEqual(select(descendants_of="3", state="scheduled"), [5])
        self.assertEqual(select(descendants_of="6"), [])
        self.assertEqual(select(descendants_of="99"), [])

    def test_sort_and_limit(self):
        self.assertEqual(select(sort="wait"), [2, 4, 1, 6, 3, 5])
        self.assertEqual(select(sort="polls"), [4, 2, 3, 1, 5, 6])
        self.assertEqual(select(sort="id", limit="2"), [1, 2])
        self.assertEqual(select(sort="wait", limit="1", state="idle"), [2])
        self.assertEqual(select(limit="100"), [1, 2, 3, 4, 5, 6])

    def test_bad_values(self):
        cases = [
            ({"--state": "sleeping"}, "unknown state 'sleeping': one of idle, scheduled, "
             "running, complete, cancelled"),
            ({"--waits-for": "lock"}, "unknown resource kind (or an address 0x...) 'lock': "
             "one of " + ", ".join(KINDS)),
            ({"--waits-for": "0xzz"}, "--waits-for needs a number, not '0xzz'"),
            ({"--min-wait": "5"}, "--min-wait needs a duration with a unit (ns, us, ms, s, "
             "m, h, d), like 500ms or 2s, not '5'"),
            ({"--min-wait": "-2s"}, "--min-wait needs a duration with a unit (ns, us, ms, "
             "s, m, h, d), like 500ms or 2s, not '-2s'"),
            ({"--at": "app.c:"}, "--at 'app.c:': give file:LINE with a line number"),
            ({"--at": ""}, "--at needs a location: file:line or part of a function name"),
            ({"--sort": "name"}, "unknown sort key 'name': one of wait, polls, id"),
            ({"--limit": "0"}, "--limit needs a positive number, not 0"),
            ({"--limit": "ten"}, "--limit needs a number, not 'ten'"),
            ({"--descendants-of": "-3"}, "--descendants-of needs a task id (a positive "
             "number)"),
            ({"--group": "color"}, "unknown grouping key 'color': one of chain, where, "
             "resource, spawn, state"),
        ]
        for opts, message in cases:
            with self.assertRaises(ValueError) as cm:
                taskselect.parse(opts, STATES, KINDS)
            self.assertEqual(str(cm.exception), message)

    def test_durations(self):
        self.assertEqual(taskselect.parse_duration("250us"), 250000)
        self.assertEqual(taskselect.parse_duration("1.5s"), 1500000000)
        self.assertEqual(taskselect.parse_duration("2m"), 120 * S)
        self.assertEqual(taskselect.parse_duration("1d"), 86400 * S)
        self.assertEqual(taskselect.parse_duration("3ns"), 3)

    def test_normalize_group(self):
        n = taskselect.normalize_group
        self.assertEqual(n(["--group"]), ["--group=chain"])
        self.assertEqual(n(["--group", "where", "--json"]), ["--group=where", "--json"])
        self.assertEqual(n(["--group", "--json"]), ["--group=chain", "--json"])
        self.assertEqual(n(["all", "--group", "all"]), ["all", "--group=chain", "all"])
        self.assertEqual(n(["--group", "color"]), ["--group=color"])
        self.assertEqual(n(["--group=spawn"]), ["--group=spawn"])


# -- grouping -----------------------------------------------------------------------------

def many_tasks():
    """30 tasks on a mutex (2 objects), 20 asleep, 5 on a select tree."""
    out = []
    for i in range(30):
        out.append(task(10 + i, "w%d" % i, leaf=res("mutex", 0xB000 + 0x40 * (i % 2),
                                                    owner=3), fn="transfer", line=35))
    for i in range(20):
        out.append(task(40 + i, "s%d" % i, leaf=res("sleep"), fn="nap", line=80,
                        spawn=SPAWN_POOL))
    for i in range(5):
        sel = Frame(Head("at_select", "/rt/comb.c", 9, "select"), 0x50, None, [
            Frame(Head("at_sleep", "/rt/time.c", 3, "leaf"), 0x51, res("sleep"), []),
            Frame(Head("at_chan_recv", "/rt/chan.c", 4, "leaf"), 0x52,
                  res("channel-recv", 0xC000), [])])
        root = Frame(Head("poller", "/src/app.c", 60, "async"), 0x53, None, [sel])
        out.append(task(70 + i, "p%d" % i, tree=root, state="idle"))
    out.append(task(80, "run", state="running", fn="spin", line=5))
    return out


class TestGroup(unittest.TestCase):
    def setUp(self):
        self.tasks = many_tasks()

    def summary(self, by):
        return [(len(g.tasks), g.tasks[0].id, group.describe(by, g, NOW, {3: "holder"}))
                for g in group.group(self.tasks, by)]

    def test_chain(self):
        self.assertEqual(self.summary("chain"), [
            (30, 10, "at_mutex mutex <- transfer app.c:35"),
            (20, 40, "at_sleep sleep <- nap app.c:80"),
            (5, 70, "at_sleep sleep <- at_select comb.c:9 <- poller app.c:60  "
                    "(+1 more branches)"),
            (1, 80, "spin app.c:5")])

    def test_where(self):
        self.assertEqual(self.summary("where"), [
            (30, 10, "transfer app.c:35 -> mutex"), (20, 40, "nap app.c:80 -> sleep"),
            (5, 70, "poller app.c:60"), (1, 80, "spin app.c:5")])

    def test_resource(self):
        got = self.summary("resource")
        # a select's first leaf is a sleep: timers share one group (no object)
        self.assertEqual([(n, first) for n, first, _ in got],
                         [(25, 40), (15, 10), (15, 11), (1, 80)])
        self.assertEqual(got[1][2], 'mutex 0xb000 held by task 3 "holder"')
        self.assertEqual(got[2][2], 'mutex 0xb040 held by task 3 "holder"')
        self.assertEqual(got[3][2], "waits on nothing")

    def test_spawn_and_state(self):
        self.assertEqual(self.summary("spawn"), [
            (36, 10, "spawned at app.c:90 (in main_task_poll)"),
            (20, 40, "spawned at pool.c:12 (in pool_poll)")])
        self.assertEqual(self.summary("state"), [(55, 10, "idle"), (1, 80, "running")])

    def test_empty(self):
        self.assertEqual(group.group([], "chain"), [])
        self.assertEqual(group.groups_text([], "chain", 0, NOW, {}),
                         "0 tasks in 0 groups by chain, largest first:\n  COUNT  STATE  IDS")
        self.assertEqual(group.groups_json([], "state", 0, NOW, {})["groups"], [])

    def test_text_and_limit(self):
        groups = group.group(self.tasks, "chain")
        out = group.groups_text(groups, "chain", len(self.tasks), NOW, {}, limit=2)
        self.assertEqual(out.splitlines(), [
            "56 tasks in 4 groups by chain, largest first:",
            "  COUNT  STATE  IDS",
            "     30  idle   10, 11, 12, 13, 14 (and 25 more)",
            "         at_mutex mutex <- transfer app.c:35",
            "     20  idle   40, 41, 42, 43, 44 (and 15 more)",
            "         at_sleep sleep <- nap app.c:80",
            "  and 2 more groups (6 tasks)"])

    def test_json(self):
        groups = group.group(self.tasks, "state")
        doc = group.groups_json(groups, "state", len(self.tasks), NOW, {})
        self.assertEqual(doc["format"], "asynctrace-groups")
        self.assertEqual([(g["key"], g["count"], g["states"]) for g in doc["groups"]],
                         [("idle", 55, {"idle": 55}), ("running", 1, {"running": 1})])
        self.assertEqual(doc["groups"][0]["ids"], list(range(10, 30)))
        self.assertEqual(doc["groups"][1]["example"], {"id": 80, "name": "run",
                                                       "chain": "spin app.c:5"})
        self.assertEqual(doc["more_groups"], 0)

    def test_huge_grouping_is_a_screen(self):
        big = [task(i, "t%d" % i, leaf=res("notify", 0xD000 + (i % 3) * 0x40), fn="loop",
                    line=20 + i % 3) for i in range(1, 100001)]
        out = group.groups_text(group.group(big, "chain"), "chain", len(big), NOW, {})
        self.assertEqual(len(out.splitlines()), 8)
        self.assertIn("33334  idle   1, 4, 7, 10, 13 (and 33329 more)", out)


# -- diagnosis ------------------------------------------------------------------------------

def diag(tasks, **kw):
    native = kw.pop("native", None)
    snap = FakeSnap(tasks, **kw)
    return diagnose.diagnose(snap, native)


class TestDiagnose(unittest.TestCase):
    def test_holder_finished_cancelled_gone(self):
        m = [0xE000, 0xE040, 0xE080]
        rep = diag([
            task(1, "main", leaf=res("join", 0x1002, task=2), fn="main_task", line=40),
            task(2, "a", leaf=res("mutex", m[0], owner=5, lock_function="grab",
                                  lock_file="/src/app.c", lock_line=21), line=30),
            task(3, "b", leaf=res("mutex", m[1], owner=6), line=31),
            task(4, "c", leaf=res("mutex", m[2], owner=9), line=32),
            task(5, "holder", state="complete"),
            task(6, "aborted", state="cancelled"),
        ])
        self.assertEqual(kinds(rep), [("holder-gone", "proven")] * 3)
        f0, f1, f2 = rep["findings"]
        self.assertEqual(f0["title"], 'mutex 0xe000 is held by task 5 "holder", which '
                         'finished (complete) without releasing it; it took the lock at '
                         'grab app.c:21')
        self.assertEqual(f0["culprit"], {"task": 5, "name": "holder", "state": "complete",
                                         "took_lock_at": {"function": "grab",
                                                          "file": "/src/app.c",
                                                          "line": 21}})
        self.assertEqual(f0["tasks"][0]["at"], {"function": "work", "file": "/src/app.c",
                                                "line": 30})
        self.assertEqual(f0["tasks"][0]["for_ns"], 2 * S)
        self.assertEqual(f0["behind"]["count"], 1)
        self.assertEqual(f0["behind"]["tasks"][0]["task"], 1)
        self.assertEqual(f1["title"], 'mutex 0xe040 is held by task 6 "aborted", which was '
                         'cancelled while holding it')
        self.assertEqual(f2["title"], "mutex 0xe080 is held by task 9, which no longer "
                         "exists (it finished and was freed)")
        self.assertEqual(f2["culprit"]["state"], "gone")

    def test_unread_list_never_makes_a_holder_gone(self):
        ts = [task(2, "a", leaf=res("mutex", 0xE080, owner=9), line=32)]
        snap = FakeSnap(ts)
        snap.runtimes[0][2].append("corrupt: owned list cut at 0x1234")
        rep = diagnose.diagnose(snap, None)
        self.assertEqual(rep["findings"], [])
        self.assertEqual(rep["waiting_on_movable"]["count"], 1)
        self.assertEqual(rep["errors"], ["corrupt: owned list cut at 0x1234"])

    def test_channel_cycle_before_any_receive(self):
        a, b = 0xF000, 0xF040
        rep = diag([
            task(2, "ping", leaf=res("channel-send", b, capacity=1, len=1, receiver_task=3),
                 fn="ping", line=50),
            task(3, "pong", leaf=res("channel-send", a, capacity=1, len=1, receiver_task=2),
                 fn="pong", line=60),
            task(4, "waiter", leaf=res("join", 0x1003, task=3), fn="wait", line=70),
        ])
        self.assertEqual(kinds(rep), [("cycle", "proven")])
        f = rep["findings"][0]
        self.assertEqual(f["title"], "deadlock: 2 tasks wait for each other in a cycle "
                         "(channel-send): 2 -> 3 -> 2")
        self.assertEqual([(e["task"], e["waits"]["object"], e["waits_on_task"], e["at"]["line"])
                          for e in f["tasks"]],
                         [(2, "0xf040", 3, 50), (3, "0xf000", 2, 60)])
        self.assertEqual(ids(f["behind"]["tasks"]), [4])

    def test_cycle_across_runtimes_and_select(self):
        rt1 = {"id": 1, "flavor": "current-thread", "workers": 1}
        rt2 = {"id": 2, "flavor": "multi-thread", "workers": 2}
        sel = Frame(Head("at_select", "/rt/comb.c", 9, "select"), 0x50, None, [
            Frame(Head("at_join", "/rt/task.c", 3, "leaf"), 0x51, res("join", 0x1003, task=3), []),
            Frame(Head("at_mutex_lock", "/rt/sync.c", 4, "leaf"), 0x52,
                  res("mutex", 0x9000, owner=3), [])])
        root = Frame(Head("either", "/src/app.c", 77, "async"), 0x53, None, [sel])
        t2 = task(2, "left", tree=root)
        t3 = task(3, "right", leaf=res("join", 0x1002, task=2), fn="right", line=88)
        rep = diag(None, runtimes=[(rt1, [t2]), (rt2, [t3])])
        self.assertEqual(kinds(rep), [("cycle", "proven")])
        self.assertEqual(ids(rep["findings"][0]["tasks"]), [2, 3])
        self.assertEqual(rep["findings"][0]["tasks"][0]["at"]["line"], 77)

    def test_leaked_sender_and_no_sender(self):
        rep = diag([
            task(2, "rx", leaf=res("channel-recv", 0x7000, senders=1, sender_tasks=[3]),
                 fn="consume", line=40),
            task(3, "producer", state="complete"),
            task(4, "rx2", leaf=res("channel-recv", 0x7040, senders=0), fn="consume", line=41),
            task(5, "rx3", leaf=res("channel-recv", 0x7080, senders=2, sender_tasks=[6]),
                 fn="consume", line=42),
            task(6, "prod2", leaf=res("sleep"), fn="nap", line=9),
        ])
        self.assertEqual(kinds(rep), [("no-provider", "proven"), ("no-provider", "likely")])
        f1, f0 = rep["findings"]
        self.assertTrue(f0["why"].startswith("no live task holds a sender handle (by the "
                                             "runtime's bookkeeping of holders;"))
        self.assertEqual(f0["title"], 'channel 0x7000 is empty and its sender handle is '
                         'leaked: held only by task 3 "producer" (complete)')
        self.assertEqual(ids(f0["tasks"]), [2])
        self.assertEqual(f1["title"], "channel 0x7040 is empty and nobody can send on it "
                         "(every sender handle was dropped)")
        # a handle held outside any task: cannot be settled
        self.assertEqual([(u["kind"], u["why"], ids(u["tasks"])) for u in rep["unsettled"]],
                         [("channel-recv", "a sender handle is held outside any task", [5])])

    def test_oneshot_never_completed(self):
        rep = diag([
            task(2, "await-reply", leaf=res("oneshot", 0x6000, sender_task=3), line=12),
            task(3, "replier", state="cancelled"),
            task(4, "await-2", leaf=res("oneshot", 0x6040, closed=True), line=13),
            task(5, "await-3", leaf=res("oneshot", 0x6080, sender_task=0), line=14),
        ])
        # a dropped sender is proven; a sender held by a task that exited is
        # read from the holder bookkeeping: likely
        self.assertEqual([(f["title"], f["certainty"]) for f in rep["findings"]], [
            ("oneshot 0x6040 will never complete: its sender was dropped", "proven"),
            ('oneshot 0x6000 will never complete: its sender is held by task 3 "replier" '
             '(cancelled)', "likely")])
        self.assertEqual(rep["unsettled"][0]["why"],
                         "the holder of its sender is not recorded")

    def test_leaked_permits(self):
        rep = diag([
            task(2, "acq", leaf=res("semaphore", 0x5000, wanted=2, permits=0, capacity=3,
                                    holders=[[3, 2], [4, 1]]), fn="limit", line=33),
            task(3, "leaker", state="complete"),
            task(4, "user", leaf=res("sleep"), fn="nap", line=9),
            task(5, "acq2", leaf=res("semaphore", 0x5040, wanted=1, permits=0, capacity=3,
                                     holders=[[3, 1], [4, 2]]), fn="limit", line=34),
        ])
        self.assertEqual(kinds(rep), [("leaked-permits", "likely")])
        f = rep["findings"][0]
        self.assertEqual(f["title"], 'semaphore 0x5000: 2 of 3 permits leaked by tasks that '
                         'exited: task 3 "leaker" (complete) holds 2')
        self.assertEqual(ids(f["tasks"]), [2])
        self.assertEqual(rep["waiting_on_movable"]["count"], 1)  # acq2: user can release 2

    def test_own_sender_is_not_a_self_deadlock(self):
        rep = diag([
            task(2, "creator", leaf=res("oneshot", 0x6000, sender_task=2), line=12),
            task(3, "rx", leaf=res("channel-recv", 0x7000, senders=1, sender_tasks=[3]),
                 line=13)])
        self.assertEqual(rep["findings"], [])
        self.assertEqual([u["why"] for u in rep["unsettled"]], [
            "it created the oneshot and handed its sender on (to whom is not recorded)",
            "its own task is charged with a sender handle (handed on, perhaps: not "
            "recorded)"])

    def test_lost_notify(self):
        rep = diag([
            task(2, "waiter", leaf=res("notify", 0x4000, last_notifier=3, notified=1),
                 fn="wait_ready", line=25),
            task(3, "signaller", state="complete"),
        ])
        self.assertEqual(kinds(rep), [("lost-notify", "likely")])
        self.assertEqual(rep["findings"][0]["title"], 'notify 0x4000 was last signalled by '
                         'task 3 "signaller", which has finished; no task recorded will '
                         'signal it again')

    def test_running_syscall_all_workers_and_starvation(self):
        rt = {"id": 1, "flavor": "multi-thread", "workers": 2}
        ts = [task(2, "reader", state="running", fn="reader", line=3),
              task(3, "spinner", state="running", fn="spinner", line=4),
              task(4, "queued", state="scheduled", state_ns=NOW - 3 * S),
              task(5, "behind", leaf=res("join", 0x1002, task=2), fn="joiner", line=7)]
        threads = [{"tid": 100, "role": "worker", "worker": 0, "runtime": 1, "task": 2,
                    "poll_start_ns": NOW - 4 * S, "roots": [2]},
                   {"tid": 101, "role": "worker", "worker": 1, "runtime": 1, "task": 3,
                    "poll_start_ns": NOW - 5 * S, "roots": [3]}]
        facts = {
            2: {"lwp": 100, "in_syscall": True, "frames": [
                NF("__GI___libc_read", "../sysdeps/unix/sysv/linux/read.c", 26),
                NF("read_line", "/src/app.c", 140), NF("reader_poll", "/src/app.c", 150)]},
            3: {"lwp": 101, "in_syscall": False, "frames": [
                NF("checksum", "/src/app.c", 210), NF("spinner_poll", "/src/app.c", 220)]}}
        rep = diag(None, runtimes=[(rt, ts)], threads=threads,
                   native=lambda t: facts.get(t.id))
        self.assertEqual(kinds(rep), [("blocked-syscall", "likely"), ("no-yield", "likely"),
                                      ("all-workers-blocked", "likely"),
                                      ("starvation", "likely")])
        f = rep["findings"]
        self.assertEqual(f[0]["title"], 'task 2 "reader" is blocked in read() inside its '
                         'poll, at read_line app.c:140')
        self.assertEqual((f[0]["tasks"][0]["lwp"], f[0]["tasks"][0]["for_ns"]), (100, 4 * S))
        self.assertEqual(ids(f[0]["behind"]["tasks"]), [5])
        self.assertEqual(f[1]["title"], 'task 3 "spinner" is running inside its poll without '
                         'yielding, at checksum app.c:210')
        self.assertEqual(f[2]["title"], "every worker of runtime 1 (multi-thread, 2 workers) "
                         "is stuck inside a poll: nothing else on it can run; 1 task is "
                         "runnable")
        self.assertEqual(f[3]["title"], "1 runnable task waited long to be polled (the "
                         "longest 3.0s)")

    def test_far_timer(self):
        rep = diag([task(2, "cron", leaf=res("sleep", deadline_ns=NOW + 400 * 86400 * S),
                         fn="cron", line=5)])
        self.assertEqual(kinds(rep), [("far-timer", "likely")])
        self.assertEqual(rep["findings"][0]["tasks"][0]["due_in_ns"], 400 * 86400 * S)

    def test_nothing_proven_never_says_no_deadlock(self):
        rep = diag([task(2, "w", leaf=res("notify", 0x4000), line=3),
                    task(3, "io", leaf=res("read", fd=7), line=4)], exact=False)
        self.assertEqual(rep["findings"], [])
        out = diagnose_text.report_text(rep)
        self.assertNotIn("no deadlock", out)
        self.assertEqual(out.splitlines(), [
            "asynctrace diagnosis: 2 tasks in 1 runtime, 2 waiting",
            "nothing proven stuck: no wait-for cycle, no lock or permit held by a task that "
            "is gone, no thread stuck inside a poll",
            "cannot be settled from memory: 2 tasks wait on what this analysis cannot decide:",
            '  1 on notify (any task may notify it; the runtime does not record who can), the '
            'longest for at least 2.0s: task 2 "w"',
            '  1 on read (it waits for fd 7 to be ready), the longest for at least 2.0s: '
            'task 3 "io"',
            "(durations measured to the moment the core was written: lower bounds, said "
            "\"at least\")"])

    def test_damaged_record_is_never_free(self):
        bad = Resource("mutex", 0x3000, NOW - S, (), "corrupt: mutex 0x3000 has bad magic")
        rep = diag([task(2, "w", leaf=bad, line=3)])
        self.assertEqual(rep["unsettled"][0]["why"],
                         "its mutex record is damaged (corrupt: mutex 0x3000 has bad magic)")

    def test_one_screen_with_many_findings(self):
        ts = [task(1000 + i, "holder%d" % i, state="complete") for i in range(50)]
        for i in range(50):
            for j in range(40):
                ts.append(task(2000 + 40 * i + j, "w", leaf=res("mutex", 0x100000 + i * 64,
                                                                owner=1000 + i), line=9))
        rep = diag(ts)
        self.assertEqual(len(rep["findings"]), 50)
        self.assertEqual(rep["findings"][0]["count"], 40)
        out = diagnose_text.report_text(rep).splitlines()
        self.assertLessEqual(len(out), 60)
        self.assertEqual(out[-2], "and 42 more findings (info async-diagnose --json lists "
                         "them all)")
        self.assertIn("  and 36 more tasks", out)


class TestDeadlockSelect(unittest.TestCase):
    def test_select_reason_names_every_branch(self):
        """A select stuck on two branches: info async-deadlocks says both."""
        sel = Frame(Head("at_select", "/rt/comb.c", 9, "select"), 0x50, None, [
            Frame(Head("at_chan_recv", "/rt/chan.c", 4, "leaf"), 0x51,
                  res("channel-recv", 0x7000, senders=0), []),
            Frame(Head("at_mutex_lock", "/rt/sync.c", 5, "leaf"), 0x52,
                  res("mutex", 0x9000, owner=3), [])])
        root = Frame(Head("either", "/src/app.c", 77, "async"), 0x53, None, [sel])
        ts = [task(2, "chooser", tree=root),
              task(3, "a", leaf=res("join", 0x1004, task=4), fn="a", line=5),
              task(4, "b", leaf=res("join", 0x1003, task=3), fn="b", line=6)]
        result = deadlock.analyse(ts, 3)
        self.assertEqual([[e["task"] for e in c] for c in result["cycles"]], [[3, 4]])
        self.assertEqual(result["stuck"], [{
            "task": 2, "name": "chooser",
            "reason": "every branch it waits on is blocked: channel 0x7000 has no sender "
                      "left; mutex 0x9000 held by task 3, and task 3 \"a\" is in a "
                      "deadlock cycle"}])


class TestResourceFields(unittest.TestCase):
    """The Python JSON writer writes every resource kind's fields as
    records.RESOURCE_FIELDS lists them (the C writer is compared with the
    same list by tests/gdb/run.py)."""

    def test_every_kind_writes_its_fields_in_order(self):
        for kind in KINDS:
            r = res(kind, capacity=2 if kind == "semaphore" else None, holders=((3, 1),),
                    sender_tasks=(3,))
            doc = json.loads('{"kind":"%s","object":null,"since_ns":0' % kind
                             + jsonout._resource_tail(r))
            self.assertEqual(list(doc), ["kind", "object", "since_ns"]
                             + list(records.RESOURCE_FIELDS.get(kind, ())), kind)


class TestJsonC(unittest.TestCase):
    """The C form of the JSON writer's hot loop writes what the Python shape
    writers write, and hands back every task it cannot write."""

    def tasks(self):
        deep = chain(("outer", "/src/a.c", 5, "async"), ("inner", "/src/a%d.c", 9, "async"),
                     ("at_sleep", "/rt/time.c", 130, "leaf"))
        out = []
        leaves = [res("sleep"), res("notify", 0xB00, waiters=2, last_notifier=7),
                  res("join", 0, task=3), res("read", fd=-1), res("blocking", job=2, thread=99),
                  res("mutex", 0xA000, owner=4), res("sleep")._replace(error="unreadable"),
                  res("join", 0x10, task=2 ** 64 - 1)]
        names = ["w", "caf\u00e9 \"q\" %s", "tab\there", None]
        for i in range(48):
            leaf = leaves[i % len(leaves)]
            t = task(10 + i, names[i % len(names)], leaf=leaf, polls=i * 1000003,
                     parent=(i % 3) * 2 ** 62, state_ns=NOW - i * S)
            t = t._replace(worker=i % 3 - 1, thread=None if i % 4 else 4242 + i,
                           spawn=None if i % 5 == 0 else t.spawn,
                           address=2 ** 63 + i if i % 7 == 0 else t.address)
            if i % 6 == 1:
                t = t._replace(chain=deep, frames=(0x100, 0x140, 0x180))
            if i == 13:
                t = t._replace(polls=True)  # not a plain int: Python writes it
            if i == 17:
                t = t._replace(created_ns=-2 ** 70)
            out.append(t)
        return out

    def test_c_writes_what_python_writes(self):
        c_form = accel.speedups
        self.assertIsNotNone(c_form, "make builds asynctrace._speedups beside the package")
        tasks = self.tasks()
        want = jsonout.JsonWriter()._shaped(tasks)
        w = jsonout.JsonWriter()
        self.assertEqual(w.tasks(list(tasks)), want)
        self.assertEqual(w.tasks(list(tasks)), want)  # every shape and name known now
        texts, missing = c_form.json_tasks(list(tasks), w._programs, w._names, w._states,
                                           w._flags, w._spawns)
        written = [i for i, text in enumerate(texts) if text is not None]
        self.assertEqual(missing, len(tasks) - len(written))
        self.assertEqual([texts[i] for i in written], [want[i] for i in written])
        # Not C's: a resource with an error or non-integer fields, a bool for a
        # number, a number beyond 64 bits; C's: the rest, deep chains and
        # addresses above 2**63 among them.
        self.assertTrue({5, 6, 13, 17}.isdisjoint(written))
        self.assertIn(0, written)
        self.assertIn(7, written)
        self.assertIn(25, written)
        for text in want:
            json.loads(text)


class TableSnap(object):
    """What the task table reads of a Snapshot: runtimes of Task records."""

    def __init__(self, runtimes, now=NOW):
        self.by_addr = {t.address: t for _, ts, _ in runtimes for t in ts}
        self.runtimes = [(rt, [(t.id, t.address, None, t.state) for t in ts], errors)
                         for rt, ts, errors in runtimes]
        self.task_counts = {rt["id"]: len(ts) + 1 for rt, ts, _ in runtimes}
        self.walker = Walker({t.id: t.name for t in self.by_addr.values()})
        self.now = now
        self.now_note = "durations against a test clock"
        self.source = "test"
        self.errors = ["a note with a\x1b control character"]

    def batches(self, items, batch=256):
        for start in range(0, len(items), 7):  # batches smaller than the spans
            yield [self.by_addr[it[1]] for it in items[start:start + 7]]


def reference_table(snap):
    """The table made the plain way: task_where and duration for every row,
    columns sized over every cell (what tasktable.py must write)."""
    lines = []
    for rt, items, errors in snap.runtimes:
        lines.append("runtime %d (%s, %s) at %s: %s shown of %d" % (
            rt["id"], rt["flavor"], text.count(rt["workers"], "worker"), rt["address"],
            text.count(len(items), "task"), snap.task_counts[rt["id"]]))
        lines.extend("  " + e for e in errors)
        rows = [tasktable.HEADER]
        for tasks in snap.batches(items):
            for t in tasks:
                where = text.task_where(t, snap.now, snap.walker.names)
                if t.error and not where.endswith(text.esc(t.error)):
                    where = ("%s  [%s]" % (where, text.esc(t.error))).strip()
                age = (text.duration(max(snap.now - t.state_ns, 0)) if t.state_ns
                       else "?")
                rows.append((str(t.id), text.esc(t.state), age,
                             "w%d" % t.worker if t.worker >= 0 else "-", str(t.polls),
                             '"%s"' % text.esc(t.name), where))
        lines.extend(text._columns(rows, right=(0, 4)))
    lines.append("(durations against a test clock; test)")
    lines.extend("note: " + text.esc(e) for e in snap.errors)
    return "\n".join(lines)


def table_tasks(first, n, deadlines, ages):
    """n tasks from id `first`, cycling through deadlines and ages (ns from
    NOW), shapes, names and poll counts."""
    out = []
    for i in range(n):
        tid = first + i
        deadline = NOW + deadlines[i % len(deadlines)]
        leaf = res("sleep", deadline_ns=deadline) if i % 5 else res("notify", 0xB000 + i % 3)
        t = task(tid, ("w%" if i % 4 == 0 else "worker-%d" % (i % 3)), leaf=leaf,
                 fn=("step%d" % (i % 2)), line=10 + i % 3, polls=i * 37 % 1001,
                 file="/src/50%off.c", state_ns=NOW - ages[i % len(ages)])
        if i % 11 == 3:
            t = t._replace(worker=i % 4 - 1)
        if i % 13 == 5:
            t = t._replace(error="corrupt: frame 0x10 awaits nothing")
        if i % 17 == 2:
            t = t._replace(state_ns=0)
        out.append(t)
    return out


def uniform_tasks(first, deadlines, ages, rounds=3):
    """Tasks alike but for FOR and the sleep's deadline, which walk every
    edge `rounds` times (the rows after the first round find their entries
    made: the C pass's own rows)."""
    out = []
    for _ in range(rounds):
        for deadline, age in zip(deadlines, ages):
            out.append(task(first + len(out), "alike",
                            leaf=res("sleep", deadline_ns=NOW + deadline), state_ns=NOW - age))
    return out


class TestTaskTable(unittest.TestCase):
    """The table written from shared entries and spans of durations is the
    table of every row made alone, at every edge of every unit."""

    EDGES = [0, 1, 999, 1000, 999999, 1000000, 1500000, S - 1, S, 59 * S + 999999999,
             60 * S, 3599 * S, 3600 * S, 86399 * S, 86400 * S, text.NS_PER_Y - 1,
             text.NS_PER_Y, 25 * text.NS_PER_Y + 12345]

    def test_duration_spans_are_exact(self):
        for base in self.EDGES:
            for ns in (base, base + 7, base * 3 + 1, -base, -base - 7):
                words, lo, hi = text.duration_span(ns)
                self.assertTrue(lo <= ns < hi, (ns, lo, hi))
                self.assertEqual(words, text.duration(ns))
                self.assertEqual((text.duration(lo), text.duration(hi - 1)), (words, words))
                self.assertNotEqual(text.duration(hi), words, ns)
                self.assertNotEqual(text.duration(lo - 1), words, ns)

    def test_table_matches_rows_made_one_by_one(self):
        deadlines = sorted(self.EDGES + [-e for e in self.EDGES] +
                           [-text.DUE_SLACK_NS, 1 - text.DUE_SLACK_NS, -text.DUE_SLACK_NS - 1])
        ages = self.EDGES + [-5 * S]
        rt1 = {"id": 1, "flavor": "current-thread", "workers": 1, "address": "0x5000"}
        rt2 = {"id": 2, "flavor": "multi-thread", "workers": 4, "address": "0x6000"}
        rt3 = {"id": 3, "flavor": "current-thread", "workers": 1, "address": "0x7000"}
        edges = sorted(set(self.EDGES + [e + 1 for e in self.EDGES] +
                           [e - 1 for e in self.EDGES[1:]]))
        snap = TableSnap([(rt1, table_tasks(1, 300, deadlines, ages), []),
                          (rt2, table_tasks(99990, 40, deadlines[::-1], ages[3:]),
                           ["corrupt: a list cut short"]),
                          (rt3, uniform_tasks(500, edges + [-e for e in edges[::-1]],
                                              edges + edges[::-1]), [])])
        want = reference_table(snap)
        self.assertIn("sleep until -1h00m (overdue)", want)
        self.assertIn("sleep due now", want)
        self.assertIn('"w%"', want)
        got = text.tasks_table(snap)
        self.assertEqual(got.split("\n"), want.split("\n"))
        if accel.pure(True):  # and the Python form of the C pass
            try:
                self.assertEqual(text.tasks_table(snap), want)
            finally:
                accel.pure(False)
        pieces = []
        tasktable.write_table(snap, pieces.append)
        self.assertEqual("".join(pieces), want + "\n")
        self.assertTrue(all(p.endswith("\n") for p in pieces))


if __name__ == "__main__":
    unittest.main(verbosity=2 if "-v" in sys.argv else 1,
                  argv=[sys.argv[0]] + [a for a in sys.argv[1:] if a != "-v"])
