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
import enum
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import JobSpecError
from reconciler.jobspec import hcl_syntax as ast
from reconciler.jobspec.analysis_files import ANALYSIS_DIR
from reconciler.jobspec.durations import DurationError, parse_go_duration
from reconciler.model import ApiJob, Diagnostic

RULE = "analysis"
META_KEY = "analysis"  # after the ownership prefix: Meta "gitops.analysis"


#: Placeholder names a query may use, written ``{{name}}`` (spaces inside allowed).
PLACEHOLDERS = ("job", "namespace", "group", "deployment_id", "version", "canary_alloc_ids")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

_CHECK_ATTRIBUTES = frozenset(
    {"query", "success", "interval", "count", "duration", "failure_limit", "on_empty", "on_error"}
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DEFAULT_INTERVAL_S = 60.0
#: A check needs a window; more than this many measurements is almost surely a typo.
MAX_COUNT = 10_000


class Outcome(enum.StrEnum):
    """What an empty or failing query counts as."""

    INCONCLUSIVE = "inconclusive"
    FAIL = "fail"


_COMPARISONS = ("<=", ">=", "==", "!=", "<", ">")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_COMPARISON_RE = re.compile(rf"^\s*(<=|>=|==|!=|<|>)\s*({_NUMBER})\s*$")
_RANGE_RE = re.compile(rf"^\s*({_NUMBER})\s*\.\.\s*({_NUMBER})\s*$")


@dataclass(frozen=True)
class Condition:
    """A success condition: ``op`` one of ``_COMPARISONS`` or ``".."`` (inclusive range)."""

    op: str
    threshold: float
    upper: float | None = None

    def holds(self, value: float) -> bool:
        if self.op == "..":
            assert self.upper is not None
            return self.threshold <= value <= self.upper
        return {
            "<": value < self.threshold,
            "<=": value <= self.threshold,
            ">": value > self.threshold,
            ">=": value >= self.threshold,
            "==": value == self.threshold,
            "!=": value != self.threshold,
        }[self.op]

    def describe(self) -> str:
        """As the user wrote it, normalised: ``< 0.01``, ``0..0.01``."""
        if self.op == "..":
            assert self.upper is not None
            return f"{format_value(self.threshold)}..{format_value(self.upper)}"
        return f"{self.op} {format_value(self.threshold)}"


def parse_condition(text: str) -> Condition:
    """``"< 0.01"``, ``">= 0.99"``, ``"0..0.25"``; ``ValueError`` with the reason otherwise."""
    comparison = _COMPARISON_RE.match(text)
    if comparison:
        return Condition(comparison.group(1), float(comparison.group(2)))
    span = _RANGE_RE.match(text)
    if span:
        low, high = float(span.group(1)), float(span.group(2))
        if low > high:
            raise ValueError(f"range {text!r} is empty: {format_value(low)} > {format_value(high)}")
        return Condition("..", low, high)
    raise ValueError(
        f"success condition {text!r} is neither a comparison (one of "
        f"{', '.join(_COMPARISONS)} then a number, e.g. \"< 0.01\") nor a range "
        "(\"LOW..HIGH\", inclusive, e.g. \"0..0.25\")"
    )


def format_value(value: float) -> str:
    """A measured value or threshold for messages: ``0.05``, ``250``, ``1.5e+06``."""
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


@dataclass(frozen=True)
class Check:
    """One named check of a template.  ``count`` measurements, one per ``interval_s``."""

    template: str
    name: str
    query: str
    success: Condition
    interval_s: float
    count: int
    failure_limit: int = 0
    on_empty: Outcome = Outcome.INCONCLUSIVE
    on_error: Outcome = Outcome.INCONCLUSIVE
    path: str = ""
    line: int | None = None
    query_line: int | None = None

    @property
    def qualified_name(self) -> str:
        """``template/check``: how logs, ``status``, metrics and hold reasons name it."""
        return f"{self.template}/{self.name}"

    @property
    def window_s(self) -> float:
        """The shortest time in which the check can pass: ``count`` intervals."""
        return self.interval_s * self.count


@dataclass(frozen=True)
class AnalysisTemplate:
    name: str
    path: str
    line: int | None
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class AnalysisCatalog:
    """Every template of a jobs repository, and what is wrong with the files.

    ``broken`` maps a template name to the errors that make it unusable (a
    job that opts into it must not be rolled out on it); ``unreadable``
    lists files that did not parse at all, whose template names are unknown.
    """

    templates: Mapping[str, AnalysisTemplate] = field(default_factory=dict)
    errors: tuple[Diagnostic, ...] = ()
    broken: Mapping[str, tuple[Diagnostic, ...]] = field(default_factory=dict)
    unreadable: tuple[str, ...] = ()

    def resolve(self, names: Sequence[str]) -> tuple[list[AnalysisTemplate], list[str]]:
        """The templates ``names`` refer to, and a reason for each that is unusable."""
        found: list[AnalysisTemplate] = []
        problems: list[str] = []
        for name in names:
            if name in self.broken:
                first = self.broken[name][0]
                problems.append(f'analysis template "{name}" has errors: {first.location}: {first.message}')
            elif name in self.templates:
                found.append(self.templates[name])
            else:
                problems.append(self._unknown(name))
        return found, problems

    def _unknown(self, name: str) -> str:
        text = f'unknown analysis template "{name}"'
        hint = difflib.get_close_matches(name, [*self.templates, *self.broken], n=1)
        if hint:
            text += f'; did you mean "{hint[0]}"?'
        elif self.unreadable:
            text += f" (these template files do not parse: {', '.join(self.unreadable)})"
        elif not self.templates:
            text += f" (no templates under {ANALYSIS_DIR}/)"
        return text


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


# --- placeholders and the local PromQL check -------------------------------------------


@dataclass(frozen=True)
class PlaceholderValues:
    """What the placeholders of a query stand for, for one group of one deployment."""

    job: str
    namespace: str
    group: str
    deployment_id: str
    version: int
    canary_alloc_ids: tuple[str, ...]


#: Values used to check a query's syntax where no deployment exists (lint).
EXAMPLE_VALUES = PlaceholderValues(
    job="example", namespace="default", group="example", deployment_id="00000000-0000-0000-0000-000000000000",
    version=1, canary_alloc_ids=("00000000-0000-0000-0000-000000000001",),
)  # fmt: skip


def query_problems(query: str) -> list[tuple[int, str]]:
    """(offset, reason) for each placeholder typo and each local syntax problem."""
    problems = placeholder_problems(query)
    if problems:
        return problems
    rendered = render_query(query, EXAMPLE_VALUES)
    return [(_offset_before_render(query, rendered, at), reason) for at, reason in promql_problems(rendered)]


def placeholder_problems(query: str) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    for match in _PLACEHOLDER.finditer(query):
        name = match.group(1)
        if name not in PLACEHOLDERS:
            hint = difflib.get_close_matches(name, PLACEHOLDERS, n=1, cutoff=0.5)
            problems.append((
                match.start(),
                f"unknown placeholder {match.group(0)}"
                + (f"; did you mean {{{{{hint[0]}}}}}?" if hint else f"; known: {', '.join('{{' + p + '}}' for p in PLACEHOLDERS)}"),
            ))  # fmt: skip
    rest = _PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), query)
    for token in ("{{", "}}"):
        at = rest.find(token)
        if at >= 0:
            problems.append((at, f"unbalanced placeholder braces {token!r}: placeholders are written {{{{name}}}}"))
    return sorted(problems)


def _offset_before_render(query: str, rendered: str, offset: int) -> int:
    # Line numbers are all that is reported; rendering never adds or removes newlines.
    line = rendered.count("\n", 0, offset)
    start = 0
    for _ in range(line):
        start = query.index("\n", start) + 1
    return start


def _escape_string(value: str) -> str:
    """``value`` inside a PromQL double-quoted string."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_REGEX_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def render_query(query: str, values: PlaceholderValues) -> str:
    """``query`` with its placeholders replaced.  Values are escaped for a PromQL
    double-quoted string; ``{{canary_alloc_ids}}`` becomes a regex alternation
    (``id1|id2``) for ``=~``.  Raises ``ValueError`` for an unknown placeholder,
    or for ``{{canary_alloc_ids}}`` with no canaries (an empty regex would match
    every series without the label)."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "canary_alloc_ids":
            if not values.canary_alloc_ids:
                raise ValueError("{{canary_alloc_ids}} with no canary allocations")
            regex = "|".join(_REGEX_SPECIAL.sub(r"\\\1", a) for a in values.canary_alloc_ids)
            return _escape_string(regex)
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {match.group(0)}")
        return _escape_string(str(getattr(values, name)))

    return _PLACEHOLDER.sub(replace, query)


_CLOSERS = {")": "(", "]": "[", "}": "{"}
_TRAILING_OPERATOR = re.compile(r"(?:[-+*/%^,=<>!]|\b(?:and|or|unless|by|without|on|ignoring|offset))\s*$")


def promql_problems(query: str) -> list[tuple[int, str]]:
    """A local sanity check of PromQL text (offset, reason): brackets balance, strings
    end, the query does not end in an operator.  Not a parser: Prometheus'
    ``/api/v1/parse_query`` is the real judge when it is reachable."""
    problems: list[tuple[int, str]] = []
    stack: list[tuple[str, int]] = []
    i, n = 0, len(query)
    code_end = 0
    while i < n:
        ch = query[i]
        if ch == "#":
            end = query.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch in "\"'`":
            end = _string_end(query, i)
            if end < 0:
                problems.append((i, f"unterminated string starting with {ch}"))
                return problems
            i = end + 1
            code_end = i
            continue
        if ch in "([{":
            stack.append((ch, i))
        elif ch in _CLOSERS:
            if not stack or stack[-1][0] != _CLOSERS[ch]:
                problems.append((i, f"unexpected {ch!r}"))
                return problems
            stack.pop()
        if not ch.isspace():
            code_end = i + 1
        i += 1
    if stack:
        ch, at = stack[-1]
        problems.append((at, f"{ch!r} is never closed"))
    elif not query[:code_end].strip():
        problems.append((0, "no expression"))
    elif _TRAILING_OPERATOR.search(query[:code_end]):
        problems.append((code_end - 1, "the expression ends with an operator"))
    return problems


def _string_end(text: str, start: int) -> int:
    quote = text[start]
    i = start + 1
    while i < len(text):
        if text[i] == "\\" and quote != "`":
            i += 2
            continue
        if text[i] == quote:
            return i
        if text[i] == "\n" and quote != "`":
            return -1
        i += 1
    return -1


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
