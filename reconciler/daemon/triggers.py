"""Triggers that are not Nomad's: the jobs directory (watchdog → debounce → reload) and timers.

Triggers only say *which job* to look at; the work always rebuilds the
picture from the checkout and from Nomad.
"""

from __future__ import annotations

import asyncio
import logging
import time

from reconciler.config.groups import DaemonSettings
from reconciler.daemon.checkout import Checkout, Spawn
from reconciler.daemon.debounce import Debouncer
from reconciler.daemon.due import ALL, Reason, Submit
from reconciler.daemon.watcher import JobsDirWatcher
from reconciler.observability.server import Heartbeat

log = logging.getLogger("reconciler.daemon")

TICK_S = 1.0  # liveness heartbeat period
WRITE_WAIT_MAX_S = 10.0  # longest wait for a writer to close a job file


class Triggers:
    """The heartbeat, the resync timer and the jobs directory's changes."""

    def __init__(
        self, settings: DaemonSettings, *, heartbeat: Heartbeat, checkout: Checkout,
        submit: Submit, spawn: Spawn,
    ) -> None:  # fmt: skip
        self.settings = settings
        self._heartbeat = heartbeat
        self._checkout = checkout
        self._submit = submit
        self._spawn = spawn
        self.debouncer = Debouncer(
            self._on_files_settled, quiet=settings.timing.debounce, max_delay=settings.timing.debounce_max
        )
        self.watcher: JobsDirWatcher | None = None  # set by the composition root's run()
        self._writes_waited_since = 0.0  # monotonic; 0: not waiting for a writer

    async def tick(self) -> None:
        while True:
            self._heartbeat.beat()
            await asyncio.sleep(TICK_S)

    async def resync_timer(self) -> None:
        while True:
            await asyncio.sleep(self.settings.timing.resync_interval)
            await self._checkout.rescan()
            self._submit([ALL], Reason.RESYNC)

    def on_file_events(self, paths: set[str]) -> None:
        """Loop thread: remember when each path first changed (the latency's start), debounce."""
        self._checkout.note_file_events(paths, time.monotonic())
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
        self._spawn(self._checkout.rescan(), "rescan")

    def on_checkout_switched(self) -> None:
        self._spawn(self._checkout.rescan(), "rescan")
