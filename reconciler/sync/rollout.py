"""Following the deployments a sync started, until healthy, failed or timed out.

I/O.  A job gets a deployment only when it is a service job with an update
strategy; for others there is nothing to follow (``status="none"``).  The
deployment that belongs to our registration is the latest one whose
``JobSpecModifyIndex`` is at least the ``JobModifyIndex`` our register got.
Canaries are promoted only when the caller's policy allows it, and, for a job
that opts into canary analysis, only once the analysis passed
(``sync.analysis``): a breach fails the deployment (``/v1/deployment/fail``)
so that Nomad's ``auto_revert`` rolls it back.  Groups without canaries that
opt in are analysed in the background while the deployment runs: a breach
fails it the same way, anything else leaves the rolling update to Nomad.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from reconciler.deployment import Deployment
from reconciler.model import ApiJob, JobKey
from reconciler.nomad.objects import EVALUATION_SETTLED, Evaluation
from reconciler.sync.analysis import Gate
from reconciler.sync.api import AnalysisApi, DeploymentWatcher, EvaluationReader, NomadApi
from reconciler.sync.outcome import GroupProgress, Rollout

ProgressHook = Callable[[JobKey, Rollout], None]
Analyse = Callable[[Deployment], Awaitable[Gate | None]]
"""The job's canary analysis, asked once its canaries are healthy (``AnalysisRunner.gate``)."""
# Longest single blocking query; the overall --timeout still bounds the follow.
BLOCKING_WAIT_S = 5.0


def expects_deployment(job: ApiJob) -> bool:
    """Nomad creates a deployment for service jobs with ``update { max_parallel > 0 }``."""
    if (job.get("Type") or "service") != "service" or job.get("Stop"):
        return False
    for group in job.get("TaskGroups") or ():
        update = group.get("Update") or job.get("Update") or {}
        if int(update.get("MaxParallel") or 0) > 0:
            return True
    return False


def describe_placement_failure(evaluation: Evaluation) -> str | None:
    """Why Nomad could not place a job, from its evaluation; None when everything was placed.

    The wording follows ``nomad job run``'s monitor (command/monitor.go,
    ``formatAllocMetrics``, v1.0.18): per group, the filters and exhaustions
    that ruled the nodes out.
    """
    failed = evaluation.get("FailedTGAllocs") or {}
    if not failed:
        return None
    parts = []
    for group, metrics in sorted(failed.items()):
        count = int(metrics.get("CoalescedFailures") or 0) + 1
        reasons: list[str] = []
        if not metrics.get("NodesEvaluated"):
            reasons.append("No nodes were eligible for evaluation")
        for dc, available in sorted((metrics.get("NodesAvailable") or {}).items()):
            if not available:
                reasons.append(f'No nodes are available in datacenter "{dc}"')
        for cls, n in sorted((metrics.get("ClassFiltered") or {}).items()):
            reasons.append(f'Class "{cls}": {n} nodes excluded by filter')
        for constraint, n in sorted((metrics.get("ConstraintFiltered") or {}).items()):
            reasons.append(f'Constraint "{constraint}": {n} nodes excluded by filter')
        if int(metrics.get("NodesExhausted") or 0) > 0:
            reasons.append(f"Resources exhausted on {metrics['NodesExhausted']} nodes")
        for cls, n in sorted((metrics.get("ClassExhausted") or {}).items()):
            reasons.append(f'Class "{cls}" exhausted on {n} nodes')
        for dim, n in sorted((metrics.get("DimensionExhausted") or {}).items()):
            reasons.append(f'Dimension "{dim}" exhausted on {n} nodes')
        for dim in metrics.get("QuotaExhausted") or ():
            reasons.append(f'Quota limit hit "{dim}"')
        noun = "allocation" if count == 1 else "allocations"
        parts.append(f'task group "{group}" failed to place {count} {noun}: '
                     + ("; ".join(reasons) or "no reason given"))  # fmt: skip
    text = "Nomad cannot place the job: " + "; ".join(parts)
    if evaluation.get("BlockedEval"):
        text += " (its evaluation is blocked until capacity appears)"
    return text


def rollout_of(
    deployment: Deployment, *, promoted: bool = False, gate: Gate | None = None, background: Gate | None = None
) -> Rollout:
    return Rollout(
        deployment_id=deployment.id or None,
        status=deployment.status_text,
        description=deployment.description,
        groups=tuple(GroupProgress.of(g) for g in deployment.groups),
        promoted=promoted,
        analysis=tuple(line for g in (gate, background) if g is not None for line in g.summaries()),
    )


async def follow_deployment(
    api: NomadApi,
    key: JobKey,
    *,
    job_modify_index: int,
    timeout_s: float,
    promote: bool,
    poll_s: float = 0.25,
    on_progress: ProgressHook | None = None,
    eval_id: str | None = None,
    analyse: Analyse | None = None,
    background: Analyse | None = None,
) -> Rollout:
    """Follow the job's latest deployment until it ends or ``timeout_s`` passes.

    With an API that offers blocking queries (``DeploymentWatcher``) each
    request waits in Nomad until the deployment changes; otherwise it polls
    every ``poll_s``.  Returns a ``timeout`` rollout when time runs out, and a
    ``blocked`` one as soon as the registration's evaluation (``eval_id``) says
    Nomad cannot place the job: its deployment would wait out its progress
    deadline (10 minutes by default) for a node that may never come.

    With ``analyse`` (the job opts into canary analysis), healthy canaries are
    measured every interval: a pass lets ``promote`` act, a breach fails the
    deployment and returns ``failed`` with ``analysis: <check> = <value>, wanted
    <condition>``; an analysis that cannot run (no Prometheus, a broken
    template) returns ``blocked`` at once; inconclusive waits, and a timeout
    says so.  With ``background`` (groups without canaries that opt in), a
    breach while the deployment runs fails it the same way; nothing else of it
    changes the follow (shown in the progress only).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    if eval_id and isinstance(api, EvaluationReader):
        blocked = await _placement_failure(api, key, eval_id, deadline=deadline, poll_s=poll_s)
        if blocked is not None:
            return Rollout(None, "blocked", blocked)
    last: Rollout | None = None
    promoted = False
    gate: Gate | None = None
    shown: Gate | None = None  # the latest verdict, kept in the result after a promotion
    behind: Gate | None = None  # the background analysis' latest verdict
    watcher = api if isinstance(api, DeploymentWatcher) else None
    index = 0
    while True:
        if watcher is not None:
            # A blocking query: Nomad answers when the deployment changes (bounded wait),
            # or sooner when the analysis' next measurement is due.
            wait_s = max(min(BLOCKING_WAIT_S, deadline - loop.time(), _recheck(gate), _recheck(behind)), 0.0)
            dep, index = await watcher.watch_latest_deployment(
                key[1], namespace=key[0], index=index, wait_s=wait_s
            )
        else:
            dep = await api.read_latest_deployment(key[1], namespace=key[0])
        spec_index = dep.job_spec_modify_index if dep is not None else 0
        if dep is not None and spec_index > job_modify_index and last is not None:
            # Ours is over and a newer version has its own deployment: Nomad rolled
            # ours back (auto_revert) or someone else registered meanwhile.
            return Rollout(
                last.deployment_id, "superseded",
                "a newer job version replaced it (auto-revert or another writer): "
                f"{dep.description}", last.groups, promoted,
            )  # fmt: skip
        if dep is not None and spec_index >= job_modify_index:
            gate = None
            if background is not None and dep.active:
                behind = await background(dep)
                if behind is not None and behind.failed:
                    failed = await _fail(api, key, dep, behind)
                    if on_progress is not None:
                        on_progress(key, failed)
                    return failed
            if analyse is not None and dep.awaiting_promotion and dep.canaries_healthy and not promoted:
                gate = shown = await analyse(dep)
                ended = await _act_on(api, key, dep, gate)
                if ended is not None:
                    if on_progress is not None:
                        on_progress(key, ended)
                    return ended
            allowed = gate is None or gate.passed  # never promote an unfinished analysis
            if promote and allowed and dep.awaiting_promotion and dep.canaries_healthy and not promoted:
                await api.promote_deployment(dep.id, namespace=key[0])
                promoted = True
                index = 0  # read the promoted state at once
                continue
            current = rollout_of(dep, promoted=promoted, gate=shown, background=behind)
            if on_progress is not None and current != last:
                on_progress(key, current)
            last = current
            if dep.terminal:
                return current
        remaining = deadline - loop.time()
        if remaining <= 0:
            if last is None:
                return Rollout(None, "none", "no deployment appeared before the timeout")
            waited = last.description
            if gate is not None and not gate.passed:
                waited = gate.reason  # e.g. "analysis inconclusive: http/error-rate"
            elif gate is not None and not promote:
                waited = "analysis passed; canaries await promotion (--promote or Meta gitops.auto-promote)"
            return Rollout(
                last.deployment_id, "timeout", f"still {last.status} after {timeout_s:g}s: {waited}",
                last.groups, promoted, last.analysis,
            )  # fmt: skip
        if watcher is None:
            await asyncio.sleep(min(poll_s, remaining, max(min(_recheck(gate), _recheck(behind)), 0.01)))


def _recheck(gate: Gate | None) -> float:
    """Seconds until the analysis wants to measure again (infinite without one)."""
    return gate.recheck_in if gate is not None and gate.recheck_in is not None else float("inf")


async def _act_on(api: NomadApi, key: JobKey, dep: Deployment, gate: Gate | None) -> Rollout | None:
    """The end of the follow an analysis verdict makes, if it makes one."""
    if gate is None:
        return None
    groups = tuple(GroupProgress.of(g) for g in dep.groups)
    if gate.verdict is None:
        # Cannot run (no Prometheus, a broken template): waiting would not change that.
        return Rollout(dep.id, "blocked", f"{gate.reason}; the canaries stay unpromoted",
                       groups, False, tuple(gate.summaries()))  # fmt: skip
    if gate.failed:
        return await _fail(api, key, dep, gate)
    return None


async def _fail(api: NomadApi, key: JobKey, dep: Deployment, gate: Gate) -> Rollout:
    """Fail the deployment an analysis failed; Nomad's ``auto_revert`` rolls it back."""
    assert isinstance(api, AnalysisApi)
    await api.fail_deployment(dep.id, namespace=key[0])
    then = "Nomad rolls the job back (auto_revert)" if dep.auto_revert else "no auto_revert: nothing rolls back"
    return Rollout(dep.id, "failed", f"{gate.reason}; {then}",
                   tuple(GroupProgress.of(g) for g in dep.groups), False, tuple(gate.summaries()))  # fmt: skip


async def _placement_failure(
    api: EvaluationReader, key: JobKey, eval_id: str, *, deadline: float, poll_s: float
) -> str | None:
    """Wait (bounded) for the registration's evaluation; why it could not place the job, if so."""
    loop = asyncio.get_running_loop()
    while True:
        evaluation = await api.read_evaluation(eval_id, namespace=key[0])
        if str(evaluation.get("Status") or "") in EVALUATION_SETTLED:
            return describe_placement_failure(evaluation)
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        await asyncio.sleep(min(poll_s, remaining))
