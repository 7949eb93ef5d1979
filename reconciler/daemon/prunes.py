"""The prune guards' memory and re-checks: orphans' grace, the prune window, a busy checkout.

The guards themselves are pure (``core/prune.py``); the daemon keeps their
history (each orphan's grace in its record, the recent prunes here) and looks
again when one may let go.  It also says once, per job, that an orphan keeps
running.
"""

from __future__ import annotations

import asyncio
import logging
import time

from reconciler.config.groups import DaemonSettings
from reconciler.core.diff import DriftState
from reconciler.core.ownership import read_ownership
from reconciler.core.prune import PruneHistory
from reconciler.daemon.checkout import Checkout, Spawn
from reconciler.daemon.due import ALL, Reason, Submit, job_fields
from reconciler.daemon.memory import JobMemory
from reconciler.model import Snapshot
from reconciler.sync.outcome import JobOutcome

log = logging.getLogger("reconciler.daemon")


class PruneGuards:
    def __init__(
        self, settings: DaemonSettings, *, memory: JobMemory, checkout: Checkout,
        submit: Submit, spawn: Spawn,
    ) -> None:  # fmt: skip
        self.settings = settings
        self._memory = memory
        self._checkout = checkout
        self._submit = submit
        self._spawn = spawn
        self._pruned_at: list[float] = []  # wall times of recent prunes (--prune-window)
        self._recheck: asyncio.TimerHandle | None = None

    def history(self) -> PruneHistory:
        """The memory the prune guards decide from (``reconciler.core.prune``)."""
        cutoff = time.time() - self.settings.policy.prune_window
        self._pruned_at = [at for at in self._pruned_at if at > cutoff]
        return PruneHistory(absent_since=self._memory.absent_since(), pruned_at=tuple(self._pruned_at))

    def pruned(self) -> None:
        """A job was pruned now: it counts against --max-prune for a window."""
        self._pruned_at.append(time.time())

    def cancel(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()

    def schedule_recheck(self, snapshot: Snapshot) -> None:
        """Look again when a prune guard may let go: the checkout settled (re-read it
        each second), a grace period ends, or a prune leaves the window."""
        now = time.time()
        s = self.settings
        due = [at + s.policy.prune_grace - now for at in self._memory.absent_since().values()]
        due += [at + s.policy.prune_window - now for at in self._pruned_at]
        if snapshot.revision is not None and snapshot.revision.busy:
            due.append(1.0)
        due = [d for d in due if d > 0]
        if not due:
            return
        delay = max(min(due), 0.2)
        if self._recheck is not None:
            self._recheck.cancel()

        def recheck() -> None:
            self._recheck = None
            self._spawn(self._recheck_prunes(), "prune-recheck")

        self._recheck = asyncio.get_running_loop().call_later(delay, recheck)

    async def _recheck_prunes(self) -> None:
        await self._checkout.rescan()  # a fresh snapshot: never prune from the one that was held
        snapshot = self._checkout.snapshot
        busy = bool(snapshot and snapshot.revision and snapshot.revision.busy)
        log.debug("prune guards re-check", extra={"fields": {"checkout_busy": busy}})
        if busy and snapshot is not None:
            self.schedule_recheck(snapshot)  # git is still at it: look again later
            return
        self._submit([ALL], Reason.RESYNC)

    def report_orphan(self, out: JobOutcome) -> None:
        """Say once, per job, that a job whose file is gone keeps running, and how to stop it."""
        key, live = out.key, out.action.live
        orphan = (
            out.action.drift.state is DriftState.ORPHANED and live is not None and not live.stop
        )
        if not orphan:
            record = self._memory.get(key)
            if record is not None:
                record.orphan_reported = False
            return
        record = self._memory.get_or_create(key)
        if record.orphan_reported:
            return
        record.orphan_reported = True
        ownership = read_ownership(live.meta if live else None)
        source = ownership.source if ownership else "?"
        log.warning(
            f"job {key[1]} is no longer declared (its file {source} was removed); it keeps "
            "running; run with --prune to stop it",
            extra=job_fields(key, file=source, state="orphaned"),
        )
