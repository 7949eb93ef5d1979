"""Desired jobs for sync tests, built from the golden corpus the way the loader builds them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from reconciler.jobspec.canonical import canonicalize
from reconciler.jobspec.digest import digest
from reconciler.model import ApiJob, DesiredJob, Snapshot

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "jobspec"


def output_job(name: str) -> ApiJob:
    job: ApiJob = json.loads((GOLDEN / f"{name}.output.json").read_text())["Job"]
    return job


def make_job(job_id: str, *, template: str = "01-minimal-service", **changes: Any) -> DesiredJob:
    job = copy.deepcopy(output_job(template))
    job["ID"] = job["Name"] = job_id
    meta = changes.pop("meta", None)
    count = changes.pop("count", None)
    if meta is not None:
        job["Meta"] = meta
    if count is not None:
        job["TaskGroups"][0]["Count"] = count
    job.update(changes)
    canonical = canonicalize(job)
    return DesiredJob(
        path=f"{job_id}.nomad",
        job_id=job_id,
        namespace=job.get("Namespace") or "default",
        region=job.get("Region") or "global",
        job=job,
        canonical=canonical,
        digest=digest(canonical),
        source=f'job "{job_id}" {{}}\n',
    )


def snapshot(*jobs: DesiredJob, errors: tuple[Any, ...] = ()) -> Snapshot:
    return Snapshot(root="/jobs", jobs=tuple(jobs), errors=errors)
