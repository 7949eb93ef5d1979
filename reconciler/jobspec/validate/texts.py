"""Nomad's validation texts: go-multierror's rendering, Go's duration and ``%q``.

Pure.  ``format_validation_errors`` renders errors exactly as the register/plan
endpoints' HTTP 500 body (go-multierror's list format), ``format_validation_warnings``
the ``Warnings`` string (the Nomad fake reuses both); ``error_leaves`` splits a
rendered error back into one line per problem for ``lint``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.jobspec.canonical_defaults import SECOND


@dataclass(frozen=True)
class ValidationResult:
    """What Nomad's validate endpoint answers: ``ValidationErrors`` and the warnings.

    ``refused``: an admission mutator refused the job before any validation, so
    Nomad fails the request itself (HTTP 500, ``errors[0]`` as its body) and
    register says the same."""

    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    refused: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def format_validation_errors(errors: Sequence[str]) -> str:
    """go-multierror's list format, as in a rejected register's HTTP 500 body.

    ``"1 error occurred:\\n\\t* X\\n\\n"`` or ``"N errors occurred:\\n\\t* X\\n\\t* Y\\n\\n"``;
    ``""`` when there are none.
    """
    if not errors:
        return ""
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t".join(f"* {error}" for error in errors)
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"


def format_validation_warnings(warnings: Sequence[str]) -> str:
    """The ``Warnings`` string of validate/register responses (``""`` when none)."""
    if not warnings:
        return ""
    return f"{len(warnings)} warning(s):\n" + "".join(f"\n* {w}" for w in warnings)


def format_go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``1h0m0s``, ``1m30s``, ``1.5s``, ``500ms``, ``0s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(int(ns))
    if ns < SECOND:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, 3600 * SECOND)
    minutes, rest = divmod(rest, 60 * SECOND)
    seconds = _fraction(rest, SECOND) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"

def nest(errs: list[str], inner: list[str]) -> None:
    """Nomad appends a sub-validator's multierror as one (rendered) item."""
    if inner:
        errs.append(format_validation_errors(inner))

def prefixed(errors: Sequence[str], prefix: str) -> str:
    """go-multierror's ``Prefix``: every item gets ``prefix + " "``; rendered as a multierror."""
    return format_validation_errors([f"{prefix} {error}" for error in errors])


def go_quote(value: Any) -> str:
    """Go's ``%q`` for the plain strings job fields hold."""
    text = str(value)
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


_MULTI_HEAD = re.compile(r"(\d+) errors? occurred:\n\t\* ")


def error_leaves(error: str) -> list[tuple[tuple[str, ...], str]]:
    """Split one rendered validation error into ``(prefixes, leaf)`` pairs.

    ``"Task group g validation failed: 1 error occurred:\\n\\t* Task t validation
    failed: ...\\n\\t* Missing task driver\\n\\n..."`` gives
    ``[(("Task group g validation failed:", "Task t validation failed:"), "Missing task driver")]``:
    one line per problem for ``lint``, with Nomad's own words.
    """
    leaves, _ = _parse_item(error, 0, ())
    return leaves


def _parse_item(
    text: str, at: int, prefixes: tuple[str, ...]
) -> tuple[list[tuple[tuple[str, ...], str]], int]:
    # An item is "<prefix><N error(s) occurred:...>" or plain text up to the next newline.
    line_end = text.find("\n", at)
    head = _MULTI_HEAD.search(text, at)
    if head is not None and "\n" not in text[at : head.start()]:
        prefix = text[at : head.start()].strip()
        inner = (*prefixes, prefix) if prefix else prefixes
        leaves: list[tuple[tuple[str, ...], str]] = []
        at = head.end()
        for number in range(int(head.group(1))):
            if number:
                at += len("\n\t* ")
            found, at = _parse_item(text, at, inner)
            leaves += found
        return leaves, at + len("\n\n")
    stop = len(text) if line_end == -1 else line_end
    return [(prefixes, text[at:stop])], stop
