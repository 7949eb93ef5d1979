"""Builders for the pure-core tests: desired and live jobs from the golden corpus."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from reconciler.core.ownership import stamp_job
from reconciler.model import ApiJob, DesiredJob

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "jobspec"


def corpus_job(name: str) -> ApiJob:
    """A canonical job (``X.parse.json``) from the recorded corpus."""
    data: ApiJob = json.loads((GOLDEN / f"{name}.parse.json").read_text())
    return data


def corpus_names() -> list[str]:
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    return [entry["file"].removesuffix(".nomad") for entry in manifest["valid"]]


def desired(job: ApiJob, *, path: str | None = None) -> DesiredJob:
    digest = hashlib.sha256(json.dumps(job, sort_keys=True).encode()).hexdigest()[:16]
    return DesiredJob(
        path=path or f"{job['ID']}.nomad",
        job_id=job["ID"],
        namespace=job.get("Namespace") or "default",
        region=job.get("Region") or "global",
        job=job,
        canonical=job,
        digest=digest,
    )


def live_from(d: DesiredJob, *, owned: bool = True, **changes: Any) -> ApiJob:
    """What Nomad would return for ``d`` after the reconciler registered it."""
    job = (
        stamp_job(d.canonical, source=d.path, digest=d.digest)
        if owned
        else copy.deepcopy(d.canonical)
    )
    job.update(
        {
            "Status": "running",
            "Version": 3,
            "JobModifyIndex": 42,
            "ModifyIndex": 50,
            "SubmitTime": 1700000000000000000,
            "Stable": True,
            "CreateIndex": 10,
        }
    )
    job.update(changes)
    return job
