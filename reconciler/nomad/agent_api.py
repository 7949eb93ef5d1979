"""The agent and cluster endpoints of the Nomad client: version, features, leader, index.

The server version decides which API differences between Nomad 1.0 and 2.x
the other endpoints smooth over (``versions.features_for``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from reconciler.errors import NomadError, NomadPermissionDeniedError, NomadUnavailableError
from reconciler.nomad.objects import Namespace
from reconciler.nomad.request import RequestCore
from reconciler.nomad.versions import (
    OLDEST_SUPPORTED,
    Features,
    Version,
    features_for,
    format_version,
    version_from_agent_self,
)

log = logging.getLogger("reconciler.nomad.client")


class AgentApi(RequestCore):
    """Agent and cluster reads: the server version (and so its features), leader, namespaces, index."""

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

    async def list_namespaces(self) -> list[Namespace]:
        result = await self._get("/v1/namespaces", endpoint="/v1/namespaces")
        return list(result.value or [])

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
