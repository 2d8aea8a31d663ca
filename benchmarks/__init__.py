"""Benchmarks: this provider side by side with what users would pick instead.

Run ``python -m benchmarks`` (``--tiny`` for a smoke run). Every comparison is a ratio measured within one
run; see ``BENCHMARKS.md`` for the last full run on this machine.
"""
