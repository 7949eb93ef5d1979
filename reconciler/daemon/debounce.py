"""Turning bursts of file events into passes, and holding back errors of files still being written.

Responsible for two timing decisions, both driven by an injected clock:

- ``Debouncer``: a burst of events (a ``git checkout`` touching 50 files)
  becomes one flush with every path in it.  A flush happens once the burst
  has been quiet for ``quiet`` seconds, but never later than ``max_delay``
  after its first event, so a continuous trickle still gets passes.
- ``ParseErrorGate``: a file that fails to load right after it changed may be
  half written.  Its error is reported only once the same error has
  persisted for ``settle`` seconds; the caller re-checks at ``recheck_at``.
  A file that settles into something valid was never reported as failing.

Neither does I/O: the debouncer only schedules a callback on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from reconciler.model import Diagnostic, Severity


def flush_deadline(first_at: float, last_at: float, *, quiet: float, max_delay: float) -> float:
    """Pure: when a burst that started at ``first_at`` and last grew at ``last_at`` flushes."""
    return min(last_at + quiet, first_at + max_delay)


class Debouncer:
    """Collects paths and calls ``flush(paths)`` once per burst, on the event loop thread."""

    def __init__(
        self,
        flush: Callable[[frozenset[str]], None],
        *,
        quiet: float,
        max_delay: float,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._flush = flush
        self.quiet = quiet
        self.max_delay = max_delay
        self._loop = loop or asyncio.get_running_loop()
        self._paths: set[str] = set()
        self._first_at: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def add(self, paths: Iterable[str]) -> None:
        """Add paths to the current burst (loop thread only)."""
        paths = set(paths)
        if not paths:
            return
        now = self._loop.time()
        if self._first_at is None:
            self._first_at = now
        self._paths |= paths
        deadline = flush_deadline(self._first_at, now, quiet=self.quiet, max_delay=self.max_delay)
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(deadline, self._fire)

    @property
    def pending(self) -> frozenset[str]:
        return frozenset(self._paths)

    def _fire(self) -> None:
        paths = frozenset(self._paths)
        self._paths.clear()
        self._first_at = None
        self._timer = None
        if paths:
            self._flush(paths)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._paths.clear()
        self._first_at = None


@dataclass
class ParseErrorGate:
    """Decides which load errors are real: an error must persist ``settle`` seconds."""

    settle: float
    _first_seen: dict[tuple[str, str, int | None], float] = field(default_factory=dict)

    def filter(
        self, errors: Iterable[Diagnostic], *, now: float
    ) -> tuple[tuple[Diagnostic, ...], float | None]:
        """(errors to report now, when to re-check the ones held back or None).

        An error is identified by file, message and line: a file still being
        written usually fails differently as it grows, which restarts its
        clock.  Errors that disappeared are forgotten.
        """
        current: dict[tuple[str, str, int | None], Diagnostic] = {
            (d.path, d.message, d.line): d for d in errors if d.severity is Severity.ERROR
        }
        self._first_seen = {k: self._first_seen.get(k, now) for k in current}
        report: list[Diagnostic] = []
        recheck: float | None = None
        for ident, diag in current.items():
            ripe_at = self._first_seen[ident] + self.settle
            if now >= ripe_at:
                report.append(diag)
            else:
                recheck = ripe_at if recheck is None else min(recheck, ripe_at)
        return tuple(sorted(report, key=lambda d: (d.path, d.line or 0))), recheck

    def unsettled_paths(self, *, now: float) -> frozenset[str]:
        """Files whose current error is still within its settle window."""
        return frozenset(p for (p, _m, _l), t in self._first_seen.items() if now < t + self.settle)
