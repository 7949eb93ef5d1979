"""Every setting of every command, in groups, documented field by field.

``DaemonSettings`` holds one frozen value per group (like kopf's
``OperatorSettings``): ``settings.source.jobs_dir``, ``settings.policy.self_heal``,
``settings.retry.backoffs``, ``settings.timing.debounce``, ``settings.process.listen``,
``settings.ui.token``, ``settings.analysis.prometheus_url``, ``settings.nomad``.
The one-shot commands use the same groups for what they share with the
daemon (``source``, ``policy``, ``analysis``, ``nomad``).

Each field names how its value is parsed (``kind``, read by
``reconciler.config.settings``) and, where it differs from the field's name,
its command-line flag and top-level config file key (``key``: ``--ui-token-file``
is ``ui.token_file``).  Plain data: every delay is a number of seconds (tests zero them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from reconciler.config.connection import NomadConfig
from reconciler.config.http_client import TLSSettings
from reconciler.jobspec.limits import DEFAULT_MAX_FILE_SIZE
from reconciler.secrets import redact_url


def setting(default: Any, kind: str, *, key: str | None = None, secret: bool = False) -> Any:
    """A field of a group: its default, its parser's name, its flat key if not its own name."""
    return field(default=default, repr=not secret, metadata={"kind": kind, "key": key, "secret": secret})


@dataclass(frozen=True)
class SourceSettings:
    """What is read: the jobs directory and the inputs of its job files."""

    jobs_dir: str = setting(".", "path")
    """The jobs directory, e.g. a git-sync ``current`` link; relative to the config file there."""
    apply_uncommitted: bool = setting(False, "bool")
    """Apply uncommitted edits of a git checkout too (a development loop); default: ``HEAD``."""
    variables: tuple[str, ...] = setting((), "strings")
    """HCL2 ``-var KEY=VALUE`` for every job (``NOMAD_VAR_*`` come from the environment)."""
    var_files: tuple[str, ...] = setting((), "strings")
    """HCL2 variable files for every job."""
    max_file_size: int = setting(DEFAULT_MAX_FILE_SIZE, "size")
    """Bytes (or ``256KiB``, ``1MiB``); a larger job file is an error of that file, never parsed."""


@dataclass(frozen=True)
class PolicySettings:
    """What a pass may do (``core/policy.py`` turns it into the engine's ``SyncPolicy``)."""

    self_heal: bool = setting(True, "bool")
    """Re-apply the declared spec when a job is changed out of band (else only report drift)."""
    promote_after: float | None = setting(None, "soak")
    """Global canary soak before promotion; ``None``: promote only jobs that ask (Meta)."""
    prune: bool = setting(False, "bool")
    """Stop owned jobs whose files were removed."""
    purge: bool = setting(False, "bool")
    """Purge instead of stop when pruning."""
    max_prune: float = setting(0.5, "fraction")
    """Fraction of the owned jobs pruned within ``prune_window`` at most; more is held."""
    prune_grace: float = setting(30.0, "duration")
    """An orphan is pruned once undeclared this long."""
    prune_window: float = setting(600.0, "duration")
    """The time ``max_prune`` counts prunes over, so deleting files one by one cannot get around it."""
    max_concurrent_deployments: int = setting(0, "count")
    """No new deployment from a file change while this many run; 0: no cap."""


@dataclass(frozen=True)
class RetrySettings:
    """What happens after an error."""

    backoffs: tuple[float, ...] = setting((1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0), "durations")
    """Per-job delays after an error caused by the cluster (unavailable, ACL, ...)."""
    rejected_backoffs: tuple[float, ...] = setting((60.0, 300.0, 900.0, 1800.0, 3600.0), "durations")
    """Delays of a spec Nomad refused for the file's sake (it is retried when the file changes)."""
    jitter: float = setting(0.2, "duration")
    """+/- fraction applied to each backoff delay."""
    workers: int = setting(8, "positive_count")
    """Job batches handled concurrently."""


@dataclass(frozen=True)
class TimingSettings:
    """When things happen."""

    resync_interval: float = setting(300.0, "duration")
    """Full pass over every job as a safety net."""
    debounce: float = setting(0.1, "duration")
    """Quiet period that closes a burst of file events."""
    debounce_max: float = setting(1.0, "duration")
    """A burst never delays a pass longer than this (at least ``debounce``)."""
    settle: float = setting(1.0, "duration")
    """A load error is reported only if it persists this long."""
    rollout_poll: float = setting(2.0, "duration")
    """Re-check interval of an active deployment (events also wake it)."""
    shutdown_timeout: float = setting(20.0, "duration")
    """How long in-flight writes may take at shutdown."""


@dataclass(frozen=True)
class ProcessSettings:
    """How the daemon runs and reports."""

    listen: str = setting("127.0.0.1:9464", "listen")
    """Address of ``/metrics``, ``/healthz``, ``/readyz`` and the status page; ``""`` disables it."""
    log_format: str = setting("text", "log_format")
    """``text`` (for terminals) or ``json`` (one object per line)."""
    log_level: str = setting("info", "log_level")
    """``debug``, ``info``, ``warning`` or ``error``."""
    event_stream: bool = setting(True, "bool")
    """Follow Nomad's event stream; ``False``: blocking queries only."""
    config_file: str | None = setting(None, "path")
    """The TOML file read (``--config``, ``NOMAD_RECONCILER_CONFIG``); set by the loader."""


@dataclass(frozen=True)
class UiSettings:
    """The status page and JSON API on ``listen`` (``reconciler.statuspage``).

    Access control covers the page and its API, never ``/metrics`` or ``/healthz``:
    a bearer token, or basic auth ``user:password``; each also from a file.
    """

    enabled: bool = setting(True, "bool", key="ui")
    """Serve the page (``/``) and its API (``/api/v1/...``); flag ``--ui``/``--no-ui``."""
    token: str | None = setting(None, "secret", key="ui_token", secret=True)
    """Require ``Authorization: Bearer <token>``."""
    token_file: str | None = setting(None, "path", key="ui_token_file")
    """As ``token``, the file's content (read at start); not with ``token``."""
    basic_auth: str | None = setting(None, "user_password", key="ui_basic_auth", secret=True)
    """Require HTTP basic auth, ``user:password``."""
    basic_auth_file: str | None = setting(None, "path", key="ui_basic_auth_file")
    """As ``basic_auth``, the file's content (read at start); not with ``basic_auth``."""


@dataclass(frozen=True)
class AnalysisSettings:
    """The Prometheus canary analysis queries (docs/analysis.md).

    ``PROMETHEUS_URL``, ``PROMETHEUS_TOKEN`` and ``PROMETHEUS_HTTP_AUTH`` apply
    after these (``reconciler.prometheus.config.prometheus_config``).
    """

    prometheus_url: str | None = setting(None, "text")
    """The HTTP API's base URL, e.g. ``http://prometheus:9090``; credentials in it are basic auth."""
    prometheus_token_file: str | None = setting(None, "path")
    """A bearer token file, re-read when it changes (else ``PROMETHEUS_TOKEN``)."""
    tls: TLSSettings = field(default_factory=TLSSettings)
    """For an https URL: keys ``prometheus_ca_cert``, ``prometheus_client_cert``, ...
    (or ``ca_cert``, ... in an ``[analysis.tls]`` table)."""


TLS_KINDS = {"ca_cert": "path", "ca_path": "path", "client_cert": "path", "client_key": "path",
             "server_name": "text", "skip_verify": "bool"}  # fmt: skip
"""How each ``TLSSettings`` field is parsed (that type serves the Nomad connection too)."""

ANALYSIS_TLS_KEYS = {"prometheus_ca_cert": "ca_cert", "prometheus_client_cert": "client_cert",
                     "prometheus_client_key": "client_key",
                     "prometheus_tls_server_name": "server_name",
                     "prometheus_tls_skip_verify": "skip_verify"}  # fmt: skip
"""The flags (and top-level keys) of ``analysis.tls``: ``--prometheus-ca-cert``, ..."""


@dataclass(frozen=True)
class DaemonSettings:
    """Everything the daemon needs to run, one frozen value per group.

    The config file may write each setting in its group's table (``[timing]
    debounce = "1s"``) or at the top level under its flag's name
    (``debounce = "1s"``); ``nomad`` is the ``[nomad]`` table.
    """

    source: SourceSettings = field(default_factory=SourceSettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    timing: TimingSettings = field(default_factory=TimingSettings)
    process: ProcessSettings = field(default_factory=ProcessSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    nomad: NomadConfig = field(default_factory=NomadConfig)
    """The connection (``[nomad]`` table, the Nomad CLI's variables): ``reconciler.config.connection``."""

    def redacted(self) -> dict[str, Any]:
        """A loggable view, group by group: secrets replaced by a marker."""
        view = {g.name: _redacted(getattr(self, g.name)) for g in dataclasses.fields(self)}
        view["nomad"] = self.nomad.redacted()
        if self.analysis.prometheus_url:
            view["analysis"]["prometheus_url"] = redact_url(self.analysis.prometheus_url)
        return view


GROUPS: dict[str, type[Any]] = {
    "source": SourceSettings, "policy": PolicySettings, "retry": RetrySettings,
    "timing": TimingSettings, "process": ProcessSettings, "ui": UiSettings,
    "analysis": AnalysisSettings,
}  # fmt: skip
"""Each group's name (its config file table) and type, in documentation order; the
connection, ``nomad``, is resolved by ``reconciler.config.connection``."""


def _redacted(group: Any) -> dict[str, Any]:
    view = dataclasses.asdict(group)
    for f in dataclasses.fields(group):
        if f.metadata.get("secret") and view[f.name]:
            view[f.name] = "<redacted>"
    return view
