"""The garbage collector, tuned for a serving worker (issue 18): the per-request CPU it took,
and the stalls of its full collections, kept off the request path."""

from __future__ import annotations

import gc

YOUNG_COLLECTION_THRESHOLD = 10_000
"""Net container allocations between two young collections (Python's default: 700)."""


def tune_collector() -> None:
    """Keep the garbage collector off the request path, whose CPU issue 18 counts: 11.7 µs
    of a ~600 µs small GET went to it (``gc.callbacks`` over 20,000 GETs, BENCHMARKS.md
    "fourth round"), 0.2 µs after these two steps.

    - Every object alive once the worker is built (modules, configuration, the app) is moved
      out of the collector's reach (``gc.freeze``): every ~10,000 requests a full collection
      walked all ~55,000 of them (tens of ms, every request of the worker stalled meanwhile).
      Frozen objects are still freed by reference counting; what the freeze keeps is only
      start-up objects that later end up in an unreachable cycle, once: the first
      configuration's after a SIGHUP reload (20 objects after 50 reloads; later
      configurations are not frozen). No ``gc.collect()`` first: it found nothing after
      start-up and cost ~30 ms of each worker's start.
    - Young collections wait for :data:`YOUNG_COLLECTION_THRESHOLD` net allocations instead
      of 700: a small request's objects are freed by reference counting, not by the
      collector, and at 700 a collection ran every ~120 requests and promoted the objects of
      the requests then in flight. Cyclic garbage waits at most that many allocations."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
