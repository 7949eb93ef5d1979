"""Minimal API jobs for the client's integration tests (the shape a converter produces)."""

from __future__ import annotations

import uuid
from typing import Any


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
