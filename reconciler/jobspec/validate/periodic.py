"""PeriodicConfig.Validate, with the cron syntax of the cronexpr library Nomad uses.

Pure.  A ``time_zone`` must load with Go's ``time.LoadLocation`` on the server
(structs.go v1.0.18 to v2.0.x): ``UTC``, ``Local`` or a name of the host's
IANA database.  Which names that database holds is given by the caller
(``Target.time_zones``); without it only the forms Go refuses outright are flagged.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from reconciler.jobspec.validate.target import Target
from reconciler.jobspec.validate.texts import go_quote


def validate_periodic(periodic: Mapping[str, Any], target: Target) -> list[str]:
    errs: list[str] = []
    spec = str(periodic.get("Spec", ""))
    if not spec:
        errs.append("Must specify a spec")
    zone = str(periodic.get("TimeZone") or "")
    problem = time_zone_error(zone, target.time_zones)
    if problem is not None:
        errs.append(f"Invalid time zone {go_quote(zone)}: {problem}")
    spec_type = periodic.get("SpecType", "")
    if spec_type == "cron":
        problem = cron_spec_error(spec)
        if problem is not None:
            errs.append(f"Invalid cron spec {go_quote(spec)}: {problem}")
    elif spec_type != "_internal_test":
        errs.append(f"Unknown periodic specification type {go_quote(spec_type)}")
    return errs

def time_zone_error(zone: str, known: Collection[str] | None) -> str | None:
    """Go's ``time.LoadLocation`` error for ``zone``, or ``None`` (also when unsure)."""
    if zone in ("", "UTC", "Local"):
        return None
    if ".." in zone or zone[0] in "/\\":
        return "time: invalid location name"
    if known and zone not in known:
        return f"unknown time zone {zone}"
    return None


# --- cron (github.com/gorhill/cronexpr, as Nomad 1.0 uses it) ----------------

_PREDEFINED_CRON = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DAYS = "sun|mon|tue|wed|thu|fri|sat"
_CRON_FIELDS: dict[str, str] = {
    "second": r"0?[0-9]|[1-5][0-9]",
    "minute": r"0?[0-9]|[1-5][0-9]",
    "hour": r"[01]?[0-9]|2[0-3]",
    "day-of-month": r"0?[1-9]|[12][0-9]|3[01]",
    "month": rf"0?[1-9]|1[012]|{_MONTHS}|january|february|march|april|june|july|august|september|october|november|december",
    "day-of-week": rf"0?[0-7]|{_DAYS}|sunday|monday|tuesday|wednesday|thursday|friday|saturday",
    "year": r"19[789][0-9]|20[0-9]{2}",
}
_CRON_SPECIAL: dict[str, str] = {
    "day-of-month": r"l|(?:0?[1-9]|[12][0-9]|3[01])w|lw|\?",
    "day-of-week": r"[0-7]l|[0-7]#[1-5]|\?",
}


def cron_spec_error(spec: str) -> str | None:
    """``None`` if cronexpr accepts ``spec``, else its error text (``missing field(s)`` ...)."""
    spec = spec.strip()
    if spec in _PREDEFINED_CRON:
        return None
    fields = spec.split()
    if len(fields) < 5:
        return "missing field(s)"
    fields = fields[:7]
    names = ["minute", "hour", "day-of-month", "month", "day-of-week", "year"]
    if len(fields) == 7:
        names = ["second", *names]
    for name, field in zip(names, fields, strict=False):
        for entry in field.split(","):
            if entry and not _cron_entry_ok(entry.lower(), name):
                return f"syntax error in {name} field: '{entry}'"
    return None


def _cron_entry_ok(entry: str, name: str) -> bool:
    value = f"(?:{_CRON_FIELDS[name]})"
    layouts = [
        r"\*",
        value,
        f"{value}-{value}",
        r"\*/\d+",
        rf"{value}/\d+",
        f"{value}-{value}/\\d+",
    ]
    if name in _CRON_SPECIAL:
        layouts.append(_CRON_SPECIAL[name])
    return any(re.fullmatch(layout, entry) for layout in layouts)
