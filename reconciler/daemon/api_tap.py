"""The sync engine's Nomad API as the daemon hands it over: the same calls, tapped.

Responsible for what the daemon must learn from the engine's writes that the
engine's outcomes do not carry: the moment Nomad accepted a registration
(change-to-registered latency), prefix lists for passes about a few jobs, and the index of the first job list the engine
read (where the event stream starts).  (A failed write's typed error is the
outcome's own: ``JobOutcome.error``.)
It forwards every call unchanged otherwise and holds no policy of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import ApiJob, JobKey
from reconciler.nomad.client import NomadClient
from reconciler.nomad.versions import Features
from reconciler.sync.api import NomadApi

SCOPE: ContextVar[frozenset[JobKey] | None] = ContextVar("daemon_pass_scope", default=None)
"""The jobs the current pass is about (set by the loop around an engine call)."""

PREFIX_LIST_MAX = 8
"""Up to this many jobs in scope, list them by prefix instead of listing the cluster."""


def _key_of(job: Mapping[str, Any]) -> JobKey:
    return (str(job.get("Namespace") or "default"), str(job.get("ID") or ""))


@dataclass
class TappedApi:
    """A ``NomadApi`` that records per-job acceptance times ."""

    inner: NomadApi
    client: NomadClient | None = None  # for prefix lists of a small scope
    clock: Callable[[], float] = time.monotonic
    accepted_at: dict[JobKey, float] = field(default_factory=dict)
    listed_index: int | None = None  # X-Nomad-Index of the first job list (needs ``client``)
    _listed: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    async def first_list_index(self) -> int:
        """Wait for the engine's first job list; its ``X-Nomad-Index``.

        The event stream starts there, not at "now": a change made after that
        list and before the subscription is then still delivered (issue 10).
        """
        await self._listed.wait()
        assert self.listed_index is not None
        return self.listed_index

    def _note_index(self, index: int) -> None:
        if self.listed_index is None:
            self.listed_index = index
            self._listed.set()

    def take_accepted(self, key: JobKey) -> float | None:
        return self.accepted_at.pop(key, None)

    # -- reads: forwarded ---------------------------------------------------------

    async def features(self) -> Features:
        return await self.inner.features()

    async def list_jobs(self, *, namespace: str, meta: bool) -> list[dict[str, Any]]:
        """The job list; for a pass about a few jobs, only those jobs (by prefix).

        A one-job pass (a saved file, an event) would otherwise list every job
        of the cluster: thousands of stubs to fetch and decode for one answer.
        """
        scope = SCOPE.get()
        if self.client is None:
            return await self.inner.list_jobs(namespace=namespace, meta=meta)
        if scope is None or len(scope) > PREFIX_LIST_MAX or namespace != "*":
            # The client itself, not ``inner``: the same request, plus its index.
            listed = await self.client.list_jobs(namespace=namespace, meta=meta)
            self._note_index(listed.index)
            return list(listed.value)
        stubs: list[dict[str, Any]] = []
        for job_namespace, job_id in sorted(scope):
            result = await self.client.list_jobs(namespace=job_namespace, prefix=job_id, meta=meta)
            self._note_index(result.index)  # a list's index is its table's, whatever the prefix
            stubs.extend(s for s in result.value if s.get("ID") == job_id)
        return stubs

    async def read_job(self, job_id: str, *, namespace: str) -> ApiJob:
        return await self.inner.read_job(job_id, namespace=namespace)

    async def job_versions(self, job_id: str, *, namespace: str) -> list[ApiJob]:
        return await self.inner.job_versions(job_id, namespace=namespace)

    async def job_latest_deployment(self, job_id: str, *, namespace: str) -> dict[str, Any] | None:
        return await self.inner.job_latest_deployment(job_id, namespace=namespace)

    async def job_deployments(self, job_id: str, *, namespace: str) -> list[dict[str, Any]]:
        return await self.inner.job_deployments(job_id, namespace=namespace)

    async def plan_job(self, job: ApiJob) -> dict[str, Any]:
        return await self.inner.plan_job(job)

    async def parse_hcl(self, source: str, *, variables: str | None) -> ApiJob:
        return await self.inner.parse_hcl(source, variables=variables)

    # -- writes: tapped -----------------------------------------------------------

    async def register_job(
        self,
        job: ApiJob,
        *,
        enforce_index: int | None,
        preserve_counts: bool,
        submission: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        resp = await self.inner.register_job(
            job, enforce_index=enforce_index, preserve_counts=preserve_counts,
            submission=submission,
        )  # fmt: skip
        self.accepted_at[_key_of(job)] = self.clock()
        return resp

    async def deregister_job(self, job_id: str, *, namespace: str, purge: bool) -> dict[str, Any]:
        return await self.inner.deregister_job(job_id, namespace=namespace, purge=purge)

    async def promote_deployment(self, deployment_id: str, *, namespace: str) -> dict[str, Any]:
        return await self.inner.promote_deployment(deployment_id, namespace=namespace)
