"""The closed sets of label values the exported series may carry.

Responsibility: name every label value that is not a job identity, an API
endpoint template or a hold reason, so the number of series stays bounded and
dashboards and alert rules can match values that are guaranteed to exist.
Also the pure mapping from this project's error tree to those values.  No
prometheus_client here, no I/O.
"""

from __future__ import annotations

import enum

from reconciler.core.diff import DriftState
from reconciler.deployment import TERMINAL_STATUSES, DeploymentStatus
from reconciler.errors import (
    JobSpecError,
    NomadAPIError,
    NomadIndexConflictError,
    NomadPermissionDeniedError,
    NomadUnavailableError,
)

SyncState = DriftState
"""A job's drift state: the diff core's enum, so metrics and plans share one vocabulary.

``unmanaged`` jobs (live, not declared) are counted in ``nomad_reconciler_jobs``
but get no per-job series: a shared cluster may run thousands of them.
"""

PER_JOB_STATES: tuple[SyncState, ...] = tuple(s for s in SyncState if s is not SyncState.UNMANAGED)
"""States that get a per-job ``nomad_reconciler_job_sync_state`` series."""

DRIFTED_STATES: frozenset[SyncState] = frozenset(
    {SyncState.MISSING, SyncState.MODIFIED, SyncState.ORPHANED}
)


TERMINAL_DEPLOYMENT_STATUSES: tuple[DeploymentStatus, ...] = TERMINAL_STATUSES
"""The statuses counted in ``deployments_finished_total``: the deployment's own terminal set."""


class SyncOperation(enum.StrEnum):
    """A write the reconciler makes to Nomad."""

    CREATE = "create"
    UPDATE = "update"
    STOP = "stop"
    PURGE = "purge"
    PROMOTE = "promote"


class OperationResult(enum.StrEnum):
    """How a write ended, coarse enough to alert on."""

    SUCCESS = "success"
    REJECTED = "rejected"  # Nomad answered and refused (400/403/404/validation)
    CONFLICT = "conflict"  # EnforceIndex: someone else changed the job first
    UNAVAILABLE = "unavailable"  # Nomad could not answer; a retry can help
    ERROR = "error"  # anything else: a bug or an unexpected failure

    @classmethod
    def from_error(cls, exc: BaseException) -> OperationResult:
        # Order matters: the conflict error is also a NomadAPIError.
        if isinstance(exc, NomadIndexConflictError):
            return cls.CONFLICT
        if isinstance(exc, NomadAPIError):
            return cls.REJECTED
        if isinstance(exc, NomadUnavailableError):
            return cls.UNAVAILABLE
        return cls.ERROR


class ErrorKind(enum.StrEnum):
    """Why reconciling a job failed, following the error tree in ``reconciler.errors``."""

    JOB_SPEC = "job_spec"
    NOMAD_UNAVAILABLE = "nomad_unavailable"
    PERMISSION_DENIED = "permission_denied"
    INDEX_CONFLICT = "index_conflict"
    NOMAD_REJECTED = "nomad_rejected"
    INTERNAL = "internal"

    @classmethod
    def from_error(cls, exc: BaseException) -> ErrorKind:
        if isinstance(exc, JobSpecError):
            return cls.JOB_SPEC
        if isinstance(exc, NomadUnavailableError):
            return cls.NOMAD_UNAVAILABLE
        if isinstance(exc, NomadPermissionDeniedError):
            return cls.PERMISSION_DENIED
        if isinstance(exc, NomadIndexConflictError):
            return cls.INDEX_CONFLICT
        if isinstance(exc, NomadAPIError):
            return cls.NOMAD_REJECTED
        return cls.INTERNAL
