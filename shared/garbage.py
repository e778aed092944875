"""Garbage-collector tuning for the services' hot paths."""

from __future__ import annotations

import gc


def tune_garbage_collector() -> None:
    """Spare the hot path from full collections; call it once the service has loaded.

    Every event or message allocates many short-lived objects, so the default thresholds ran a
    full collection over all long-lived objects (modules, models, templates, caches) every
    fraction of a second: 25-30% of ingest's CPU in `make bench`. Freezing what exists at
    start and raising the thresholds keeps collections rare and cheap; reference counting
    still frees almost everything at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
