"""``status``: the canary analysis of each job whose deployment is in progress.

For every job with an active deployment whose unpromoted canary groups opt
into analysis (Meta ``gitops.analysis`` of the version being deployed), the
verdict so far is recomputed from Prometheus (``AnalysisRunner.recompute``:
one range query per check), so ``status`` shows what the daemon or a
``sync --wait`` would judge, without having been there.  Without a Prometheus
URL the checks are listed as not evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.core.analysis import CheckStatus
from reconciler.core.plan import JobAction
from reconciler.model import JobKey
from reconciler.sync.analysis import NO_PROMETHEUS, AnalysisRunner, Gate, finite
from reconciler.sync.api import AnalysisApi

NOT_EVALUATED = "analysis not evaluated (no --prometheus-url)"


async def analyse_actions(
    runner: AnalysisRunner, api: AnalysisApi, actions: Iterable[JobAction]
) -> dict[JobKey, Gate]:
    """The analysis of each job with a deployment in progress that opts in."""
    found: dict[JobKey, Gate] = {}
    for action in actions:
        live = action.live
        dep = live.active_deployment if live is not None else None
        job = (live.job if live is not None else None) or (action.desired.job if action.desired else None)
        if dep is None or job is None or not runner.opts_in(job):
            continue
        gate = await runner.recompute(action.key, dep, job, allocations=api.deployment_allocations)
        if gate is not None and gate.reason == NO_PROMETHEUS:
            gate = Gate(None, NOT_EVALUATED, checks=gate.checks)
        if gate is not None:
            found[action.key] = gate
    return found


def analysis_json(gate: Gate) -> dict[str, Any]:
    """The ``analysis`` object of a job in ``status --json``."""
    checks: list[dict[str, Any]] = []
    if gate.status is not None:
        checks = [_check_json(c) for c in gate.status.checks]
    else:
        checks = [
            {"name": c.qualified_name, "condition": c.success.describe(), "verdict": None,
             "last_value": None, "last_note": "", "passes": None, "failures": None,
             "inconclusive": None, "failure_limit": c.failure_limit, "count": c.count}
            for c in gate.checks
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
