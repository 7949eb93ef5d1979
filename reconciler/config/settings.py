"""The settings of every command: one value, resolved flag > environment > file > default.

Responsible for: parsing each setting (one parser per kind, named by its
field in ``reconciler.config.groups``), reading the TOML config file, the
precedence rule, and which settings a SIGHUP reload may change (by field
path, ``"timing.debounce"``).  ``resolve_settings`` is pure (values in, value
out); only ``read_config_file`` and the ``load_*`` functions touch the
filesystem.  It must not open connections or start anything: the daemon does that.

The environment holds the Nomad CLI's variables (``reconciler.config.connection``)
and the config file's path (``NOMAD_RECONCILER_CONFIG``); the daemon's own
options have no variable.  Durations are seconds or Go durations (``300ms``,
``5m``, ``1h30m``), booleans TOML booleans or Go's ``ParseBool`` spellings.

The config file writes a setting in its group's table, under the field's
name, or at the top level under its flag's name (``_`` for ``-``; the form
files written before the groups use); the connection is the ``[nomad]``
table (every key optional).  One setting written both ways is an error::

    [source]
    jobs_dir = "/srv/jobs/current"   # or, top level: jobs_dir = ...

    [policy]
    promote_after = "2m"

    [timing]
    resync_interval = "5m"

    [process]
    listen = "0.0.0.0:9464"
    log_format = "json"

    [nomad]
    address = "https://nomad.service.consul:4646"
    token_file = "/run/secrets/nomad-token"
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reconciler.config.connection import NomadConfig, connection_values
from reconciler.config.groups import (
    ANALYSIS_TLS_KEYS,
    GROUPS,
    TLS_KINDS,
    AnalysisSettings,
    DaemonSettings,
)
from reconciler.config.values import PARSERS
from reconciler.errors import ConfigError

CONFIG_ENV = "NOMAD_RECONCILER_CONFIG"


def _kinds() -> tuple[dict[str, str], dict[str, str]]:
    """(every setting's path → its kind, every flat key → its path)."""
    kinds: dict[str, str] = {}
    keys: dict[str, str] = {}
    for group, cls in GROUPS.items():
        for f in dataclasses.fields(cls):
            if "kind" in f.metadata:
                kinds[f"{group}.{f.name}"] = f.metadata["kind"]
                keys[f.metadata["key"] or f.name] = f"{group}.{f.name}"
    kinds.update({f"analysis.tls.{name}": kind for name, kind in TLS_KINDS.items()})
    keys.update({key: f"analysis.tls.{name}" for key, name in ANALYSIS_TLS_KEYS.items()})
    return kinds, keys


KINDS, KEYS = _kinds()
"""``KINDS``: each setting's path (``timing.debounce``) and how it is parsed;
``KEYS``: each flag's (and top-level config key's) name and its setting's path."""

RELOADABLE = frozenset(
    {"process.log_level", "source.apply_uncommitted", "source.max_file_size"}
    | {path for path in KINDS if path.split(".")[0] in ("policy", "retry", "timing")}
) - {"retry.workers"}
"""Settings a SIGHUP may change without restarting connections or watches."""


def parse_setting(path: str, value: object, *, name: str) -> Any:
    """One setting's value, parsed by its kind; ``name`` says where it was written."""
    return PARSERS[KINDS[path]](value, name)


def _given(values: Mapping[str, Any], *, source: str, as_flags: bool = False) -> dict[str, Any]:
    """The settings ``values`` give, by path, parsed (``None``: not given; ``nomad`` left out).

    A key is a flag's name (the top-level form) or a group's table of its field
    names; the same setting written both ways is an error naming both.  Errors
    name ``source`` and the key, or (``as_flags``) the flag: ``--max-prune``.
    """
    written: dict[str, str] = {}  # path → the key it was written as
    given: dict[str, Any] = {}

    def take(path: str, key: str, value: object) -> None:
        if path in written:
            raise ConfigError(f"{source}: {written[path]} and {key} are the same setting "
                              f"({path}); set it once")  # fmt: skip
        written[path] = key
        name = "--" + key.replace("_", "-") if as_flags else f"{source}: {key}"
        given[path] = parse_setting(path, value, name=name)

    def table(prefix: str, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            path = f"{prefix}.{name}"
            if value is None:
                continue
            if path in KINDS:
                take(path, path, value)
            elif isinstance(value, Mapping) and any(p.startswith(path + ".") for p in KINDS):
                table(path, value)
            else:
                raise ConfigError(f"{source}: {path}: unknown setting")

    for key, value in values.items():
        if value is None or key == "nomad":
            continue
        if key in GROUPS and isinstance(value, Mapping):  # `ui` is a key and a table
            table(key, value)
        elif key in KEYS:
            take(KEYS[key], key, value)
        else:
            raise ConfigError(f"{source}: {key}: unknown setting")
    return given


def _build(cls: Callable[..., Any], given: Mapping[str, Any]) -> Any:
    """``cls`` from the paths (relative to it) given; a nested group from its own paths."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in given:
            kwargs[f.name] = given[f.name]
        elif sub := {p.split(".", 1)[1]: v for p, v in given.items() if p.startswith(f.name + ".")}:
            kwargs[f.name] = _build(f.default_factory, sub)  # type: ignore[arg-type]
    return cls(**kwargs)


def resolve_group(group: str, values: Mapping[str, Any]) -> Any:
    """One group from flags (``None``: not given), parsed as the daemon parses them.

    The one-shot commands build their ``source`` and ``policy`` groups with it.
    """
    given = _given({k: v for k, v in values.items() if v is not None}, source="command line", as_flags=True)
    return _build(GROUPS[group], {p.split(".", 1)[1]: v for p, v in given.items()})


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
    file_path: str | None = None,
) -> DaemonSettings:
    """Merge the sources, later ones winning: defaults < file < environment < flags.

    Pure: ``flags`` holds only options the user actually gave (argparse
    defaults of ``None`` are dropped), ``nomad`` nested as in the file.
    ``file_path``: where the file was read; a relative ``jobs_dir`` in it is
    relative to the file, not to the working directory.
    """
    given = _given(file_values, source=file_name)
    if file_path is not None:
        given["process.config_file"] = file_path
        jobs_dir = given.get("source.jobs_dir")
        if jobs_dir is not None and not Path(jobs_dir).is_absolute():
            given["source.jobs_dir"] = str(Path(file_path).parent / jobs_dir)
    given.update(_given(flags, source="command line"))
    for secret in ("ui.token", "ui.basic_auth"):
        if secret in given and secret + "_file" in given:
            name = secret.replace(".", "_")
            raise ConfigError(f"set either {name} or {name}_file, not both")
    nomad = connection_values(
        flags=_nomad_table(flags, source="command line"), env=env,
        file_values=_nomad_table(file_values, source=file_name), file_name=file_name,
    )  # fmt: skip
    settings: DaemonSettings = _build(DaemonSettings, given)
    settings = dataclasses.replace(settings, nomad=NomadConfig.from_values(nomad))
    timing = settings.timing
    if timing.debounce_max < timing.debounce:
        raise ConfigError(
            f"debounce_max ({timing.debounce_max}s) must be >= debounce ({timing.debounce}s)"
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
    file_values = read_config_file(config_path) if config_path else {}
    return resolve_settings(
        flags=flags, env=env, file_values=file_values, file_name=config_path or "config file",
        file_path=config_path,
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


def load_analysis(flags: Mapping[str, Any], env: Mapping[str, str]) -> AnalysisSettings:
    """The canary analysis settings as the daemon resolves them: flags > the config
    file's (``--config``/``NOMAD_RECONCILER_CONFIG``) > default; the
    ``PROMETHEUS_*`` variables apply after, in ``reconciler.prometheus.config``.

    For ``sync --wait``, ``status`` and ``lint``: the same file reaches the same Prometheus.
    """
    def analysis(values: Mapping[str, Any]) -> dict[str, Any]:  # the rest is the daemon's
        return {k: v for k, v in values.items()
                if k == "analysis" or KEYS.get(k, "").startswith("analysis.")}  # fmt: skip

    config_path = config_file_path(flags, env)
    file_values = read_config_file(config_path) if config_path else {}
    given = _given(analysis(file_values), source=config_path or "config file")
    given.update(_given(analysis(flags), source="command line"))
    return _build(AnalysisSettings, {p.split(".", 1)[1]: v for p, v in given.items()})  # type: ignore[no-any-return]


def load_connection(flags: Mapping[str, Any], env: Mapping[str, str]) -> NomadConfig:
    """``NomadConfig`` from ``given_connection`` over the defaults."""
    return NomadConfig.from_values(given_connection(flags, env))


def setting_values(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every setting of a settings value by path (``timing.debounce``, ``nomad.tls.ca_cert``)."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return {prefix: value}
    values: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        values.update(setting_values(getattr(value, f.name), f"{prefix}{f.name}."))
    return {path.rstrip("."): v for path, v in values.items()}


def reload_changes(old: DaemonSettings, new: DaemonSettings) -> tuple[set[str], set[str]]:
    """(settings a reload applies, changed settings that need a restart), by path."""
    before, after = setting_values(old), setting_values(new)
    changed = {path for path in before if before[path] != after[path]}
    return changed & RELOADABLE, changed - RELOADABLE


def reloaded(old: DaemonSettings, new: DaemonSettings) -> tuple[DaemonSettings, set[str], set[str]]:
    """The settings a reload runs with: ``new`` where it may apply, ``old`` where only a
    restart may change them; and ``reload_changes``.  The connection is one value (its
    token and token file exclude each other): any change to it keeps the old one whole."""
    applied, restart = reload_changes(old, new)
    settings, running = new, setting_values(old)
    for path in restart:
        if path.startswith("nomad."):
            settings = dataclasses.replace(settings, nomad=old.nomad)
        else:
            settings = _replace_at(settings, path, running[path])
    return settings, applied, restart


def _replace_at(value: Any, path: str, new: Any) -> Any:
    head, _, rest = path.partition(".")
    return dataclasses.replace(value, **{head: _replace_at(getattr(value, head), rest, new) if rest else new})
