"""The checks a canary must pass: success conditions, checks, templates and their catalog.

Values only.  ``analysis_templates`` reads them from the template files;
``analysis`` judges a check's measurements; ``analysis_queries`` fills in and
checks a check's PromQL text.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.jobspec.analysis_files import ANALYSIS_DIR
from reconciler.model import Diagnostic


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

