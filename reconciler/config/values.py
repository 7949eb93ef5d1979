"""Parsers of single setting values: durations, booleans, listen addresses.

Every command and the daemon's config file read their values through these,
so ``5m`` or ``[::1]:9464`` mean the same thing wherever they are written.
Pure: text in, value out; a bad value is a ``ConfigError`` that names where
it came from (``name``: a flag, a variable, ``FILE: key``).
"""

from __future__ import annotations

import math

from reconciler.errors import ConfigError
from reconciler.jobspec.durations import DurationError, parse_go_duration

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(text: str) -> bool | None:
    """Go's ``strconv.ParseBool``: ``1 t T TRUE true True`` / ``0 f F FALSE false False``.

    None for anything else (``yes``, ``on``, `` true``...): the caller decides
    whether that is an error or, as the Nomad CLI does for ``NOMAD_SKIP_VERIFY``,
    a value to ignore.
    """
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    return None


def parse_bool(value: object, *, name: str) -> bool:
    """A boolean setting: a TOML/JSON boolean, or a string Go's ``ParseBool`` accepts."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and (parsed := parse_go_bool(value.strip())) is not None:
        return parsed
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def parse_duration(value: object, *, name: str) -> float:
    """Seconds from a number of seconds or a Go duration (``300ms``, ``5m``, ``1h30m``).

    Go's ``time.ParseDuration`` syntax (``reconciler.jobspec.durations``, the
    one parser of it), plus a bare number meaning seconds; never negative.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{name}: expected a duration, got {value!r}")
    seconds: float
    if isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                seconds = parse_go_duration(text) / 1e9
            except DurationError:
                raise ConfigError(
                    f"{name}: invalid duration {value!r} (seconds, or Go syntax like "
                    "300ms, 5m, 1h30m)"
                ) from None
    else:
        seconds = float(value)
    if seconds < 0 or not math.isfinite(seconds):
        raise ConfigError(f"{name}: duration must be >= 0, got {value!r}")
    return seconds


def parse_listen_address(value: str, *, name: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (every IPv4 interface) → (host, port)."""
    host, sep, port_text = value.rpartition(":")
    if not sep:
        raise ConfigError(f"{name}: expected HOST:PORT, e.g. 127.0.0.1:9464, got {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(f"{name}: expected HOST:PORT; write an IPv6 address in brackets, "
                          f"e.g. [::1]:9464, got {value!r}")  # fmt: skip
    if not port_text.isdigit():
        raise ConfigError(f"{name}: expected HOST:PORT; port {port_text!r} is not a number")
    if not 0 <= int(port_text) <= 65535:
        raise ConfigError(f"{name}: expected HOST:PORT; port {port_text} is out of range 0-65535")
    return (host or "0.0.0.0", int(port_text))
