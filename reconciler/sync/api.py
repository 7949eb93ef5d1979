"""The slice of the Nomad API the sync needs, as one small async interface.

``NomadApi`` is what the sync layer calls; ``ClientApi`` implements it over
``reconciler.nomad.client.NomadClient`` (the only place that knows the
client's call shapes), so the engine depends on a few verbs, not on a transport.
Deployments arrive typed (``reconciler.deployment.Deployment``), parsed by the
client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from reconciler.deployment import Deployment
from reconciler.job_plan import JobPlan, JobWrite
from reconciler.model import ApiJob
from reconciler.nomad.client import NomadClient
from reconciler.nomad.objects import AllocationStub, Evaluation, JobStub, JobVersion
from reconciler.nomad.versions import Features


@dataclass(frozen=True)
class Registration:
    """One register as the applier sends it: the job and ``PUT /v1/jobs``' options.

    ``enforce_index``: check-and-set on ``JobModifyIndex`` (0: only create,
    ``None``: no check); ``submission``: the source Nomad >= 1.6 keeps.
    """

    job: ApiJob
    enforce_index: int | None = None
    preserve_counts: bool = False
    submission: Mapping[str, Any] | None = None


@runtime_checkable
class NomadApi(Protocol):
    """The verbs the sync engine calls; deployments come parsed."""

    async def features(self) -> Features: ...

    async def list_jobs(
        self, *, namespace: str, meta: bool, prefix: str | None = None
    ) -> list[JobStub]: ...

    async def read_job(self, job_id: str, *, namespace: str) -> ApiJob: ...

    async def job_versions(self, job_id: str, *, namespace: str) -> list[JobVersion]: ...

    async def plan_job(self, job: ApiJob) -> JobPlan: ...

    async def register_job(self, registration: Registration) -> JobWrite: ...

    async def deregister_job(self, job_id: str, *, namespace: str, purge: bool) -> JobWrite: ...

    async def promote_deployment(self, deployment_id: str, *, namespace: str) -> dict[str, Any]: ...

    async def parse_hcl(self, source: str, *, variables: str | None) -> ApiJob: ...

    async def read_latest_deployment(self, job_id: str, *, namespace: str) -> Deployment | None: ...

    async def list_job_deployments(self, job_id: str, *, namespace: str) -> list[Deployment]: ...


@runtime_checkable
class DeploymentWatcher(Protocol):
    """Optional: blocking queries on a job's latest deployment (follow without polling)."""

    async def watch_latest_deployment(
        self, job_id: str, *, namespace: str, index: int, wait_s: float
    ) -> tuple[Deployment | None, int]: ...


@runtime_checkable
class EvaluationReader(Protocol):
    """Optional: read an evaluation (why Nomad could not place a job)."""

    async def read_evaluation(self, eval_id: str, *, namespace: str) -> Evaluation: ...


class ClientApi:
    """``NomadApi`` over the project's ``NomadClient``."""

    def __init__(self, client: NomadClient) -> None:
        self.client = client
        self.listed_index: int | None = None  # X-Nomad-Index of the first job list
        self._listed = asyncio.Event()

    async def first_list_index(self) -> int:
        """Wait for the first job list read through this API; its ``X-Nomad-Index``.

        The daemon's event stream starts there, not at "now": a change made after
        its start-up pass listed and before the subscription is then still
        delivered (issue 10).  A list's index is its table's, whatever the prefix.
        """
        await self._listed.wait()
        assert self.listed_index is not None
        return self.listed_index

    async def features(self) -> Features:
        return await self.client.features()

    async def list_jobs(
        self, *, namespace: str, meta: bool, prefix: str | None = None
    ) -> list[JobStub]:
        listed = await self.client.list_jobs(namespace=namespace, meta=meta, prefix=prefix)
        if self.listed_index is None:
            self.listed_index = listed.index
            self._listed.set()
        return list(listed.value)

    async def read_job(self, job_id: str, *, namespace: str) -> ApiJob:
        return await self.client.read_job(job_id, namespace=namespace)

    async def job_versions(self, job_id: str, *, namespace: str) -> list[JobVersion]:
        return await self.client.job_versions(job_id, namespace=namespace)

    async def read_latest_deployment(self, job_id: str, *, namespace: str) -> Deployment | None:
        return await self.client.read_latest_deployment(job_id, namespace=namespace)

    async def list_job_deployments(self, job_id: str, *, namespace: str) -> list[Deployment]:
        return await self.client.list_job_deployments(job_id, namespace=namespace)

    async def watch_latest_deployment(
        self, job_id: str, *, namespace: str, index: int, wait_s: float
    ) -> tuple[Deployment | None, int]:
        """The latest deployment once its index passes ``index`` (or after ``wait_s``)."""
        result = await self.client.read_latest_deployment_query(
            job_id, namespace=namespace, index=index or None, wait=wait_s if index else None
        )
        return result.value, result.index

    async def read_evaluation(self, eval_id: str, *, namespace: str) -> Evaluation:
        return await self.client.read_evaluation(eval_id, namespace=namespace)

    async def deployment_allocations(
        self, deployment_id: str, *, namespace: str
    ) -> list[AllocationStub]:
        return await self.client.deployment_allocations(deployment_id, namespace=namespace)

    async def job_evaluations(self, job_id: str, *, namespace: str) -> list[Evaluation]:
        return await self.client.job_evaluations(job_id, namespace=namespace)

    async def fail_deployment(self, deployment_id: str, *, namespace: str) -> dict[str, Any]:
        return await self.client.fail_deployment(deployment_id, namespace=namespace)

    async def plan_job(self, job: ApiJob) -> JobPlan:
        return await self.client.plan_job(job, diff=True)

    async def register_job(self, registration: Registration) -> JobWrite:
        return await self.client.register_job(
            registration.job,
            enforce_index=registration.enforce_index,
            preserve_counts=registration.preserve_counts,
            submission=registration.submission,
        )

    async def deregister_job(self, job_id: str, *, namespace: str, purge: bool) -> JobWrite:
        return await self.client.deregister_job(job_id, namespace=namespace, purge=purge)

    async def promote_deployment(self, deployment_id: str, *, namespace: str) -> dict[str, Any]:
        return await self.client.promote_deployment(deployment_id, namespace=namespace)

    async def parse_hcl(self, source: str, *, variables: str | None) -> ApiJob:
        return await self.client.parse_hcl(source, canonicalize=False, variables=variables)


@runtime_checkable
class AnalysisApi(Protocol):
    """Optional: what canary analysis needs of Nomad (``ClientApi`` offers it)."""

    async def deployment_allocations(
        self, deployment_id: str, *, namespace: str
    ) -> list[AllocationStub]: ...

    async def fail_deployment(self, deployment_id: str, *, namespace: str) -> dict[str, Any]: ...

    async def job_evaluations(self, job_id: str, *, namespace: str) -> list[Evaluation]: ...
