"""``status``: the canary analysis of each job whose deployment is in progress, or whose
failed deployment holds it.

For every job with an active deployment whose unpromoted canary groups opt
into analysis (Meta ``gitops.analysis`` of the version being deployed), the
verdict so far is recomputed from Prometheus (``AnalysisRunner.recompute``:
one range query per check), so ``status`` shows what the daemon or a
``sync --wait`` would judge, without having been there.  For a job held
because its rollout failed (``failed_rollout``), the same is recomputed over
the failed deployment's window (``core.failed_analysis``: its canaries healthy
→ Nomad failing it), for the file's spec (a held spec is the failed version's,
digest for digest): the hold then reads
``analysis: <check> = <value>, wanted <condition>``, with each check's counts.
Without a Prometheus URL the checks are listed as not evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from reconciler.core.actions import HoldReason
from reconciler.core.analysis import AnalysisStatus, CheckStatus, Verdict
from reconciler.core.analysis_templates import Check
from reconciler.core.failed_analysis import failed_at
from reconciler.core.plan import JobAction
from reconciler.deployment import Deployment
from reconciler.model import ApiJob, JobKey
from reconciler.sync.analysis import NO_PROMETHEUS, AnalysisRunner, Gate, finite
from reconciler.sync.api import AnalysisApi

NOT_EVALUATED = "analysis not evaluated (no --prometheus-url)"


async def analyse_actions(
    runner: AnalysisRunner, api: AnalysisApi, actions: Iterable[JobAction]
) -> dict[JobKey, Gate]:
    """The analysis of each job that opts in with a deployment in progress, or held by a
    failed deployment (over that deployment's window)."""
    found: dict[JobKey, Gate] = {}
    for action in actions:
        live = action.live
        dep = live.active_deployment if live is not None else None
        job = (live.job if live is not None else None) or (action.desired.job if action.desired else None)
        failed = live.failed_deployment if live is not None else None
        gate: Gate | None
        if action.hold_reason is HoldReason.FAILED_ROLLOUT and failed is not None and action.desired:
            # Held: the file's digest is the failed version's, so its Meta says what was analysed.
            if not runner.opts_in(action.desired.job):
                continue
            gate = await _failed_analysis(runner, api, action.key, failed, action.desired.job)
        elif dep is None or job is None or not runner.opts_in(job):
            continue
        else:
            gate = await runner.recompute(action.key, dep, job, allocations=api.deployment_allocations)
        if gate is not None and gate.reason == NO_PROMETHEUS:
            gate = Gate(None, NOT_EVALUATED, checks=gate.checks)
        if gate is not None:
            found[action.key] = gate
    return found


async def _failed_analysis(
    runner: AnalysisRunner, api: AnalysisApi, key: JobKey, dep: Deployment, job: ApiJob
) -> Gate | None:
    """The analysis of ``job`` over ``dep``'s window: its canaries healthy → Nomad failed it."""
    if runner.client is None:  # no Prometheus to ask: Nomad need not be asked either
        return await runner.recompute(key, dep, job, allocations=api.deployment_allocations)
    until = failed_at(await api.job_evaluations(key[1], namespace=key[0]), dep)
    # Nomad no longer dates the failure (its evaluation was garbage-collected): up to now,
    # which changes nothing decided (a verdict never flips), only asks for more points.
    return await runner.recompute(key, dep, job, allocations=api.deployment_allocations,
                                  until=until if until is not None else runner.now())  # fmt: skip


class GateView(Protocol):
    """What ``analysis_json`` reads of a gate (``sync.analysis.Gate``, the daemon's too)."""

    @property
    def verdict(self) -> Verdict | None: ...

    @property
    def reason(self) -> str: ...

    @property
    def status(self) -> AnalysisStatus | None: ...


def analysis_json(gate: GateView) -> dict[str, Any]:
    """The ``analysis`` object of a job in ``status --json`` (and on the status page)."""
    checks: list[dict[str, Any]] = []
    if gate.status is not None:
        checks = [_check_json(c) for c in gate.status.checks]
    else:
        unmeasured: tuple[Check, ...] = getattr(gate, "checks", ())  # what could not run
        checks = [
            {"name": c.qualified_name, "condition": c.success.describe(), "verdict": None,
             "last_value": None, "last_note": "", "passes": None, "failures": None,
             "inconclusive": None, "failure_limit": c.failure_limit, "count": c.count}
            for c in unmeasured
        ]  # fmt: skip
    evaluated = gate.status is not None
    return {
        "evaluated": evaluated,
        "verdict": gate.verdict.value if gate.verdict is not None else None,
        "reason": gate.reason,
        "checks": checks,
    }


def _check_json(status: CheckStatus) -> dict[str, Any]:
    last = status.last
    return {
        "name": status.check.qualified_name,
        "condition": status.check.success.describe(),
        "verdict": status.verdict.value,
        "last_value": finite(last.value) if last is not None else None,
        "last_note": last.note if last is not None else "",
        "passes": status.passes,
        "failures": status.failures,
        "inconclusive": status.inconclusive,
        "failure_limit": status.check.failure_limit,
        "count": status.check.count,
    }


def analysis_lines(key: JobKey, gate: Gate) -> list[str]:
    """The text ``status`` prints under its table for one job."""
    head = f"{key[1]} ({key[0]}): {gate.reason}"
    return [head, *(f"  {line}" for line in gate.summaries())]
