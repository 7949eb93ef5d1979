"""Reporting: outcomes of the engine → logs, metrics, the observer and the daemon's memory.

Each engine outcome is said once, counted (``observability/metrics.py``),
remembered in the job's record (indexes, rejections, rollouts to follow) and
mapped to a queue result (retry for the cluster's sake, park for the file's).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

from reconciler.config.groups import DaemonSettings
from reconciler.core.actions import ActionKind, HoldReason
from reconciler.core.diff import DriftState
from reconciler.daemon.checkout import Checkout
from reconciler.daemon.due import Reason, Submit, job_fields
from reconciler.daemon.hooks import DaemonObserver
from reconciler.daemon.memory import JobMemory, Rejection, Tracking
from reconciler.daemon.prunes import PruneGuards
from reconciler.daemon.queue import Outcome, Result
from reconciler.daemon.timers import JobTimers
from reconciler.errors import (
    ErrorCause,
)
from reconciler.model import JobKey, Snapshot
from reconciler.observability.labels import OperationResult
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.sync.outcome import JobOutcome
from reconciler.sync.outcome import Result as SyncResult
from reconciler.sync.rollout import expects_deployment

log = logging.getLogger("reconciler.daemon")


def held_reason_of(outcome: JobOutcome) -> str:
    """The one ``reason`` label of a job the engine held (the metrics' small set).

    The plan names its holds; an engine outcome held without a plan hold is a
    wave the engine did not start because a lower one failed (``--wait``).
    """
    return (outcome.action.hold_reason or HoldReason.WAVE).value


def state_of(outcome: JobOutcome) -> str:
    """The job's state label after this outcome."""
    if outcome.result in (SyncResult.CREATED, SyncResult.UPDATED, SyncResult.PROMOTED):
        return "in_sync"
    if outcome.result is SyncResult.FAILED:
        return "error"
    if outcome.result is SyncResult.HELD:
        return "held"
    if outcome.result is SyncResult.PRUNED:
        return "orphaned"
    return str(outcome.action.drift.state.value)


class OutcomeReporter:
    """Says, counts and remembers what the engine did (see the module docstring)."""

    def __init__(
        self, settings: DaemonSettings, *, memory: JobMemory, checkout: Checkout,
        metrics: ReconcilerMetrics, observer: DaemonObserver, timers: JobTimers,
        prunes: PruneGuards, submit: Submit,
    ) -> None:  # fmt: skip
        self.settings = settings
        self._memory = memory
        self._checkout = checkout
        self._metrics = metrics
        self._observer = observer
        self._timers = timers
        self._prunes = prunes
        self._submit = submit

    def record(
        self, outcomes: Iterable[JobOutcome], snapshot: Snapshot,
        *, drift_keys: set[JobKey] | frozenset[JobKey] = frozenset(),
    ) -> dict[JobKey, Result]:
        """Log, count and remember what the engine did; map it to queue results."""
        outcomes = list(outcomes)
        now = time.monotonic()
        results: dict[JobKey, Result] = {}
        prune_held = False
        for out in outcomes:
            key = out.key
            self._count_refused_attempt(out)
            state = state_of(out)
            if state != "unmanaged":
                self._metrics.set_job_state(
                    key,
                    state,
                    held_reason=held_reason_of(out) if state == "held" else None,
                    error_cause=out.error.cause.value if out.error is not None else None,
                )
            record = self._memory.get_or_create(key)
            drift_at, record.drift_at = record.drift_at, None
            drifted = out.action.drift.state in (
                DriftState.MODIFIED, DriftState.MISSING, DriftState.ORPHANED)
            # Only out-of-band drift counts: an event for our own in-flight write (its
            # index is learnt from the response, after the event) is not a detection,
            # and neither is creating a job this process never saw in sync (start-up,
            # or an event replayed from before it started): nothing drifted from a
            # state it knew.
            seen_in_sync = record.known_index is not None
            if drift_at is not None and drifted and key in drift_keys and seen_in_sync:
                self._metrics.observe_drift_detected(max(time.time() - drift_at, 0.0))
            if out.result in (SyncResult.CREATED, SyncResult.UPDATED):
                results[key] = self._registered(key, out, now)
            elif out.result is SyncResult.PRUNED:
                op = "purge" if out.action.purge else "stop"
                self._metrics.observe_sync_operation(op, "success")
                log.info("pruned", extra=job_fields(key, operation=op))
                record.pending_file = False
                self._prunes.pruned()  # counts against --max-prune for a window
                record.absent_since = None
            elif out.result is SyncResult.FAILED:
                results[key] = self._failed(key, out)
            elif out.action.unhealed:
                record.known_index = None
                log.warning("drift (not healed: --no-self-heal)", extra=job_fields(
                    key, state=out.action.drift.state.value, change=out.action.reason))
            elif out.result is SyncResult.HELD:
                # Still pending: a hold ends (deployment cap, wave) and the change goes on.
                log.info("held", extra=job_fields(key, reason=out.message or out.action.reason))
                if out.action.desired is None and out.action.hold_reason is HoldReason.GUARD:
                    # An orphan a prune guard holds: its grace period runs from now.
                    if record.absent_since is None:
                        record.absent_since = time.time()
                    prune_held = True
                elif out.action.hold_reason is HoldReason.ACTIVE_DEPLOYMENT:
                    self._timers.heal_after_deployment(key)
            else:  # unchanged, or promoted (a rollout's step: the job is in sync)
                if out.result is SyncResult.PROMOTED:
                    self._promoted(key, out)
                live = out.action.live
                self._prunes.report_orphan(out)
                if out.action.drift.state is DriftState.IN_SYNC and live is not None:
                    record.known_index = live.job_modify_index
                    if self._checkout.is_current(out):
                        record.pending_file = False
                        record.changed_at = None
                if out.action.kind is ActionKind.PROMOTE or (
                    live is not None and live.active_deployment is not None
                ):
                    self._submit([key], Reason.ROLLOUT)
        if prune_held:
            self._prunes.schedule_recheck(snapshot)
        self._observer.outcomes_recorded(outcomes)
        return results

    def _count_refused_attempt(self, out: JobOutcome) -> None:
        """A register Nomad refused with an index conflict before the engine re-planned.

        The refused write is counted as such, whatever came of the re-plan (a write
        with the job's current index, or nothing because the job now matches).
        """
        if not out.conflict_retried or out.result is SyncResult.FAILED:
            return  # a failed outcome is counted once, with its own error
        op = "create" if out.action.create else "update"
        self._metrics.observe_sync_operation(op, OperationResult.CONFLICT.value)
        log.warning("Nomad refused the write: the job changed in Nomad meanwhile; re-planned",
                    extra=job_fields(out.key, operation=op, result=out.result.value))

    def _registered(self, key: JobKey, out: JobOutcome, now: float) -> Result:
        op = "create" if out.result is SyncResult.CREATED else "update"
        self._metrics.observe_sync_operation(op, "success")
        accepted = out.accepted_at or now
        latency = None
        record = self._memory.get_or_create(key)
        if self._checkout.is_current(out):
            # The registered spec is the file's current one: the change has landed.
            changed_at, record.changed_at = record.changed_at, None
            if changed_at is not None and record.pending_file:
                latency = max(accepted - changed_at, 0.0)
                self._metrics.observe_change_registered(latency)
            record.pending_file = False
        if out.job_modify_index:
            record.known_index = out.job_modify_index
        desired = out.action.desired
        log.info("registered", extra=job_fields(
            key, operation=op, file=desired.path if desired else None,
            job_modify_index=out.job_modify_index, change=out.action.reason[:200],
            latency_s=round(latency, 3) if latency is not None else None))
        if desired is not None and expects_deployment(desired.canonical):
            revision = self._checkout.revision
            record.tracking = Tracking(
                job_modify_index=out.job_modify_index or 0, digest=desired.digest,
                registered_at=now, revision=revision.commit if revision else None,
                wave=self._checkout.wave_of(key),
            )  # fmt: skip
            self._timers.schedule_rollout_check(key, min(self.settings.timing.rollout_poll, 0.5))
        return None

    def _promoted(self, key: JobKey, out: JobOutcome) -> None:
        dep_id = out.action.deployment_id or ""
        self._memory.rollouts.mark_promoted(key, dep_id)  # one promote per deployment, whatever asks
        self._metrics.observe_sync_operation("promote", "success")
        log.info("promoted canaries", extra=job_fields(
            key, deployment=dep_id[:8], reason=out.action.reason))

    def _failed(self, key: JobKey, out: JobOutcome) -> Result:
        error = out.error
        if out.action.kind is ActionKind.PROMOTE and error is not None:
            # Counted and said as what it is; the promotion pass is retried with backoff.
            self._metrics.observe_sync_operation("promote", OperationResult.from_error(error).value)
            self._metrics.observe_reconcile_error(error)
            log.warning("promoting canaries failed; will retry", extra=job_fields(
                key, deployment=(out.action.deployment_id or "")[:8], error=str(error)))
            return error
        op = {
            ActionKind.DEREGISTER: "purge" if out.action.purge else "stop",
            ActionKind.PROMOTE: "promote",
        }.get(out.action.kind, "create" if out.action.create else "update")
        if error is not None:
            self._metrics.observe_sync_operation(op, OperationResult.from_error(error).value)
            self._metrics.observe_reconcile_error(error)
            if error.cause is ErrorCause.CLUSTER:
                # Caused by the cluster (unavailable, a missing namespace, ACL, a conflict,
                # an unrecognised 500): the same file may pass, so retry with backoff (and
                # every full pass).  Cluster-wide state (readiness, the recovery resync)
                # follows cluster reads and the event stream, not one job's write.
                log.warning(
                    "retrying (cluster): Nomad did not take the job",
                    extra=job_fields(key, cause=error.cause.value, error=str(error)),
                )
                return error
        desired = out.action.desired
        if error is not None and desired is not None:
            # Follows from the file: the same spec would be refused again.  Wait for the
            # file to change, retrying only slowly (the server may change).
            delay = self._reject(key, desired.digest, out.message)
            log.error(
                "rejected (fix the file)",
                extra=job_fields(
                    key,
                    cause=ErrorCause.FILE.value,
                    file=desired.path,
                    error=out.message,
                    retry_in_s=round(delay, 1),
                ),
            )
            return Outcome.FAILED
        log.error("job failed", extra=job_fields(key, error=out.message))
        return Outcome.FAILED

    def _reject(self, key: JobKey, digest: str, message: str) -> float:
        """Park a spec Nomad refused for the file's sake; returns the delay before the slow retry."""
        record = self._memory.get_or_create(key)
        previous = record.rejection
        attempts = (
            previous.attempts + 1 if previous is not None and previous.digest == digest else 1
        )
        record.drop_rejection()
        delays = self.settings.retry.rejected_backoffs or (3600.0,)
        delay = delays[min(attempts, len(delays)) - 1]

        def retry() -> None:
            if record.rejection is not None:
                record.rejection.timer = None
            self._submit([key], Reason.RESYNC)

        timer = asyncio.get_running_loop().call_later(delay, retry)
        record.rejection = Rejection(digest, message, attempts, time.monotonic() + delay, timer)
        return delay
