"""Option tables of the GDB commands, in GDB's own style.

A command declares its options once, one line each:

    OPTIONS = Options(
        Flag("json", "print the trace document (docs/trace-format.md)"),
        Value("state", "STATE", "only tasks in STATE", choices=task_states),
    )

and gets from the table: parsing (`-json`, `-state idle`; the older
`--json`, `--state idle` and `--state=idle` are aliases; a unique prefix
such as `-st` is enough; `--` ends the options), the usage line, the
option lines of its help text, and completion of option names and of
values (`choices` is a list or a function returning one).  Defaults may
come from a `set asynctrace ...` parameter (params.py).  Errors raise
Usage with one sentence.
"""


class Usage(Exception):
    """A wrong argument: the message, then the command's usage line."""


class Flag(object):
    takes_value = False

    def __init__(self, name, help, param=None):
        self.name = name
        self.help = help
        self.param = param  # a params.py name giving the default

    def usage(self):
        return "-%s" % self.name

    def convert(self, text):
        return True


class Value(object):
    takes_value = True

    def __init__(self, name, metavar, help, choices=None, suggest=None, convert=None,
                 param=None):
        self.name = name
        self.metavar = metavar
        self.help = help
        self.choices = choices  # the only values accepted (a list or a function)
        self.suggest = suggest  # values offered by completion, not enforced
        self._convert = convert
        self.param = param

    def usage(self):
        return "-%s %s" % (self.name, self.metavar)

    def values(self):
        """The accepted values, or None (anything)."""
        return _listed(self.choices)

    def completions(self):
        return _listed(self.choices if self.suggest is None else self.suggest) or []

    def convert(self, text):
        if self._convert is not None:
            return self._convert(text, "-" + self.name)
        return text


def number(text, what):
    """A non-negative integer (decimal or 0x...)."""
    try:
        v = int(text, 0)
    except ValueError:
        raise Usage("%s needs a number, not %r" % (what, text))
    if v < 0:
        raise Usage("%s needs a number >= 0, not %s" % (what, text))
    return v


class Options(object):
    def __init__(self, *options):
        self.options = list(options)
        self.by_name = {o.name: o for o in options}

    # -- parsing -----------------------------------------------------------------

    def find(self, word):
        """The option that `-word`/`--word` names (exact or unique prefix)."""
        name = word.lstrip("-")
        if name in self.by_name:
            return self.by_name[name]
        hits = [o for o in self.options if o.name.startswith(name)] if name else []
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise Usage("ambiguous option %s: %s" % (
                word, ", ".join("-" + o.name for o in hits)))
        raise Usage("unknown option %s (options: %s)" % (
            word, ", ".join("-" + o.name for o in self.options)))

    def parse(self, argv, defaults=None):
        """(dict name -> value, positional arguments).  Flags not given are
        False, values not given None, unless `defaults` (name -> value)
        says otherwise."""
        got = {o.name: (False if not o.takes_value else None) for o in self.options}
        got.update(defaults or {})
        rest = []
        i = 0
        while i < len(argv):
            a = argv[i]
            if a == "--":
                rest.extend(argv[i + 1:])
                break
            if len(a) > 1 and a[0] == "-" and not _is_number(a):
                word, eq, value = a.partition("=")
                opt = self.find(word)
                if not opt.takes_value:
                    if eq:
                        raise Usage("option -%s takes no value" % opt.name)
                    got[opt.name] = True
                else:
                    if not eq:
                        i += 1
                        if i >= len(argv):
                            raise Usage("option -%s needs a value (%s)"
                                        % (opt.name, opt.metavar))
                        value = argv[i]
                    allowed = opt.values()
                    if allowed is not None and value not in allowed:
                        raise Usage("-%s: unknown value %r: one of %s"
                                    % (opt.name, value, ", ".join(allowed)))
                    got[opt.name] = opt.convert(value)
            else:
                rest.append(a)
            i += 1
        return got, rest

    # -- help --------------------------------------------------------------------

    def usage(self):
        return " ".join("[%s]" % o.usage() for o in self.options)

    def help_lines(self):
        width = max([len(o.usage()) for o in self.options] + [0])
        lines = []
        for o in self.options:
            alias = " (also --%s)" % o.name
            lines.append("  %-*s  %s%s" % (width, o.usage(), o.help, alias))
        return "\n".join(lines)

    # -- completion ----------------------------------------------------------------

    def complete(self, text, word, positional=None):
        """Completions of the last word of the argument text `text`: option
        names after `-`, the values of the option before it, else what
        `positional()` offers.  GDB breaks words at `-` too, so each
        completion is returned relative to GDB's `word` (the tail of the
        last space-separated token)."""
        if word is None:  # GDB's first call only asks for word-break characters
            return None
        ends_in_space = not text or text[-1].isspace()
        tokens = text.split()
        token = "" if ends_in_space else tokens[-1]
        before = tokens if ends_in_space else tokens[:-1]
        fixed = len(token) - len(word)
        return [c[fixed:] for c in self._candidates(token, before, positional)]

    def _candidates(self, token, before, positional):
        if before and before[-1].startswith("-") and "=" not in before[-1] \
                and before[-1] != "--" and not _is_number(before[-1]):
            try:
                opt = self.find(before[-1])
            except Usage:
                opt = None
            if opt is not None and opt.takes_value:
                return _matching(opt.completions(), token)
        if "--" in before:
            return _matching(positional() if positional else [], token)
        if token.startswith("-"):
            dashes = "--" if token.startswith("--") else "-"
            return _matching([dashes + o.name for o in self.options], token)
        cands = list(positional()) if positional else []
        if not token:
            cands += ["-" + o.name for o in self.options]
        return _matching(cands, token)


def _listed(choices):
    if choices is None:
        return None
    return list(choices() if callable(choices) else choices)


def _is_number(a):
    """A negative number is an argument, not an option."""
    try:
        int(a, 0)
        return True
    except ValueError:
        return False


def _matching(cands, word):
    return sorted(set(c for c in cands if c.startswith(word)))
