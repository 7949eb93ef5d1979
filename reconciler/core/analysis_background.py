"""Background analysis of rolling updates without canaries: which groups, which allocations, when.

A task group without canaries (``update { canary = 0 }``) whose Meta names
analysis templates (``gitops.analysis``, as ``group_analyses`` resolves it) is
analysed in the background while its deployment runs.  Nothing waits for it:
Nomad finishes the rolling update on health alone, and only a failed check
acts (the runner's caller fails the deployment, so ``auto_revert`` rolls it
back).  Pure: the deployment, the job and the allocation stubs in, decisions out.

- **which groups**: the deployment's groups with no desired canaries that opt in;
- **which allocations**: the group's allocations of the version the deployment
  rolls out (``GET /v1/deployment/allocations/:id``, filtered by ``TaskGroup``
  and ``JobVersion``), filling ``{{alloc_ids}}`` (and ``{{canary_alloc_ids}}``,
  its alias, so one template serves both kinds of rollout);
- **when**: the analysis starts when the group's first new allocation turned
  healthy in Nomad's eyes (the earliest ``DeploymentStatus.Timestamp`` of a
  healthy one), so the first measurement sees a full interval of the new
  version's traffic; before that there is nothing to measure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.analysis import unix_time
from reconciler.core.analysis_templates import group_analyses
from reconciler.deployment import Deployment, DeploymentGroup
from reconciler.model import ApiJob


def has_background_analysis(canonical: ApiJob, *, prefix: str) -> bool:
    """Some group of the job (canonical API JSON) rolls out without canaries (its update
    block's, or the job's, ``Canary`` is 0) and opts into analysis: its deployments are
    worth following for the background checks (a restarted daemon looks at them)."""
    wanted = group_analyses(canonical, prefix=prefix)
    return any(
        str(g.get("Name")) in wanted
        and int(((g.get("Update") or canonical.get("Update") or {}).get("Canary")) or 0) == 0
        for g in canonical.get("TaskGroups") or ()
    )


def background_groups(job: ApiJob, deployment: Deployment, *, prefix: str) -> dict[str, tuple[str, ...]]:
    """The groups of ``deployment`` analysed in the background, with the templates they name:
    no canaries, opted in, and the deployment still active (a finished one is left alone)."""
    if not deployment.active:
        return {}
    wanted = group_analyses(job, prefix=prefix)
    return {g.name: wanted[g.name] for g in deployment.groups if not g.has_canaries and g.name in wanted}


@dataclass(frozen=True)
class GroupAllocations:
    """A group's new allocations in a deployment, and when the first turned healthy."""

    alloc_ids: tuple[str, ...]
    first_healthy_at: float | None  # Unix time; None: none healthy yet


def group_allocations(
    deployment: Deployment, group: DeploymentGroup, stubs: Iterable[Mapping[str, Any]]
) -> GroupAllocations:
    """``group``'s allocations of the deployment's version among ``stubs`` (the deployment's
    allocations), sorted by ID, and the earliest health timestamp among the healthy ones."""
    ids: list[str] = []
    healthy: list[float] = []
    for stub in stubs:
        if stub.get("TaskGroup") != group.name:
            continue
        if deployment.job_version is not None and stub.get("JobVersion") != deployment.job_version:
            continue
        ids.append(str(stub.get("ID")))
        status = stub.get("DeploymentStatus") or {}
        at = unix_time(status.get("Timestamp")) if status.get("Healthy") is True else None
        if at is not None:
            healthy.append(at)
    return GroupAllocations(tuple(sorted(ids)), min(healthy) if healthy else None)
