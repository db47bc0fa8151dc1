"""Garbage collection tuned for a long-running server: rarer and shorter pauses.

CPython's cyclic collector stops the whole process while it runs, and a collection of the
oldest generation walks every container object the process holds. After start-up most of
those are the modules, classes and functions imported, which never become garbage. Under
`make bench-load` such full collections took 100-200 ms each, several times a minute, and
they were the tail of every request: with 32 clients pausing about 1 s between requests,
`/info` answered at p99 92-124 ms and single reads at 165-181 ms, for a median of 3 and
14 ms (bench/README.md, "Load").

So once per process, when the first app starts (`tune`):

- everything alive after one last collection is frozen (`gc.freeze()`): moved to a
  permanent generation that collections skip. That is what CPython's documentation advises
  for a server that starts once and runs long; what is frozen is still freed by reference
  counting, only a reference cycle among it would stay.
- the youngest generation is collected every 10,000 net allocations instead of 700, and
  each older one after 20 collections of the one before instead of 10: the longest pauses
  are as long, but a request meets one about a tenth as often. Memory held by cyclic
  garbage waits a little longer for its collection: at most the allocations above.

With both, the same load measured `/info` p99 11-17 ms and single reads 58-92 ms.
`EVALQL_GC_TUNING=0` leaves CPython's defaults.
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 20, 20)  # CPython's defaults: (700, 10, 10)

_tuned = False


def tune() -> None:
    """Freeze what start-up left and raise the thresholds; once per process."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
