"""Benchmark scripts (not tests): run them as ``python -m benchmarks.<name>`` from the repository root.

See ``benchmarks/README.md``.
"""
