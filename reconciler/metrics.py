"""The import path the daemon uses for metrics: ``from reconciler.metrics import ...``.

The definitions live in ``reconciler.observability``; this module only
re-exports them so callers have one short, stable name.
"""

from reconciler.observability import (
    DeploymentStatus,
    DeploymentView,
    ErrorKind,
    Heartbeat,
    ObservabilityServer,
    OperationResult,
    ReconcilerMetrics,
    RequestRecord,
    SyncOperation,
    SyncState,
    parse_listen_address,
    summarize_deployment,
)

__all__ = [
    "DeploymentStatus",
    "DeploymentView",
    "ErrorKind",
    "Heartbeat",
    "ObservabilityServer",
    "OperationResult",
    "ReconcilerMetrics",
    "RequestRecord",
    "SyncOperation",
    "SyncState",
    "parse_listen_address",
    "summarize_deployment",
]
