"""Go ``time.ParseDuration`` and Nomad's duration decoding, in integer nanoseconds.

Nomad's jobspec decodes every duration field with Go's parser: a string like
``"1m30s"``/``"1.5h"``/``"2500ms"`` or a plain number taken as nanoseconds.
There is no ``d`` unit.  Pure; errors carry Go's own wording.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

UNITS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}

_MAX = 2**63 - 1


class DurationError(ValueError):
    """``str(exc)`` is Go's message, e.g. ``time: unknown unit " minutes" in duration "10 minutes"``."""


def parse_go_duration(text: str) -> int:
    """Parse a Go duration string into nanoseconds (``"1m30s"`` → 90_000_000_000)."""
    quoted = '"' + text + '"'
    s = text
    sign = 1
    if s and s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise DurationError(f"time: invalid duration {quoted}")
    total = Decimal(0)
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        number = s[:i]
        if not number or number == "." or number.count(".") > 1:
            raise DurationError(f"time: invalid duration {quoted}")
        s = s[i:]
        j = 0
        while j < len(s) and not (s[j].isdigit() or s[j] == "."):
            j += 1
        unit = s[:j]
        s = s[j:]
        if not unit:
            raise DurationError(f"time: missing unit in duration {quoted}")
        if unit not in UNITS:
            raise DurationError(f'time: unknown unit "{unit}" in duration {quoted}')
        try:
            total += Decimal(number) * UNITS[unit]
        except InvalidOperation:
            raise DurationError(f"time: invalid duration {quoted}") from None
        if total > _MAX:
            raise DurationError(f"time: invalid duration {quoted}")
    return sign * int(total)


def format_go_duration(ns: int) -> str:
    """Nanoseconds → Go's ``Duration.String()`` form (``90s`` → ``"1m30s"``)."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                text = _trim(Decimal(ns) / size) + unit
                break
    else:
        h, rem = divmod(ns, UNITS["h"])
        m, rem = divmod(rem, UNITS["m"])
        secs = _trim(Decimal(rem) / UNITS["s"])
        text = (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{secs}s"
    return ("-" if neg else "") + text


def _trim(d: Decimal) -> str:
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
