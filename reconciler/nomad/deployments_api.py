"""The deployment, evaluation and allocation endpoints of the Nomad client.

Deployments are parsed here, once, into ``reconciler.deployment.Deployment``
(``objects.parse_deployment``); evaluations and allocation stubs come as the
``TypedDict``s of ``objects.py``.  Promoting and failing a deployment are the
writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

from reconciler.deployment import Deployment
from reconciler.errors import NomadBadRequestError, NomadError
from reconciler.nomad.objects import AllocationStub, Evaluation, parse_deployment
from reconciler.nomad.request import JSON, Query, QueryResult, RequestCore


class DeploymentsApi(RequestCore):
    """Deployment, evaluation and allocation endpoints; deployments come back parsed."""

    @staticmethod
    def _deployment(value: JSON, *, endpoint: str) -> Deployment:
        try:
            return parse_deployment(value)
        except ValueError as exc:
            raise NomadError(f"Nomad answered with an unreadable deployment: {exc}",
                             endpoint=endpoint) from exc

    async def read_deployment_query(
        self, deployment_id: str, **query: Unpack[Query]
    ) -> QueryResult[Deployment]:
        """``GET /v1/deployment/:id``; blocks when ``index`` is given."""
        endpoint = "/v1/deployment/:id"
        result = await self._get_at(endpoint, deployment_id, **query)
        return result.with_value(self._deployment(result.value, endpoint=endpoint))

    async def read_deployment(
        self, deployment_id: str, *, namespace: str | None = None
    ) -> Deployment:
        return (await self.read_deployment_query(deployment_id, namespace=namespace)).value

    async def read_latest_deployment_query(
        self, job_id: str, **query: Unpack[Query]
    ) -> QueryResult[Deployment | None]:
        """``GET /v1/job/:id/deployment``: the latest deployment, ``None`` if there is none."""
        endpoint = "/v1/job/:id/deployment"
        result = await self._get_at(endpoint, job_id, **query)
        value = self._deployment(result.value, endpoint=endpoint) if result.value else None
        return result.with_value(value)

    async def read_latest_deployment(
        self, job_id: str, *, namespace: str | None = None
    ) -> Deployment | None:
        return (await self.read_latest_deployment_query(job_id, namespace=namespace)).value

    async def list_job_deployments_query(
        self, job_id: str, *, all: bool = False, **query: Unpack[Query]
    ) -> QueryResult[list[Deployment]]:
        """``GET /v1/job/:id/deployments`` (not reliably newest-first: sort by ``create_index``)."""
        endpoint = "/v1/job/:id/deployments"
        result = await self._get_at(endpoint, job_id, {"all": all}, **query)
        return result.with_value(
            [self._deployment(d, endpoint=endpoint) for d in result.value or []]
        )

    async def list_job_deployments(
        self, job_id: str, *, namespace: str | None = None, all: bool = False
    ) -> list[Deployment]:
        return (await self.list_job_deployments_query(job_id, namespace=namespace, all=all)).value

    async def read_evaluation(
        self, eval_id: str, *, namespace: str | None = None
    ) -> Evaluation:
        """``GET /v1/evaluation/:id``: its ``Status``, ``FailedTGAllocs``, ``BlockedEval``."""
        result = await self._get_at("/v1/evaluation/:id", eval_id, namespace=namespace)
        evaluation: Evaluation = result.value or {}
        return evaluation

    async def deployment_allocations(
        self, deployment_id: str, *, namespace: str | None = None
    ) -> list[AllocationStub]:
        result = await self._get_at(
            "/v1/deployment/allocations/:id", deployment_id, namespace=namespace
        )
        return list(result.value or [])

    async def promote_deployment(
        self,
        deployment_id: str,
        *,
        groups: Sequence[str] | None = None,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """Promote canaries: all groups, or only ``groups``.

        An empty ``groups`` is refused here: Nomad would promote nothing and
        still report success (nomad/state/state_store.go UpdateDeploymentPromotion, v1.0.18).
        """
        body: dict[str, Any] = {"DeploymentID": deployment_id}
        if groups is None:
            body["All"] = True
        elif not groups:
            raise NomadBadRequestError(
                "promote: name at least one group (or pass groups=None for all)",
                status=400,
                endpoint="/v1/deployment/promote/:id",
            )
        else:
            body["Groups"] = list(groups)
        endpoint = "/v1/deployment/promote/:id"
        return await self._write_at("PUT", endpoint, deployment_id, namespace=namespace, body=body)

    async def fail_deployment(
        self, deployment_id: str, *, namespace: str | None = None
    ) -> dict[str, Any]:
        return await self._write_at(
            "PUT", "/v1/deployment/fail/:id", deployment_id,
            namespace=namespace, body={"DeploymentID": deployment_id},
        )  # fmt: skip
