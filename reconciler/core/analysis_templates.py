"""Analysis templates: the metric checks a canary must pass before it is promoted.

Templates live in the jobs repository under ``.reconciler/analysis/*.hcl``
(``docs/analysis.md``), reviewed like the jobs.  Each file declares one or
more ``analysis "NAME"`` blocks, each holding ``check "NAME"`` blocks: a
PromQL ``query`` with ``{{placeholder}}``s, a ``success`` condition, an
``interval``, a ``count`` or a ``duration``, a ``failure_limit`` and what an
empty or failing query means (``inconclusive`` unless told otherwise).  A job
opts in with Meta ``gitops.analysis = "NAME, NAME"``; a group's own Meta
key replaces the job's for that group.

Pure: text in, values and ``Diagnostic``s out (file, line, reason); it reads
no files (``jobspec.analysis_files`` does) and never talks to Prometheus.
HCL is read with the project's own HCL2 reader (``jobspec.hcl_syntax``), so
templates get the same syntax and the same positioned errors as job files.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.analysis_checks import (
    AnalysisCatalog,
    AnalysisTemplate,
    Check,
    Condition,
    Outcome,
    format_value,
    parse_condition,
)
from reconciler.core.analysis_queries import PlaceholderValues, query_problems, render_query
from reconciler.errors import JobSpecError
from reconciler.jobspec import hcl_syntax as ast
from reconciler.jobspec.durations import DurationError, parse_go_duration
from reconciler.model import ApiJob, Diagnostic

# The daemon and the sync layer import these from here.
__all__ = [
    "AnalysisCatalog",
    "Check",
    "PlaceholderValues",
    "build_catalog",
    "group_analyses",
    "parse_names",
    "parse_template_file",
    "render_query",
]

RULE = "analysis"
META_KEY = "analysis"  # after the ownership prefix: Meta "gitops.analysis"

_CHECK_ATTRIBUTES = frozenset(
    {"query", "success", "interval", "count", "duration", "failure_limit", "on_empty", "on_error"}
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DEFAULT_INTERVAL_S = 60.0
#: A check needs a window; more than this many measurements is almost surely a typo.
MAX_COUNT = 10_000


# --- parsing ---------------------------------------------------------------------------


class _Errors:
    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[Diagnostic] = []

    def add(self, message: str, line: int | None, column: int | None = None) -> None:
        self.items.append(Diagnostic(path=self.path, message=message, line=line, column=column, rule=RULE))


def parse_template_file(text: str, *, path: str) -> AnalysisCatalog:
    """The templates one file declares (a catalog of that file alone)."""
    errors = _Errors(path)
    try:
        body = ast.parse_body(text, path=path)
    except JobSpecError as exc:
        errors.add(exc.reason, exc.line, exc.column)
        return AnalysisCatalog(errors=tuple(errors.items), unreadable=(path,))
    source = ast.SourceText.of(text if text.endswith("\n") else text + "\n")
    for attribute in body.attributes:
        errors.add(
            f'unexpected argument "{attribute.name}": a template file holds only analysis "NAME" blocks',
            attribute.pos.line, attribute.pos.column,
        )  # fmt: skip
    templates: dict[str, AnalysisTemplate] = {}
    broken: dict[str, tuple[Diagnostic, ...]] = {}
    for block in body.blocks:
        if block.type != "analysis" or len(block.labels) != 1:
            errors.add(
                f'unexpected block "{block.type}"{_labels(block)}: expected analysis "NAME" {{ ... }}',
                block.pos.line, block.pos.column,
            )  # fmt: skip
            continue
        before = len(errors.items)
        template = _template(block, errors, source)
        if template is None:
            continue
        if template.name in templates or template.name in broken:
            errors.add(f'analysis "{template.name}" is declared twice in this file', block.pos.line)
        if len(errors.items) > before:
            broken[template.name] = tuple(errors.items[before:])
            templates.pop(template.name, None)
        else:
            templates[template.name] = template
    return AnalysisCatalog(templates=templates, errors=tuple(errors.items), broken=broken)


def build_catalog(files: Mapping[str, str], *, read_errors: Iterable[Diagnostic] = ()) -> AnalysisCatalog:
    """One catalog from every template file (``path`` → text), in path order.

    A name declared in two files is an error of the second (by path), and the
    name is unusable until one goes: which one a job meant is not knowable.
    """
    templates: dict[str, AnalysisTemplate] = {}
    broken: dict[str, tuple[Diagnostic, ...]] = {}
    declared_in: dict[str, str] = {}
    errors: list[Diagnostic] = list(read_errors)
    unreadable = [d.path for d in errors]
    for path in sorted(files):
        one = parse_template_file(files[path], path=path)
        errors += one.errors
        unreadable += one.unreadable
        named = [(name, t.line) for name, t in one.templates.items()]
        named += [(name, problems[0].line) for name, problems in one.broken.items()]
        for name, line in named:
            if name in declared_in:
                duplicate = Diagnostic(
                    path=path, line=line, rule=RULE,
                    message=f'analysis "{name}" is also declared in {declared_in[name]}',
                )  # fmt: skip
                errors.append(duplicate)
                broken[name] = (*broken.get(name, ()), duplicate)
                templates.pop(name, None)
                continue
            declared_in[name] = path
            if name in one.broken:
                broken[name] = one.broken[name]
            else:
                templates[name] = one.templates[name]
    return AnalysisCatalog(
        templates=templates, errors=tuple(errors), broken=broken, unreadable=tuple(unreadable)
    )


def _labels(block: ast.Block) -> str:
    return "".join(f' "{label}"' for label in block.labels)


def _template(block: ast.Block, errors: _Errors, source: ast.SourceText) -> AnalysisTemplate | None:
    name = block.labels[0]
    line = block.pos.line
    if not _NAME.match(name):
        errors.add(
            f'analysis name "{name}" must start with a letter or digit and hold only letters, '
            "digits, '_', '-' and '.'",
            line,
        )
    for attribute in block.body.attributes:
        errors.add(
            f'analysis "{name}": unexpected argument "{attribute.name}"; settings belong in its '
            'check "NAME" blocks',
            attribute.pos.line, attribute.pos.column,
        )  # fmt: skip
    checks: list[Check] = []
    seen: set[str] = set()
    for inner in block.body.blocks:
        if inner.type != "check" or len(inner.labels) != 1:
            errors.add(
                f'analysis "{name}": unexpected block "{inner.type}"{_labels(inner)}: '
                'expected check "NAME" { ... }',
                inner.pos.line, inner.pos.column,
            )  # fmt: skip
            continue
        check_name = inner.labels[0]
        if check_name in seen:
            errors.add(f'analysis "{name}": check "{check_name}" is declared twice', inner.pos.line)
        seen.add(check_name)
        check = _check(name, inner, errors, source)
        if check is not None:
            checks.append(check)
    if not block.body.blocks:
        errors.add(f'analysis "{name}" has no check "NAME" block', line)
    return AnalysisTemplate(name=name, path=errors.path, line=line, checks=tuple(checks))


def _check(template: str, block: ast.Block, errors: _Errors, source: ast.SourceText) -> Check | None:
    name = block.labels[0]
    where = f'check "{template}/{name}"'
    before = len(errors.items)
    if not _NAME.match(name):
        errors.add(f"{where}: the name must start with a letter or digit and hold only letters, digits, '_', '-' and '.'", block.pos.line)
    for inner in block.body.blocks:
        errors.add(f'{where}: unexpected block "{inner.type}"', inner.pos.line, inner.pos.column)
    values: dict[str, tuple[Any, ast.Attribute]] = {}
    for attribute in block.body.attributes:
        if attribute.name not in _CHECK_ATTRIBUTES:
            hint = difflib.get_close_matches(attribute.name, sorted(_CHECK_ATTRIBUTES), n=1)
            errors.add(
                f'{where}: unexpected argument "{attribute.name}"'
                + (f'; did you mean "{hint[0]}"?' if hint else ""),
                attribute.pos.line, attribute.pos.column,
            )  # fmt: skip
            continue
        try:
            values[attribute.name] = (_literal(attribute.expr), attribute)
        except ValueError as exc:
            errors.add(f'{where}: "{attribute.name}": {exc}', attribute.pos.line, attribute.pos.column)

    def get(key: str, kind: type | tuple[type, ...], describe: str) -> Any:
        if key not in values:
            return None
        value, attribute = values[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            errors.add(f'{where}: "{key}" must be {describe}, got {_show(value)}', attribute.pos.line, attribute.pos.column)
            return None
        return value

    def line_of(key: str) -> int:
        return values[key][1].pos.line if key in values else block.pos.line

    query = get("query", str, "a string (PromQL)")
    if "query" not in values:
        errors.add(f'{where}: missing required argument "query"', block.pos.line)
    query_line: int | None = None
    if isinstance(query, str):
        query_line = _query_first_line(values["query"][1], source)
        if not query.strip():
            errors.add(f'{where}: "query" is empty', line_of("query"))
        else:
            for offset, message in query_problems(query):
                line = _line_in_query(query, offset, query_line)
                errors.add(f"{where}: query: {message}", line)
    success_text = get("success", str, 'a string such as "< 0.01" or "0..0.25"')
    success: Condition | None = None
    if "success" not in values:
        errors.add(f'{where}: missing required argument "success" (e.g. success = "< 0.01")', block.pos.line)
    elif isinstance(success_text, str):
        try:
            success = parse_condition(success_text)
        except ValueError as exc:
            errors.add(f"{where}: {exc}", line_of("success"))
    interval_s = DEFAULT_INTERVAL_S
    interval_text = get("interval", str, 'a duration such as "30s"')
    if isinstance(interval_text, str):
        interval_s = _duration(interval_text, f'{where}: "interval"', errors, line_of("interval")) or interval_s
    count = get("count", int, "a whole number")
    duration_text = get("duration", str, 'a duration such as "5m"')
    if "count" in values and "duration" in values:
        errors.add(f'{where}: set either "count" or "duration", not both', line_of("duration"))
    elif "count" not in values and "duration" not in values:
        errors.add(
            f'{where}: missing "count" (measurements needed) or "duration" (how long to measure)',
            block.pos.line,
        )
    if isinstance(count, int) and not 1 <= count <= MAX_COUNT:
        errors.add(f'{where}: "count" must be between 1 and {MAX_COUNT}, got {count}', line_of("count"))
    if isinstance(duration_text, str):
        seconds = _duration(duration_text, f'{where}: "duration"', errors, line_of("duration"))
        if seconds is not None:
            if seconds < interval_s:
                errors.add(
                    f'{where}: "duration" {duration_text} is shorter than "interval" '
                    f"({format_value(interval_s)}s): not even one measurement fits",
                    line_of("duration"),
                )
            count = max(1, round(seconds / interval_s))
    failure_limit = get("failure_limit", int, "a whole number")
    if isinstance(failure_limit, int) and failure_limit < 0:
        errors.add(f'{where}: "failure_limit" must be 0 or more, got {failure_limit}', line_of("failure_limit"))
    if isinstance(failure_limit, int) and isinstance(count, int) and failure_limit >= count:
        errors.add(
            f'{where}: "failure_limit" {failure_limit} is not below the {count} measurement(s) '
            "of the window: the check could never fail",
            line_of("failure_limit"),
        )
    outcomes = {}
    for key in ("on_empty", "on_error"):
        text = get(key, str, '"inconclusive" or "fail"')
        outcomes[key] = Outcome.INCONCLUSIVE
        if isinstance(text, str):
            try:
                outcomes[key] = Outcome(text)
            except ValueError:
                errors.add(f'{where}: "{key}" must be "inconclusive" or "fail", got "{text}"', line_of(key))
    if len(errors.items) > before or query is None or success is None or not isinstance(count, int):
        return None
    return Check(
        template=template, name=name, query=query, success=success, interval_s=interval_s,
        count=count, failure_limit=failure_limit if isinstance(failure_limit, int) else 0,
        on_empty=outcomes["on_empty"], on_error=outcomes["on_error"],
        path=errors.path, line=block.pos.line, query_line=query_line,
    )  # fmt: skip


def _literal(expr: ast.Expr) -> Any:
    """A constant: string (quoted or heredoc), number or bool.  No interpolation."""
    if isinstance(expr, ast.Literal):
        return expr.value
    if isinstance(expr, ast.Parens):
        return _literal(expr.inner)
    if isinstance(expr, ast.Unary) and expr.op == "-":
        inner = _literal(expr.operand)
        if isinstance(inner, int | float) and not isinstance(inner, bool):
            return -inner
    if isinstance(expr, ast.Template):
        if expr.is_literal:
            return "".join(expr.parts)
        raise ValueError(
            "templates take constant values; ${...} and %{...} are not evaluated here "
            "(placeholders are written {{job}}, {{group}}, ...)"
        )
    raise ValueError("expected a constant (a string, a number or true/false)")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _duration(text: str, where: str, errors: _Errors, line: int) -> float | None:
    try:
        nanoseconds = parse_go_duration(text)
    except DurationError as exc:
        errors.add(f"{where}: {exc}", line)
        return None
    if nanoseconds < 1_000_000_000:
        errors.add(f'{where} must be at least 1s, got "{text}"', line)
        return None
    return nanoseconds / 1e9


def _query_first_line(attribute: ast.Attribute, source: ast.SourceText) -> int:
    """The line the query's text starts on: a heredoc's text starts on the next line."""
    pos = attribute.expr.pos
    offset = source.offset(pos.line, pos.column)
    if offset is not None and source.text.startswith("<<", offset):
        return pos.line + 1
    return pos.line


def _line_in_query(query: str, offset: int, first_line: int | None) -> int | None:
    if first_line is None:
        return None
    return first_line + query.count("\n", 0, offset)



# --- opting in -------------------------------------------------------------------------


def parse_names(value: Any) -> tuple[str, ...]:
    """``"a, b"`` → ``("a", "b")``; empty entries are dropped, order and duplicates kept once."""
    names: list[str] = []
    for part in str(value).split(","):
        name = part.strip()
        if name and name not in names:
            names.append(name)
    return tuple(names)


def group_analyses(job: ApiJob, *, prefix: str = "gitops.") -> dict[str, tuple[str, ...]]:
    """Per task group, the templates it opted into (groups with none are left out).

    Job Meta ``<prefix>analysis`` applies to every group; a group's own Meta
    key replaces it for that group (an empty value opts the group out).
    """
    key = prefix + META_KEY
    job_meta = job.get("Meta") or {}
    default = parse_names(job_meta[key]) if isinstance(job_meta, Mapping) and key in job_meta else ()
    out: dict[str, tuple[str, ...]] = {}
    for group in job.get("TaskGroups") or ():
        if not isinstance(group, Mapping):
            continue
        meta = group.get("Meta") or {}
        names = parse_names(meta[key]) if isinstance(meta, Mapping) and key in meta else default
        if names:
            out[str(group.get("Name"))] = names
    return out
