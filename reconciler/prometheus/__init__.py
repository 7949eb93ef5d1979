"""Prometheus, as canary analysis reads it: connection settings and the HTTP client.

Only this package (and ``reconciler.nomad`` for Nomad) speaks HTTP to other
servers; the analysis decisions are pure (``reconciler.core.analysis``).
"""

from reconciler.prometheus.client import PrometheusClient, RequestRecord
from reconciler.prometheus.config import PrometheusConfig

__all__ = ["PrometheusClient", "PrometheusConfig", "RequestRecord"]
