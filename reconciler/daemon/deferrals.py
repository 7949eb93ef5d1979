"""File changes that wait: for a lower wave to finish, or under the deployment cap.

The ordering rules are pure (``ordering.py``); this part keeps each deferral
in the job's record, says it once, reports the job as held, and submits the
deferred changes again when a registration went through or a rollout ended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from reconciler.config.groups import DaemonSettings
from reconciler.daemon.checkout import Checkout
from reconciler.daemon.due import Reason, Submit, job_fields
from reconciler.daemon.memory import JobMemory
from reconciler.daemon.ordering import defer_changes
from reconciler.model import JobKey
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.sync.outcome import JobOutcome
from reconciler.sync.outcome import Result as SyncResult
from reconciler.sync.rollout import expects_deployment

log = logging.getLogger("reconciler.daemon")


class Deferrals:
    def __init__(
        self, settings: DaemonSettings, *, memory: JobMemory, checkout: Checkout,
        metrics: ReconcilerMetrics, submit: Submit,
    ) -> None:  # fmt: skip
        self.settings = settings
        self._memory = memory
        self._checkout = checkout
        self._metrics = metrics
        self._submit = submit

    def defer(self, keys: set[JobKey], parked: Mapping[JobKey, tuple[str, str]]) -> set[JobKey]:
        """File changes among ``keys`` that must wait for a lower wave or the deployment cap."""
        pending = self._memory.pending_files()
        wave_of = self._checkout.wave_of
        changed = {k: wave_of(k) for k in keys if k in pending}
        if not changed:
            return set()
        declared = self._checkout.declared
        deploying = {k for k in changed
                     if k in declared and expects_deployment(declared[k].canonical)}
        deferrals = defer_changes(
            changed, deploying=deploying,
            rolling={k: t.wave for k, t in self._memory.tracking().items()},
            held={k: wave_of(k) for k, (state, _r) in parked.items() if state == "held"},
            cap=self.settings.policy.max_concurrent_deployments,
        )  # fmt: skip
        for key, deferral in deferrals.items():
            record = self._memory.get_or_create(key)
            if record.deferral != deferral:
                log.info("change deferred", extra=job_fields(
                    key, reason=deferral.reason, detail=deferral.detail))
            record.deferral = deferral
            self._metrics.set_job_state(key, "held", held_reason=deferral.reason)
        return set(deferrals)

    def release_after(self, outcomes: Iterable[JobOutcome]) -> None:
        """A registration went through (a lower wave may be done): retry deferred changes."""
        tracking = self._memory.tracking()
        if self._memory.deferred() and any(
            o.result in (SyncResult.CREATED, SyncResult.UPDATED) and o.key not in tracking
            for o in outcomes
        ):
            self.release()

    def release(self) -> None:
        keys = self._memory.take_deferred()
        if keys:
            self._submit(keys, Reason.FILE)
