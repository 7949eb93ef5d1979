"""Nomad's JSON job specification (the API job format) → the Job object.

Responsibility: turn the text of a ``.json`` job file — ``{"Job": {...}}`` or a
bare job object, with Nomad's API keys (``TaskGroups``, ``Tasks``, durations
in integer nanoseconds) — into the same shape the HCL2 converter produces,
i.e. what ``nomad job run -output`` prints: every field of Nomad 1.0.18's
``api.Job`` present, unset pointer fields ``null``, unset value fields at
their Go zero value, keys in Go struct order.

It decodes the way Nomad's HTTP API does (Go ``encoding/json`` into
``api.Job``): key matching is case-insensitive, unknown keys are dropped, a
JSON value of the wrong type is an error, ``null`` on a value field leaves
the zero value.  Differences on purpose: an error names the file, line and
column and the JSON path of the offending value, and a duration written as a
string (``"30s"``) is rejected with the nanosecond value to write instead.

Pure: no I/O, no defaults beyond Go zero values (``canonical`` fills Nomad's
defaults).  ``Connect`` blocks are kept as written (opaque): their nested
structs are not modelled here.  The field table is ``json_fields``; error
positions come from ``json_positions``.
"""

from __future__ import annotations

import contextlib
import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.errors import JobSyntaxError, JobValidationError
from reconciler.jobspec.durations import DurationError, parse_go_duration
from reconciler.jobspec.json_fields import SCALAR_NAMES, STRUCTS, ZERO
from reconciler.jobspec.json_positions import JsonPath, locate_json_value
from reconciler.model import ApiJob


def parse_json_job(text: str, *, path: str) -> ApiJob:
    """Decode a JSON job specification into the Job object (no ``{"Job": ...}`` wrapper).

    Raises ``JobSyntaxError`` for text that is not JSON and ``JobValidationError``
    for JSON that is not a job or has a value of the wrong type; both carry
    ``path``, ``line`` and ``column``.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobSyntaxError(
            f"invalid JSON: {exc.msg}", path=path, line=exc.lineno, column=exc.colno
        ) from exc
    if not isinstance(document, dict):
        raise JobValidationError(
            f"not a Nomad job: the document is a JSON {_json_kind(document)}, "
            'expected an object like {"Job": {"ID": ..., "TaskGroups": [...]}}',
            path=path, line=1, column=1,
        )
    prefix: JsonPath = ()
    body: dict[str, Any] = document
    wrapper = _match_key(document, "Job")
    if wrapper is not None and isinstance(document[wrapper], dict):
        prefix, body = (wrapper,), document[wrapper]
    _check_is_job(body, text=text, path=path, prefix=prefix)
    try:
        return _decode_struct("Job", body, prefix)
    except _DecodeError as exc:
        line, column = locate_json_value(text, exc.where)
        raise JobValidationError(
            f"{_dotted(exc.where)}: {exc.reason}", path=path, line=line, column=column
        ) from None


@dataclass(frozen=True)
class IgnoredKey:
    """A key of a JSON job that Nomad silently drops (no such field), e.g. a typo."""

    where: str  # dotted JSON path, e.g. "Job.TaskGroups[0].Taks"
    line: int
    column: int
    suggestion: str | None  # the closest field name, if one is close

    def describe(self) -> str:
        hint = f'; did you mean "{self.suggestion}"?' if self.suggestion else ""
        return f"{self.where}: no such field in a Nomad job, Nomad ignores it{hint}"


def ignored_json_keys(text: str, *, path: str) -> list[IgnoredKey]:
    """Keys of a JSON job that decoding drops, with positions (for lint warnings).

    Raises what ``parse_json_job`` raises for a document that is not a job.
    """
    parse_json_job(text, path=path)
    document = json.loads(text)
    prefix: JsonPath = ()
    body = document
    wrapper = _match_key(document, "Job")
    if wrapper is not None and isinstance(document[wrapper], dict):
        prefix, body = (wrapper,), document[wrapper]
    found: list[tuple[JsonPath, str]] = []
    _collect_unknown("Job", body, prefix, found)
    out = []
    for where, struct in found:
        line, column = locate_json_value(text, where)
        names = [field for field, _ in STRUCTS[struct]]
        close = difflib.get_close_matches(str(where[-1]), names, n=1, cutoff=0.75)
        out.append(IgnoredKey(_dotted(where), line, column, close[0] if close else None))
    return sorted(out, key=lambda k: (k.line, k.column))


def _collect_unknown(kind: str, value: Any, where: JsonPath, out: list[tuple[JsonPath, str]]) -> None:
    base = kind.rstrip("?~")
    if value is None or base in SCALAR_NAMES or base in ("*", "bytes"):
        return
    if base.startswith("["):
        for i, item in enumerate(value):
            _collect_unknown(base[1:-1], item, (*where, i), out)
    elif base.startswith("{"):
        for key, item in value.items():
            _collect_unknown(base[1:-1], item, (*where, key), out)
    else:
        by_lower = {field.lower(): sub for field, sub in STRUCTS[base]}
        for key, item in value.items():
            sub = by_lower.get(key.lower())
            if sub is None:
                out.append(((*where, key), base))
            else:
                _collect_unknown(sub, item, (*where, key), out)


def _check_is_job(body: dict[str, Any], *, text: str, path: str, prefix: JsonPath) -> None:
    known = {name.lower() for name, _ in STRUCTS["Job"]}
    if not any(key.lower() in known for key in body):
        hint = ""
        if "job" in body or (prefix and prefix[0] == "job"):
            hint = (
                ' (this looks like HCL\'s JSON syntax, {"job": {"NAME": {...}}}; '
                "write HCL2 in a .nomad file, or the API form from `nomad job run -output`)"
            )
        raise JobValidationError(
            "not a Nomad job: no job fields (ID, Name, TaskGroups, ...) found; expected "
            '{"Job": {...}} or a bare job object' + hint,
            path=path, line=1, column=1,
        )
    id_key = _match_key(body, "ID")
    if id_key is None or not body[id_key]:
        line, column = locate_json_value(text, prefix)
        raise JobValidationError(
            'the job has no "ID": Nomad requires one', path=path, line=line, column=column
        )
    groups_key = _match_key(body, "TaskGroups")
    if groups_key is None or not body[groups_key]:
        line, column = locate_json_value(text, prefix)
        raise JobValidationError(
            'the job has no "TaskGroups": a job needs at least one task group',
            path=path, line=line, column=column,
        )


class _DecodeError(Exception):
    def __init__(self, where: JsonPath, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


def _match_key(obj: Mapping[str, Any], field: str) -> str | None:
    """The key of ``obj`` that Go's decoder would store in ``field`` (last match wins)."""
    found = None
    for key in obj:
        if key == field or key.lower() == field.lower():
            found = key
    return found


def _decode_struct(name: str, obj: Any, where: JsonPath) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _DecodeError(where, f"expected an object ({name}), got {_json_kind(obj)}")
    fields = STRUCTS[name]
    by_lower = {field.lower(): (field, kind) for field, kind in fields}
    out: dict[str, Any] = {field: _zero(kind) for field, kind in fields if kind[-1] != "~"}
    omitted_set = False
    # Go's decoder visits keys in document order; a later case variant overwrites.
    for key, value in obj.items():
        match = by_lower.get(key.lower())
        if match is None:
            continue  # unknown keys are ignored, as Nomad's API does
        field, kind = match
        if kind[-1] == "~":
            if value is None:
                out.pop(field, None)
            else:
                out[field] = _decode_value(kind, value, (*where, key))
                omitted_set = True
            continue
        if value is None:
            out[field] = _zero(kind)
            continue
        out[field] = _decode_value(kind, value, (*where, key))
    if omitted_set:  # put the omitempty field back in struct order
        out = {field: out[field] for field, _ in fields if field in out}
    return out


def _zero(kind: str) -> Any:
    return ZERO.get(kind)


def _decode_value(kind: str, value: Any, where: JsonPath) -> Any:
    base = kind.rstrip("?~")
    if base in SCALAR_NAMES:
        return _decode_scalar(base, value, where)
    if base == "*":
        return _normalize_opaque(value)
    if base == "bytes":
        if not isinstance(value, str):
            raise _DecodeError(where, f"expected a base64 string, got {_json_kind(value)}")
        return value
    if base.startswith("[") and base.endswith("]"):
        item = base[1:-1]
        if not isinstance(value, list):
            raise _DecodeError(where, f"expected a list, got {_json_kind(value)}")
        return [
            _zero(item) if v is None else _decode_value(item, v, (*where, i))
            for i, v in enumerate(value)
        ]
    if base.startswith("{") and base.endswith("}"):
        item = base[1:-1]
        if not isinstance(value, dict):
            raise _DecodeError(where, f"expected an object, got {_json_kind(value)}")
        return {
            k: _zero(item) if v is None else _decode_value(item, v, (*where, k))
            for k, v in value.items()
        }
    return _decode_struct(base, value, where)


def _decode_scalar(kind: str, value: Any, where: JsonPath) -> Any:
    if kind == "s" and isinstance(value, str):
        return value
    if kind == "b" and isinstance(value, bool):
        return value
    if kind in ("i", "d") and isinstance(value, int) and not isinstance(value, bool):
        return value
    reason = f"expected {SCALAR_NAMES[kind]}, got {_json_kind(value)} {json.dumps(value)}"
    if kind == "d":
        reason = (
            "durations in a JSON job specification are integer nanoseconds, got "
            f"{_json_kind(value)} {json.dumps(value)}"
        )
        if isinstance(value, str):
            with contextlib.suppress(DurationError):
                reason += f" (write {parse_go_duration(value.strip())})"
    raise _DecodeError(where, reason)


def _normalize_opaque(value: Any) -> Any:
    """Opaque values as Go would re-encode them: integral floats print as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_normalize_opaque(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalize_opaque(v) for k, v in value.items()}
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _dotted(where: JsonPath) -> str:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "<document>"
