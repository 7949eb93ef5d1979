"""The analysis window of a deployment that failed: when Nomad failed it.

``status`` explains a ``failed_rollout`` hold by recomputing the canary analysis
over the failed deployment's window: from its canaries turning healthy (the
allocations' ``DeploymentStatus.Timestamp``, as for a running analysis) to the
moment Nomad failed it.  Nomad's ``Deployment`` carries no timestamps (v1.0.18
``structs.go``); the failure is dated by the evaluation the deployment watcher
writes with it, in the same Raft entry (``FailDeployment`` and ``getEval`` in
``nomad/deploymentwatcher/deployment_watcher.go``, v1.0.18: ``TriggeredBy``
``deployment-watcher``, the deployment's ID, ``CreateTime`` now), so its
``CreateIndex`` is the failed deployment's ``ModifyIndex``.  That index is
what identifies it: its ``DeploymentID`` does not, as the scheduler rewrites
it to the job's latest deployment when it completes the evaluation
(``setStatus`` in ``scheduler/util.go``), which after an auto-revert is the
rollback's.  The job version's ``SubmitTime`` cannot date it either: the
auto-revert copies the stable version, ``SubmitTime`` included.

Pure: values in (the job's evaluations as Nomad lists them), values out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.deployment import Deployment

DEPLOYMENT_WATCHER = "deployment-watcher"  # Nomad's EvalTriggerDeploymentWatcher


def failed_at(evaluations: Sequence[Mapping[str, Any]], deployment: Deployment) -> float | None:
    """When Nomad failed ``deployment`` (Unix seconds), from the deployment watcher's
    evaluation written with the failure; ``None`` when Nomad no longer keeps it
    (evaluations are garbage-collected), the deployment was written again since, or it
    did not fail.  ``None`` costs the caller a window running to now, which never
    changes a decided check; a guess too early could hide the measurement that failed it.
    """
    if not deployment.failed:
        return None
    written = next((
        e for e in evaluations
        if e.get("TriggeredBy") == DEPLOYMENT_WATCHER and e.get("CreateIndex") == deployment.modify_index
        and isinstance(e.get("CreateTime"), int) and e["CreateTime"] > 0
    ), None)  # fmt: skip
    return int(written["CreateTime"]) / 1e9 if written is not None else None

