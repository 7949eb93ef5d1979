"""Jobs for tests: HCL text, API JSON and ``DesiredJob`` values.

``DesiredJob`` builders use the project's own canonical form and digest, as the
loader does, so a test's digest is the one the daemon would compute.  The
corpus is ``tests/golden/jobspec`` (recorded from Nomad 1.0.18).
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from reconciler.core.ownership import stamp_job
from reconciler.jobspec.canonical import canonicalize
from reconciler.jobspec.digest import digest
from reconciler.model import ApiJob, DesiredJob, Snapshot

SECOND = 1_000_000_000

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "jobspec"


def output_job(name: str) -> ApiJob:
    job: ApiJob = json.loads((GOLDEN / f"{name}.output.json").read_text())["Job"]
    return job


def make_job(job_id: str, *, template: str = "01-minimal-service", **changes: Any) -> DesiredJob:
    """A corpus job renamed ``job_id`` as the loader would load it (``meta``/``count`` set those)."""
    meta = changes.pop("meta", None)
    job = service_job(job_id, template=template, **changes)
    if meta is not None:
        job["Meta"] = meta
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


def service_job(job_id: str, *, template: str = "01-minimal-service", **changes: Any) -> ApiJob:
    """A corpus job (the minimal service by default) as API JSON, renamed ``job_id``.

    ``count`` sets the first group's count; other keyword arguments replace job fields.
    """
    job = copy.deepcopy(output_job(template))
    job["ID"] = job["Name"] = job_id
    count = changes.pop("count", None)
    if count is not None:
        job["TaskGroups"][0]["Count"] = count
    job.update(changes)
    return job


def updating_job(job_id: str, *, canary: int, auto_revert: bool, **changes: Any) -> ApiJob:
    """``service_job`` with a fast update strategy: 1s to be healthy, 5s deadline, 10s progress."""
    job = service_job(job_id, **changes)
    job["TaskGroups"][0]["Update"] = {
        "Canary": canary, "MaxParallel": 1, "AutoRevert": auto_revert, "AutoPromote": False,
        "HealthCheck": "task_states", "MinHealthyTime": 1 * SECOND,
        "HealthyDeadline": 5 * SECOND, "ProgressDeadline": 10 * SECOND,
    }  # fmt: skip
    return job


def raw_exec_job(
    job_id: str = "web", *, args: str = "1", count: int = 2, **update: Any
) -> dict[str, Any]:
    """``{"Job": ...}``: one group "app" of ``count`` sleeping tasks, a fast rolling update."""
    strategy = {
        "MaxParallel": 1, "MinHealthyTime": 1 * SECOND, "HealthyDeadline": 5 * SECOND,
        "ProgressDeadline": 10 * SECOND, **update,
    }  # fmt: skip
    return {"Job": {
        "ID": job_id, "Name": job_id, "Type": "service", "Datacenters": ["dc1"], "Update": strategy,
        "TaskGroups": [{"Name": "app", "Count": count, "Tasks": [
            {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/sleep", "args": [args]}},
        ]}],
    }}  # fmt: skip


def minimal_job(job_id: str) -> ApiJob:
    """One raw_exec task, healthy after 100ms: deployments finish quickly on the fake."""
    task = {
        "Name": "app",
        "Driver": "raw_exec",
        "Config": {"command": "/bin/sleep", "args": ["100"]},
    }
    return {
        "ID": job_id,
        "Name": job_id,
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {"Name": "app", "Count": 1, "Tasks": [task], "Update": {"MinHealthyTime": 100_000_000}}
        ],
    }


def job_hcl(
    job_id: str,
    *,
    count: int = 1,
    arg: str = "1000",
    canary: int = 0,
    meta: dict[str, str] | None = None,
    auto_revert: bool = False,
    min_healthy: str = "100ms",
    healthy_deadline: str = "5s",
    progress_deadline: str = "10s",
) -> str:
    meta_block = ""
    if meta:
        lines = "\n".join(f'    "{k}" = "{v}"' for k, v in meta.items())
        meta_block = f"  meta = {{\n{lines}\n  }}\n"  # a map: keys with dots need quotes
    return f"""job "{job_id}" {{
  datacenters = ["dc1"]
{meta_block}  group "app" {{
    count = {count}
    update {{
      max_parallel      = 1
      canary            = {canary}
      auto_revert       = {str(auto_revert).lower()}
      min_healthy_time  = "{min_healthy}"
      healthy_deadline  = "{healthy_deadline}"
      progress_deadline = "{progress_deadline}"
    }}
    task "app" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sleep"
        args    = ["{arg}"]
      }}
    }}
  }}
}}
"""


def unique_id(prefix: str) -> str:
    # Real agents live for the whole session: every test uses its own job IDs.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sleeper_job(
    job_id: str,
    *,
    count: int = 1,
    args: str = "3600",
    meta: dict[str, str] | None = None,
    update: dict[str, Any] | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    job: dict[str, Any] = {
        "ID": job_id,
        "Name": job_id,
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "app",
                "Count": count,
                "Tasks": [
                    {
                        "Name": "sleeper",
                        "Driver": "raw_exec",
                        "Config": {"command": "/bin/sleep", "args": [args]},
                        "Resources": {"CPU": 50, "MemoryMB": 32},
                    }
                ],
            }
        ],
    }
    if meta is not None:
        job["Meta"] = meta
    if update is not None:
        job["Update"] = update
    if namespace is not None:
        job["Namespace"] = namespace
    return job


def canary_update(*, auto_promote: bool = False, canary: int = 1) -> dict[str, Any]:
    """One canary (by default), manual promotion, short health times (nanoseconds)."""
    return {
        "Canary": canary,
        "MaxParallel": 1,
        "MinHealthyTime": 200_000_000,
        "HealthyDeadline": 30_000_000_000,
        "ProgressDeadline": 60_000_000_000,
        "AutoPromote": auto_promote,
        "AutoRevert": False,
        "HealthCheck": "task_states",
    }


def corpus_job(name: str) -> ApiJob:
    """A canonical job (``X.parse.json``) from the recorded corpus."""
    data: ApiJob = json.loads((GOLDEN / f"{name}.parse.json").read_text())
    return data


def corpus_names() -> list[str]:
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    return [entry["file"].removesuffix(".nomad") for entry in manifest["valid"]]


def desired(job: ApiJob, *, path: str | None = None) -> DesiredJob:
    """``job`` taken as already canonical (a corpus job), with its real digest."""
    return DesiredJob(
        path=path or f"{job['ID']}.nomad",
        job_id=job["ID"],
        namespace=job.get("Namespace") or "default",
        region=job.get("Region") or "global",
        job=job,
        canonical=job,
        digest=digest(job),
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


def without_nulls(value: Any) -> Any:
    """``value`` with null-valued keys dropped: they are what Go prints for unset pointers, so
    comparisons with Nomad's JSON count them as absent."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
