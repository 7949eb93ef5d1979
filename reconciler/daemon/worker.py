"""The worker: a queue batch → rollout checks, then one engine pass under the pass lock.

A full pass (``ALL``) runs alone, per-job batches together (``pass_lock``).
Before the engine sees a batch, the daemon removes what must not be submitted
now: specs whose rollout failed or that Nomad rejected (until their file
changes) and file changes that wait for a lower wave or the deployment cap.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping

from reconciler.config.groups import DaemonSettings
from reconciler.core.actions import HoldReason
from reconciler.daemon.checkout import Checkout
from reconciler.daemon.deferrals import Deferrals
from reconciler.daemon.due import ALL, DueJobs, Reason, job_fields
from reconciler.daemon.health import NomadHealth
from reconciler.daemon.hooks import DaemonObserver
from reconciler.daemon.memory import JobMemory
from reconciler.daemon.outcomes import OutcomeReporter, held_reason_of, state_of
from reconciler.daemon.pass_lock import PassLock
from reconciler.daemon.prunes import PruneGuards
from reconciler.daemon.queue import Outcome, Result
from reconciler.daemon.rollouts import RolloutFollower
from reconciler.errors import (
    ErrorCause,
    NomadError,
    NomadUnavailableError,
)
from reconciler.model import JobKey, Snapshot
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.sync.engine import Reconciler
from reconciler.sync.outcome import JobOutcome

log = logging.getLogger("reconciler.daemon")

ROLLOUT_CHECK_CONCURRENCY = 16  # deployment reads in flight at once


class Worker:
    """Runs the queue's batches (see the module docstring); ``passes`` counts full passes."""

    def __init__(
        self, settings: DaemonSettings, *, engine: Reconciler, memory: JobMemory,
        checkout: Checkout, metrics: ReconcilerMetrics, observer: DaemonObserver,
        reporter: OutcomeReporter, rollouts: RolloutFollower, deferrals: Deferrals,
        prunes: PruneGuards, health: NomadHealth, due: DueJobs,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.engine = engine
        self._memory = memory
        self._checkout = checkout
        self._metrics = metrics
        self._observer = observer
        self._reporter = reporter
        self._rollouts = rollouts
        self._deferrals = deferrals
        self._prunes = prunes
        self._health = health
        self._due = due
        self._pass_lock = PassLock()
        self.passes = 0  # full passes completed (tests, logs)

    def on_queue_outcome(self, key: JobKey, outcome: Outcome, error: BaseException | None) -> None:
        self._due.finish(key, retry=outcome is Outcome.RETRY)
        self._observer.job_handled(key)
        if error is None:
            return
        if outcome is Outcome.RETRY:
            level = logging.DEBUG if isinstance(error, NomadUnavailableError) else logging.WARNING
            log.log(level, "will retry with backoff", extra=job_fields(key, error=str(error)))

    async def handle_batch(self, batch: frozenset[JobKey]) -> Mapping[JobKey, Result]:
        reasons = self._due.start(batch)
        if self._checkout.snapshot is None:
            raise NomadUnavailableError("jobs directory not loaded yet")
        results: dict[JobKey, Result] = {}
        rest = batch - {ALL}
        sync_keys = {k for k in rest if reasons.get(k, set()) - {Reason.ROLLOUT}}
        # Rollouts first: a deployment that just failed must hold its spec before any
        # sync of that job could resubmit it.
        # (A promotion pass needs no look first: its check just asked for it.)
        tracking = self._memory.tracking()
        check = {k for k in rest if k not in sync_keys} | {
            k for k in (tracking if ALL in batch else sync_keys)
            if k in tracking and reasons.get(k) != {Reason.PROMOTE}
        }
        gate = asyncio.Semaphore(ROLLOUT_CHECK_CONCURRENCY)

        async def check_one(key: JobKey) -> None:
            async with gate:
                try:
                    await self._rollouts.check(key)
                except NomadError as exc:
                    self._health.error(exc)
                    results[key] = exc

        await asyncio.gather(*(check_one(k) for k in sorted(check)))
        # The checkout is read only once the lock is held: a batch that took it earlier
        # (before the rollout checks above, or while waiting) could otherwise write a
        # spec older than one a concurrent batch already wrote.
        if ALL in batch:
            async with self._pass_lock.exclusive():
                results.update(await self.full_pass(self._checkout.loaded()))
            # Jobs the full pass could not finish get their own retry with backoff.
            retry = [k for k, r in results.items()
                     if k not in batch and isinstance(r, BaseException)]
            self._due.submit(retry, Reason.RESYNC)
        sync_keys -= {k for k, r in results.items() if isinstance(r, BaseException)}
        if sync_keys:
            async with self._pass_lock.shared():
                # Drift Nomad told us about, not explained by a file change of ours.
                pending = self._memory.pending_files()
                drift_keys = {k for k in sync_keys
                              if Reason.NOMAD in reasons.get(k, set()) and k not in pending}
                results.update(
                    await self.sync(self._checkout.loaded(), sync_keys, drift_keys=drift_keys)
                )
        return results

    def _parked(self, snapshot: Snapshot) -> dict[JobKey, tuple[str, str]]:
        """Jobs not to submit again until their file changes: (state, reason) by key.

        ``held``: the spec's rollout failed.  ``error``: Nomad rejected the spec
        for a reason in the file (validation, bad request); resubmitting the same
        spec is only tried again on the slow ``rejected_backoffs``.
        """
        parked: dict[JobKey, tuple[str, str]] = {}
        now = time.monotonic()
        for key, job in snapshot.by_key().items():
            reason = self._memory.rollouts.hold_for(key, job.digest)
            if reason is not None:
                parked[key] = ("held", reason)
                continue
            record = self._memory.get(key)
            rejected = record.rejection if record is not None else None
            if record is not None and rejected is not None:
                if rejected.digest != job.digest:
                    record.drop_rejection()  # a new spec: try it
                elif now < rejected.retry_at:
                    parked[key] = ("error", rejected.message)
        return parked

    async def full_pass(self, snapshot: Snapshot) -> dict[JobKey, Result]:
        started = time.monotonic()
        parked = self._parked(snapshot)
        held = {k for k, (state, _r) in parked.items() if state == "held"}
        deferred = self._deferrals.defer(set(self._checkout.declared) - set(parked), parked)
        only: set[JobKey] | None = None
        if parked or deferred:
            # Everything known but the parked jobs (orphans included, for pruning).
            known = set(snapshot.by_key()) | set(self.engine.memory.jobs)
            only = known - set(parked) - deferred
        outcomes, unmanaged = await self._reconcile(snapshot, only=only)
        results = self._reporter.record(outcomes.values(), snapshot)
        states = {k: state_of(o) for k, o in outcomes.items()}
        states.update({k: state for k, (state, _r) in parked.items()})
        states.update(dict.fromkeys(deferred, "held"))
        states.update(dict.fromkeys(unmanaged, "unmanaged"))  # counted, never touched
        # One reason per hold, the same one every other report of it gives.
        held_reasons = {k: held_reason_of(o) for k, o in outcomes.items()
                        if states.get(k) == "held"}  # fmt: skip
        held_reasons.update(dict.fromkeys(held, HoldReason.FAILED_ROLLOUT.value))
        deferrals = self._memory.deferred()
        held_reasons.update({k: deferrals[k].reason for k in deferred if k in deferrals})
        error_causes = {k: o.error.cause.value for k, o in outcomes.items() if o.error is not None}
        error_causes.update(
            {k: ErrorCause.FILE.value for k, (state, _r) in parked.items() if state == "error"}
        )
        self._metrics.observe_pass(
            time.monotonic() - started, states,
            held_reasons=held_reasons,
            error_causes=error_causes,
            succeeded=not any(isinstance(r, BaseException) or r is Outcome.FAILED
                              for r in results.values()),
        )
        self.passes += 1
        log.debug("full pass done", extra={"fields": {"pass": self.passes}})
        self._deferrals.release_after(outcomes.values())
        # Canary rollouts the daemon may promote but is not following (it restarted, or
        # the event stream dropped meanwhile): look at them once.
        tracking = self._memory.tracking()
        self._due.submit(
            [k for k, job in self._checkout.declared.items()
             if k not in tracking and k not in parked and self._rollouts.may_promote(job)],
            Reason.ROLLOUT,
        )
        if not self._health.first_pass_done:
            self._health.first_pass_done = True
            summary: dict[str, int] = {}
            for out in outcomes.values():
                summary[out.result.value] = summary.get(out.result.value, 0) + 1
            log.info("first full pass done", extra={"fields": {
                "jobs": len(snapshot.jobs), "summary": summary}})
        # Jobs declared but absent from the engine's answer have nothing to do.
        return {ALL: None, **results}

    async def sync(
        self, snapshot: Snapshot, keys: set[JobKey], *, drift_keys: set[JobKey]
    ) -> dict[JobKey, Result]:
        started = time.monotonic()
        declared = snapshot.by_key()
        results: dict[JobKey, Result] = {}
        keep: set[JobKey] = set()
        parked = self._parked(snapshot)
        for key in keys:
            desired = declared.get(key)
            if key in parked:
                state, reason = parked[key]
                self._metrics.set_job_state(
                    key, state,
                    held_reason=HoldReason.FAILED_ROLLOUT.value if state == "held" else None,
                    error_cause=ErrorCause.FILE.value if state == "error" else None,
                )
                file = desired.path if desired else None
                record = self._memory.get(key)
                if record is not None:
                    record.drift_at = None  # not healed: no detection to time
                if key in drift_keys and state == "held":
                    # Nomad says the job changed (a `job scale`, a `job run` by hand):
                    # say why the daemon leaves it, or the drift looks ignored.
                    log.warning(
                        "held: the rollout of this spec failed; the change made out of band "
                        "is not healed while the spec is held (commit a change to the file "
                        "to release it)",
                        extra=job_fields(key, state=state, reason=reason, file=file),
                    )
                else:
                    log.info("not resubmitted until its file changes", extra=job_fields(
                        key, state=state, reason=reason, file=file))
                if record is not None:
                    record.pending_file = False
                continue
            keep.add(key)
        keep -= self._deferrals.defer(keep, parked)
        if not keep:
            return results
        log.debug("syncing", extra={"fields": {
            "jobs": sorted(f"{ns}/{job}" for ns, job in keep)[:20], "count": len(keep)}})
        found, _unmanaged = await self._reconcile(snapshot, only=keep)
        outcomes = list(found.values())
        results.update(self._reporter.record(outcomes, snapshot, drift_keys=drift_keys))
        self._deferrals.release_after(outcomes)
        for key in keep:
            if key not in found:
                # Neither declared nor live any more (or out of scope): nothing to do.
                self._forget(key)
        self._metrics.reconcile_pass_duration.observe(time.monotonic() - started)
        if not any(isinstance(r, BaseException) or r is Outcome.FAILED for r in results.values()):
            self._metrics.mark_sync_succeeded()
        return results

    async def _reconcile(
        self, snapshot: Snapshot, *, only: set[JobKey] | None
    ) -> tuple[dict[JobKey, JobOutcome], tuple[JobKey, ...]]:
        """One engine pass.  Returns the outcomes by job and the live jobs nobody declared
        or owns (never touched; the metrics count them).

        Without self-heal the policy's ``heal`` is off: the plan applies only changes
        that come from git (``core/plan.py``, ``from_git``) and reports the rest.
        """
        if only is not None:
            # The engine plans every job of the snapshot it is given: give it only these.
            snapshot = dataclasses.replace(
                snapshot, jobs=tuple(j for j in snapshot.jobs if j.key in only)
            )
        # New specs supersede a running deployment; healing out-of-band drift waits for it.
        policy = dataclasses.replace(
            self.engine.policy, supersede_only=self._memory.pending_files(),
            heal=self.settings.policy.self_heal,
        )  # fmt: skip
        try:
            result = await self.engine.reconcile(
                snapshot, only=only, prune_history=self._prunes.history(), policy=policy,
                promotions=self._memory.rollouts.promotion_facts(),
            )  # fmt: skip
        except NomadError as exc:
            self._health.error(exc)
            self._metrics.observe_reconcile_error(exc)
            raise
        self._health.ok()
        return {o.key: o for o in result.outcomes}, result.plan.unmanaged_keys

    def _forget(self, key: JobKey) -> None:
        """A job gone from the checkout and from Nomad: drop everything kept about it."""
        self._memory.forget(key)
        self._metrics.forget_job(key)
