"""Command-line options for the Prometheus that canary analysis queries.

Shared by ``lint`` (PromQL checked by Prometheus itself), ``sync --wait`` and
``daemon``.  Like the Nomad connection: a URL (credentials in it are basic
auth), a bearer token (``PROMETHEUS_TOKEN``, or ``--prometheus-token-file``,
re-read on rotation), basic auth (``PROMETHEUS_HTTP_AUTH=user:password``),
and TLS (CA, client certificate and key, server name, skip-verify).
Precedence: flag > environment > default.  Secrets never reach a log line.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from reconciler.config.settings import given_analysis
from reconciler.prometheus.config import PrometheusConfig, prometheus_config


def add_prometheus_options(parser: argparse.ArgumentParser, *, purpose: str) -> None:
    group = parser.add_argument_group(f"Prometheus ({purpose})")
    group.add_argument("--prometheus-url", metavar="URL",
                       help="Prometheus HTTP API base URL, e.g. http://prometheus:9090 "
                            "(PROMETHEUS_URL); credentials in it are basic auth")  # fmt: skip
    group.add_argument("--prometheus-token-file", metavar="FILE",
                       help="bearer token file, re-read when it changes (else PROMETHEUS_TOKEN)")  # fmt: skip
    group.add_argument("--prometheus-ca-cert", metavar="FILE", help="CA certificate for https")
    group.add_argument("--prometheus-client-cert", metavar="FILE", help="client certificate (mutual TLS)")
    group.add_argument("--prometheus-client-key", metavar="FILE", help="client key (mutual TLS)")
    group.add_argument("--prometheus-tls-server-name", metavar="NAME",
                       help="name the server certificate must carry")  # fmt: skip
    group.add_argument("--prometheus-tls-skip-verify", action="store_true", default=None,
                       help="do not verify the server certificate")  # fmt: skip


def build_prometheus_config(
    args: argparse.Namespace, env: Mapping[str, str]
) -> PrometheusConfig | None:
    """The configured Prometheus, or ``None`` when no URL is given.

    Resolved as the daemon resolves it: flag > the config file's ``prometheus_*``
    keys (``NOMAD_RECONCILER_CONFIG``) > ``PROMETHEUS_*`` variables.
    """
    names = ("prometheus_url", "prometheus_token_file", "prometheus_ca_cert", "prometheus_client_cert",
             "prometheus_client_key", "prometheus_tls_server_name", "prometheus_tls_skip_verify")  # fmt: skip
    flags = {name: getattr(args, name, None) for name in names}
    values = given_analysis({**flags, "config_file": getattr(args, "config_file", None)}, env)
    return prometheus_config(
        url=values.get("prometheus_url"),
        env=env,
        token_file=values.get("prometheus_token_file"),
        ca_cert=values.get("prometheus_ca_cert"),
        client_cert=values.get("prometheus_client_cert"),
        client_key=values.get("prometheus_client_key"),
        tls_server_name=values.get("prometheus_tls_server_name"),
        skip_verify=bool(values.get("prometheus_tls_skip_verify", False)),
    )
