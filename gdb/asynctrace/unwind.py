"""Native frames for the PID and core backends, from the unwind helper
(build/asynctrace-unwind, libexec/asynctrace-unwind when installed): it
unwinds every thread of a process or a core with elfutils and prints one
JSON object per thread.  The helper runs once per reading, only when a
command needs native frames.
"""

import json
import os

from .backend import MAX_NATIVE, ROOT_POLL, NativeFrame

HELPER_NAME = "asynctrace-unwind"
TIMEOUT = 30


def find_helper(explicit=None):
    """Path of the helper, or None: --unwind PATH, else $ASYNCTRACE_UNWIND
    (build/asynctrace and the installed tool set it)."""
    for path in (explicit, os.environ.get("ASYNCTRACE_UNWIND")):
        if path and os.access(path, os.X_OK):
            return path
    return None


class Unwinder(object):
    """The frames of every thread, from one run of the helper with `args`."""

    def __init__(self, helper, args):
        self.helper = find_helper(helper)
        self.args = args
        self.threads = None
        self.error = None

    def _run(self):
        if self.threads is not None or self.error is not None:
            return
        if self.helper is None:
            self.error = "the unwind helper %s is not installed" % HELPER_NAME
            return
        import subprocess  # only a reading that needs native frames pays for it
        try:
            out = subprocess.run([self.helper] + self.args, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.error = "the unwind helper failed (%s)" % e
            return
        if out.returncode != 0:
            msg = out.stderr.decode("utf-8", "replace").strip().splitlines()
            self.error = "the unwind helper failed (%s)" % (msg[-1] if msg else
                                                             "status %d" % out.returncode)
            return
        self.threads = {}
        for line in out.stdout.decode("utf-8", "replace").splitlines():
            try:
                t = json.loads(line)
                self.threads[int(t["tid"])] = t
            except (ValueError, KeyError, TypeError):
                continue

    def frames(self, lwp, root_record=0):
        """([NativeFrame] down to the at_root_poll frame holding
        root_record, None) or (None, reason); see backend.py."""
        self._run()
        if self.error is not None:
            return None, self.error
        t = self.threads.get(lwp)
        if t is None:
            return None, "LWP %d is not a thread of this process" % lwp
        if t.get("error") and not t.get("frames"):
            return None, "cannot unwind LWP %d: %s" % (lwp, t["error"])
        out = []
        raw = t.get("frames") or []
        for i, f in enumerate(raw[:MAX_NATIVE]):
            inline = bool(f.get("inline"))
            name = f.get("function")
            sp, osp = f.get("sp"), None
            for g in raw[i + 1:]:
                if not g.get("inline"):
                    osp = g.get("sp")
                    break
            if inline:
                is_root = False
            elif root_record and sp is not None and osp is not None:
                is_root = sp <= root_record < osp
            else:
                is_root = name == ROOT_POLL
            out.append(NativeFrame(i, f.get("pc", 0), name, f.get("file"),
                                   f.get("line") or 0, is_root, inline))
            if is_root:
                break
        return out, None

    def innermost(self, lwp):
        self._run()
        if self.error is not None or lwp not in self.threads:
            return None
        frames = self.threads[lwp].get("frames") or []
        if not frames:
            return None
        f = frames[0]
        return f.get("function") or "0x%x" % f.get("pc", 0)
