"""`asynctrace diff A B`: placeholder until the diff lands."""


def add_parser(sub, source_args):
    pass


def run(args):
    return 0
