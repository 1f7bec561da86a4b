"""Benchmarks: every figure is printed beside a yardstick measured in the same run.

Never part of the test gate; run with ``python -m bench.protocol`` (or ``make bench``).
"""
