"""Benchmarks: every speed claim measured beside its raw-library baseline, in one command.

``python -m bench`` (``make bench``) runs every scenario; ``python -m bench creates latency``
runs some; ``--quick`` is a fast smoke run. See docs/PERFORMANCE.md.
"""
