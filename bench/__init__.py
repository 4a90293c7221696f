"""Benchmarks: run with `make bench`, or one at a time with `.venv/bin/python -m bench.<name>`.

They print tables; they assert nothing about time (benchmarks are not tests). bench/RESULTS.md
holds the latest figures and the machine they came from.
"""
