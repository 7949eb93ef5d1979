"""``NomadClient``: the async Nomad HTTP API client, the only code that talks to Nomad.

One async core on ``httpx.AsyncClient`` (``request.py``), with the endpoints
grouped by concern in ``agent_api.py``, ``jobs_api.py``, ``deployments_api.py``
and ``events_api.py``; this module combines them.  Responsibilities: build requests
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
from collections.abc import Awaitable
from typing import TypeVar

from reconciler.nomad.deployments_api import DeploymentsApi
from reconciler.nomad.events_api import EventsApi
from reconciler.nomad.jobs_api import JobsApi
from reconciler.nomad.request import ClientState, QueryResult

__all__ = ["ClientState", "NomadClient", "QueryResult", "run_sync"]

T = TypeVar("T")


class NomadClient(JobsApi, DeploymentsApi, EventsApi):
    """Async Nomad API client built from a ``NomadConfig``.

    Use as ``async with NomadClient(config) as client: ...`` (or call
    ``aclose()``).  ``retry`` sets how unavailable-errors are retried;
    ``on_request`` receives a ``RequestRecord`` per HTTP attempt;
    ``server_version`` pins the version instead of asking ``/v1/agent/self``
    (otherwise it is re-asked every ``version_ttl`` seconds);
    ``transport`` replaces the network (tests of this module use real sockets).

    The endpoints live by concern: ``request.py`` (the request core, the
    client's state), ``agent_api.py``, ``jobs_api.py``, ``deployments_api.py``
    and ``events_api.py``.
    """


def run_sync(coro: Awaitable[T]) -> T:
    """Run one coroutine to completion for synchronous callers (the CLI)."""

    async def main() -> T:
        return await coro

    return asyncio.run(main())

