"""`set asynctrace ...` / `show asynctrace ...`: defaults of the commands.

    set asynctrace color on|off|auto      colour in tables (auto: when GDB
                                          styles its own output on a terminal)
    set asynctrace width N|unlimited      cut table lines at N columns
    set asynctrace max-tasks N|unlimited  rows of a table, tasks of async-bt all
    set asynctrace json-indent-limit N    documents of up to N tasks indented
    set asynctrace full on|off            async-bt shows full paths by default
    set asynctrace group-by KEY           default of -group (none: no grouping)

`get(name)` reads a value with the defaults above when GDB is older or the
parameter is missing.
"""

import gdb

DEFAULTS = {"color": None, "width": None, "max-tasks": None,
            "json-indent-limit": 1000, "full": False, "group-by": "none"}
GROUP_KEYS = ["none"]  # commands.py adds the keys its grouping offers

_params = {}


class _Prefix(gdb.Command):
    """Generic prefix command for asynctrace settings."""

    def __init__(self, verb):
        self.__doc__ = ("%s asynctrace settings: defaults of the asynctrace commands."
                        % verb.capitalize())
        super(_Prefix, self).__init__("%s asynctrace" % verb, gdb.COMMAND_DATA,
                                      gdb.COMPLETE_NONE, True)


def _param(name, kind, doc, what, default, enum=None):
    class P(gdb.Parameter):
        __doc__ = doc
        set_doc = "Set " + what
        show_doc = "Show " + what

        def __init__(self):
            if enum is None:
                super(P, self).__init__("asynctrace " + name, gdb.COMMAND_DATA, kind)
            else:
                super(P, self).__init__("asynctrace " + name, gdb.COMMAND_DATA, kind, enum)
            self.value = default

        def get_set_string(self):
            return ""

        def get_show_string(self, svalue):
            return "asynctrace %s is %s." % (name, svalue)
    _params[name] = P()


def register():
    _Prefix("set")
    _Prefix("show")
    _param("color", gdb.PARAM_AUTO_BOOLEAN,
           "Colour in asynctrace tables: on, off, or auto (when GDB styles its\n"
           "output and writes to a terminal).",
           "colour in asynctrace tables.", None)
    _param("width", gdb.PARAM_ZUINTEGER_UNLIMITED,
           "Cut asynctrace table lines at this many columns (unlimited: never).",
           "the width of asynctrace table lines.", -1)
    _param("max-tasks", gdb.PARAM_ZUINTEGER_UNLIMITED,
           "Print at most this many tasks in a table or in async-bt all\n"
           "(unlimited: all; -json documents are always complete).",
           "the number of tasks asynctrace tables print.", -1)
    _param("json-indent-limit", gdb.PARAM_ZUINTEGER,
           "Indent -json documents of up to this many tasks; larger ones are\n"
           "compact (one line).",
           "the largest -json document that is indented.", 1000)
    _param("full", gdb.PARAM_BOOLEAN,
           "Whether async-bt shows full file paths, frame addresses and leaf sites\n"
           "without -full.",
           "whether async-bt is -full by default.", False)
    _param("group-by", gdb.PARAM_ENUM,
           "Default grouping of info async-tasks (-group): none, or a key.",
           "the default grouping of info async-tasks.", "none", GROUP_KEYS)


def get(name):
    """The current value; None for `unlimited` and `auto`."""
    p = _params.get(name)
    if p is None:
        return DEFAULTS[name]
    v = p.value
    if name in ("width", "max-tasks") and (v is None or v < 0):
        return None
    return v


def color_on(from_tty):
    """Whether to colour table output now."""
    v = get("color")
    if v is not None:
        return bool(v)
    try:
        styled = bool(gdb.parameter("style enabled"))
    except (gdb.error, RuntimeError):
        styled = False
    return styled and bool(from_tty) and _stdout_is_tty()


def _stdout_is_tty():
    import os
    try:
        return os.isatty(1)
    except OSError:
        return False
