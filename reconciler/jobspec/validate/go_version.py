"""Does a ``version`` or ``semver`` constraint target parse as Nomad parses it?

Pure.  Nomad reads the target of a ``version`` constraint with hashicorp/go-version's
``NewConstraint`` and of a ``semver`` one with its own copy,
``helper/constraints/semver`` (``Constraint.Validate``/``Affinity.Validate`` in
nomad/structs/structs.go, v1.0.18 to v2.0.x).  Both split the target on
commas and match each part against ``^\\s*(operator)\\s*(version)\\s*$``; the
version grammar differs (semver needs a ``-`` before a pre-release) and only
go-version knows ``~>``.  The grammars below are go-version's
``VersionRegexpRaw``/``SemverRegexpRaw`` (vendor/github.com/hashicorp/go-version/version.go
at v1.0.18, unchanged since), written for Python's ``re`` (Go's ``\\s`` is ASCII).
"""

from __future__ import annotations

import re

_SPACE = r"[\t\n\f\r ]*"
_SEGMENTS = r"v?([0-9]+(?:\.[0-9]+)*?)"
_BUILD = r"(?:\+(?:[0-9A-Za-z\-~]+(?:\.[0-9A-Za-z\-~]+)*))??"
_VERSION = (
    _SEGMENTS
    + r"(?:-(?:[0-9]+[0-9A-Za-z\-~]*(?:\.[0-9A-Za-z\-~]+)*)"
    + r"|(?:-?(?:[A-Za-z\-~]+[0-9A-Za-z\-~]*(?:\.[0-9A-Za-z\-~]+)*)))?"
    + _BUILD
)
_SEMVER = (
    _SEGMENTS
    + r"(?:-(?:[0-9]+[0-9A-Za-z\-~]*(?:\.[0-9A-Za-z\-~]+)*)"
    + r"|(?:-(?:[A-Za-z\-~]+[0-9A-Za-z\-~]*(?:\.[0-9A-Za-z\-~]+)*)))?"
    + _BUILD
)
_VERSION_CONSTRAINT = re.compile(f"{_SPACE}(?:=|!=|>=|<=|>|<|~>|){_SPACE}{_VERSION}{_SPACE}")
_SEMVER_CONSTRAINT = re.compile(f"{_SPACE}(?:=|!=|>=|<=|>|<|){_SPACE}{_SEMVER}{_SPACE}")
_INT64_MAX = 2**63 - 1


def version_constraint_error(target: str, *, semver: bool = False) -> str | None:
    """``None`` if the constraint parses, else go-version's error text."""
    grammar = _SEMVER_CONSTRAINT if semver else _VERSION_CONSTRAINT
    for single in target.split(","):
        match = grammar.fullmatch(single)
        if match is None:
            return f"Malformed constraint: {single}"
        for segment in match.group(1).split("."):
            if int(segment) > _INT64_MAX:  # strconv.ParseInt
                return (
                    f'Error parsing version: strconv.ParseInt: parsing "{segment}": '
                    "value out of range"
                )
    return None
