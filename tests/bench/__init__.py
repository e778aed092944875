"""Benchmarks: programs that measure and print figures; nothing here asserts a timing.

Timings depend on the machine and on whatever else runs on it, so they are reported for a
human to read (`make bench`), never turned into pass/fail checks.
"""
