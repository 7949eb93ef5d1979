"""Triggers that are not Nomad's: the jobs directory (watchdog → debounce → reload) and timers.

Triggers only say *which job* to look at; the work always rebuilds the
picture from the checkout and from Nomad.
"""

from __future__ import annotations

import asyncio
import logging
import time

from reconciler.daemon.base import ALL, TICK_S, WRITE_WAIT_MAX_S, Reason
from reconciler.daemon.worker import Worker

log = logging.getLogger("reconciler.daemon")


class Triggers(Worker):
    async def _tick(self) -> None:
        while True:
            self.heartbeat.beat()
            await asyncio.sleep(TICK_S)

    async def _resync_timer(self) -> None:
        while True:
            await asyncio.sleep(self.settings.timing.resync_interval)
            await self._rescan()
            self._submit([ALL], Reason.RESYNC)

    def _on_file_events(self, paths: set[str]) -> None:
        """Loop thread: remember when each path first changed (the latency's start), debounce."""
        now = time.monotonic()
        for path in paths:
            self._event_at.setdefault(path, now)
        self.debouncer.add(paths)

    def _on_files_settled(self, paths: frozenset[str]) -> None:
        if self.watcher is None:
            return  # stopped
        writing = self.watcher.writing
        now = time.monotonic()
        if writing:
            # Never act on a half-written file: wait (bounded) for its writer to close it.
            self._writes_waited_since = self._writes_waited_since or now
            if now - self._writes_waited_since < WRITE_WAIT_MAX_S:
                log.debug("waiting for files being written", extra={"fields": {
                    "paths": sorted(writing)[:20]}})
                self.debouncer.add(paths | writing)
                return
            log.warning("files still open for writing; loading them anyway",
                        extra={"fields": {"paths": sorted(writing)[:20]}})
            # Given up on: a later change must not wait for these again.
            self.watcher.forget_writes(writing)
        self._writes_waited_since = 0.0
        log.debug("files changed", extra={"fields": {"paths": sorted(paths)[:20],
                                                      "count": len(paths)}})
        self._spawn(self._rescan(), "rescan")

    def _on_checkout_switched(self) -> None:
        self._spawn(self._rescan(), "rescan")
