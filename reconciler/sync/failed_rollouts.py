"""Which rollout failed: a job's version history and deployments → the spec Nomad reverted.

Pure functions of the job's versions (``GET /v1/job/:id/versions``, parsed
into ``JobVersion``s by the client) and its deployments; the cluster reader asks for those only when a reverted rollout
is possible (``replaced_unstable_versions``).
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.ownership import read_ownership
from reconciler.deployment import Deployment
from reconciler.nomad.objects import JobVersion


def replaced_unstable_versions(versions: Sequence[JobVersion]) -> list[JobVersion]:
    """Versions replaced by the live one and newer than the last stable version before it.

    Only these can be a rollout that failed and was reverted: anything older
    was followed by a version whose deployment succeeded.
    """
    if not versions:
        return []
    live = max(v.version for v in versions)
    floor = max((v.version for v in versions if v.version < live and v.stable), default=-1)
    return [v for v in versions if floor < v.version < live and not v.stable]


def failed_version_digest(
    versions: Sequence[JobVersion],
    deployments: Sequence[Deployment],
) -> str | None:
    """The digest of ``failed_rollout``."""
    return failed_rollout(versions, deployments)[0]


def failed_rollout(
    versions: Sequence[JobVersion],
    deployments: Sequence[Deployment],
) -> tuple[str | None, Deployment | None]:
    """The stamped digest of the newest replaced version whose own deployment failed, and
    that deployment.

    After an auto-revert the live version is a copy of an older one, and the
    version it replaced is the spec whose rollout failed: its deployment says
    ``failed``.  A version replaced while its deployment was still running
    (its deployment is ``cancelled``: "newer version of job") did not fail:
    it was superseded, typically by a change made out of band, and must not
    stop self-healing.
    """
    failed = {
        d.job_version: d
        for d in sorted(deployments, key=lambda d: d.create_index)
        if d.failed and d.job_version is not None
    }
    candidates = [v for v in replaced_unstable_versions(versions) if v.version in failed]
    if not candidates:
        return None, None
    newest = max(candidates, key=lambda v: v.version)
    own = read_ownership(newest.meta)
    return (own.digest if own else None), failed[newest.version]
