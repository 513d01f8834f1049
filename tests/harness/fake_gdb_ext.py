# fake_gdb_ext.py - stands in for gdb/asynctrace-gdb.py in the harness's own
# tests.  Defines `info async-tasks` and `info async-deadlocks` printing
# broken output, chosen by the environment variable HARNESS_FAKE:
#   badjson  the task document is not JSON
#   differ   valid documents whose task name differs between the attached
#            process and the core
import gdb
import json
import os

MODE = os.environ.get("HARNESS_FAKE", "badjson")


def _on_core():
    return gdb.selected_inferior().connection.type == "core"


class FakeTasks(gdb.Command):
    def __init__(self):
        super(FakeTasks, self).__init__("info async-tasks", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        if MODE == "badjson":
            gdb.write('{"format": "asynctrace-trace", "runtimes": [}\n')
            return
        name = "napper-core" if _on_core() else "napper-live"
        doc = {"format": "asynctrace-trace", "version": 1, "source": "fake",
               "clock": {"now_ns": 0, "kind": "live"}, "generation": 1,
               "runtimes": [{"id": 1, "flavor": "current-thread", "workers": 1,
                             "tasks": [{"id": 2, "name": name, "state": "idle"}]}],
               "threads": [], "errors": []}
        gdb.write(json.dumps(doc) + "\n")


class FakeDeadlocks(gdb.Command):
    def __init__(self):
        super(FakeDeadlocks, self).__init__("info async-deadlocks", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        gdb.write('{"format": "asynctrace-deadlocks", "version": 1, "cycles": [], "stuck": []}\n')


FakeTasks()
FakeDeadlocks()
