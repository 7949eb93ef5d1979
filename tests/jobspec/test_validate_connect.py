"""Services, Connect, networks, multiregion, artifact checksums and CSI plugins, against a
real Nomad 1.0.18's answers.

Recorded (tests/golden/validate/services-connect.json and artifacts-csi.json, by
tests/golden/record_validate.py):
per case the HCL, the job ``nomad job run -output`` prints, the validate endpoint's
answer and ``nomad job validate``'s.  Nomad's rules: nomad/structs/services.go,
structs.go (validateServices, validateNetworks, Task.Validate's connect proxy and
csi_plugin checks, TaskArtifact.validateChecksum), structs_oss.go (Multiregion.Validate) and the admission hooks
nomad/job_endpoint_hook_connect.go and job_endpoint_hook_expose_check.go, v1.0.18.
"""

from __future__ import annotations

import copy
import json
import re
import zoneinfo
from pathlib import Path
from typing import Any

import pytest

from reconciler.jobspec.hcl_convert import convert_hcl
from reconciler.jobspec.validate import (
    format_validation_errors,
    format_validation_warnings,
    validate_job,
)
from reconciler.lint.runner import lint_job

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "validate"
CASES = [
    *json.loads((GOLDEN / "services-connect.json").read_text())["cases"],
    *json.loads((GOLDEN / "artifacts-csi.json").read_text())["cases"],  # checksums, csi_plugin
]
ZONES = zoneinfo.available_timezones()
RULE_NOTE = re.compile(r" \(rule of Nomad [^)]*\)$")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_the_converter_prints_what_nomad_prints(case: dict[str, Any]) -> None:
    assert convert_hcl(case["hcl"], path=f"{case['name']}.nomad") == case["job"]["Job"]


@pytest.mark.parametrize("case", [c for c in CASES if "validate_response" in c], ids=lambda c: c["name"])
def test_validation_matches_a_real_nomad_1_0_18(case: dict[str, Any]) -> None:
    body = case["validate_response"]
    result = validate_job(case["job"]["Job"], version=(1, 0, 18), time_zones=ZONES)
    assert not result.refused
    assert list(result.errors) == (body["ValidationErrors"] or [])
    assert format_validation_errors(result.errors) == body["Error"]
    assert format_validation_warnings(result.warnings) == body["Warnings"]
    cli = case["cli_validate"]
    assert (cli["exit_code"] != 0) == bool(result.errors)


@pytest.mark.parametrize("case", [c for c in CASES if "validate_refused" in c], ids=lambda c: c["name"])
def test_a_job_an_admission_hook_refuses_is_refused_with_its_words(case: dict[str, Any]) -> None:
    refused = case["validate_refused"]
    result = validate_job(case["job"]["Job"], version=(1, 0, 18), time_zones=ZONES)
    assert refused["status"] == 500
    assert result.refused and list(result.errors) == [refused["body"]]
    # register refuses it the same way (`nomad job validate` hides it behind a local check)
    assert f"Unexpected response code: 500 ({refused['body']})" in case["cli_run"]["stderr"]
    findings = lint_job(case["job"]["Job"], path="j.nomad", nomad_version=(1, 0, 18))
    said = [RULE_NOTE.sub("", d.message) for d in findings if d.rule == "nomad-validate"]
    assert said == [refused["body"]]


def test_the_cases_cover_every_connect_hook_and_struct() -> None:
    said = json.dumps(CASES)
    for text in (
        "Consul Connect must be exclusively native",
        "Consul Connect sidecars require exactly 1 network",
        "Consul Connect sidecar requires bridge network",
        "Consul Connect gateways require exactly 1 network",
        "One Consul Gateway Configuration Entry must be set",
        "Consul Gateway Bind Address must set valid Port",
        "Consul Ingress Listener requires protocol",
        "Consul Linked Service TLS requires CAFile",
        "is Connect Native and requires setting the task",
        "cannot have \\\"connect\\\" block",
        "requires use of sidecar_proxy",
        "error in job mutator connect",
        "error in job mutator expose-check",
        "Multiregion jobs are unlicensed.",
        "Port label http already in use",
        "referenced by services s does not exist",
        "No Connect services in task group with Connect proxy",
    ):
        assert text in said, text


def _case(name: str) -> dict[str, Any]:
    return next(c for c in CASES if c["name"] == name)


def test_the_connect_hooks_are_modelled_for_1_0_only() -> None:
    # job_endpoint_hook_connect.go changes in every later minor release (v1.1.0: lowercase
    # names; v2.0.0: "cni/*" networks allowed for sidecars ...): past 1.0 nothing is said
    # rather than 1.0's words.
    # A native service's task is named or refused alike by every release (v1.0.18 to v2.0.x).
    native = _case("native-ambiguous-bridge")
    for version in ((1, 0, 18), (1, 1, 0), (2, 0, 0)):
        result = validate_job(native["job"]["Job"], version=version)
        assert result.refused and result.errors == (native["validate_refused"]["body"],)
    sidecar = _case("sidecar-host-network")["job"]["Job"]
    assert validate_job(sidecar, version=(1, 0, 18)).errors
    assert validate_job(sidecar, version=(2, 0, 0)).errors == ()
    # lint, not told the release, names the span a finding belongs to
    findings = lint_job(sidecar, path="j.nomad")
    assert [d.message for d in findings if d.rule == "nomad-validate"] == [
        _case("sidecar-host-network")["validate_response"]["ValidationErrors"][0]
        + " (rule of Nomad < 2.0.0)"  # the same text to 1.10.x (job_endpoint_hook_connect.go)
    ]


def test_gateway_checks_are_modelled_for_1_0_only() -> None:
    # ConsulGateway.Validate changes in v1.1.0 (services.go); exclusivity does not
    job = _case("terminating-no-services")["job"]["Job"]
    assert validate_job(job, version=(1, 0, 18)).errors
    assert validate_job(job, version=(1, 1, 0)).errors == ()
    both = _case("connect-native-and-sidecar")["job"]["Job"]
    assert "Consul Connect must be exclusively native" in validate_job(both, version=(2, 0, 0)).errors[0]


def test_any_check_may_name_its_task_from_1_4_2() -> None:
    # TaskGroup.validateServices: "only script and gRPC checks should have tasks" is in
    # structs.go up to v1.4.1, gone in v1.4.2
    job = {
        "ID": "j", "Name": "j", "Type": "service", "Datacenters": ["dc1"],
        "TaskGroups": [{
            "Name": "g", "Networks": [{"DynamicPorts": [{"Label": "http"}]}],
            "Services": [{"Name": "s", "PortLabel": "http", "Checks": [{
                "Name": "c", "Type": "http", "Path": "/", "Interval": 10**10, "Timeout": 10**9,
                "TaskName": "t"}]}],
            "Tasks": [{"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}],
        }],
    }  # fmt: skip
    text = "Check c invalid: only script and gRPC checks should have tasks"
    for version in ((1, 0, 18), (1, 4, 1)):
        assert text in validate_job(job, version=version).errors[0]
    for version in ((1, 4, 2), (2, 0, 0)):
        assert validate_job(job, version=version).errors == ()


def test_sidecar_names_must_be_lowercase_from_1_1_to_1_10() -> None:
    # groupConnectSidecarValidate, nomad/job_endpoint_hook_connect.go v1.1.0 .. v1.10.x
    # (Consul assumes lowercase); v2.0.0 rewrote the function: not modelled there
    job = copy.deepcopy(_case("connect-valid-sidecar-and-ingress")["job"]["Job"])
    job["TaskGroups"][0]["Services"][0]["Name"] = "API"
    service_text = (
        'Consul Connect service name "API" in group "g" must not contain uppercase characters'
    )
    assert service_text not in validate_job(job, version=(1, 0, 18)).errors
    for version in ((1, 1, 0), (1, 10, 0)):
        assert validate_job(job, version=version).errors[0] == service_text
    assert service_text not in validate_job(job, version=(2, 0, 0)).errors
    job["TaskGroups"][0]["Services"][0]["Name"] = "api"
    job["TaskGroups"][0]["Name"] = "G"
    assert validate_job(job, version=(1, 5, 0)).errors[0] == (
        'Consul Connect group "G" with service "api" must not contain uppercase characters'
    )
    # a sidecar outside a bridge network, in the words of 1.1 to 1.10 as of 1.0
    sidecar = _case("sidecar-host-network")
    assert list(validate_job(sidecar["job"]["Job"], version=(1, 8, 0)).errors) == (
        sidecar["validate_response"]["ValidationErrors"]
    )
