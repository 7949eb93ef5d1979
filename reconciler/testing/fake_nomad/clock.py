"""A clock tests drive by hand, for ``FakeNomad(clock=...)``.

With it, deployment timing (min_healthy_time, deadlines, success) follows
the test instead of the wall clock: advance it, call ``FakeNomad.tick()``,
and the fake is exactly there.  Blocking-query waits stay on the wall clock.
"""

from __future__ import annotations

import threading


class ManualClock:
    """A monotonic clock that only moves when told to (thread-safe)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += max(0.0, seconds)
            return self._now

    def advance_to(self, t: float) -> float:
        with self._lock:
            self._now = max(self._now, t)
            return self._now
