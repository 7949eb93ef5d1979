"""Command-line options for the Prometheus that canary analysis queries.

Shared by ``lint`` (PromQL checked by Prometheus itself), ``sync --wait`` and
``daemon``.  Like the Nomad connection: a URL (credentials in it are basic
auth), a bearer token (``PROMETHEUS_TOKEN``, or ``--prometheus-token-file``,
re-read on rotation), basic auth (``PROMETHEUS_HTTP_AUTH=user:password``),
and TLS (CA, client certificate and key, server name, skip-verify): the
flags of the daemon's ``analysis`` settings group.
Precedence: flag > config file > environment > default.  Secrets never reach a log line.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from reconciler.config.settings import KEYS, load_analysis
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

    Resolved as the daemon resolves it (its ``analysis`` group): flag > the config
    file's (``NOMAD_RECONCILER_CONFIG``) > ``PROMETHEUS_*`` variables.
    """
    flags = {key: getattr(args, key, None) for key, path in KEYS.items() if path.startswith("analysis.")}
    return prometheus_config(load_analysis({**flags, "config_file": getattr(args, "config_file", None)}, env), env)
