"""``NomadClient``: the async Nomad HTTP API client, the only code that talks to Nomad.

One async core on ``httpx.AsyncClient``.  Responsibilities: build requests
(token, namespace, region, blocking-query parameters), translate every
failure into the project's error tree (httpx exceptions never escape),
retry only where a retry can help (``retry.py``), report each HTTP attempt
to an optional hook (metrics), and smooth over API differences between Nomad
1.0 and 2.x using the server version from ``/v1/agent/self``.

It does not decide anything about jobs: no diffing, no policy.  Jobs are
Nomad's JSON (``dict``); deployments arrive parsed (``objects.parse_deployment``
into ``reconciler.deployment.Deployment``), evaluations and allocation stubs as
the ``TypedDict``s of ``objects.py``.  Results of blocking-capable reads come
wrapped in ``QueryResult`` with Nomad's index headers.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Literal, Self, TypeVar
from urllib.parse import quote

import httpx

from reconciler.deployment import Deployment
from reconciler.errors import (
    NomadBadRequestError,
    NomadError,
    NomadNotFoundError,
    NomadPermissionDeniedError,
    NomadUnavailableError,
)
from reconciler.jobspec.identifiers import url_path_problem
from reconciler.nomad.config import NomadConfig, TokenSource
from reconciler.nomad.events import Event, StreamSettings, follow_events, topic_params
from reconciler.nomad.failures import TRANSPORT_ERRORS, map_response_error, map_transport_error
from reconciler.nomad.hooks import (
    ConnectionHook,
    RequestHook,
    RequestRecord,
    ResetHook,
    call_hook_safely,
)
from reconciler.nomad.objects import AllocationStub, Evaluation, parse_deployment
from reconciler.nomad.retry import RetryPolicy, build_retrying
from reconciler.nomad.transport import build_http_client, sni_extensions
from reconciler.nomad.versions import (
    OLDEST_SUPPORTED,
    Features,
    Version,
    features_for,
    format_version,
    version_from_agent_self,
)
from reconciler.secrets import scrub

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")
JSON = Any

# Nomad adds up to wait/16 of jitter to a blocking query (nomad/rpc.go blockingRPC,
# structs.JitterFraction, v1.0.18).
_BLOCKING_JITTER = 1 / 16
# Reads filling in Meta on servers without ?meta=true run at most this many at once.
_META_FILL_CONCURRENCY = 8


@dataclass(frozen=True)
class QueryResult(Generic[T]):
    """A read's value plus Nomad's query metadata.

    ``index`` is ``X-Nomad-Index`` (pass it back as ``index=`` to block until
    something changes); ``last_contact`` is in seconds.
    """

    value: T
    index: int
    known_leader: bool
    last_contact: float

    def with_value(self, value: U) -> QueryResult[U]:
        """The same query metadata around another value (the typed form of this one)."""
        return QueryResult(value, self.index, self.known_leader, self.last_contact)


class ClientState(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


def _path_id(value: str, *, endpoint: str) -> str:
    """``value`` as one escaped URL path segment, as Nomad's Go client does (``url.PathEscape``).

    Every reserved character is escaped, '/' included, so httpx never sees a
    dot segment to normalise.  An ID that Nomad's router would still send
    elsewhere after decoding (``identifiers.url_path_problem``) is refused
    before any request: no escaping can make it safe.
    """
    problem = url_path_problem(value)
    if problem is not None:
        raise NomadBadRequestError(
            f"refusing to address {value!r} in a URL: {problem}", status=400, endpoint=endpoint
        )
    return quote(value, safe="")


class NomadClient:
    """Async Nomad API client built from a ``NomadConfig``.

    Use as ``async with NomadClient(config) as client: ...`` (or call
    ``aclose()``).  ``retry`` sets how unavailable-errors are retried;
    ``on_request`` receives a ``RequestRecord`` per HTTP attempt;
    ``server_version`` pins the version instead of asking ``/v1/agent/self``
    (otherwise it is re-asked every ``version_ttl`` seconds);
    ``transport`` replaces the network (tests of this module use real sockets).
    """

    def __init__(
        self,
        config: NomadConfig,
        *,
        retry: RetryPolicy | None = None,
        on_request: RequestHook | None = None,
        server_version: Version | None = None,
        version_ttl: float = 3600.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self._on_request = on_request
        self._tokens = TokenSource(token=config.token, token_file=config.token_file)
        self._http = build_http_client(config, transport=transport)
        self._extensions = sni_extensions(config)
        self._version = server_version
        self._version_ttl = version_ttl
        # None while pinned; otherwise when the version was last asked for.
        self._version_checked: float | None = None if server_version else -float("inf")
        self._version_lock = asyncio.Lock()
        self._state = ClientState.OPEN

    def __repr__(self) -> str:
        return f"NomadClient(address={self.config.display_address!r}, state={self._state.value})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._state is ClientState.CLOSED:
            return
        self._state = ClientState.CLOSED
        await self._http.aclose()

    # ---------------------------------------------------------------- plumbing

    def _default_namespace(self, namespace: str | None) -> str:
        return namespace or self.config.namespace or "default"

    def _headers(self) -> dict[str, str]:
        token = self._tokens.current()
        # X-Nomad-Token works on every version; Bearer only since 1.3.2.
        return {"X-Nomad-Token": token} if token else {}

    def _redact(self, text: str) -> str:
        # Every token read (env, flag, file, rotated file) is registered: scrub them all.
        return scrub(text)

    def _params(
        self,
        params: Mapping[str, Any] | None,
        *,
        index: int | None = None,
        wait: float | None = None,
    ) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for key, value in (params or {}).items():
            if value is None or value is False:
                continue
            if isinstance(value, (list, tuple)):
                pairs.extend((key, str(item)) for item in value)
            else:
                pairs.append((key, "true" if value is True else str(value)))
        if self.config.region:
            pairs.append(("region", self.config.region))
        if index is not None:
            pairs.append(("index", str(int(index))))
        if wait is not None:
            if wait < 0:
                raise ValueError("blocking-query wait must not be negative")
            pairs.append(("wait", f"{max(1, round(wait * 1000))}ms"))
        return pairs

    def _timeout(self, wait: float | None) -> httpx.Timeout:
        base = self.config.timeout
        if wait is None:
            return httpx.Timeout(base)
        # The read must outlast Nomad's wait plus its jitter, or every idle poll fails.
        return httpx.Timeout(base, read=base + wait * (1 + _BLOCKING_JITTER))

    async def _send_once(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: list[tuple[str, str]],
        body: JSON | None,
        timeout: httpx.Timeout,
        job_write: bool,
    ) -> httpx.Response:
        if self._state is ClientState.CLOSED:
            raise NomadError(
                "cannot send a request: the Nomad client has been closed", endpoint=endpoint
            )
        content = None if body is None else json.dumps(body).encode()
        headers = self._headers()
        if content is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            response = await self._http.request(
                method,
                path,
                params=httpx.QueryParams(tuple(params)),
                content=content,
                headers=headers,
                timeout=timeout,
                extensions=self._extensions,
            )
        except TRANSPORT_ERRORS as exc:
            self._record(endpoint, method, "error", started)
            raise map_transport_error(exc, endpoint=endpoint) from exc
        self._record(endpoint, method, response.status_code, started)
        if response.is_success:
            return response
        text = self._redact(response.text)
        raise map_response_error(response.status_code, text, endpoint=endpoint, job_write=job_write)

    def _record(
        self, endpoint: str, method: str, status: int | Literal["error"], started: float
    ) -> None:
        record = RequestRecord(
            endpoint=endpoint,
            method=method,
            status=status,
            duration_s=time.perf_counter() - started,
        )
        call_hook_safely(self._on_request, record)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        body: JSON | None = None,
        index: int | None = None,
        wait: float | None = None,
        job_write: bool = False,
        side_effect_free: bool = False,
    ) -> httpx.Response:
        """One logical request with retries; returns a 2xx response or raises ``NomadError``.

        GETs and ``side_effect_free`` writes (plan, validate, parse change
        nothing in Nomad) are retried on any unavailability; other writes only
        when they never reached Nomad.
        """
        query = self._params(params, index=index, wait=wait)
        timeout = self._timeout(wait)
        idempotent = method == "GET" or side_effect_free
        budget = (wait or 0.0) * (1 + _BLOCKING_JITTER)
        retrying = build_retrying(self.retry, idempotent=idempotent, request_budget=budget)
        async for attempt in retrying:
            with attempt:
                return await self._send_once(
                    method,
                    path,
                    endpoint=endpoint,
                    params=query,
                    body=body,
                    timeout=timeout,
                    job_write=job_write,
                )
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    @staticmethod
    def _decode(response: httpx.Response, *, endpoint: str) -> JSON:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise NomadError(
                f"Nomad answered HTTP {response.status_code} with a body that is not JSON",
                endpoint=endpoint,
            ) from exc

    @staticmethod
    def _query_result(response: httpx.Response, value: T) -> QueryResult[T]:
        headers = response.headers
        try:
            index = int(headers.get("X-Nomad-Index", "0"))
        except ValueError:
            index = 0
        try:
            last_contact = int(headers.get("X-Nomad-LastContact", "0")) / 1000
        except ValueError:
            last_contact = 0.0
        return QueryResult(
            value=value,
            index=index,
            known_leader=headers.get("X-Nomad-KnownLeader", "").lower() == "true",
            last_contact=last_contact,
        )

    async def _get(
        self,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        index: int | None = None,
        wait: float | None = None,
    ) -> QueryResult[JSON]:
        response = await self._call(
            "GET", path, endpoint=endpoint, params=params, index=index, wait=wait
        )
        return self._query_result(response, self._decode(response, endpoint=endpoint))

    async def _write(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        body: JSON | None = None,
        job_write: bool = False,
        side_effect_free: bool = False,
    ) -> JSON:
        response = await self._call(
            method,
            path,
            endpoint=endpoint,
            params=params,
            body=body,
            job_write=job_write,
            side_effect_free=side_effect_free,
        )
        return self._decode(response, endpoint=endpoint)

    # ---------------------------------------------------------------- agent & version

    async def agent_self(self) -> dict[str, Any]:
        """``GET /v1/agent/self`` (needs ``agent:read`` when ACLs are on)."""
        result = await self._get("/v1/agent/self", endpoint="/v1/agent/self")
        return dict(result.value or {})

    async def server_version(self) -> Version:
        """The Nomad version of the agent we talk to, cached for ``version_ttl`` seconds.

        Re-checked after the TTL so a daemon notices a Nomad upgrade; if Nomad
        is unavailable then, the cached version is kept.  A token without
        ``agent:read`` cannot ask: the client then assumes the oldest supported
        version and uses only features every version has.
        """
        if self._version is not None and not self._version_stale():
            return self._version
        async with self._version_lock:
            if self._version is None or self._version_stale():
                try:
                    self._version = version_from_agent_self(await self.agent_self())
                except NomadPermissionDeniedError:
                    log.warning(
                        "token may not read /v1/agent/self; assuming Nomad %s API features",
                        format_version(OLDEST_SUPPORTED),
                    )
                    self._version = OLDEST_SUPPORTED
                except NomadUnavailableError:
                    if self._version is None:
                        raise
                except ValueError as exc:
                    raise NomadError(
                        f"cannot tell the Nomad version: {exc}", endpoint="/v1/agent/self"
                    ) from exc
                self._version_checked = time.monotonic()
        return self._version

    def _version_stale(self) -> bool:
        if self._version_checked is None:  # pinned by the caller
            return False
        return time.monotonic() - self._version_checked >= self._version_ttl

    async def features(self) -> Features:
        return features_for(await self.server_version())

    async def leader(self) -> str:
        """``GET /v1/status/leader``: the leader's RPC address; ``NomadUnavailableError`` if none."""
        result = await self._get("/v1/status/leader", endpoint="/v1/status/leader")
        leader = result.value if isinstance(result.value, str) else ""
        if not leader:
            raise NomadUnavailableError("No cluster leader", endpoint="/v1/status/leader")
        return leader

    async def list_namespaces(self) -> list[dict[str, Any]]:
        result = await self._get("/v1/namespaces", endpoint="/v1/namespaces")
        return list(result.value or [])

    # ---------------------------------------------------------------- jobs: reads

    async def list_jobs(
        self,
        *,
        namespace: str | None = "*",
        prefix: str | None = None,
        meta: bool = False,
        index: int | None = None,
        wait: float | None = None,
    ) -> QueryResult[list[dict[str, Any]]]:
        """``GET /v1/jobs``: job stubs (``namespace="*"`` lists every namespace).

        With ``meta=True`` every stub carries ``"Meta"`` (dict or ``None``):
        from ``?meta=true`` on Nomad ≥ 1.4.3, from reading each job on older
        servers (jobs deleted in between are left out).
        """
        ns = self._default_namespace(namespace)
        features = await self.features() if meta else None
        native_meta = bool(features and features.list_meta)
        result = await self._get(
            "/v1/jobs",
            endpoint="/v1/jobs",
            params={"namespace": ns, "prefix": prefix, "meta": native_meta},
            index=index,
            wait=wait,
        )
        stubs: list[dict[str, Any]] = list(result.value or [])
        if ns and ns != "*":
            # Nomad 1.0.x leaves ``Namespace`` out of the stubs of a one-namespace list
            # (tests/golden/api/11-namespaces.jsonl): without it, a job of namespace
            # "team2" would pass for one of "default".
            stubs = [stub if stub.get("Namespace") else {**stub, "Namespace": ns} for stub in stubs]
        if meta and not native_meta:
            stubs = await self._fill_meta(stubs)
        return QueryResult(stubs, result.index, result.known_leader, result.last_contact)

    async def _fill_meta(self, stubs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        gate = asyncio.Semaphore(_META_FILL_CONCURRENCY)

        async def fill(stub: dict[str, Any]) -> dict[str, Any] | None:
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
        self,
        job_id: str,
        *,
        namespace: str | None = None,
        index: int | None = None,
        wait: float | None = None,
    ) -> QueryResult[dict[str, Any]]:
        """``GET /v1/job/:id`` with query metadata; blocks when ``index`` is given."""
        return await self._get(
            f"/v1/job/{_path_id(job_id, endpoint='/v1/job/:id')}",
            endpoint="/v1/job/:id",
            params={"namespace": self._default_namespace(namespace)},
            index=index,
            wait=wait,
        )

    async def read_job(self, job_id: str, *, namespace: str | None = None) -> dict[str, Any]:
        """The full job (server struct).  ``NomadNotFoundError`` when it does not exist."""
        return dict((await self.read_job_query(job_id, namespace=namespace)).value)

    async def job_versions(
        self, job_id: str, *, namespace: str | None = None, diffs: bool = False
    ) -> dict[str, Any]:
        """``GET /v1/job/:id/versions``: ``{"Versions": [...newest first], "Diffs": [...]}``."""
        result = await self._get(
            f"/v1/job/{_path_id(job_id, endpoint='/v1/job/:id/versions')}/versions",
            endpoint="/v1/job/:id/versions",
            params={"namespace": self._default_namespace(namespace), "diffs": diffs},
        )
        return dict(result.value or {})

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
            result = await self._get(
                f"/v1/job/{_path_id(job_id, endpoint='/v1/job/:id/submission')}/submission",
                endpoint="/v1/job/:id/submission",
                params={"namespace": self._default_namespace(namespace), "version": version},
            )
        except NomadNotFoundError:
            return None
        return dict(result.value or {})

    async def job_summary(self, job_id: str, *, namespace: str | None = None) -> dict[str, Any]:
        result = await self._get(
            f"/v1/job/{_path_id(job_id, endpoint='/v1/job/:id/summary')}/summary",
            endpoint="/v1/job/:id/summary",
            params={"namespace": self._default_namespace(namespace)},
        )
        return dict(result.value or {})

    async def job_allocations(
        self, job_id: str, *, namespace: str | None = None, all: bool = False
    ) -> list[dict[str, Any]]:
        result = await self._get(
            f"/v1/job/{_path_id(job_id, endpoint='/v1/job/:id/allocations')}/allocations",
            endpoint="/v1/job/:id/allocations",
            params={"namespace": self._default_namespace(namespace), "all": all},
        )
        return list(result.value or [])

    async def scale_status(self, job_id: str, *, namespace: str | None = None) -> dict[str, Any]:
        """``GET /v1/job/:id/scale``: desired/placed/running per group."""
        result = await self._get(
            f"/v1/job/{_path_id(job_id, endpoint='/v1/job/:id/scale')}/scale",
            endpoint="/v1/job/:id/scale",
            params={"namespace": self._default_namespace(namespace)},
        )
        return dict(result.value or {})

    # ---------------------------------------------------------------- jobs: writes

    def _job_namespace(self, job: Mapping[str, Any]) -> str | None:
        # As the CLI: the job's own namespace wins, else the configured one.
        return job.get("Namespace") or self.config.namespace

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
    ) -> dict[str, Any]:
        """``PUT /v1/jobs``: create or update; returns the RegisterResponse.

        ``enforce_index`` is check-and-set on ``JobModifyIndex`` (0 = only
        create); a conflict raises ``NomadIndexConflictError``.  ``submission``
        (``{"Source", "Format", "VariableFlags", "Variables"}``) is sent only
        to Nomad ≥ 1.6, which stores it.  Never retried once it may have
        reached Nomad.  Do not feed the response's ``JobModifyIndex`` back
        into ``enforce_index`` (for an unchanged spec it is ``ModifyIndex`` since Nomad 1.11.2,
        nomad/job_endpoint.go): read it from the job
        or a plan.
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
        return dict(
            await self._write(
                "PUT",
                "/v1/jobs",
                endpoint="/v1/jobs",
                params={"namespace": self._job_namespace(job)},
                body=body,
                job_write=True,
            )
            or {}
        )

    async def plan_job(self, job: Mapping[str, Any], *, diff: bool = True) -> dict[str, Any]:
        """``PUT /v1/job/:id/plan``: dry run; ``JobModifyIndex`` in the result feeds EnforceIndex."""
        job_id = self._job_id(job)
        return dict(
            await self._write(
                "PUT",
                f"/v1/job/{_path_id(job_id, endpoint='/v1/job/:id/plan')}/plan",
                endpoint="/v1/job/:id/plan",
                params={"namespace": self._job_namespace(job)},
                body={"Job": self._wire_job(job), "Diff": diff},
                job_write=True,
                side_effect_free=True,
            )
            or {}
        )

    async def validate_job(self, job: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v1/validate/job``: always 200 when validation ran; errors are in the body."""
        return dict(
            await self._write(
                "PUT",
                "/v1/validate/job",
                endpoint="/v1/validate/job",
                params={"namespace": self._job_namespace(job)},
                body={"Job": self._wire_job(job)},
                job_write=True,
                side_effect_free=True,
            )
            or {}
        )

    async def deregister_job(
        self, job_id: str, *, namespace: str | None = None, purge: bool = False
    ) -> dict[str, Any]:
        """``DELETE /v1/job/:id``: stop (a new version with ``Stop=true``) or purge.

        A job that does not exist is a success in Nomad (``EvalID`` empty).
        """
        return dict(
            await self._write(
                "DELETE",
                f"/v1/job/{_path_id(job_id, endpoint='/v1/job/:id')}",
                endpoint="/v1/job/:id",
                params={"namespace": self._default_namespace(namespace), "purge": purge},
            )
            or {}
        )

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
        body: dict[str, Any] = {"Target": {"Group": group}}
        if count is not None:
            body["Count"] = int(count)
        if message is not None:
            body["Message"] = message
        if meta is not None:
            body["Meta"] = dict(meta)
        return dict(
            await self._write(
                "POST",
                f"/v1/job/{_path_id(job_id, endpoint='/v1/job/:id/scale')}/scale",
                endpoint="/v1/job/:id/scale",
                params={"namespace": self._default_namespace(namespace)},
                body=body,
            )
            or {}
        )

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
        return dict(
            await self._write(
                "PUT",
                "/v1/jobs/parse",
                endpoint="/v1/jobs/parse",
                params={"namespace": self._default_namespace(namespace)},
                body=body,
                side_effect_free=True,
            )
            or {}
        )

    # ---------------------------------------------------------------- deployments

    @staticmethod
    def _deployment(value: JSON, *, endpoint: str) -> Deployment:
        try:
            return parse_deployment(value)
        except ValueError as exc:
            raise NomadError(f"Nomad answered with an unreadable deployment: {exc}",
                             endpoint=endpoint) from exc

    async def read_deployment_query(
        self,
        deployment_id: str,
        *,
        namespace: str | None = None,
        index: int | None = None,
        wait: float | None = None,
    ) -> QueryResult[Deployment]:
        """``GET /v1/deployment/:id``; blocks when ``index`` is given."""
        endpoint = "/v1/deployment/:id"
        result = await self._get(
            f"/v1/deployment/{_path_id(deployment_id, endpoint=endpoint)}",
            endpoint=endpoint,
            params={"namespace": self._default_namespace(namespace)},
            index=index,
            wait=wait,
        )
        return result.with_value(self._deployment(result.value, endpoint=endpoint))

    async def read_deployment(
        self, deployment_id: str, *, namespace: str | None = None
    ) -> Deployment:
        return (await self.read_deployment_query(deployment_id, namespace=namespace)).value

    async def read_latest_deployment_query(
        self,
        job_id: str,
        *,
        namespace: str | None = None,
        index: int | None = None,
        wait: float | None = None,
    ) -> QueryResult[Deployment | None]:
        """``GET /v1/job/:id/deployment``: the latest deployment, ``None`` if there is none."""
        result = await self.job_latest_deployment_query(
            job_id, namespace=namespace, index=index, wait=wait
        )
        endpoint = "/v1/job/:id/deployment"
        value = self._deployment(result.value, endpoint=endpoint) if result.value else None
        return result.with_value(value)

    async def read_latest_deployment(
        self, job_id: str, *, namespace: str | None = None
    ) -> Deployment | None:
        return (await self.read_latest_deployment_query(job_id, namespace=namespace)).value

    async def list_job_deployments_query(
        self,
        job_id: str,
        *,
        namespace: str | None = None,
        all: bool = False,
        index: int | None = None,
        wait: float | None = None,
    ) -> QueryResult[list[Deployment]]:
        """``GET /v1/job/:id/deployments`` (not reliably newest-first: sort by ``create_index``)."""
        result = await self.job_deployments_query(
            job_id, namespace=namespace, all=all, index=index, wait=wait
        )
        endpoint = "/v1/job/:id/deployments"
        return result.with_value([self._deployment(d, endpoint=endpoint) for d in result.value])

    async def list_job_deployments(
        self, job_id: str, *, namespace: str | None = None, all: bool = False
    ) -> list[Deployment]:
        return (await self.list_job_deployments_query(job_id, namespace=namespace, all=all)).value

    # Raw JSON twins of the two reads above, kept only for ``reconciler/daemon``
    # until it takes ``Deployment`` values; nothing else may use them.

    async def job_latest_deployment_query(
        self,
        job_id: str,
        *,
        namespace: str | None = None,
        index: int | None = None,
        wait: float | None = None,
    ) -> QueryResult[dict[str, Any] | None]:
        """Raw twin of ``read_latest_deployment_query`` (for the daemon, to be removed)."""
        return await self._get(
            f"/v1/job/{_path_id(job_id, endpoint='/v1/job/:id/deployment')}/deployment",
            endpoint="/v1/job/:id/deployment",
            params={"namespace": self._default_namespace(namespace)},
            index=index,
            wait=wait,
        )

    async def job_latest_deployment(
        self, job_id: str, *, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """Raw twin of ``read_latest_deployment`` (for the daemon, to be removed)."""
        value = (await self.job_latest_deployment_query(job_id, namespace=namespace)).value
        return dict(value) if value else None

    async def job_deployments_query(
        self,
        job_id: str,
        *,
        namespace: str | None = None,
        all: bool = False,
        index: int | None = None,
        wait: float | None = None,
    ) -> QueryResult[list[dict[str, Any]]]:
        """Raw twin of ``list_job_deployments_query`` (for the daemon, to be removed)."""
        result = await self._get(
            f"/v1/job/{_path_id(job_id, endpoint='/v1/job/:id/deployments')}/deployments",
            endpoint="/v1/job/:id/deployments",
            params={"namespace": self._default_namespace(namespace), "all": all},
            index=index,
            wait=wait,
        )
        return result.with_value(list(result.value or []))

    async def job_deployments(
        self, job_id: str, *, namespace: str | None = None, all: bool = False
    ) -> list[dict[str, Any]]:
        """Raw twin of ``list_job_deployments`` (for the daemon, to be removed)."""
        return (await self.job_deployments_query(job_id, namespace=namespace, all=all)).value

    async def read_evaluation(
        self, eval_id: str, *, namespace: str | None = None
    ) -> Evaluation:
        """``GET /v1/evaluation/:id``: its ``Status``, ``FailedTGAllocs``, ``BlockedEval``."""
        result = await self._get(
            f"/v1/evaluation/{_path_id(eval_id, endpoint='/v1/evaluation/:id')}",
            endpoint="/v1/evaluation/:id",
            params={"namespace": self._default_namespace(namespace)},
        )
        evaluation: Evaluation = result.value or {}
        return evaluation

    async def current_index(self) -> int:
        """The newest index of the jobs and deployments tables: "now" for the event stream.

        Two list requests whose prefixes match nothing (a job ID cannot contain
        a space; no deployment has the nil UUID), so the cost does not grow with
        the cluster: Nomad answers a list with its table's index whatever the
        filter.
        """
        jobs = await self._get(
            "/v1/jobs", endpoint="/v1/jobs", params={"namespace": "*", "prefix": " "}
        )
        deployments = await self._get(
            "/v1/deployments",
            endpoint="/v1/deployments",
            params={"prefix": "00000000-0000-0000-0000-000000000000"},
        )
        return max(jobs.index, deployments.index)

    async def deployment_allocations(
        self, deployment_id: str, *, namespace: str | None = None
    ) -> list[AllocationStub]:
        result = await self._get(
            f"/v1/deployment/allocations/{_path_id(deployment_id, endpoint='/v1/deployment/allocations/:id')}",
            endpoint="/v1/deployment/allocations/:id",
            params={"namespace": self._default_namespace(namespace)},
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
        return dict(
            await self._write(
                "PUT",
                f"/v1/deployment/promote/{_path_id(deployment_id, endpoint='/v1/deployment/promote/:id')}",
                endpoint="/v1/deployment/promote/:id",
                params={"namespace": self._default_namespace(namespace)},
                body=body,
            )
            or {}
        )

    async def fail_deployment(
        self, deployment_id: str, *, namespace: str | None = None
    ) -> dict[str, Any]:
        return dict(
            await self._write(
                "PUT",
                f"/v1/deployment/fail/{_path_id(deployment_id, endpoint='/v1/deployment/fail/:id')}",
                endpoint="/v1/deployment/fail/:id",
                params={"namespace": self._default_namespace(namespace)},
                body={"DeploymentID": deployment_id},
            )
            or {}
        )

    # ---------------------------------------------------------------- event stream

    def events(
        self,
        *,
        topics: Mapping[str, Sequence[str]],
        index: int = 0,
        namespace: str = "*",
        on_connection: ConnectionHook | None = None,
        on_reset: ResetHook | None = None,
        settings: StreamSettings | None = None,
    ) -> AsyncGenerator[Event]:
        """Follow ``/v1/event/stream`` from ``index`` across reconnects (see ``events.py``).

        ``on_connection(bool)`` reports the connection state; after every
        reconnect, resync from lists: Nomad may have dropped events meanwhile.
        ``on_reset(old, new)``: the stream's index went backwards (Nomad lost its
        state); resync, and forget every index learnt from Nomad before.
        Iterate inside ``contextlib.aclosing(...)`` so the connection closes
        as soon as the consumer stops.
        """
        settings = settings or StreamSettings()
        topic_query = topic_params(topics)  # validate before any I/O
        return follow_events(
            lambda start: self._open_event_stream(start, topic_query, namespace, settings),
            index=index,
            settings=settings,
            on_connection=on_connection,
            on_reset=on_reset,
        )

    @asynccontextmanager
    async def _open_event_stream(
        self,
        start: int,
        topic_query: list[tuple[str, str]],
        namespace: str,
        settings: StreamSettings,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        endpoint = "/v1/event/stream"
        if self._state is ClientState.CLOSED:
            raise NomadError("cannot stream: the Nomad client has been closed", endpoint=endpoint)
        params = [*topic_query, ("namespace", namespace), *self._params(None)]
        if start > 0:
            params.append(("index", str(start)))
        request = self._http.build_request(
            "GET",
            endpoint,
            params=httpx.QueryParams(tuple(params)),
            # A compressed stream would be buffered: frames must arrive as written.
            headers={**self._headers(), "Accept-Encoding": "identity"},
            # No bytes (not even a heartbeat) for idle_timeout seconds = a dead stream.
            timeout=httpx.Timeout(self.config.timeout, read=settings.idle_timeout),
            extensions=self._extensions,
        )
        started = time.perf_counter()
        try:
            response = await self._http.send(request, stream=True)
        except TRANSPORT_ERRORS as exc:
            self._record(endpoint, "GET", "error", started)
            raise map_transport_error(exc, endpoint=endpoint) from exc
        self._record(endpoint, "GET", response.status_code, started)
        try:
            if not response.is_success:
                try:
                    await response.aread()
                except TRANSPORT_ERRORS as exc:
                    raise map_transport_error(exc, endpoint=endpoint) from exc
                raise map_response_error(
                    response.status_code, self._redact(response.text), endpoint=endpoint
                )
            chunks = self._body_chunks(response, endpoint=endpoint)
            try:
                yield chunks
            finally:
                await chunks.aclose()
        finally:
            await response.aclose()

    @staticmethod
    async def _body_chunks(response: httpx.Response, *, endpoint: str) -> AsyncGenerator[bytes]:
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except TRANSPORT_ERRORS as exc:
            raise map_transport_error(exc, endpoint=endpoint) from exc


def run_sync(coro: Awaitable[T]) -> T:
    """Run one coroutine to completion for synchronous callers (the CLI)."""

    async def main() -> T:
        return await coro

    return asyncio.run(main())
