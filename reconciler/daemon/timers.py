"""Per-job timers: the next rollout check and the heal that waits for a deployment.

Each timer lives in the job's record (``memory.JobRecord``), so ``forget``
cancels it; when it fires it only submits the job (``ROLLOUT``, ``NOMAD``).
"""

from __future__ import annotations

import asyncio

from reconciler.config.groups import DaemonSettings
from reconciler.daemon.due import Reason, Submit
from reconciler.daemon.memory import JobMemory
from reconciler.model import JobKey


class JobTimers:
    def __init__(self, memory: JobMemory, submit: Submit, settings: DaemonSettings) -> None:
        self._memory = memory
        self._submit = submit
        self.settings = settings

    def cancel_rollout_check(self, key: JobKey) -> None:
        record = self._memory.get(key)
        if record is not None and record.rollout_timer is not None:
            record.rollout_timer.cancel()
            record.rollout_timer = None

    def schedule_rollout_check(self, key: JobKey, delay: float) -> None:
        self.cancel_rollout_check(key)
        record = self._memory.get_or_create(key)

        def fire() -> None:
            record.rollout_timer = None
            self._submit([key], Reason.ROLLOUT)

        record.rollout_timer = asyncio.get_running_loop().call_later(max(delay, 0.0), fire)

    def heal_after_deployment(self, key: JobKey) -> None:
        """Re-check a job whose healing waits for a running deployment, until it ends.

        Deployment events wake it at once; the timer covers blocking-query mode.
        """
        record = self._memory.get_or_create(key)
        if record.heal_timer is not None:
            record.heal_timer.cancel()

        def fire() -> None:
            record.heal_timer = None
            self._submit([key], Reason.NOMAD)

        delay = max(self.settings.timing.rollout_poll, 1.0)
        record.heal_timer = asyncio.get_running_loop().call_later(delay, fire)
