"""The Nomad client's request core: one request with retries, Nomad's error tree, hooks.

Responsibilities: the client's state (configuration, token source, the httpx
client, the cached server version, open or closed), building requests (token,
namespace, region, blocking-query parameters), translating every failure into
the project's error tree (httpx exceptions never escape), retrying only where
a retry can help (``retry.py``) and reporting each HTTP attempt to an optional
hook (metrics).  ``QueryResult`` carries a read's value with Nomad's index
headers; ``path_id`` escapes an ID into one URL path segment.  It knows no
endpoint.
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Literal, Self, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import httpx

from reconciler.config.connection import NomadConfig
from reconciler.errors import NomadBadRequestError, NomadError
from reconciler.jobspec.identifiers import url_path_problem
from reconciler.nomad.failures import TRANSPORT_ERRORS, map_response_error, map_transport_error
from reconciler.nomad.hooks import RequestHook, RequestRecord, call_hook_safely
from reconciler.nomad.retry import RetryPolicy, build_retrying
from reconciler.nomad.transport import build_http_client, sni_extensions
from reconciler.nomad.versions import Version
from reconciler.secrets import scrub
from reconciler.token_file import TokenSource

T = TypeVar("T")
U = TypeVar("U")
JSON = Any

# Nomad adds up to wait/16 of jitter to a blocking query (nomad/rpc.go blockingRPC,
# structs.JitterFraction, v1.0.18).
_BLOCKING_JITTER = 1 / 16


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


class Query(TypedDict, total=False):
    """A read's keywords, shared by the client's reads of one object.

    ``namespace``: ``None`` reads in the configured one (else ``default``);
    ``index``: a blocking query, answered once Nomad's index passes it;
    ``wait``: the longest such a query waits, in seconds.
    """

    namespace: str | None
    index: int | None
    wait: float | None


@dataclass(frozen=True)
class WriteKind:
    """What a write is, for the request core: how its errors read and whether a retry is safe.

    ``job_write``: a register, plan or validate, whose 500s carry Nomad's
    validation texts (``failures.map_response_error``).  ``side_effect_free``:
    a plan, validate or parse changes nothing in Nomad, so it is retried like
    a GET; any other write only when it never reached Nomad.
    """

    job_write: bool = False
    side_effect_free: bool = False


WRITE = WriteKind()
JOB_WRITE = WriteKind(job_write=True)
JOB_DRY_RUN = WriteKind(job_write=True, side_effect_free=True)
DRY_RUN = WriteKind(side_effect_free=True)


def endpoint_path(endpoint: str, ident: str | None) -> str:
    """An endpoint template's path, its ``:id`` filled in with ``ident`` escaped (``path_id``)."""
    return endpoint if ident is None else endpoint.replace(":id", path_id(ident, endpoint=endpoint))


class ClientState(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


def path_id(value: str, *, endpoint: str) -> str:
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




class RequestCore:
    """The client's state and its one way to send a request: retries, errors, hooks.

    The endpoint classes (``agent_api``, ``jobs_api``, ``deployments_api``,
    ``events_api``) build on it; ``NomadClient`` combines them.
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
        return f"{type(self).__name__}(address={self.config.display_address!r}, state={self._state.value})"

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
        kind: WriteKind = WRITE,
    ) -> httpx.Response:
        """One logical request with retries; returns a 2xx response or raises ``NomadError``.

        GETs and ``side_effect_free`` writes (``WriteKind``) are retried on any
        unavailability; other writes only when they never reached Nomad.
        """
        query = self._params(params, index=index, wait=wait)
        timeout = self._timeout(wait)
        idempotent = method == "GET" or kind.side_effect_free
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
                    job_write=kind.job_write,
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

    async def _get_at(
        self,
        endpoint: str,
        ident: str | None = None,
        params: Mapping[str, Any] | None = None,
        **query: Unpack[Query],
    ) -> QueryResult[JSON]:
        """``GET`` of an ``endpoint`` template (its ``:id`` is ``ident``), with ``params`` too."""
        return await self._get(
            endpoint_path(endpoint, ident),
            endpoint=endpoint,
            params={"namespace": self._default_namespace(query.get("namespace")), **(params or {})},
            index=query.get("index"),
            wait=query.get("wait"),
        )

    async def _write_at(
        self,
        method: str,
        endpoint: str,
        ident: str | None = None,
        *,
        namespace: str | None,
        body: JSON | None = None,
        kind: WriteKind = WRITE,
        **params: Any,
    ) -> dict[str, Any]:
        """A write to an ``endpoint`` template, in ``namespace`` or the configured one (else
        ``default``); its JSON object answer (``{}`` for none)."""
        response = await self._call(
            method,
            endpoint_path(endpoint, ident),
            endpoint=endpoint,
            params={"namespace": self._default_namespace(namespace), **params},
            body=body,
            kind=kind,
        )
        return dict(self._decode(response, endpoint=endpoint) or {})
