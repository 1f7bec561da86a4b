"""Benchmarks: every figure is printed beside a yardstick measured in the same run.

Never part of the test gate. ``python -m bench`` runs the whole suite (``--quick``:
about ten minutes on two cores), ``python -m bench NAME`` one part: crypto,
protocol, federation, latency, scale, audit, catchup or memory (one module each;
see :mod:`bench.__main__` and README.md, "Benchmarks"). ``make bench`` runs them all.
"""
