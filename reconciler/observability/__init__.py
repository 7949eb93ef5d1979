"""Observability: the Prometheus series the reconciler exports and the HTTP endpoint serving them.

``metrics`` defines the series and the methods that set them, ``job_series``
holds the per-job table rendered at scrape time, ``server``
serves ``/metrics``, ``/healthz`` and ``/readyz``, ``labels`` fixes the label
values, ``deployments`` summarizes Nomad deployments for the metrics.
"""

from reconciler.deployment import DeploymentStatus
from reconciler.observability.deployments import DeploymentView, summarize_deployment
from reconciler.observability.labels import (
    ErrorKind,
    OperationResult,
    SyncOperation,
    SyncState,
)
from reconciler.observability.metrics import ReconcilerMetrics, RequestRecord
from reconciler.observability.server import Heartbeat, ObservabilityServer

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
    "summarize_deployment",
]
