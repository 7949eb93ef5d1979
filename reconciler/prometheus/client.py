"""A small Prometheus HTTP API client: instant and range queries, and query parsing.

The I/O edge of canary analysis, as ``reconciler.nomad`` is Nomad's: the only
place that speaks HTTP to Prometheus.  httpx exceptions never leave it; they
become ``PrometheusUnavailableError`` (no answer, 5xx, 429: the analysis is
inconclusive) or ``PrometheusQueryError`` (Prometheus refused the query: its
text kept).  Answers are plain numbers: one value per series of an instant
vector (or the scalar), per timestamp for a range query.  A query that
returns a range vector or a string is refused here: a check judges numbers.

Endpoints (Prometheus HTTP API v1): ``/api/v1/query``, ``/api/v1/query_range``,
``/api/v1/parse_query`` (newer servers) and ``/api/v1/format_query`` (2.38+;
it parses too, and answers ``bad_data`` on a syntax error).
"""

from __future__ import annotations

import math
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

from reconciler.config.http_client import USER_AGENT
from reconciler.errors import PrometheusQueryError, PrometheusUnavailableError
from reconciler.prometheus.config import PrometheusConfig
from reconciler.secrets import scrub
from reconciler.token_file import TokenSource


@dataclass(frozen=True)
class RequestRecord:
    """One request, for metrics: the endpoint (never the query) and the status or "error"."""

    endpoint: str
    status: int | str
    duration_s: float


class PrometheusClient:
    """Async client for one Prometheus server; use ``async with`` or ``aclose()``."""

    def __init__(
        self,
        config: PrometheusConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_request: Callable[[RequestRecord], None] | None = None,
    ) -> None:
        self.config = config
        settings = config.http_settings()
        if transport is None:
            transport = httpx.AsyncHTTPTransport(verify=settings.verify(), retries=0)
        auth = httpx.BasicAuth(*settings.basic_auth) if settings.basic_auth else None
        self._extensions = settings.extensions()
        self._token = TokenSource(
            token=config.token, token_file=config.token_file, what="Prometheus token file"
        )
        self._token.current()  # an unreadable token file is a start-up error
        self._http = httpx.AsyncClient(
            base_url=settings.base_url,
            transport=transport,
            auth=auth,
            timeout=httpx.Timeout(settings.timeout),
            trust_env=False,  # no stray proxy must see the bearer token
            headers={"User-Agent": USER_AGENT},
        )
        self._on_request = on_request

    def __repr__(self) -> str:
        return f"PrometheusClient({self.config.display_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- requests ---------------------------------------------------------------

    async def _call(self, endpoint: str, params: Mapping[str, str]) -> Any:
        """POST ``params`` form-encoded (queries can be long); the ``data`` of a success."""
        headers = {}
        token = self._token.current()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        status: int | str = "error"
        try:
            response = await self._http.post(
                endpoint, data=dict(params), headers=headers, extensions=self._extensions
            )
            status = response.status_code
        except httpx.TimeoutException as exc:
            raise PrometheusUnavailableError(f"timed out after {self.config.timeout:g}s", endpoint=endpoint) from exc
        except (httpx.TransportError, ssl.SSLError, OSError) as exc:
            raise PrometheusUnavailableError(
                f"cannot reach {self.config.display_url}: {scrub(str(exc)) or type(exc).__name__}",
                endpoint=endpoint,
            ) from exc
        finally:
            if self._on_request is not None:
                self._on_request(RequestRecord(endpoint, status, time.monotonic() - started))
        return self._decode(response, endpoint=endpoint)

    @staticmethod
    def _decode(response: httpx.Response, *, endpoint: str) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("status") == "success":
            return body.get("data")
        if isinstance(body, dict) and body.get("status") == "error" and response.status_code in (400, 422):
            raise PrometheusQueryError(
                f"{body.get('errorType', 'error')}: {body.get('error', '')}", endpoint=endpoint
            )
        text = (response.text or "").strip()[:200]
        if response.status_code in (404, 405):
            raise PrometheusQueryError(f"HTTP {response.status_code}: {text}", endpoint=endpoint)
        raise PrometheusUnavailableError(
            f"HTTP {response.status_code}: "
            + (str(body.get("error")) if isinstance(body, dict) and body.get("error") else text),
            endpoint=endpoint,
        )

    async def query(self, expr: str, *, at: float | None = None) -> tuple[float, ...]:
        """An instant query at Unix time ``at`` (default: now): one value per series."""
        params = {"query": expr}
        if at is not None:
            params["time"] = _timestamp(at)
        data = await self._call("/api/v1/query", params)
        return _instant_values(data, endpoint="/api/v1/query")

    async def query_range(
        self, expr: str, *, start: float, end: float, step: float
    ) -> dict[float, list[float]]:
        """A range query: timestamp → the values of every series at that step."""
        params = {"query": expr, "start": _timestamp(start), "end": _timestamp(end), "step": f"{step:g}"}
        data = await self._call("/api/v1/query_range", params)
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise PrometheusQueryError("unexpected answer to a range query", endpoint="/api/v1/query_range")
        points: dict[float, list[float]] = {}
        for series in data.get("result") or ():
            for at, value in series.get("values") or ():
                points.setdefault(float(at), []).append(_number(value))
        return points

    async def parse_query(self, expr: str) -> str | None:
        """Prometheus' own verdict on ``expr``'s syntax: ``None`` when it parses, else its text.

        ``/api/v1/parse_query`` where the server has it, else ``/api/v1/format_query``
        (which parses too); ``PrometheusQueryError`` when the server has neither.
        """
        for endpoint in ("/api/v1/parse_query", "/api/v1/format_query"):
            try:
                await self._call(endpoint, {"query": expr})
                return None
            except PrometheusQueryError as exc:
                if exc.message.startswith(("HTTP 404", "HTTP 405")):
                    continue
                return _strip_parameter_prefix(exc.message)
        raise PrometheusQueryError(
            "this Prometheus has neither /api/v1/parse_query nor /api/v1/format_query",
            endpoint="/api/v1/parse_query",
        )


def _instant_values(data: Any, *, endpoint: str) -> tuple[float, ...]:
    if not isinstance(data, dict):
        raise PrometheusQueryError("unexpected answer to a query", endpoint=endpoint)
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return (_number(result[1]),)
    if kind == "vector" and isinstance(result, list):
        return tuple(_number(series["value"][1]) for series in result)
    raise PrometheusQueryError(
        f"the query returns a {kind}, not an instant vector or a scalar", endpoint=endpoint
    )


def _number(text: Any) -> float:
    try:
        return float(text)  # Prometheus writes "NaN", "+Inf", "-Inf" as Python reads them
    except (TypeError, ValueError):
        return math.nan


def _timestamp(at: float) -> str:
    return f"{at:.3f}"


def _strip_parameter_prefix(message: str) -> str:
    # 'bad_data: invalid parameter "query": 1:16: parse error: ...' → '1:16: parse error: ...'
    marker = 'invalid parameter "query": '
    return message.split(marker, 1)[1] if marker in message else message

