"""Parsers of single setting values: durations, booleans, listen addresses, ...

Every command and the daemon's config file read their values through these,
so ``5m`` or ``[::1]:9464`` mean the same thing wherever they are written.
Pure: text in, value out; a bad value is a ``ConfigError`` that names where
it came from (``name``: a flag, a variable, ``FILE: key``).  ``PARSERS`` names
one parser per kind of setting (the ``kind`` of a field in ``config/groups.py``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.errors import ConfigError
from reconciler.jobspec.durations import DurationError, parse_go_duration
from reconciler.jobspec.loader import parse_size

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")

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


def _fraction(value: object, name: str) -> float:
    fraction = math.nan
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):
            fraction = float(value)
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"{name}: expected a fraction between 0 and 1, got {value!r}")
    return fraction


def _count(minimum: int) -> Callable[[object, str], int]:
    def parse(value: object, name: str) -> int:
        if (isinstance(value, bool) or not isinstance(value, int | str)
                or not str(value).isdigit() or int(value) < minimum):  # fmt: skip
            raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")
        return int(value)

    return parse


def _durations(value: object, name: str) -> tuple[float, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(f"{name}: expected a non-empty list of durations, got {value!r}")
    return tuple(parse_duration(v, name=name) for v in value)


def _strings(value: object, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
    return tuple(value)


def _choice(choices: tuple[str, ...]) -> Callable[[object, str], str]:
    def parse(value: object, name: str) -> str:
        if not isinstance(value, str) or value.lower() not in choices:
            raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
        return value.lower()

    return parse


def _listen(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected HOST:PORT, got {value!r}")
    if value:  # "" disables the endpoint
        parse_listen_address(value, name=name)
    return value


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected a path, got {value!r}")
    return value


def _secret(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name}: expected a non-empty string")  # never echo a secret
    return value


def _user_password(value: object, name: str) -> str:
    if ":" not in _secret(value, name):
        raise ConfigError(f"{name}: expected USER:PASSWORD")
    return str(value)


PARSERS: Mapping[str, Callable[[object, str], Any]] = {
    "path": _text, "text": _text, "secret": _secret, "user_password": _user_password,
    "bool": lambda value, name: parse_bool(value, name=name),
    "duration": lambda value, name: parse_duration(value, name=name),
    "soak": lambda value, name: None if value in ("", "off") else parse_duration(value, name=name),
    "durations": _durations, "fraction": _fraction, "count": _count(0), "positive_count": _count(1),
    "size": lambda value, name: parse_size(value, name=name), "strings": _strings,
    "log_format": _choice(LOG_FORMATS), "log_level": _choice(LOG_LEVELS), "listen": _listen,
}  # fmt: skip
"""One parser per kind of value; a bad value is a ``ConfigError`` naming where it was written."""
