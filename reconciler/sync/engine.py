"""The reusable reconcile pass: read the cluster, plan, apply, follow rollouts.

``Reconciler`` is what the one-shot commands and the daemon share.  It keeps
the per-process memory (``ClusterMemory``) between passes, so a pass over an
unchanged cluster costs one list request.  Decisions stay in the pure core;
this class only sequences I/O: waves in order, a cap on concurrent
deployments, and with ``wait`` a wave starts only when the previous wave's
deployments are healthy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from reconciler.core.actions import ActionKind, JobAction, Plan
from reconciler.core.cluster_state import ClusterState
from reconciler.core.ownership import wants_auto_promote
from reconciler.core.plan import compute_plan
from reconciler.core.policy import SyncPolicy
from reconciler.core.promotion import PromotionFacts
from reconciler.core.prune import PruneHistory
from reconciler.deployment import Deployment
from reconciler.errors import NomadError
from reconciler.model import DesiredJob, JobKey, Snapshot
from reconciler.nomad.client import NomadClient
from reconciler.sync.analysis import AnalysisRunner, Gate
from reconciler.sync.api import AnalysisApi, ClientApi, NomadApi
from reconciler.sync.apply import (
    Applier,
    OutcomeHook,
    SubmissionBuilder,
    describe_error,
    run_bounded,
    submission_for,
)
from reconciler.sync.cluster import ClusterMemory, ClusterReader, MismatchHook
from reconciler.sync.outcome import JobOutcome, PassResult, Result
from reconciler.sync.rollout import Analyse, ProgressHook, expects_deployment, follow_deployment
from reconciler.sync.sources import job_inputs


class Reconciler:
    """One cluster's reconcile passes.  Not thread-safe; one pass at a time per key."""

    def __init__(
        self,
        api: NomadApi | NomadClient,
        policy: SyncPolicy,
        *,
        clock: Callable[[], float] = time.time,
        annotate: bool = True,
        timeout_s: float = 300.0,
        refresh: bool = False,
        on_outcome: OutcomeHook | None = None,
        on_progress: ProgressHook | None = None,
        inputs: Any = None,
        on_mismatch: MismatchHook | None = None,
        analysis: AnalysisRunner | None = None,
    ) -> None:
        """``inputs`` are the loader's ``VariableInputs``: with them, registers on
        Nomad ≥ 1.6 carry the job's variables in ``Submission`` too.
        ``on_mismatch`` hears of every job the local diff flagged and Nomad's
        plan found unchanged (with the fields the local diff named).
        ``analysis`` runs the canary analyses while ``wait`` follows rollouts."""
        self.api: NomadApi = ClientApi(api) if isinstance(api, NomadClient) else api
        self.policy = policy
        self.memory = ClusterMemory()
        self.reader = ClusterReader(self.api, memory=self.memory, on_mismatch=on_mismatch)
        self.clock = clock
        self._annotate = annotate
        self._timeout_s = timeout_s
        self._refresh = refresh
        self._on_outcome = on_outcome
        self._on_progress = on_progress
        self.inputs = inputs
        self.analysis = analysis

    async def read_cluster(
        self, snapshot: Snapshot, *, only: set[JobKey] | None = None, deployments: bool = False
    ) -> ClusterState:
        return await self.reader.read(
            snapshot, self.policy, only=only, refresh=self._refresh, with_deployments=deployments
        )

    async def plan(self, snapshot: Snapshot, *, only: set[JobKey] | None = None) -> Plan:
        cluster = await self.read_cluster(snapshot, only=only)
        return compute_plan(snapshot, cluster, self.policy, now=self.clock(), only=only)

    async def reconcile(
        self, snapshot: Snapshot, *, only: set[JobKey] | None = None, dry_run: bool = False,
        prune_history: PruneHistory | None = None,
        policy: SyncPolicy | None = None,
        promotions: Mapping[JobKey, PromotionFacts] | None = None,
    ) -> PassResult:
        """One pass.  With ``dry_run`` nothing is written (Nomad's plan is still asked).

        ``prune_history`` is a long-running caller's memory of orphans and prunes
        (times on this engine's clock), for the prune grace period and window.
        ``policy`` replaces the engine's for this pass only (concurrent passes each
        bring their own).  ``promotions`` is the caller's memory of the deployments it
        follows, for the soak promotion policy (``core/promotion.py``)."""
        policy = policy or self.policy
        cluster = await self.reader.read(
            snapshot, policy, only=only, refresh=self._refresh, with_deployments=False
        )
        plan = compute_plan(
            snapshot, cluster, policy, now=self.clock(), only=only,
            prune_history=prune_history, promotions=promotions,
        )  # fmt: skip
        features = await self.api.features()
        applier = Applier(
            self.api, policy, memory=self.memory,
            submission=self._submission_builder(snapshot) if features.register_submission else None,
            annotate=self._annotate,
        )  # fmt: skip
        outcomes: list[JobOutcome] = []
        if dry_run:
            outcomes = await self._dry_run(plan, applier)
        else:
            outcomes = await self._apply(plan, applier)
        by_key = {o.key: o for o in outcomes}
        for action in plan.actions:
            if action.key not in by_key:
                result = Result.HELD if action.kind is ActionKind.HOLD else Result.UNCHANGED
                outcome = JobOutcome(action.key, action, result, action.reason)
                outcomes.append(outcome)
                self._emit(outcome)
        order = {a.key: i for i, a in enumerate(plan.actions)}
        outcomes.sort(key=lambda o: order.get(o.key, 0))
        return PassResult(plan, tuple(outcomes), dry_run, cluster.server_version)

    def _submission_builder(self, snapshot: Snapshot) -> SubmissionBuilder:
        def build(desired: DesiredJob) -> dict[str, Any]:
            try:
                return job_inputs(snapshot.root, desired, self.inputs).submission(desired)
            except (OSError, ValueError):
                return submission_for(desired)  # the job still registers; only the UI loses inputs

        return build

    def _emit(self, outcome: JobOutcome) -> None:
        if self._on_outcome is not None:
            self._on_outcome(outcome)

    async def _dry_run(self, plan: Plan, applier: Applier) -> list[JobOutcome]:
        async def one(action: JobAction) -> JobOutcome:
            annotations, warnings = (None, "")
            if self._annotate and action.kind is ActionKind.REGISTER:
                try:
                    annotations, warnings = await applier.annotate(action)
                except NomadError as exc:  # Nomad's own plan refused it: that job's failure
                    failed = JobOutcome(
                        action.key, action, Result.FAILED, describe_error(exc, action), error=exc
                    )
                    self._emit(failed)
                    return failed
            out = JobOutcome(
                action.key, action, Result.PLANNED, action.reason, annotations, warnings
            )
            self._emit(out)
            return out

        work = [a for a in plan.actions if a.kind in _WRITES]
        return await run_bounded(work, one, limit=WRITE_CONCURRENCY)

    async def _apply(self, plan: Plan, applier: Applier) -> list[JobOutcome]:
        outcomes: list[JobOutcome] = []
        blocked: str | None = None
        for wave, actions in plan.waves():
            if blocked is not None:
                for action in actions:
                    out = JobOutcome(action.key, action, Result.HELD, blocked)
                    outcomes.append(out)
                    self._emit(out)
                continue

            done = await self._run_wave(actions, applier)
            outcomes.extend(done)
            if self.policy.wait and any(o.result is Result.FAILED for o in done):
                blocked = f"wave {wave} did not become healthy; later waves not started"
        prunes = plan.by_kind(ActionKind.DEREGISTER)

        async def prune(action: JobAction) -> JobOutcome:
            out = await applier.run(action)
            self._emit(out)
            return out

        outcomes.extend(await run_bounded(prunes, prune, limit=WRITE_CONCURRENCY))
        return outcomes

    async def _run_wave(self, actions: list[JobAction], applier: Applier) -> list[JobOutcome]:
        """One wave's writes; with ``wait``, also its rollouts.

        With a deployment cap, each slot covers a register and its rollout, so
        at most ``cap`` deployments run at once.  Without one, registers go out
        ``WRITE_CONCURRENCY`` at a time, then rollouts are followed
        ``FOLLOW_CONCURRENCY`` at a time (each one holds a connection open).
        """
        cap = self.policy.max_concurrent_deployments

        async def emit_after(out: JobOutcome) -> JobOutcome:
            if self.policy.wait and out.result in (Result.CREATED, Result.UPDATED):
                out = await self._follow(out)
            self._emit(out)
            return out

        async def register_and_follow(action: JobAction) -> JobOutcome:
            return await emit_after(await applier.run(action))

        if self.policy.wait and cap > 0:
            return await run_bounded(actions, register_and_follow, limit=cap)
        registered = await run_bounded(actions, applier.run, limit=WRITE_CONCURRENCY)
        return await run_bounded(registered, emit_after, limit=FOLLOW_CONCURRENCY)

    async def _follow(self, outcome: JobOutcome) -> JobOutcome:
        desired = outcome.action.desired
        if desired is None or not expects_deployment(desired.canonical):
            return outcome
        promote = self.policy.promote or wants_auto_promote(desired.canonical.get("Meta"))
        analyse, background = self._analysers(outcome.key, desired)
        try:
            rollout = await follow_deployment(
                self.api, outcome.key, job_modify_index=outcome.job_modify_index or 0,
                timeout_s=self._timeout_s, promote=promote, on_progress=self._on_progress,
                eval_id=outcome.eval_id, analyse=analyse, background=background,
            )  # fmt: skip
        except NomadError as exc:
            return replace(
                outcome, result=Result.FAILED,
                message=f"{desired.path}: registered, but following its deployment failed: {exc}",
                error=exc,
            )  # fmt: skip
        if rollout.ok:
            return replace(outcome, rollout=rollout)
        return replace(
            outcome, result=Result.FAILED, rollout=rollout,
            message=f"{desired.path}: deployment {rollout.status}: {rollout.description}",
        )  # fmt: skip


    def _analysers(self, key: JobKey, desired: DesiredJob) -> tuple[Analyse | None, Analyse | None]:
        """The job's canary analysis and background analysis (groups without canaries) for
        ``follow_deployment``; ``None``, ``None``: it has none."""
        runner, api = self.analysis, self.api
        if runner is None or not runner.opts_in(desired.job):
            return None, None
        if not isinstance(api, AnalysisApi):
            raise TypeError("canary analysis needs a Nomad API that reads deployment allocations")

        async def analyse(dep: Deployment) -> Gate | None:
            return await runner.gate(key, dep, desired.job, allocations=api.deployment_allocations)

        async def background(dep: Deployment) -> Gate | None:
            return await runner.background(key, dep, desired.job, allocations=api.deployment_allocations)

        return analyse, background


# Requests in flight at once for writes (and Nomad plans): enough to hide latency,
# few enough not to queue in Nomad's RPC layer.
WRITE_CONCURRENCY = 16
# Rollouts followed at once: each is a blocking query holding a pooled connection.
FOLLOW_CONCURRENCY = 32

_WRITES = frozenset({ActionKind.REGISTER, ActionKind.DEREGISTER, ActionKind.PROMOTE})
