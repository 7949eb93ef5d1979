"""A check's PromQL text: its ``{{placeholder}}``s, how they are filled in, and a local syntax check.

Pure text in, text or (offset, reason) pairs out; Prometheus' own
``/api/v1/parse_query`` is the real judge when it is reachable.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

#: Placeholder names a query may use, written ``{{name}}`` (spaces inside allowed).
PLACEHOLDERS = ("job", "namespace", "group", "deployment_id", "version", "canary_alloc_ids", "alloc_ids")
#: Placeholders filled with the analysed allocations: a group's canaries, or (background
#: analysis of a rolling update without canaries) the deployment's new allocations.
ALLOC_PLACEHOLDERS = ("canary_alloc_ids", "alloc_ids")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

@dataclass(frozen=True)
class PlaceholderValues:
    """What the placeholders of a query stand for, for one group of one deployment."""

    job: str
    namespace: str
    group: str
    deployment_id: str
    version: int
    canary_alloc_ids: tuple[str, ...]  # the allocations analysed (``{{alloc_ids}}`` too)


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
    (``id1|id2``) for ``=~``, and so does its alias ``{{alloc_ids}}``.  Raises
    ``ValueError`` for an unknown placeholder, or for either with no allocations
    (an empty regex would match every series without the label)."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ALLOC_PLACEHOLDERS:
            if not values.canary_alloc_ids:
                raise ValueError(f"{{{{{name}}}}} with no allocations")
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
