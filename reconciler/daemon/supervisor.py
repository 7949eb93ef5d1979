"""The daemon's tasks, supervised: a root task that dies stops the process.

Root tasks (heartbeat, resync timer, Nomad watch) run for the life of the
process: if one ends or raises, the daemon logs why and stops with a
non-zero status, so that a supervisor (Nomad's ``restart`` block, systemd)
restarts it.  A half-dead process that still answers ``/healthz`` would
never be restarted.  Other tasks are short-lived; their errors are logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from reconciler.errors import ReconcilerError

log = logging.getLogger("reconciler.daemon")


class Supervisor:
    """Spawns and watches the daemon's tasks; holds the stop request and why it came."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stop = asyncio.Event()
        self.fatal: BaseException | None = None  # why a root task died: the process exits

    def request_stop(self) -> None:
        self.stop.set()

    @property
    def stopping(self) -> bool:
        return self.stop.is_set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str, *, root: bool = False) -> None:
        """Run ``coro`` as a supervised task (see the module docstring)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(lambda t: self._on_task_done(t, root=root))

    def _on_task_done(self, task: asyncio.Task[Any], *, root: bool) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here, so asyncio never reports it unseen
        if exc is None and (not root or self.stop.is_set()):
            return
        if not root:
            log.error("internal task %s failed", task.get_name(), exc_info=exc)
            return
        if self.fatal is not None:
            return
        self.fatal = exc or RuntimeError(f"internal task {task.get_name()} ended")
        if isinstance(exc, ReconcilerError):
            log.error("stopping: %s", exc, extra={"fields": {"task": task.get_name()}})
        else:
            log.critical("stopping: internal task %s died", task.get_name(),
                         exc_info=exc if exc is not None else None)
        self.request_stop()

    async def cancel_all(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
