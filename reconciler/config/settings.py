"""The daemon's settings: one frozen value, resolved flag > environment > file > default.

Responsible for: ``DaemonSettings`` (every option of the daemon, grouped and
documented below, the Nomad connection included as a resolved ``NomadConfig``),
reading the TOML config file, the precedence rule, and which settings a
SIGHUP reload may change.  ``resolve_settings`` is pure (values in, value
out); only ``read_config_file`` and ``load_settings`` touch the filesystem.
It must not open connections or start anything: the daemon does that.

The environment holds the Nomad CLI's variables (``reconciler.config.connection``)
and the config file's path (``NOMAD_RECONCILER_CONFIG``); the daemon's own
options have no variable.  Durations are seconds or Go durations (``300ms``,
``5m``, ``1h30m``), booleans TOML booleans or Go's ``ParseBool`` spellings.

The config file uses the long options' names with ``_`` for ``-``, the
connection in a ``[nomad]`` table (every key optional)::

    jobs_dir = "/srv/jobs/current"
    listen = "0.0.0.0:9464"
    promote_after = "2m"
    resync_interval = "5m"
    log_format = "json"

    [nomad]
    address = "https://nomad.service.consul:4646"
    token_file = "/run/secrets/nomad-token"
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.config.connection import NomadConfig, connection_values
from reconciler.config.values import parse_bool, parse_duration, parse_listen_address
from reconciler.errors import ConfigError
from reconciler.jobspec.limits import DEFAULT_MAX_FILE_SIZE
from reconciler.jobspec.loader import parse_size
from reconciler.secrets import redact_url

CONFIG_ENV = "NOMAD_RECONCILER_CONFIG"

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class DaemonSettings:
    """Everything the daemon needs to run, in groups; every delay is plain data (tests zero it).

    The fields stay flat (``settings.debounce``), so the flag, the config file
    key and the attribute have one name; ``GROUPS`` names the group of each.
    """

    # -- source: what is read ------------------------------------------------
    jobs_dir: str = "."
    apply_uncommitted: bool = False
    """Apply uncommitted edits of a git checkout too (a development loop); default: HEAD."""
    variables: tuple[str, ...] = ()
    """HCL2 ``-var KEY=VALUE`` for every job (``NOMAD_VAR_*`` come from the environment)."""
    var_files: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    """Bytes; a larger job file is an error of that file, never parsed."""

    # -- policy: what a pass may do ------------------------------------------
    self_heal: bool = True
    """Re-apply the declared spec when a job is changed out of band (else only report drift)."""
    promote_after: float | None = None
    """Global canary soak before promotion; None: promote only jobs that ask (Meta)."""
    prune: bool = False
    """Stop owned jobs whose files were removed."""
    purge: bool = False
    """Purge instead of stop when pruning."""
    max_prune: float = 0.5
    """Fraction of the owned jobs pruned within ``prune_window`` at most; more is held."""
    prune_grace: float = 30.0
    """An orphan is pruned once undeclared this long."""
    prune_window: float = 600.0
    max_concurrent_deployments: int = 0
    """No new deployment from a file change while this many run; 0: no cap."""

    # -- retry: what happens after an error ----------------------------------
    backoffs: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0)
    """Per-job delays after an error caused by the cluster (unavailable, ACL, ...)."""
    rejected_backoffs: tuple[float, ...] = (60.0, 300.0, 900.0, 1800.0, 3600.0)
    """Delays of a spec Nomad refused for the file's sake (it is retried when the file changes)."""
    jitter: float = 0.2
    """+/- fraction applied to each backoff delay."""
    workers: int = 8
    """Job batches handled concurrently."""

    # -- timing: when things happen ------------------------------------------
    resync_interval: float = 300.0
    """Full pass over every job as a safety net."""
    debounce: float = 0.1
    """Quiet period that closes a burst of file events."""
    debounce_max: float = 1.0
    """A burst never delays a pass longer than this."""
    settle: float = 1.0
    """A load error is reported only if it persists this long."""
    rollout_poll: float = 2.0
    """Re-check interval of an active deployment (events also wake it)."""
    shutdown_timeout: float = 20.0
    """How long in-flight writes may take at shutdown."""

    # -- process: how the daemon runs and reports ----------------------------
    listen: str = "127.0.0.1:9464"
    """Address of /metrics, /healthz, /readyz; "" disables the endpoint."""
    log_format: str = "text"
    log_level: str = "info"
    event_stream: bool = True
    """Follow Nomad's event stream; False: blocking queries only."""
    config_file: str | None = None

    # -- ui: the status page and JSON API on ``listen`` (reconciler.statuspage) -------
    ui: bool = True
    # Optional access control of the status page and its JSON API (not /metrics, /healthz):
    # a bearer token, or basic auth "user:password"; each also from a file.
    ui_token: str | None = field(default=None, repr=False)
    ui_token_file: str | None = None
    ui_basic_auth: str | None = field(default=None, repr=False)
    ui_basic_auth_file: str | None = None

    # -- analysis: canary checks against Prometheus (docs/analysis.md) ------------
    # PROMETHEUS_URL/_TOKEN/_HTTP_AUTH apply too (reconciler.prometheus.config).
    prometheus_url: str | None = None
    prometheus_token_file: str | None = None
    prometheus_ca_cert: str | None = None
    prometheus_client_cert: str | None = None
    prometheus_client_key: str | None = None
    prometheus_tls_server_name: str | None = None
    prometheus_tls_skip_verify: bool = False

    # -- nomad: the connection (``[nomad]`` table, Nomad CLI variables) --------
    nomad: NomadConfig = field(default_factory=NomadConfig)

    def redacted(self) -> dict[str, Any]:
        """A loggable view: secrets replaced by a marker."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["nomad"] = self.nomad.redacted()
        if data["prometheus_url"]:
            data["prometheus_url"] = redact_url(data["prometheus_url"])
        for secret in ("ui_token", "ui_basic_auth"):
            if data[secret]:
                data[secret] = "<redacted>"
        return data


GROUPS: Mapping[str, tuple[str, ...]] = {
    "source": ("jobs_dir", "apply_uncommitted", "variables", "var_files", "max_file_size"),
    "policy": ("self_heal", "promote_after", "prune", "purge", "max_prune", "prune_grace",
               "prune_window", "max_concurrent_deployments"),
    "retry": ("backoffs", "rejected_backoffs", "jitter", "workers"),
    "timing": ("resync_interval", "debounce", "debounce_max", "settle", "rollout_poll",
               "shutdown_timeout"),
    "process": ("listen", "log_format", "log_level", "event_stream", "config_file"),
    "ui": ("ui", "ui_token", "ui_token_file", "ui_basic_auth", "ui_basic_auth_file"),
    "analysis": ("prometheus_url", "prometheus_token_file", "prometheus_ca_cert",
                 "prometheus_client_cert", "prometheus_client_key",
                 "prometheus_tls_server_name", "prometheus_tls_skip_verify"),
    "nomad": ("nomad",),
}  # fmt: skip
"""Each setting's group, in the order above (documentation and ``--help`` follow it)."""

# Fields a SIGHUP may change without restarting connections or watches.
RELOADABLE = frozenset(
    {"log_level", "apply_uncommitted", "max_file_size"}
    | set(GROUPS["policy"]) | set(GROUPS["retry"]) - {"workers"} | set(GROUPS["timing"])
)

_DURATIONS = frozenset(GROUPS["timing"]) | {"jitter", "prune_grace", "prune_window"}
_BOOLEANS = frozenset({"self_heal", "event_stream", "prune", "purge", "apply_uncommitted", "ui",
                       "prometheus_tls_skip_verify"})  # fmt: skip


def _coerce(key: str, value: object, *, source: str) -> Any:
    """Validate one top-level setting's value; ``source`` names where it came from."""
    name = f"{source}: {key}"
    if key in _DURATIONS:
        return parse_duration(value, name=name)
    if key in _BOOLEANS:
        return parse_bool(value, name=name)
    if key == "promote_after":
        return None if value in (None, "", "off") else parse_duration(value, name=name)
    if key == "max_prune":
        fraction = math.nan
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            with contextlib.suppress(ValueError):
                fraction = float(value)
        if not 0.0 <= fraction <= 1.0:
            raise ConfigError(f"{name}: expected a fraction between 0 and 1, got {value!r}")
        return fraction
    if key in ("workers", "max_concurrent_deployments"):
        minimum = 1 if key == "workers" else 0
        if (isinstance(value, bool) or not isinstance(value, int | str)
                or not str(value).isdigit() or int(value) < minimum):  # fmt: skip
            raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")
        return int(value)
    if key in ("backoffs", "rejected_backoffs"):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple) or not value:
            raise ConfigError(f"{name}: expected a non-empty list of durations, got {value!r}")
        return tuple(parse_duration(v, name=name) for v in value)
    if key == "max_file_size":
        return parse_size(value, name=name)
    if key in ("variables", "var_files"):
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
        return tuple(value)
    if key in ("log_format", "log_level"):
        choices = LOG_FORMATS if key == "log_format" else LOG_LEVELS
        if not isinstance(value, str) or value.lower() not in choices:
            raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
        return value.lower()
    if key == "listen":
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected HOST:PORT, got {value!r}")
        if value:  # "" disables the endpoint
            parse_listen_address(value, name=name)
        return value
    if key in ("jobs_dir", "config_file", "ui_token_file", "ui_basic_auth_file") or (
        key in GROUPS["analysis"] and key != "prometheus_tls_skip_verify"
    ):
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a path, got {value!r}")
        return value
    if key in ("ui_token", "ui_basic_auth"):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{name}: expected a non-empty string")  # never echo a secret
        if key == "ui_basic_auth" and ":" not in value:
            raise ConfigError(f"{name}: expected USER:PASSWORD")
        return value
    raise ConfigError(f"{name}: unknown setting")


def _top_level(values: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    return {
        key: _coerce(key, value, source=source)
        for key, value in values.items()
        if value is not None and key != "nomad"
    }


def _nomad_table(values: Mapping[str, Any], *, source: str) -> Mapping[str, Any]:
    table = values.get("nomad") or {}
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: nomad: expected a table")
    return table


def resolve_settings(
    *,
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    file_values: Mapping[str, Any],
    file_name: str = "config file",
) -> DaemonSettings:
    """Merge the sources, later ones winning: defaults < file < environment < flags.

    Pure: ``flags`` holds only options the user actually gave (argparse
    defaults of ``None`` are dropped), ``nomad`` nested as in the file.
    """
    top = _top_level(file_values, source=file_name)
    top.update(_top_level(flags, source="command line"))
    for secret, secret_file in (("ui_token", "ui_token_file"),
                                ("ui_basic_auth", "ui_basic_auth_file")):  # fmt: skip
        if secret in top and secret_file in top:
            raise ConfigError(f"set either {secret} or {secret_file}, not both")
    nomad = connection_values(
        flags=_nomad_table(flags, source="command line"), env=env,
        file_values=_nomad_table(file_values, source=file_name), file_name=file_name,
    )  # fmt: skip
    settings = DaemonSettings(**top, nomad=NomadConfig(**nomad))
    if settings.debounce_max < settings.debounce:
        raise ConfigError(
            f"debounce_max ({settings.debounce_max}s) must be >= debounce ({settings.debounce}s)"
        )
    return settings


def read_config_file(path: str) -> dict[str, Any]:
    """Parse a TOML config file; errors name the file (and line, as tomllib reports it)."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def config_file_path(flags: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    """The config file ``--config`` or ``NOMAD_RECONCILER_CONFIG`` names (``""``: none)."""
    path = flags.get("config_file") or env.get(CONFIG_ENV)
    return str(path) if path else None


def load_settings(flags: Mapping[str, Any], env: Mapping[str, str]) -> DaemonSettings:
    """Resolve settings, reading the config file named by ``--config`` or the environment.

    Called at start and again on SIGHUP (with the original flags and the
    current environment), so a reload sees the file's new content.
    """
    config_path = config_file_path(flags, env)
    file_values: dict[str, Any] = {}
    if config_path:
        file_values = read_config_file(config_path)
        file_values["config_file"] = config_path
        # A relative jobs_dir in the file is relative to the file, not to the cwd.
        jobs_dir = file_values.get("jobs_dir")
        if isinstance(jobs_dir, str) and not Path(jobs_dir).is_absolute():
            file_values["jobs_dir"] = str(Path(config_path).parent / jobs_dir)
    return resolve_settings(
        flags=flags, env=env, file_values=file_values, file_name=config_path or "config file"
    )


def given_connection(flags: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The connection settings the sources give (no defaults), from the daemon's sources.

    For the other commands: flags > environment > the config file's ``[nomad]``
    table (``--config``/``NOMAD_RECONCILER_CONFIG``), so they reach the Nomad
    the daemon reaches with the same environment.
    """
    config_path = config_file_path(flags, env)
    table: Mapping[str, Any] = {}
    if config_path:
        table = _nomad_table(read_config_file(config_path), source=config_path)
    return connection_values(
        flags=_nomad_table(flags, source="command line"), env=env,
        file_values=table, file_name=config_path or "config file",
    )  # fmt: skip


def given_analysis(flags: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The canary analysis settings (``prometheus_*``) as the daemon resolves them: flags >
    the config file's top-level keys (``--config``/``NOMAD_RECONCILER_CONFIG``); the
    ``PROMETHEUS_*`` variables apply after, in ``reconciler.prometheus.config``.

    For ``sync --wait``, ``status`` and ``lint``: the same file reaches the same Prometheus.
    """
    config_path = config_file_path(flags, env)
    file_values = read_config_file(config_path) if config_path else {}
    source = config_path or "config file"
    values = _top_level({k: v for k, v in file_values.items() if k in GROUPS["analysis"]}, source=source)
    values.update(_top_level({k: v for k, v in flags.items() if k in GROUPS["analysis"]},
                             source="command line"))  # fmt: skip
    return values


def load_connection(flags: Mapping[str, Any], env: Mapping[str, str]) -> NomadConfig:
    """``NomadConfig`` from ``given_connection`` over the defaults."""
    return NomadConfig(**given_connection(flags, env))


def reload_changes(old: DaemonSettings, new: DaemonSettings) -> tuple[set[str], set[str]]:
    """(fields a reload applies, changed fields that need a restart)."""
    changed = {
        f.name for f in dataclasses.fields(DaemonSettings)
        if getattr(old, f.name) != getattr(new, f.name)
    }  # fmt: skip
    return changed & RELOADABLE, changed - RELOADABLE
