"""validate_job's newer checks, against a real Nomad 1.0.18's answers, and its rules per version.

Recorded (tests/golden/validate/): ``targets.json`` (constraint/affinity targets,
periodic time zones, devices, version-specific texts, each with the CLI's and the
validate endpoint's answer) and ``constraint-targets.json`` (162 regexp, version and
semver targets through ``PUT /v1/validate/job``).  Later versions' rules are from
Nomad's source at the tag each case names.
"""

from __future__ import annotations

import copy
import json
import zoneinfo
from pathlib import Path
from typing import Any

import pytest

from reconciler.jobspec.validate import format_validation_errors, validate_job
from reconciler.jobspec.validate.go_regexp import go_regexp_error
from reconciler.jobspec.validate.go_version import version_constraint_error
from reconciler.jobspec.validate.periodic import time_zone_error
from reconciler.jobspec.validate.target import describe_versions, representative_versions

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "validate"
TARGETS = json.loads((GOLDEN / "targets.json").read_text())["cases"]
CONSTRAINT_TARGETS = json.loads((GOLDEN / "constraint-targets.json").read_text())["cases"]
ZONES = zoneinfo.available_timezones()

# Go accepts these from a later release, or its answer depends on its Unicode tables:
# never rejected here (Nomad 1.0.18 built with Go 1.19 rejects them).
ACCEPTED_CONSERVATIVELY = {"\\p{Foo}", "(?<name>x)"}


@pytest.mark.parametrize("case", TARGETS, ids=lambda c: c["name"])
def test_struct_checks_match_a_real_nomad_1_0_18(case: dict[str, Any]) -> None:
    body = case["validate_response"]
    result = validate_job(case["job"]["Job"], version=(1, 0, 18), time_zones=ZONES)
    assert list(result.errors) == (body["ValidationErrors"] or [])
    assert format_validation_errors(result.errors) == body["Error"]
    # `nomad job validate` prints the same text and fails exactly then
    cli = case["cli_validate"]
    assert (cli["exit_code"] != 0) == bool(result.errors)
    if result.errors:
        assert body["Error"].rstrip("\n") in cli["stderr"] + cli["stdout"]


def _constraint_job(operand: str, rtarget: str) -> dict[str, Any]:
    return {
        "ID": "r", "Name": "r", "Type": "service", "Datacenters": ["dc1"],
        "Constraints": [{"LTarget": "${attr.kernel.name}", "RTarget": rtarget, "Operand": operand}],
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec"}]}],
    }  # fmt: skip


@pytest.mark.parametrize(
    "case", CONSTRAINT_TARGETS, ids=lambda c: f"{c['operand']}:{c['rtarget']!r}"
)
def test_constraint_targets_parse_as_nomad_parses_them(case: dict[str, Any]) -> None:
    errors = validate_job(_constraint_job(case["operand"], case["rtarget"])).errors
    if case["operand"] == "regexp" and case["rtarget"] in ACCEPTED_CONSERVATIVELY:
        assert case["error"] is not None and errors == ()
        return
    expected = (
        []
        if case["error"] is None
        else [f"Constraint 1 validation failed: {format_validation_errors([case['error']])}"]
    )
    assert list(errors) == expected


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("(a)(b)\\2", "error parsing regexp: invalid escape sequence: `\\2`"),  # no backreferences
        ("(?<=a)b", "error parsing regexp: invalid or unsupported Perl syntax: `(?<`"),
        ("a{2}{3}", "error parsing regexp: invalid nested repetition operator: `{2}{3}`"),
        ("x{1001}", "error parsing regexp: invalid repeat count: `{1001}`"),
        ("[[:word:]]+", None),
        ("\\p{Greek}+", None),
        ("(?i)^web-[0-9]+$", None),
    ],
)
def test_go_regexp_dialect(pattern: str, error: str | None) -> None:
    """Python's re would accept lookbehinds and backreferences; Go's RE2 does not."""
    assert go_regexp_error(pattern) == error


@pytest.mark.parametrize(
    ("target", "semver", "error"),
    [
        ("~> 1.2", False, None),
        ("~> 1.2", True, "Malformed constraint: ~> 1.2"),
        ("1.2beta", False, None),
        ("1.2beta", True, "Malformed constraint: 1.2beta"),
        (">= 1.0, < 2.0", True, None),
        ("1.99999999999999999999", False,
         'Error parsing version: strconv.ParseInt: parsing "99999999999999999999": value out of range'),
    ],
)  # fmt: skip
def test_version_and_semver_grammars_differ(target: str, semver: bool, error: str | None) -> None:
    assert version_constraint_error(target, semver=semver) == error


@pytest.mark.parametrize(
    ("zone", "known", "error"),
    [
        ("Europe/Berlin", ZONES, None),
        ("Mars/Olympus", ZONES, "unknown time zone Mars/Olympus"),
        ("Mars/Olympus", None, None),  # the server's zone database is not known: no verdict
        ("../etc/zone", None, "time: invalid location name"),
        ("/etc/localtime", None, "time: invalid location name"),
        ("UTC", frozenset(), None),
        ("Local", ZONES, None),
    ],
)
def test_time_zones(zone: str, known: frozenset[str] | None, error: str | None) -> None:
    assert time_zone_error(zone, known) == error


# --- rules that differ between releases -------------------------------------------------

BASE: dict[str, Any] = {
    "ID": "j", "Name": "j", "Type": "service", "Datacenters": ["dc1"],
    "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec"}]}],
}  # fmt: skip
PERIODIC = {"Enabled": True, "Spec": "@daily", "SpecType": "cron"}
AFFINITY = [{"LTarget": "${node.class}", "RTarget": "x", "Operand": "=", "Weight": 50}]


def _job(**changes: Any) -> dict[str, Any]:
    job = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            job.pop(key, None)
        else:
            job[key] = value
    return job


VERSION_CASES = [
    # Job.Canonicalize defaults datacenters to ["*"] (structs.go v1.5.0)
    ("no-datacenters", _job(Datacenters=None), (1, 0, 18), ["Missing job datacenters"]),
    ("no-datacenters", _job(Datacenters=None), (1, 4, 7), ["Missing job datacenters"]),
    ("no-datacenters", _job(Datacenters=None), (1, 5, 0), []),
    ("no-datacenters", _job(Datacenters=None), (2, 0, 0), []),
    # sysbatch jobs (structs.go v1.2.0)
    ("sysbatch", _job(Type="sysbatch"), (1, 0, 18), ['Invalid job type: "sysbatch"']),
    ("sysbatch", _job(Type="sysbatch"), (1, 2, 0), []),
    ("periodic-service", _job(Periodic=PERIODIC), (1, 0, 18),
     ['Periodic can only be used with "batch" scheduler']),
    ("periodic-service", _job(Periodic=PERIODIC), (1, 2, 0),
     ['Periodic can only be used with "batch" or "sysbatch" scheduler']),
    ("periodic-sysbatch", _job(Type="sysbatch", Periodic=PERIODIC), (1, 2, 0), []),
    ("parameterized-service", _job(ParameterizedJob={"Payload": "optional"}), (1, 0, 18),
     ['Parameterized job can only be used with "batch" scheduler']),
    ("parameterized-service", _job(ParameterizedJob={"Payload": "optional"}), (1, 10, 0),
     ['Parameterized job can only be used with "batch" or "sysbatch" scheduler']),
    # the admission hook checks the priority, after Job.Validate (job_endpoint_hooks.go v1.5.0)
    ("priority", _job(Priority=101, Datacenters=None), (1, 0, 18),
     ["Job priority must be between [1, 100]", "Missing job datacenters"]),
    ("priority", _job(Priority=101, Type="bogus"), (1, 5, 0),
     ['Invalid job type: "bogus"', "job priority must be between [1, 100]"]),
    ("core-type", _job(Type="_core"), (1, 0, 18), []),
    ("core-type", _job(Type="_core"), (1, 5, 0), ["job type cannot be core"]),
    # "stanza" became "block" (structs.go v1.5.0)
    ("system-affinity", _job(Type="system", Affinities=AFFINITY), (1, 0, 18),
     ["System jobs may not have an affinity stanza"]),
    ("system-affinity", _job(Type="system", Affinities=AFFINITY), (1, 5, 0),
     ["System jobs may not have an affinity block"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("job", "version", "errors"),
    [pytest.param(j, v, e, id=f"{name}@{'.'.join(map(str, v))}") for name, j, v, e in VERSION_CASES],
)
def test_rules_per_version(job: dict[str, Any], version: tuple[int, int, int], errors: list[str]) -> None:
    assert list(validate_job(job, version=version).errors) == errors


def test_the_default_version_is_the_oldest_supported() -> None:
    assert validate_job(_job(Datacenters=None)).errors == ("Missing job datacenters",)


SPANS = representative_versions()


@pytest.mark.parametrize(
    ("versions", "text"),
    [
        ([v for v in SPANS if v < (1, 5, 0)], "Nomad < 1.5.0"),
        ([v for v in SPANS if v < (1, 1, 0)], "Nomad < 1.1.0"),
        ([v for v in SPANS if v >= (1, 2, 0)], "Nomad >= 1.2.0"),
        ([v for v in SPANS if (1, 2, 0) <= v < (1, 5, 0)], "Nomad >= 1.2.0, < 1.5.0"),
        ([v for v in SPANS if v < (1, 1, 0) or v >= (1, 5, 0)], "Nomad < 1.1.0; Nomad >= 1.5.0"),
        (list(SPANS), "every Nomad"),
    ],
)
def test_describe_versions(versions: list[tuple[int, int, int]], text: str) -> None:
    assert describe_versions(versions) == text
