"""Constraint, Affinity and Spread validation (job, group and task level).

Pure.  Source: ``Constraint.Validate``, ``Affinity.Validate``, ``Spread.Validate``
in nomad/structs/structs.go (the same at v1.0.18 and v2.0.0 but for the word
"stanza", "block" from v1.5.0).  A ``regexp`` target must compile with Go's
RE2 (``go_regexp``), a ``version``/``semver`` one parse as go-version does
(``go_version``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.validate.go_regexp import go_regexp_error
from reconciler.jobspec.validate.go_version import version_constraint_error
from reconciler.jobspec.validate.target import Target
from reconciler.jobspec.validate.texts import format_validation_errors, go_quote


def block_word(target: Target) -> str:
    """Nomad's messages say "stanza" before 1.5.0 and "block" from then on (structs.go v1.5.0)."""
    return "block" if target.at_least(1, 5, 0) else "stanza"


def placement_errors(obj: Mapping[str, Any], job_type: str, target: Target) -> list[str]:
    errs: list[str] = []
    for index, constraint in enumerate(obj.get("Constraints") or []):
        constraint_errs = validate_constraint(constraint)
        if constraint_errs:
            errs.append(
                f"Constraint {index + 1} validation failed: "
                + format_validation_errors(constraint_errs)
            )
    if job_type == "system":
        if obj.get("Affinities"):
            errs.append(f"System jobs may not have an affinity {block_word(target)}")
    else:
        for index, affinity in enumerate(obj.get("Affinities") or []):
            affinity_errs = validate_affinity(affinity)
            if affinity_errs:
                errs.append(
                    f"Affinity {index + 1} validation failed: "
                    + format_validation_errors(affinity_errs)
                )
    return errs


def spread_errors(obj: Mapping[str, Any], job_type: str, target: Target) -> list[str]:
    if job_type == "system":
        word = block_word(target)
        return [f"System jobs may not have a spread {word}"] if obj.get("Spreads") else []
    errs: list[str] = []
    for index, spread in enumerate(obj.get("Spreads") or []):
        spread_errs = validate_spread(spread)
        if spread_errs:
            errs.append(
                f"Spread {index + 1} validation failed: " + format_validation_errors(spread_errs)
            )
    return errs


def validate_constraint(constraint: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    operand = constraint.get("Operand", "")
    rtarget = str(constraint.get("RTarget", ""))
    if operand == "":
        errs.append("Missing constraint operand")
    require_ltarget = True
    if operand == "distinct_hosts":
        require_ltarget = False
    elif operand in ("set_contains_all", "set_contains_any", "set_contains"):
        if not rtarget:
            errs.append("Set contains constraint requires an RTarget")
    elif operand == "regexp" or operand in ("version", "semver"):
        errs += _target_errors(operand, rtarget, "constraint")
    elif operand == "distinct_property":
        if rtarget:
            if not rtarget.isdigit():
                errs.append(
                    f"Failed to convert RTarget {go_quote(rtarget)} to uint64: "
                    f"strconv.ParseUint: parsing {go_quote(rtarget)}: invalid syntax"
                )
            elif int(rtarget) < 1:
                errs.append(
                    f"Distinct Property must have an allowed count of 1 or greater: {rtarget} < 1"
                )
    elif operand in ("is_set", "is_not_set"):
        if rtarget:
            errs.append(f"Operator {go_quote(operand)} does not support an RTarget")
    elif operand in ("=", "==", "is", "!=", "not", "<", "<=", ">", ">="):
        if not rtarget:
            errs.append(f"Operator {go_quote(operand)} requires an RTarget")
    elif operand != "":
        errs.append(f"Unknown constraint type {go_quote(operand)}")
    if require_ltarget and not constraint.get("LTarget"):
        errs.append("No LTarget provided but is required by constraint")
    return errs


AFFINITY_SET_OPERATORS = ("set_contains_all", "set_contains_any", "set_contains")
AFFINITY_COMPARISONS = ("=", "==", "is", "!=", "not", "<", "<=", ">", ">=")


def _target_errors(operand: str, rtarget: str, kind: str) -> list[str]:
    """A ``regexp``/``version``/``semver`` target Nomad cannot parse, in its words."""
    if operand == "regexp":
        problem = go_regexp_error(rtarget)
        return [] if problem is None else [f"Regular expression failed to compile: {problem}"]
    problem = version_constraint_error(rtarget, semver=operand == "semver")
    if problem is None:
        return []
    label = "Semver" if operand == "semver" else "Version"
    return [f"{label} {kind} is invalid: {problem}"]


def validate_affinity(affinity: Mapping[str, Any]) -> list[str]:
    """Affinity.Validate (nomad/structs/structs.go v1.0.18 to v2.0.x)."""
    errs: list[str] = []
    operand = affinity.get("Operand", "")
    rtarget = str(affinity.get("RTarget", ""))
    if operand == "":
        errs.append("Missing affinity operand")
    if operand in AFFINITY_SET_OPERATORS:
        if not rtarget:
            errs.append("Set contains operators require an RTarget")
    elif operand in AFFINITY_COMPARISONS:
        if not rtarget:
            errs.append(f'Operator "{operand}" requires an RTarget')
    elif operand in ("regexp", "version", "semver"):
        errs += _target_errors(operand, rtarget, "affinity")
    else:
        errs.append(f'Unknown affinity operator "{operand}"')
    if not affinity.get("LTarget"):
        errs.append("No LTarget provided but is required")
    weight = affinity.get("Weight", 0)
    if weight == 0:
        errs.append("Affinity weight cannot be zero")
    if weight > 100 or weight < -100:
        errs.append("Affinity weight must be within the range [-100,100]")
    return errs


def validate_spread(spread: Mapping[str, Any]) -> list[str]:
    errs: list[str] = []
    if not spread.get("Attribute"):
        errs.append("Missing spread attribute")
    weight = spread.get("Weight", 0)
    if weight <= 0 or weight > 100:
        errs.append("Spread stanza must have a positive weight from 0 to 100")
    seen: set[str] = set()
    total = 0
    for target in spread.get("SpreadTarget") or []:
        value = target.get("Value", "")
        if value in seen:
            errs.append(f"Spread target value {go_quote(value)} already defined")
        seen.add(value)
        percent = target.get("Percent", 0)
        if percent < 0 or percent > 100:
            errs.append(
                f"Spread target percentage for value {go_quote(value)} must be between 0 and 100"
            )
        total += percent
    if total > 100:
        errs.append(f"Sum of spread target percentages must not be greater than 100%; got {total}%")
    return errs
