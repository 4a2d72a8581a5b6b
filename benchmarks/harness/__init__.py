"""The machinery behind ``benchmarks/run.py``: readings of this machine, server processes, the
load client, goals, the run itself and its report. The scenarios are in ``benchmarks.scenarios``.
"""
