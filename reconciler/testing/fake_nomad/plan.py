"""The answer of ``PUT /v1/job/:id/plan``: Diff plus scheduler annotations (pure).

Responsible for combining the job diff (``diff``) with what the scheduler
would do per group (``scheduler.plan_group``) into Nomad 1.0.18's plan
response: ``DesiredTGUpdates``, the groups' ``Updates`` and the
``forces ...`` annotations on counts and tasks.  Takes values, returns a
value: the caller supplies the live job, its allocations and deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.testing.fake_nomad.diff import job_diff, task_updated
from reconciler.testing.fake_nomad.scheduler import Alloc, Deployment, plan_group

Job = dict[str, Any]


def compute_plan(
    existing: Job | None,
    proposed: Job,
    *,
    allocs_of: Callable[[str], list[Alloc]],
    deployment: Deployment | None,
    diff: bool,
) -> dict[str, Any]:
    """Plan ``proposed`` (a server-struct job carrying the Version it would get) against
    ``existing`` (None for a new job); ``allocs_of(group)`` gives a group's live allocations."""
    annotations: dict[str, Any] = {}
    updates: dict[str, dict[str, int]] = {}
    for group in proposed.get("TaskGroups") or []:
        decided = plan_group(proposed, group["Name"], allocs_of(group["Name"]), deployment=deployment)
        annotations[group["Name"]] = decided.annotations()
        updates[group["Name"]] = decided.updates()
    body_diff = None
    if diff:
        body_diff = job_diff(existing, proposed, contextual=True)
        for gdiff in body_diff.get("TaskGroups") or []:
            gdiff["Updates"] = updates.get(gdiff["Name"]) or None
            annotate_group(gdiff, existing, proposed)
    index = existing["JobModifyIndex"] if existing else 0
    return {
        "Annotations": {"DesiredTGUpdates": annotations or None, "PreemptedAllocs": None},
        "CreatedEvals": None, "Diff": body_diff, "FailedTGAllocs": None, "Index": index,
        "JobModifyIndex": index, "NextPeriodicLaunch": None, "Warnings": "",
    }


def annotate_group(gdiff: dict[str, Any], old: Job | None, new: Job) -> None:
    """Nomad's plan annotations on a group diff: Count forces create/destroy, tasks force
    create, destroy, an in-place update or a create/destroy update."""
    for fdiff in gdiff.get("Fields") or []:
        if fdiff["Name"] == "Count" and fdiff["Type"] != "None":
            grows = int(fdiff["New"] or 0) > int(fdiff["Old"] or 0)
            fdiff["Annotations"] = ["forces create"] if grows else ["forces destroy"]
    for tdiff in gdiff.get("Tasks") or []:
        if tdiff["Type"] == "Added":
            tdiff["Annotations"] = ["forces create"]
        elif tdiff["Type"] == "Deleted":
            tdiff["Annotations"] = ["forces destroy"]
        elif tdiff["Type"] == "Edited":
            destructive = old is not None and task_updated(old, new, gdiff["Name"], tdiff["Name"])
            tdiff["Annotations"] = ["forces create/destroy update" if destructive else "forces in-place update"]
