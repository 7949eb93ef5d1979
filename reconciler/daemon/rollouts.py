"""Following deployments: phases, holds, canary and background analysis, and asking for promotion.

A rollout check reads the job's deployment (or takes the event's), lets the
tracker (``rollout.py``) record it and the canary analysis (``analysis_log.py``)
judge it, and reports it.  When the promotion policy (``core/promotion.py``)
says promote, it submits the job for a promotion pass: the engine plans the
``PROMOTE`` and applies it like any write (pass lock, one worker per job).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from reconciler.config.groups import DaemonSettings
from reconciler.core.actions import HoldReason
from reconciler.core.analysis_background import has_background_analysis
from reconciler.core.promotion import (
    NO_ANALYSIS,
    Analysis,
    AnalysisState,
    expects_canaries,
    soak_or_none,
)
from reconciler.daemon.analysis_log import DaemonAnalysis
from reconciler.daemon.checkout import Checkout
from reconciler.daemon.deferrals import Deferrals
from reconciler.daemon.due import Reason, Submit, job_fields
from reconciler.daemon.health import NomadHealth
from reconciler.daemon.hooks import DaemonObserver
from reconciler.daemon.memory import JobMemory
from reconciler.daemon.rollout import RolloutPhase, promotion_soak
from reconciler.daemon.timers import JobTimers
from reconciler.deployment import Deployment
from reconciler.errors import (
    ConfigError,
)
from reconciler.model import META_PREFIX, DesiredJob, JobKey
from reconciler.nomad.client import NomadClient
from reconciler.observability.metrics import ReconcilerMetrics
from reconciler.sync.rollout import expects_deployment

log = logging.getLogger("reconciler.daemon")

ROLLOUT_APPEAR_TIMEOUT_S = 60.0  # how long to wait for a registration's deployment to show up
STREAM_ROLLOUT_POLL_S = 10.0  # rollout re-check while deployment events arrive anyway


class RolloutFollower:
    """Follows each job's deployment (see the module docstring)."""

    def __init__(
        self, settings: DaemonSettings, *, client: NomadClient, memory: JobMemory,
        checkout: Checkout, metrics: ReconcilerMetrics, observer: DaemonObserver,
        timers: JobTimers, deferrals: Deferrals, health: NomadHealth, submit: Submit,
        clock: Callable[[], float], stream_connected: Callable[[], bool],
    ) -> None:  # fmt: skip
        self.settings = settings
        self.client = client
        self._memory = memory
        self._checkout = checkout
        self._metrics = metrics
        self._observer = observer
        self._timers = timers
        self._deferrals = deferrals
        self._health = health
        self._submit = submit
        self._clock = clock  # the engine's: its plan reads the soak clock too
        self._stream_connected = stream_connected
        # Without Prometheus until the composition root's run() reads the settings:
        # analyses then never pass.
        self.analysis = DaemonAnalysis(None, on_measurement=metrics.observe_analysis_measurement)

    def may_promote(self, desired: DesiredJob) -> bool:
        """A rollout the daemon acts on: a canary job with a promotion policy, or a job
        whose groups without canaries have background analysis (it may fail them)."""
        canon = desired.canonical
        if not expects_deployment(canon):
            return False
        return (
            expects_canaries(canon)
            and soak_or_none(canon.get("Meta"), default=self.settings.policy.promote_after) is not None
        ) or has_background_analysis(canon, prefix=META_PREFIX)  # fmt: skip

    async def _fail_by_analysis(
        self, key: JobKey, deployment_id: str, reason: str, digest: str, what: str
    ) -> None:
        """Fail the deployment an analysis failed (Nomad's auto_revert rolls it back) and
        hold its digest with the analysis' reason until the file changes."""
        await self.client.fail_deployment(deployment_id, namespace=key[0])
        self._memory.rollouts.hold(key, digest, reason)
        log.warning(f"analysis failed {what}: deployment failed, Nomad rolls back",
                    extra=job_fields(key, deployment=deployment_id[:8], reason=reason))  # fmt: skip
        self._timers.schedule_rollout_check(key, 0.0)

    async def check(self, key: JobKey) -> None:
        """Read the job's latest deployment and act on it (promote, hold, report)."""
        record = self._memory.get_or_create(key)
        tracking = record.tracking
        now_mono = time.monotonic()
        dep: Deployment | None
        cached, record.deployment_event = record.deployment_event, None
        if (
            cached is not None
            and tracking is not None
            and cached.job_spec_modify_index == tracking.job_modify_index
        ):
            dep = cached  # fresh from the event stream, about our own registration
        elif tracking is None:
            # Not a deployment of ours (it began before this process, or elsewhere): what
            # Nomad says now, never an event payload that may predate a later change.
            dep = await self.client.read_latest_deployment(key[1], namespace=key[0])
        else:
            # The deployment of *our* registration, not merely the latest: after an
            # auto-revert the latest is the rollback's, and ours is the failed one.
            deployments = await self.client.list_job_deployments(key[1], namespace=key[0])
            dep = next((d for d in deployments
                        if d.job_spec_modify_index == tracking.job_modify_index), None)
        self._health.ok()
        if dep is None:
            if tracking is not None and now_mono - tracking.registered_at < ROLLOUT_APPEAR_TIMEOUT_S:
                self._timers.schedule_rollout_check(key, self.settings.timing.rollout_poll)
            elif record.tracking is not None:
                record.tracking = None
                self._deferrals.release()
            return
        desired = self._checkout.declared.get(key)
        try:
            soak = promotion_soak(
                desired.canonical.get("Meta") if desired else None,
                default=self.settings.policy.promote_after,
            )
        except ConfigError as exc:
            log.error("bad promotion policy", extra=job_fields(
                key, file=desired.path if desired else None, error=str(exc)))
            soak = None
        # On the engine's clock: its plan reads the soak clock too.
        update = self._memory.rollouts.observe(
            key, dep, now=self._clock(), soak=soak,
            digest=tracking.digest if tracking is not None else None,
        )  # fmt: skip
        self._metrics.observe_deployment(key, dep)
        self._observer.deployment_observed(key, dep, update.phase.value)
        if (update.phase is RolloutPhase.AWAITING_PROMOTION and desired is not None
                and dep.canaries_healthy):
            # Canary analysis: never promote unless it passed; fail the deployment on a breach.
            gate = await self.analysis.gate(
                key, dep, desired, catalog=self._checkout.analysis_catalog,
                allocations=self.client.deployment_allocations,
            )  # fmt: skip
            self._memory.note_analysis(key, update.deployment_id, gate)  # for the status page
            if gate is None:
                self._memory.rollouts.set_analysis(key, update.deployment_id, NO_ANALYSIS)
            elif gate.passed:
                self._memory.rollouts.set_analysis(key, update.deployment_id, Analysis(
                    AnalysisState.PASSED, gate.reason))
            else:
                self._memory.rollouts.set_analysis(key, update.deployment_id, Analysis(
                    AnalysisState.WAITING, gate.reason))
            if gate is not None and gate.failed:
                await self._fail_by_analysis(key, update.deployment_id, gate.reason,
                                             tracking.digest if tracking else desired.digest, "the canaries")
                return
            if gate is not None and not gate.passed:
                waits = [d for d in (update.recheck_in, gate.recheck_in) if d is not None]
                update = dataclasses.replace(
                    update, promote=False, recheck_in=min(waits) if waits else None,
                    reason=gate.reason)  # fmt: skip
        if desired is not None and dep.active and (
            dep.job_spec_modify_index == tracking.job_modify_index if tracking is not None
            else self._memory.rollouts.hold_for(key, desired.digest) is None
        ):
            # Background checks of groups without canaries: a breach fails the deployment
            # like a canary's; anything else leaves the rolling update to Nomad.  Only a
            # deployment of the file's spec: never the revert of a held one.
            background = await self.analysis.background(
                key, dep, desired, catalog=self._checkout.analysis_catalog,
                allocations=self.client.deployment_allocations,
            )  # fmt: skip
            if background is not None and (background.failed or not any(g.has_canaries for g in dep.groups)):
                self._memory.note_analysis(key, update.deployment_id, background)  # the status page's
            if background is not None and background.failed:
                await self._fail_by_analysis(key, update.deployment_id, background.reason,
                                             tracking.digest if tracking else desired.digest, "the rolling update")
                return
            if background is not None and background.recheck_in is not None:
                waits = [d for d in (update.recheck_in, background.recheck_in) if d is not None]
                update = dataclasses.replace(update, recheck_in=min(waits))
        if update.superseded:
            log.info("rollout superseded", extra=job_fields(key, deployment=update.superseded[:8]))
        if update.changed:
            level = logging.WARNING if update.phase is RolloutPhase.FAILED else logging.INFO
            log.log(level, f"rollout {update.phase.value.replace('_', ' ')}", extra=job_fields(
                key, deployment=update.deployment_id[:8], description=update.description,
                reason=update.reason or None))
        if update.promote:
            # A write like any other: the engine plans the PROMOTE in a pass about this job
            # (pass lock, one worker per job), from a fresh read and the tracker's memory.
            self._submit([key], Reason.PROMOTE)
            return
        if update.phase.terminal:
            self._metrics.clear_analysis(key)
            self.analysis.forget(key, update.deployment_id)
            self._timers.cancel_rollout_check(key)  # a safety re-check may still be pending
            finished, record.tracking = record.tracking, None
            self._deferrals.release()  # a later wave or a capped change may go now
            if update.phase is RolloutPhase.SUCCESSFUL and finished and finished.revision:
                seen = self._checkout.revision_seen_at(finished.revision)
                if seen is not None:
                    self._metrics.observe_commit_to_healthy(max(time.time() - seen, 0.0))
            if update.phase is RolloutPhase.FAILED:
                self._metrics.set_job_state(
                    key, "held", held_reason=HoldReason.FAILED_ROLLOUT.value)
            return
        delay = self.settings.timing.rollout_poll
        if self._stream_connected():
            # Deployment events wake the check; polling is only the safety net.
            delay = max(delay, STREAM_ROLLOUT_POLL_S)
        if update.recheck_in is not None:
            delay = min(delay, update.recheck_in)
        self._timers.schedule_rollout_check(key, delay)
