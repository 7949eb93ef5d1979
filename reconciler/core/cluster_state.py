"""The cluster as one pass read it: the live jobs and the server, the planner's input.

The sync layer's cluster reader (``sync/cluster.py``) builds it; the pure
planner (``core/plan.py``) decides from it and never reads Nomad itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.deployment import Deployment
from reconciler.job_plan import JobPlan
from reconciler.model import ApiJob, JobKey


@dataclass(frozen=True)
class LiveJob:
    """One job as the cluster reports it.

    ``job`` is the full job (server fields stripped) when it was read; it is
    None when the reader knew, without reading, that it matches the digest in
    ``known_digest`` (same JobModifyIndex as last pass, or a trusted stamp).
    ``failed_digest`` is the digest of a version whose deployment failed and
    that Nomad rolled back, when the reader found one.
    """

    key: JobKey
    job_modify_index: int
    stop: bool = False
    status: str = ""
    meta: Mapping[str, Any] | None = None
    job: ApiJob | None = None
    version: int | None = None
    deployment: Deployment | None = None
    known_digest: str | None = None
    failed_digest: str | None = None
    failed_deployment: Deployment | None = None  # the deployment of failed_digest
    read_error: str | None = None  # reading it failed: its state is unknown this pass
    # Registered from this very digest by this process, nobody wrote since, and
    # Nomad's plan still reports these fields changed: re-sending cannot help.
    not_converging: tuple[str, ...] = ()
    # Nomad's plan of the job a register would send, when the reader asked it
    # (the arbiter): the applier shows its annotations instead of asking again.
    nomad_plan: JobPlan | None = None

    @property
    def active_deployment(self) -> Deployment | None:
        dep = self.deployment
        return dep if dep is not None and dep.active else None


@dataclass(frozen=True)
class ClusterState:
    """The jobs Nomad runs, as read for one pass (restricted to ``namespaces`` when set)."""

    jobs: Mapping[JobKey, LiveJob]
    server_version: str = ""
    namespaces: frozenset[str] | None = None
    # (major, minor, patch) of the server: the diff fills in that release's defaults.
    version: tuple[int, int, int] | None = None


