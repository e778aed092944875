"""Segmenter: live customer profiles, lifecycle stages, RFM scores and declarative segments.

A Faust worker (worker.py) over changelogged RocksDB tables; pure domain code in profiles/,
lifecycle.py, rfm/, rules/ and membership.py; the processor (processor.py) applies, decides,
emits and stores in the order that makes restarts safe.
"""
