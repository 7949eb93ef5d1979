"""lint and a real Nomad agree on invalid jobs: each goes through the agent's validate endpoint.

Runs when a ``nomad`` binary is on PATH (the session's own ``nomad agent -dev``,
never NOMAD_ADDR); the agent's version decides the rules lint applies.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.jobspec.validate import (
    error_leaves,
    format_validation_errors,
    format_validation_warnings,
    validate_job,
)
from reconciler.lint.runner import lint_job
from reconciler.nomad.versions import version_from_agent_self

pytestmark = pytest.mark.real_nomad

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "validate"
TARGETS = json.loads((GOLDEN / "targets.json").read_text())["cases"]
# services, Connect (its admission hooks too), networks and multiregion
SERVICES = json.loads((GOLDEN / "services-connect.json").read_text())["cases"]
ARTIFACTS = json.loads((GOLDEN / "artifacts-csi.json").read_text())["cases"]  # checksums, csi_plugin
CONSTRAINT_TARGETS = json.loads((GOLDEN / "constraint-targets.json").read_text())["cases"]
# Accepted here on purpose (Go >= 1.22 / Unicode tables decide): see test_validate_versions.
ACCEPTED_CONSERVATIVELY = {"\\p{Foo}", "(?<name>x)"}
ZONES = zoneinfo.available_timezones()
RULE_NOTE = re.compile(r" \(rule of Nomad [^)]*\)$")


def _constraint_job(operand: str, rtarget: str) -> dict[str, Any]:
    return {
        "ID": "r", "Name": "r", "Type": "service", "Datacenters": ["dc1"],
        "Constraints": [{"LTarget": "${attr.kernel.name}", "RTarget": rtarget, "Operand": operand}],
        "TaskGroups": [{"Name": "g", "Tasks": [
            {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}]}],
    }  # fmt: skip


JOBS = [pytest.param(case["job"]["Job"], id=case["name"]) for case in TARGETS + SERVICES + ARTIFACTS] + [
    pytest.param(_constraint_job(c["operand"], c["rtarget"]), id=f"{c['operand']}:{c['rtarget']!r}")
    for c in CONSTRAINT_TARGETS
    if not (c["operand"] == "regexp" and c["rtarget"] in ACCEPTED_CONSERVATIVELY)
]


@pytest.fixture(scope="module")
def agent(nomad_agent: str) -> Any:
    with httpx.Client(base_url=nomad_agent, timeout=30) as http:
        version = version_from_agent_self(http.get("/v1/agent/self").json())
        yield http, version


@pytest.mark.parametrize("job", JOBS)
def test_lint_says_what_nomad_says(agent: Any, job: dict[str, Any]) -> None:
    http, version = agent
    response = http.put("/v1/validate/job", json={"Job": job})
    result = validate_job(job, version=version, time_zones=ZONES)
    if response.status_code == 500:
        # an admission mutator refused the job: the request fails, as register would
        assert result.refused
        nomad_errors = [response.text]
    else:
        body = response.json()
        nomad_errors = body["ValidationErrors"] or []
        assert not result.refused
        assert format_validation_errors(result.errors) == body["Error"]
        assert format_validation_warnings(result.warnings) == body["Warnings"]
    assert list(result.errors) == nomad_errors

    expected = [" ".join((*prefixes, leaf)) for e in nomad_errors for prefixes, leaf in error_leaves(e)]
    findings = lint_job(job, path="j.nomad", source_format="json", nomad_version=version,
                        time_zones=ZONES)  # fmt: skip
    said = [RULE_NOTE.sub("", d.message) for d in findings if d.rule == "nomad-validate"]
    assert said == expected
