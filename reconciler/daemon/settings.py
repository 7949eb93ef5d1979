"""Daemon settings: one frozen value, resolved with precedence flag > environment > file > default.

Responsible for: the ``DaemonSettings`` value, parsing the optional TOML config
file, and the precedence rule.  ``resolve_settings`` is pure (values in, value
out); only ``read_config_file`` and ``load_settings`` touch the filesystem.
It must not open connections or start anything: the loop does that.

Environment variables use the Nomad CLI's names (``NOMAD_ADDR``, ``NOMAD_TOKEN``,
...); the daemon's own options have no environment variable except the config
file path (``NOMAD_RECONCILER_CONFIG``).  Durations accept seconds (a number)
or Go-style strings (``"300ms"``, ``"5m"``, ``"1h30m"``).

Config file example (every key optional, same names as the flags)::

    jobs_dir = "/srv/jobs/current"
    listen = "0.0.0.0:9464"
    self_heal = true
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
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError
from reconciler.jobspec.limits import DEFAULT_MAX_FILE_SIZE
from reconciler.jobspec.loader import parse_size
from reconciler.secrets import redact_url

CONFIG_ENV = "NOMAD_RECONCILER_CONFIG"

# Nomad CLI environment variable → NomadSettings field.
NOMAD_ENV: Mapping[str, str] = {
    "NOMAD_ADDR": "address",
    "NOMAD_TOKEN": "token",
    "NOMAD_NAMESPACE": "namespace",
    "NOMAD_REGION": "region",
    "NOMAD_CACERT": "ca_cert",
    "NOMAD_CAPATH": "ca_path",
    "NOMAD_CLIENT_CERT": "client_cert",
    "NOMAD_CLIENT_KEY": "client_key",
    "NOMAD_TLS_SERVER_NAME": "tls_server_name",
    "NOMAD_SKIP_VERIFY": "skip_verify",
    "NOMAD_HTTP_AUTH": "http_auth",
}

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class NomadSettings:
    """How to reach Nomad; ``None`` means "let NomadConfig apply its own default"."""

    address: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    namespace: str | None = None
    region: str | None = None
    ca_cert: str | None = None
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    tls_server_name: str | None = None
    skip_verify: bool | None = None
    http_auth: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DaemonSettings:
    """Everything the daemon needs to run; every delay is plain data so tests can zero it."""

    jobs_dir: str = "."
    listen: str = "127.0.0.1:9464"  # "" disables the HTTP endpoint
    ui: bool = True  # the status page and JSON API on ``listen`` (reconciler.statuspage)
    # Optional access control of the status page and its JSON API (not /metrics, /healthz):
    # a bearer token, or basic auth "user:password"; each also from a file.
    ui_token: str | None = field(default=None, repr=False)
    ui_token_file: str | None = None
    ui_basic_auth: str | None = field(default=None, repr=False)
    ui_basic_auth_file: str | None = None
    log_format: str = "text"
    log_level: str = "info"
    self_heal: bool = True
    promote_after: float | None = None  # global canary soak; None = never promote by default
    resync_interval: float = 300.0
    debounce: float = 0.1  # quiet period that closes a burst of file events
    debounce_max: float = 1.0  # a burst never delays a pass longer than this
    settle: float = 1.0  # a parse error is reported only if it persists this long
    backoffs: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0)
    # A spec Nomad refused for the file's sake is retried only this slowly (the server
    # may change); errors caused by the cluster use ``backoffs``.
    rejected_backoffs: tuple[float, ...] = (60.0, 300.0, 900.0, 1800.0, 3600.0)
    jitter: float = 0.2  # +/- fraction applied to each backoff delay
    workers: int = 8  # job batches handled concurrently
    max_concurrent_deployments: int = 0  # 0: no cap
    rollout_poll: float = 2.0  # re-check interval of an active deployment (events also wake it)
    shutdown_timeout: float = 20.0
    event_stream: bool = True  # False: blocking queries only
    max_file_size: int = DEFAULT_MAX_FILE_SIZE  # bytes; a larger job file is never parsed
    prune: bool = False
    purge: bool = False
    max_prune: float = 0.5  # fraction of the owned jobs pruned within prune_window at most
    prune_grace: float = 30.0  # an orphan is pruned once undeclared this long
    prune_window: float = 600.0
    apply_uncommitted: bool = False  # apply uncommitted edits of a git checkout (development)
    variables: tuple[str, ...] = ()  # -var k=v
    var_files: tuple[str, ...] = ()
    nomad: NomadSettings = NomadSettings()
    config_file: str | None = None
    # Canary analysis (docs/analysis.md); PROMETHEUS_URL/_TOKEN/_HTTP_AUTH apply too.
    prometheus_url: str | None = None
    prometheus_token_file: str | None = None
    prometheus_ca_cert: str | None = None
    prometheus_client_cert: str | None = None
    prometheus_client_key: str | None = None
    prometheus_tls_server_name: str | None = None
    prometheus_tls_skip_verify: bool = False

    def redacted(self) -> dict[str, Any]:
        """A loggable view: secrets replaced by a marker."""
        data = dataclasses.asdict(self)
        for secret in ("token", "http_auth"):
            if data["nomad"].get(secret):
                data["nomad"][secret] = "<redacted>"
        for secret in ("ui_token", "ui_basic_auth"):
            if data.get(secret):
                data[secret] = "<redacted>"
        if data.get("prometheus_url"):
            data["prometheus_url"] = redact_url(data["prometheus_url"])
        if data["nomad"].get("address"):
            data["nomad"]["address"] = redact_url(data["nomad"]["address"])
        return data


# Fields a SIGHUP may change without restarting connections or watches.
RELOADABLE = frozenset(
    {
        "log_level",
        "self_heal",
        "promote_after",
        "resync_interval",
        "debounce",
        "debounce_max",
        "settle",
        "backoffs",
        "rejected_backoffs",
        "jitter",
        "rollout_poll",
        "shutdown_timeout",
        "prune",
        "purge",
        "max_prune",
        "prune_grace",
        "prune_window",
        "apply_uncommitted",
        "max_concurrent_deployments",
        "max_file_size",
    }
)

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: object, *, name: str) -> float:
    """Seconds from a number or a Go duration string; ``name`` is used in the error."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a duration, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ConfigError(
                    f"{name}: invalid duration {value!r} (use seconds or e.g. '300ms', '5m')"
                ) from None
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    else:
        raise ConfigError(f"{name}: expected a duration, got {value!r}")
    if seconds < 0 or not math.isfinite(seconds):
        raise ConfigError(f"{name}: duration must be >= 0, got {value!r}")
    return seconds


def parse_bool(value: object, *, name: str) -> bool:
    """Booleans as the Nomad CLI reads them from the environment (``1``/``true``/...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "t", "true", "yes", "on"):
            return True
        if lowered in ("0", "f", "false", "no", "off", ""):
            return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def parse_listen(value: str, *, name: str = "listen") -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) → (host, port); ``""`` → None (disabled)."""
    if value == "":
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{name}: expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def _coerce(key: str, value: object, *, source: str) -> Any:
    """Validate one top-level setting's value; ``source`` names where it came from."""
    name = f"{source}: {key}"
    if key in ("resync_interval", "debounce", "debounce_max", "settle", "jitter",
               "rollout_poll", "shutdown_timeout", "prune_grace", "prune_window"):
        return parse_duration(value, name=name)
    if key == "max_prune":
        fraction = math.nan
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            with contextlib.suppress(ValueError):
                fraction = float(value)
        if not 0.0 <= fraction <= 1.0:
            raise ConfigError(f"{name}: expected a fraction between 0 and 1, got {value!r}")
        return fraction
    if key == "promote_after":
        return None if value in (None, "", "off") else parse_duration(value, name=name)
    if key in ("self_heal", "event_stream", "prune", "purge", "apply_uncommitted", "ui",
               "prometheus_tls_skip_verify"):
        return parse_bool(value, name=name)
    if key in ("workers", "max_concurrent_deployments"):
        minimum = 1 if key == "workers" else 0
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")
        if int(value) < minimum:
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
    if key == "log_format":
        if value not in LOG_FORMATS:
            raise ConfigError(f"{name}: expected one of {', '.join(LOG_FORMATS)}, got {value!r}")
        return value
    if key == "log_level":
        if not isinstance(value, str) or value.lower() not in LOG_LEVELS:
            raise ConfigError(f"{name}: expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
        return value.lower()
    if key == "listen":
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected HOST:PORT, got {value!r}")
        parse_listen(value, name=name)
        return value
    if key in ("jobs_dir", "config_file", "ui_token_file", "ui_basic_auth_file",
               "prometheus_url", "prometheus_token_file", "prometheus_ca_cert",
               "prometheus_client_cert", "prometheus_client_key", "prometheus_tls_server_name"):
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


def _coerce_nomad(key: str, value: object, *, source: str) -> Any:
    name = f"{source}: nomad.{key}"
    if key not in {f.name for f in dataclasses.fields(NomadSettings)}:
        raise ConfigError(f"{name}: unknown setting")
    if key == "skip_verify":
        return parse_bool(value, name=name)
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected a string, got {value!r}")
    return value


def _layer(values: Mapping[str, Any], *, source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split and validate one source's values into (daemon fields, nomad fields)."""
    top: dict[str, Any] = {}
    nomad: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if key == "nomad":
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: nomad: expected a table")
            for nkey, nvalue in value.items():
                if nvalue is not None:
                    nomad[nkey] = _coerce_nomad(nkey, nvalue, source=source)
        else:
            top[key] = _coerce(key, value, source=source)
    return top, nomad


def environment_values(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings the environment provides (Nomad CLI names only)."""
    nomad = {field_: env[var] for var, field_ in NOMAD_ENV.items() if var in env}
    return {"nomad": nomad} if nomad else {}


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
    merged_top: dict[str, Any] = {}
    merged_nomad: dict[str, Any] = {}
    for values, source in (
        (file_values, file_name),
        (environment_values(env), "environment"),
        (flags, "command line"),
    ):
        top, nomad = _layer(values, source=source)
        if "token" in nomad and "token_file" in nomad:
            raise ConfigError(f"{source}: set either a Nomad token or a token file, not both")
        # A token and a token file are one setting: the higher-precedence source wins.
        if "token" in nomad:
            merged_nomad.pop("token_file", None)
        if "token_file" in nomad:
            merged_nomad.pop("token", None)
        merged_top.update(top)
        merged_nomad.update(nomad)
    for secret, secret_file in (("ui_token", "ui_token_file"),
                                ("ui_basic_auth", "ui_basic_auth_file")):
        if secret in merged_top and secret_file in merged_top:
            raise ConfigError(f"set either {secret} or {secret_file}, not both")
    settings = DaemonSettings(**merged_top, nomad=NomadSettings(**merged_nomad))
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


def load_settings(flags: Mapping[str, Any], env: Mapping[str, str]) -> DaemonSettings:
    """Resolve settings, reading the config file named by ``--config`` or the environment.

    Called at start and again on SIGHUP (with the original flags and the
    current environment), so a reload sees the file's new content.
    """
    config_path = flags.get("config_file") or env.get(CONFIG_ENV)
    file_values: dict[str, Any] = {}
    if config_path:
        file_values = read_config_file(str(config_path))
        file_values["config_file"] = str(config_path)
        # A relative jobs_dir in the file is relative to the file, not to the cwd.
        jobs_dir = file_values.get("jobs_dir")
        if isinstance(jobs_dir, str) and not Path(jobs_dir).is_absolute():
            file_values["jobs_dir"] = str(Path(config_path).parent / jobs_dir)
    return resolve_settings(
        flags=flags, env=env, file_values=file_values, file_name=str(config_path or "")
    )


def reload_changes(old: DaemonSettings, new: DaemonSettings) -> tuple[set[str], set[str]]:
    """(fields a reload applies, changed fields that need a restart)."""
    changed = {
        f.name for f in dataclasses.fields(DaemonSettings)
        if getattr(old, f.name) != getattr(new, f.name)
    }
    return changed & RELOADABLE, changed - RELOADABLE
