"""The job endpoints of the Nomad client: list, read, versions, register, plan, stop, scale, parse.

Jobs stay Nomad's JSON (``dict``): the reconciler's model of a job is that JSON
(``reconciler.model.ApiJob``).  The answers the reconciler decides on come
parsed (``objects.py``): a plan's (``JobPlan``), a register's or deregister's
(``JobWrite``), a job's versions (``JobVersion``).  Version differences
handled here: ``Meta`` in the list (``?meta=true`` since 1.4.3, else read per
job), the job source in a register (1.6+), variables in the parse API (1.6+),
never a ``Version`` sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Unpack

from reconciler.errors import NomadBadRequestError, NomadNotFoundError
from reconciler.job_plan import JobPlan, JobWrite
from reconciler.jobspec.identifiers import url_path_problem
from reconciler.nomad.agent_api import AgentApi
from reconciler.nomad.objects import (
    AllocationStub,
    Evaluation,
    JobStub,
    JobVersion,
    parse_evaluations,
    parse_job_plan,
    parse_job_versions,
    parse_job_write,
)
from reconciler.nomad.request import DRY_RUN, JOB_DRY_RUN, JOB_WRITE, Query, QueryResult
from reconciler.nomad.versions import format_version

log = logging.getLogger("reconciler.nomad.client")

# Reads filling in Meta on servers without ?meta=true run at most this many at once.
_META_FILL_CONCURRENCY = 8


class JobsApi(AgentApi):
    """Job reads and writes (``/v1/jobs``, ``/v1/job/:id/...``, ``/v1/validate/job``, parse)."""

    async def list_jobs(
        self,
        *,
        namespace: str | None = "*",
        prefix: str | None = None,
        meta: bool = False,
        index: int | None = None,
        wait: float | None = None,
    ) -> QueryResult[list[JobStub]]:
        """``GET /v1/jobs``: job stubs (``namespace="*"`` lists every namespace).

        With ``meta=True`` every stub carries ``"Meta"`` (dict or ``None``):
        from ``?meta=true`` on Nomad ≥ 1.4.3, from reading each job on older
        servers (jobs deleted in between are left out).
        """
        ns = self._default_namespace(namespace)
        features = await self.features() if meta else None
        native_meta = bool(features and features.list_meta)
        result = await self._get_at(
            "/v1/jobs", None, {"prefix": prefix, "meta": native_meta},
            namespace=ns, index=index, wait=wait,
        )  # fmt: skip
        stubs: list[JobStub] = list(result.value or [])
        if ns and ns != "*":
            # Nomad 1.0.x leaves ``Namespace`` out of the stubs of a one-namespace list
            # (tests/golden/api/11-namespaces.jsonl): without it, a job of namespace
            # "team2" would pass for one of "default".
            stubs = [stub if stub.get("Namespace") else {**stub, "Namespace": ns} for stub in stubs]
        if meta and not native_meta:
            stubs = await self._fill_meta(stubs)
        return QueryResult(stubs, result.index, result.known_leader, result.last_contact)

    async def _fill_meta(self, stubs: list[JobStub]) -> list[JobStub]:
        gate = asyncio.Semaphore(_META_FILL_CONCURRENCY)

        async def fill(stub: JobStub) -> JobStub | None:
            if url_path_problem(str(stub["ID"])) is not None:
                return {**stub, "Meta": None}  # no URL reads it safely: ownership unknown
            async with gate:
                try:
                    job = await self.read_job(
                        stub["ID"], namespace=stub.get("Namespace") or "default"
                    )
                except NomadNotFoundError:
                    return None
            return {**stub, "Meta": job.get("Meta")}

        tasks = [asyncio.create_task(fill(stub)) for stub in stubs]
        try:
            filled = await asyncio.gather(*tasks)
        except BaseException:
            # One read failed (or we were cancelled): leave no reads running behind.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return [stub for stub in filled if stub is not None]

    async def read_job_query(
        self, job_id: str, **query: Unpack[Query]
    ) -> QueryResult[dict[str, Any]]:
        """``GET /v1/job/:id`` with query metadata; blocks when ``index`` is given."""
        return await self._get_at("/v1/job/:id", job_id, **query)

    async def read_job(self, job_id: str, *, namespace: str | None = None) -> dict[str, Any]:
        """The full job (server struct).  ``NomadNotFoundError`` when it does not exist."""
        return dict((await self.read_job_query(job_id, namespace=namespace)).value)

    async def job_versions(self, job_id: str, *, namespace: str | None = None) -> list[JobVersion]:
        """``GET /v1/job/:id/versions``: the job's versions, newest first."""
        result = await self._get_at("/v1/job/:id/versions", job_id, namespace=namespace)
        return parse_job_versions(result.value)

    async def job_evaluations(self, job_id: str, *, namespace: str | None = None) -> list[Evaluation]:
        """``GET /v1/job/:id/evaluations``: the job's evaluations Nomad still keeps (it
        garbage-collects them, by default an hour after they complete)."""
        result = await self._get_at("/v1/job/:id/evaluations", job_id, namespace=namespace)
        return parse_evaluations(result.value)

    async def job_submission(
        self, job_id: str, *, version: int, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """``GET /v1/job/:id/submission?version=N``: the stored source, or ``None``.

        ``None`` when Nomad keeps no source for that version, and always on
        Nomad < 1.6 (no such endpoint there).
        """
        if not (await self.features()).register_submission:
            return None
        try:
            result = await self._get_at(
                "/v1/job/:id/submission", job_id, {"version": version}, namespace=namespace
            )
        except NomadNotFoundError:
            return None
        return dict(result.value or {})

    async def job_summary(self, job_id: str, *, namespace: str | None = None) -> dict[str, Any]:
        result = await self._get_at("/v1/job/:id/summary", job_id, namespace=namespace)
        return dict(result.value or {})

    async def job_allocations(
        self, job_id: str, *, namespace: str | None = None, all: bool = False
    ) -> list[AllocationStub]:
        result = await self._get_at(
            "/v1/job/:id/allocations", job_id, {"all": all}, namespace=namespace
        )
        return list(result.value or [])

    async def scale_status(self, job_id: str, *, namespace: str | None = None) -> dict[str, Any]:
        """``GET /v1/job/:id/scale``: desired/placed/running per group."""
        result = await self._get_at("/v1/job/:id/scale", job_id, namespace=namespace)
        return dict(result.value or {})

    # ---------------------------------------------------------------- jobs: writes
    # As the CLI, a job write goes to the job's own namespace, else the configured one.

    @staticmethod
    def _job_id(job: Mapping[str, Any]) -> str:
        job_id = job.get("ID")
        if not isinstance(job_id, str) or not job_id:
            raise NomadBadRequestError(
                "Job ID hasn't been provided", status=400, endpoint="/v1/jobs"
            )
        return job_id

    @staticmethod
    def _wire_job(job: Mapping[str, Any]) -> dict[str, Any]:
        # Nomad ≥ 2.0 honours a submitted Version (command/agent/job_endpoint.go, v2.0.0): never send one.
        return {k: v for k, v in job.items() if k != "Version"}

    async def register_job(
        self,
        job: Mapping[str, Any],
        *,
        enforce_index: int | None = None,
        preserve_counts: bool = False,
        submission: Mapping[str, Any] | None = None,
    ) -> JobWrite:
        """``PUT /v1/jobs``: create or update; returns the RegisterResponse, parsed.

        ``enforce_index`` is check-and-set on ``JobModifyIndex`` (0 = only
        create); a conflict raises ``NomadIndexConflictError``.  ``submission``
        (``{"Source", "Format", "VariableFlags", "Variables"}``) is sent only
        to Nomad ≥ 1.6, which stores it.  Never retried once it may have
        reached Nomad.  Do not feed the response's ``job_modify_index`` back
        into ``enforce_index`` (``JobWrite``): read it from the job or a plan.
        """
        self._job_id(job)
        body: dict[str, Any] = {"Job": self._wire_job(job)}
        if enforce_index is not None:
            body["EnforceIndex"] = True
            body["JobModifyIndex"] = int(enforce_index)
        if preserve_counts:
            body["PreserveCounts"] = True
        if submission is not None:
            if (await self.features()).register_submission:
                body["Submission"] = dict(submission)
            else:
                log.debug("Nomad < 1.6 cannot store the job source; submission not sent")
        return parse_job_write(
            await self._write_at(
                "PUT", "/v1/jobs", namespace=job.get("Namespace"), body=body, kind=JOB_WRITE
            )
        )

    async def plan_job(self, job: Mapping[str, Any], *, diff: bool = True) -> JobPlan:
        """``PUT /v1/job/:id/plan``: dry run; its ``job_modify_index`` feeds EnforceIndex."""
        answer = await self._write_at(
            "PUT", "/v1/job/:id/plan", self._job_id(job), namespace=job.get("Namespace"),
            body={"Job": self._wire_job(job), "Diff": diff}, kind=JOB_DRY_RUN,
        )  # fmt: skip
        return parse_job_plan(answer)

    async def validate_job(self, job: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v1/validate/job``: always 200 when validation ran; errors are in the body."""
        return await self._write_at(
            "PUT", "/v1/validate/job", namespace=job.get("Namespace"),
            body={"Job": self._wire_job(job)}, kind=JOB_DRY_RUN,
        )  # fmt: skip

    async def deregister_job(
        self, job_id: str, *, namespace: str | None = None, purge: bool = False
    ) -> JobWrite:
        """``DELETE /v1/job/:id``: stop (a new version with ``Stop=true``) or purge.

        A job that does not exist is a success in Nomad.
        """
        endpoint = "/v1/job/:id"
        answer = await self._write_at("DELETE", endpoint, job_id, namespace=namespace, purge=purge)
        return parse_job_write(answer)

    async def scale_job(
        self,
        job_id: str,
        group: str,
        count: int | None,
        *,
        namespace: str | None = None,
        message: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST /v1/job/:id/scale`` (what ``nomad job scale`` does)."""
        given = {
            "Count": None if count is None else int(count),
            "Message": message,
            "Meta": None if meta is None else dict(meta),
        }
        body = {"Target": {"Group": group}, **{k: v for k, v in given.items() if v is not None}}
        endpoint = "/v1/job/:id/scale"
        return await self._write_at("POST", endpoint, job_id, namespace=namespace, body=body)

    async def parse_hcl(
        self,
        text: str,
        *,
        canonicalize: bool = True,
        variables: str | None = None,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """``PUT /v1/jobs/parse``: HCL2 → API job JSON (no file functions server-side).

        ``variables`` is var-file text; Nomad < 1.6 ignores it, so asking for
        it there is a ``NomadBadRequestError`` rather than a silently wrong job.
        """
        body: dict[str, Any] = {"JobHCL": text, "Canonicalize": canonicalize}
        if variables:
            features = await self.features()
            if not features.parse_variables:
                raise NomadBadRequestError(
                    f"Nomad {format_version(features.version)} cannot parse with variables "
                    "(the parse API accepts Variables since 1.6.0)",
                    status=400,
                    endpoint="/v1/jobs/parse",
                )
            body["Variables"] = variables
        return await self._write_at(
            "PUT", "/v1/jobs/parse", namespace=namespace,
            body=body, kind=DRY_RUN,
        )  # fmt: skip
