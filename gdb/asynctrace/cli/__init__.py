"""The command-line tool `asynctrace` (main.py): the analysis of the package
on a PID, a core or a trace document, without GDB."""
