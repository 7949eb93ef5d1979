"""The slice of the Nomad API the sync needs, as one small async interface.

``NomadApi`` is what the sync layer calls; ``ClientApi`` implements it over
``reconciler.nomad.client.NomadClient`` (the only place that knows the
client's call shapes), so the engine depends on a few verbs, not on a transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from reconciler.model import ApiJob
from reconciler.nomad.client import NomadClient
from reconciler.nomad.versions import Features


class NomadApi(Protocol):
    async def features(self) -> Features: ...

    async def list_jobs(self, *, namespace: str, meta: bool) -> list[dict[str, Any]]: ...

    async def read_job(self, job_id: str, *, namespace: str) -> ApiJob: ...

    async def job_versions(self, job_id: str, *, namespace: str) -> list[ApiJob]: ...

    async def job_latest_deployment(
        self, job_id: str, *, namespace: str
    ) -> dict[str, Any] | None: ...

    async def job_deployments(self, job_id: str, *, namespace: str) -> list[dict[str, Any]]: ...

    async def plan_job(self, job: ApiJob) -> dict[str, Any]: ...

    async def register_job(
        self,
        job: ApiJob,
        *,
        enforce_index: int | None,
        preserve_counts: bool,
        submission: Mapping[str, Any] | None,
    ) -> dict[str, Any]: ...

    async def deregister_job(
        self, job_id: str, *, namespace: str, purge: bool
    ) -> dict[str, Any]: ...

    async def promote_deployment(self, deployment_id: str, *, namespace: str) -> dict[str, Any]: ...

    async def parse_hcl(self, source: str, *, variables: str | None) -> ApiJob: ...


@runtime_checkable
class DeploymentWatcher(Protocol):
    """Optional: blocking queries on a job's latest deployment (follow without polling)."""

    async def watch_latest_deployment(
        self, job_id: str, *, namespace: str, index: int, wait_s: float
    ) -> tuple[dict[str, Any] | None, int]: ...


@runtime_checkable
class EvaluationReader(Protocol):
    """Optional: read an evaluation (why Nomad could not place a job)."""

    async def read_evaluation(self, eval_id: str, *, namespace: str) -> dict[str, Any]: ...


class ClientApi:
    """``NomadApi`` over the project's ``NomadClient``."""

    def __init__(self, client: NomadClient) -> None:
        self.client = client

    async def features(self) -> Features:
        return await self.client.features()

    async def list_jobs(self, *, namespace: str, meta: bool) -> list[dict[str, Any]]:
        return (await self.client.list_jobs(namespace=namespace, meta=meta)).value

    async def read_job(self, job_id: str, *, namespace: str) -> ApiJob:
        return await self.client.read_job(job_id, namespace=namespace)

    async def job_versions(self, job_id: str, *, namespace: str) -> list[ApiJob]:
        body = await self.client.job_versions(job_id, namespace=namespace)
        return list(body.get("Versions") or [])

    async def job_latest_deployment(self, job_id: str, *, namespace: str) -> dict[str, Any] | None:
        return await self.client.job_latest_deployment(job_id, namespace=namespace)

    async def job_deployments(self, job_id: str, *, namespace: str) -> list[dict[str, Any]]:
        return list(await self.client.job_deployments(job_id, namespace=namespace))

    async def watch_latest_deployment(
        self, job_id: str, *, namespace: str, index: int, wait_s: float
    ) -> tuple[dict[str, Any] | None, int]:
        """The latest deployment once its index passes ``index`` (or after ``wait_s``)."""
        result = await self.client.job_latest_deployment_query(
            job_id, namespace=namespace, index=index or None, wait=wait_s if index else None
        )
        value = result.value
        return (dict(value) if value else None), result.index

    async def read_evaluation(self, eval_id: str, *, namespace: str) -> dict[str, Any]:
        return await self.client.read_evaluation(eval_id, namespace=namespace)

    async def plan_job(self, job: ApiJob) -> dict[str, Any]:
        return await self.client.plan_job(job, diff=True)

    async def register_job(
        self,
        job: ApiJob,
        *,
        enforce_index: int | None,
        preserve_counts: bool,
        submission: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        return await self.client.register_job(
            job, enforce_index=enforce_index, preserve_counts=preserve_counts, submission=submission
        )

    async def deregister_job(self, job_id: str, *, namespace: str, purge: bool) -> dict[str, Any]:
        return await self.client.deregister_job(job_id, namespace=namespace, purge=purge)

    async def promote_deployment(self, deployment_id: str, *, namespace: str) -> dict[str, Any]:
        return await self.client.promote_deployment(deployment_id, namespace=namespace)

    async def parse_hcl(self, source: str, *, variables: str | None) -> ApiJob:
        return await self.client.parse_hcl(source, canonicalize=False, variables=variables)
