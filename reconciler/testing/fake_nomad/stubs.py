"""Job list stubs and job summaries, as the modelled Nomad release renders them.

``/v1/jobs`` and ``/v1/job/:id/summary`` answer with these; computed from the
fake's ``State`` under its lock.
"""

from __future__ import annotations

from typing import Any

from reconciler.testing.fake_nomad.state import State, is_parent


def by_job(state: State) -> tuple[dict[tuple[str, str], list[Any]], dict[tuple[str, str], list[dict[str, Any]]]]:
    """Allocations and blocked evaluations grouped by job, computed once per listing."""
    allocs: dict[tuple[str, str], list[Any]] = {}
    for alloc in state.allocs.values():
        allocs.setdefault((alloc.namespace, alloc.job_id), []).append(alloc)
    blocked: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for evaluation in state.evals.values():
        if evaluation["Status"] == "blocked":
            blocked.setdefault((evaluation["Namespace"], evaluation["JobID"]), []).append(evaluation)
    return allocs, blocked

def job_summary(state: State, rec: Any, views: Any = None) -> dict[str, Any]:
    job = rec.row
    allocs_by_job, blocked_by_job = views or by_job(state)
    key = (job["Namespace"], job["ID"])
    allocs = allocs_by_job.get(key, [])
    queued: dict[str, int] = {}
    for evaluation in blocked_by_job.get(key, []):
        for name, n in (evaluation.get("QueuedAllocations") or {}).items():
            queued[name] = queued.get(name, 0) + n
    summary: dict[str, dict[str, int]] = {}
    for group in job.get("TaskGroups") or []:
        mine = [a.client_status for a in allocs if a.group == group["Name"]]
        summary[group["Name"]] = {
            "Complete": mine.count("complete"), "Failed": mine.count("failed"), "Lost": 0,
            "Queued": queued.get(group["Name"], 0), "Running": mine.count("running"),
            "Starting": mine.count("pending"),
        }
    children = {"Dead": 0, "Pending": 0, "Running": 0}
    if is_parent(job):
        # A parent's summary counts its child jobs by status (nomad/state/state_store.go).
        for (ns, _), child in state.jobs.items():
            if ns == job["Namespace"] and child.row.get("ParentID") == job["ID"]:
                children[str(child.row["Status"]).capitalize()] = children.get(str(child.row["Status"]).capitalize(), 0) + 1
    return {"Children": children, "CreateIndex": job["CreateIndex"],
            "JobID": job["ID"], "ModifyIndex": rec.summary_index,
            "Namespace": job["Namespace"], "Summary": summary}

def job_stub(state: State, rec: Any, *, meta: bool, with_namespace: bool, views: Any = None) -> dict[str, Any]:
    job = rec.row
    stub = {
        "CreateIndex": job["CreateIndex"], "Datacenters": job["Datacenters"], "ID": job["ID"],
        "JobModifyIndex": job["JobModifyIndex"], "JobSummary": job_summary(state, rec, views),
        "ModifyIndex": job["ModifyIndex"], "Multiregion": job.get("Multiregion"), "Name": job["Name"],
        "ParameterizedJob": job.get("ParameterizedJob") is not None and not job.get("Dispatched"),
        "ParentID": job.get("ParentID", ""), "Periodic": job.get("Periodic") is not None,
        "Priority": job["Priority"], "Status": job["Status"], "StatusDescription": job["StatusDescription"],
        "Stop": job["Stop"], "SubmitTime": job["SubmitTime"], "Type": job["Type"],
    }
    # 1.0.18 names the namespace only in cross-namespace listings (recorded); Job.Stub
    # sets it for every listing from 1.1.0 (nomad/structs/structs.go).
    if with_namespace or state.nomad_version >= (1, 1, 0):
        stub["Namespace"] = job["Namespace"]
    if state.nomad_version >= (1, 6, 0):
        stub["NodePool"] = job.get("NodePool")
    if meta and state.nomad_version >= (1, 4, 3):
        stub["Meta"] = job.get("Meta")
    return stub
