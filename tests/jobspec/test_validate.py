"""validate_job against Nomad 1.0.18's own answers (corpus + register transcripts)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.jobspec.validate import (
    ValidationResult,
    cron_spec_error,
    format_go_duration,
    format_validation_errors,
    format_validation_warnings,
    path_escapes_alloc_dir,
    validate_job,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
JOBSPEC = GOLDEN / "jobspec"
MANIFEST = json.loads((JOBSPEC / "manifest.json").read_text())
VALID = MANIFEST["valid"]
FAILS_AT_VALIDATE = [e for e in MANIFEST["invalid"] if e["fails_at"] == "validate"]


@pytest.mark.parametrize("entry", VALID, ids=lambda e: e["file"])
def test_valid_corpus_jobs_validate_with_recorded_warnings(entry: dict[str, Any]) -> None:
    job = json.loads((JOBSPEC / entry["output"]).read_text())["Job"]
    recorded = json.loads((JOBSPEC / entry["validate"]).read_text())
    result = validate_job(job)
    assert result.errors == ()
    assert format_validation_warnings(result.warnings) == recorded["Warnings"]
    assert recorded["Warnings"] == entry["validate_warnings"]


@pytest.mark.parametrize("entry", FAILS_AT_VALIDATE, ids=lambda e: e["file"])
def test_invalid_corpus_jobs_fail_with_nomads_texts(entry: dict[str, Any]) -> None:
    recorded = json.loads((JOBSPEC / entry["error"]).read_text())
    job = json.loads(recorded["cli_run_output"]["stdout"])["Job"]
    body = recorded["validate_api"]["body"]
    result = validate_job(job)
    assert list(result.errors) == body["ValidationErrors"]
    assert format_validation_errors(result.errors) == body["Error"]
    assert format_validation_warnings(result.warnings) == body["Warnings"]


def register_rejections() -> list[tuple[str, dict[str, Any], str]]:
    """(step, job, exact HTTP 500 body) for every validation rejection in transcript 10."""
    cases = []
    path = GOLDEN / "api" / "10-invalid-registrations.jsonl"
    for line in path.read_text().splitlines():
        exchange = json.loads(line)
        request, response = exchange["request"], exchange["response"]
        body = request.get("body")
        if (
            response["status"] == 500
            and isinstance(body, dict)
            and isinstance(body.get("Job"), dict)
        ):
            cases.append((exchange["step"], body["Job"], response["body"]))
    return cases


@pytest.mark.parametrize(("step", "job", "text"), register_rejections(), ids=lambda v: "")
def test_register_rejections_match_nomads_multierror_text(
    step: str, job: dict[str, Any], text: str
) -> None:
    assert format_validation_errors(validate_job(job).errors) == text, step


def test_transcript_has_the_rejections_we_rely_on() -> None:
    steps = " ".join(step for step, _, _ in register_rejections())
    for needle in ("Datacenters", "TaskGroups", "several", "job type", "space", "update", "cron"):
        assert needle in steps


def test_validate_endpoint_transcript_matches() -> None:
    path = GOLDEN / "api" / "10-invalid-registrations.jsonl"
    exchanges = [json.loads(line) for line in path.read_text().splitlines()]
    (exchange,) = [e for e in exchanges if e["request"]["path"] == "/v1/validate/job"]
    body = exchange["response"]["body"]
    result = validate_job(exchange["request"]["body"]["Job"])
    assert list(result.errors) == body["ValidationErrors"]
    assert format_validation_errors(result.errors) == body["Error"]
    assert format_validation_warnings(result.warnings) == body["Warnings"]


# --- hand-written jobs for the rules the corpus does not record ---------------


def base_job(**changes: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "ID": "j",
        "Name": "j",
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "g",
                "Tasks": [{"Name": "t", "Driver": "exec", "Config": {"command": "/bin/true"}}],
            }
        ],
    }
    job.update(changes)
    return job


def group_errors(result: ValidationResult) -> str:
    (only,) = result.errors
    assert only.startswith("Task group g validation failed: ")
    return only


def test_base_job_is_valid() -> None:
    assert validate_job(base_job()) == ValidationResult()


def test_missing_id_and_name() -> None:
    job = base_job()
    del job["ID"], job["Name"]
    assert validate_job(job).errors == ("Missing job ID", "Missing job name")


def test_invalid_job_type() -> None:
    assert validate_job(base_job(Type="webapp")).errors == ('Invalid job type: "webapp"',)


def test_group_without_tasks() -> None:
    job = base_job()
    job["TaskGroups"][0]["Tasks"] = []
    assert group_errors(validate_job(job)) == (
        "Task group g validation failed: 1 error occurred:\n\t* Missing tasks for task group\n\n"
    )


def test_duplicate_task_names() -> None:
    job = base_job()
    tasks = job["TaskGroups"][0]["Tasks"]
    tasks.append(copy.deepcopy(tasks[0]))
    assert "Task 2 redefines 't' from task 1" in group_errors(validate_job(job))


def test_two_unnamed_checks_collide_on_the_default_name() -> None:
    job = base_job()
    check = {"Type": "tcp", "Interval": 10_000_000_000, "Timeout": 2_000_000_000}
    job["TaskGroups"][0]["Tasks"][0]["Services"] = [
        {"Name": "web", "PortLabel": "http", "Checks": [dict(check), dict(check)]}
    ]
    text = group_errors(validate_job(job))
    assert 'check "service: \\"web\\" check" is duplicate' in text


def test_named_checks_do_not_collide() -> None:
    job = base_job()
    check = {"Type": "tcp", "Interval": 10_000_000_000, "Timeout": 2_000_000_000}
    job["TaskGroups"][0]["Tasks"][0]["Services"] = [
        {
            "Name": "web",
            "PortLabel": "http",
            "Checks": [{**check, "Name": "a"}, {**check, "Name": "b"}],
        }
    ]
    job["TaskGroups"][0]["Networks"] = [{"DynamicPorts": [{"Label": "http"}]}]
    assert validate_job(job).errors == ()
    # without the port, the service names a port the group does not have
    del job["TaskGroups"][0]["Networks"]
    assert 'port label "http" referenced by services web does not exist' in group_errors(
        validate_job(job)
    )


def test_ambiguous_reschedule_policy_on_service_job() -> None:
    job = base_job()
    job["TaskGroups"][0]["ReschedulePolicy"] = {"Attempts": 3, "Interval": 3_600_000_000_000}
    assert group_errors(validate_job(job)) == (
        "Task group g validation failed: 1 error occurred:\n\t* 2 errors occurred:\n"
        "\t* Reschedule Policy with Attempts = 3, Interval = 1h0m0s, and Unlimited = true is ambiguous\n"
        "\t* If Attempts >0, Unlimited cannot also be set to true\n\n\n\n"
    )


def test_reschedule_policy_with_unlimited_false_is_fine() -> None:
    job = base_job()
    job["TaskGroups"][0]["ReschedulePolicy"] = {
        "Attempts": 3,
        "Interval": 3_600_000_000_000,
        "Unlimited": False,
    }
    assert validate_job(job).errors == ()


def test_periodic_on_service_job() -> None:
    job = base_job(Periodic={"Spec": "@daily"})
    assert validate_job(job).errors == ('Periodic can only be used with "batch" scheduler',)
    assert validate_job({**job, "Type": "batch"}).errors == ()


def test_script_check_with_task_only_in_group_services() -> None:
    job = base_job()
    check = {
        "Name": "probe",
        "Type": "script",
        "Command": "/bin/true",
        "Interval": 10_000_000_000,
        "Timeout": 2_000_000_000,
        "TaskName": "t",
    }
    job["TaskGroups"][0]["Tasks"][0]["Services"] = [{"Name": "web", "Checks": [check]}]
    assert group_errors(validate_job(job)) == (
        "Task group g validation failed: 1 error occurred:\n\t* Task group service validation "
        "failed: 1 error occurred:\n\t* Check probe is invalid: only task group service checks "
        "can be assigned tasks\n\n\n\n"
    )
    job["TaskGroups"][0]["Tasks"][0]["Services"] = []
    job["TaskGroups"][0]["Services"] = [{"Name": "web", "Checks": [check]}]
    assert validate_job(job).errors == ()


def test_batch_job_with_update_block_is_refused() -> None:
    job = base_job(Type="batch")
    job["TaskGroups"][0]["Update"] = {"MaxParallel": 1}
    assert 'Job type "batch" does not allow update block' in group_errors(validate_job(job))


def test_auto_promote_without_canary_is_an_error() -> None:
    job = base_job(Update={"AutoPromote": True})
    assert "Auto Promote requires a Canary count greater than zero" in group_errors(
        validate_job(job)
    )


def test_template_destination_escaping_alloc_dir() -> None:
    job = base_job()
    job["TaskGroups"][0]["Tasks"][0]["Templates"] = [
        {"EmbeddedTmpl": "x", "DestPath": "../../etc/passwd"}
    ]
    assert "destination escapes allocation directory" in group_errors(validate_job(job))


def test_warning_when_only_some_canary_groups_auto_promote() -> None:
    job = base_job()
    group = job["TaskGroups"][0]
    group["Update"] = {"Canary": 1, "AutoPromote": True}
    job["TaskGroups"].append({**copy.deepcopy(group), "Name": "h", "Update": {"Canary": 1}})
    result = validate_job(job)
    assert result.errors == ()
    assert result.warnings == (
        "auto_promote must be true for all groups to enable automatic promotion",
    )


def test_wrong_json_types_give_an_error_not_a_crash() -> None:
    job = base_job()
    job["TaskGroups"][0]["Count"] = "two"
    result = validate_job(job)
    assert len(result.errors) == 1 and "structure" in result.errors[0]


@pytest.mark.parametrize(
    ("errors", "text"),
    [
        ([], ""),
        (["a"], "1 error occurred:\n\t* a\n\n"),
        (["a", "b"], "2 errors occurred:\n\t* a\n\t* b\n\n"),
    ],
)
def test_format_validation_errors(errors: list[str], text: str) -> None:
    assert format_validation_errors(errors) == text


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (30_000_000_000, "30s"),
        (90_000_000_000, "1m30s"),
        (60_000_000_000, "1m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (1_500_000_000, "1.5s"),
        (500_000_000, "500ms"),
        (-2_000_000_000, "-2s"),
    ],
)
def test_go_duration_format(ns: int, text: str) -> None:
    assert format_go_duration(ns) == text


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("*/5 * * * *", None),
        ("15 3 * * 1-5", None),
        ("@daily", None),
        ("0 0 1 jan,jul mon", None),
        ("61 25 * * *", "syntax error in minute field: '61'"),
        ("0 25 * * *", "syntax error in hour field: '25'"),
        ("every day", "missing field(s)"),
        ("0 0 32 * *", "syntax error in day-of-month field: '32'"),
    ],
)
def test_cron_spec_errors(spec: str, error: str | None) -> None:
    assert cron_spec_error(spec) == error


@pytest.mark.parametrize(
    ("path", "escapes"),
    [("local/x", False), ("/etc/x", False), ("../alloc/x", False), ("../../x", True), ("", False)],
)
def test_path_escapes_alloc_dir(path: str, escapes: bool) -> None:
    assert path_escapes_alloc_dir("task", path) is escapes


def test_reschedule_attempts_that_do_not_fit_the_interval() -> None:
    # the case of Nomad's own TestReschedulePolicy_Validate: 10 delays of 20m do not fit 1h
    job = base_job(Type="batch")
    job["TaskGroups"][0]["ReschedulePolicy"] = {
        "Attempts": 10,
        "Interval": 3_600_000_000_000,
        "Delay": 1_200_000_000_000,
        "DelayFunction": "constant",
    }
    assert group_errors(validate_job(job)) == (
        "Task group g validation failed: 1 error occurred:\n\t* 2 errors occurred:\n"
        '\t* Nomad can only make 3 attempts in 1h0m0s with initial delay 20m0s and delay function "constant"\n'
        "\t* Set the interval to at least 3h20m0s to accommodate 10 attempts\n\n\n\n"
    )


def test_group_services_may_repeat_check_names_and_services() -> None:
    # TaskGroup.validateServices checks neither (structs.go v1.0.18 to v2.0.0); a real
    # 1.0.18 agent accepts it (tests/golden/validate/services-connect.json,
    # group-service-duplicates).  Only 1.1.0 to 1.1.2 refused a repeated service.
    job = base_job()
    check = {"Type": "tcp", "Interval": 10_000_000_000, "Timeout": 2_000_000_000}
    service = {"Name": "web", "PortLabel": "http", "Checks": [dict(check), dict(check)]}
    job["TaskGroups"][0]["Services"] = [service, copy.deepcopy(service)]
    assert validate_job(job).errors == ()
    for version in ((1, 1, 0), (1, 1, 2)):
        assert "Service web is duplicate" in group_errors(validate_job(job, version=version))
    assert validate_job(job, version=(1, 1, 3)).errors == ()


def test_migrate_without_health_check() -> None:
    job = base_job()
    job["TaskGroups"][0]["Migrate"] = {"MaxParallel": 1, "HealthCheck": ""}
    assert "Missing HealthCheck" in group_errors(validate_job(job))


def test_system_job_rules() -> None:
    job = base_job(Type="system")
    job["TaskGroups"][0]["Count"] = 2
    job["TaskGroups"][0]["ReschedulePolicy"] = {"Attempts": 1}
    errors = validate_job(job).errors
    assert errors[0] == (
        "Job task group g has count 2. Count cannot exceed 1 with system scheduler"
    )
    assert "System jobs should not have a reschedule policy" in errors[1]


def test_scaling_policy_bounds() -> None:
    job = base_job()
    job["TaskGroups"][0].update(Count=5, Scaling={"Min": 10, "Max": 0})
    text = group_errors(validate_job(job))
    assert text.startswith(
        "Task group g validation failed: 1 error occurred:\n\t* Task group scaling policy "
        "validation failed: 3 errors occurred:\n"
        "\t* Scaling policy invalid: maximum count must not be less than minimum count\n"
        "\t* Scaling policy invalid: task group count must not be greater than maximum count "
        "in scaling policy\n"
        "\t* Scaling policy invalid: task group count must not be less than minimum count "
        "in scaling policy\n"
    )
    job["TaskGroups"][0].update(Count=5, Scaling={"Min": 1, "Max": 10})
    assert validate_job(job).errors == ()


RESOURCE_CASES = [
    case
    for name in ("resources.json", "structs.json")
    for case in json.loads((GOLDEN / "validate" / name).read_text())["cases"]
]


@pytest.mark.parametrize("case", RESOURCE_CASES, ids=lambda c: c["name"])
def test_struct_checks_match_a_real_nomad(case: dict[str, Any]) -> None:
    """Minimums (``minimum MemoryMB value is 10; got 5``) nested as Nomad nests them; a
    task-level disk is no error (the API drops it before validating); affinity operators."""
    body = case["validate_response"]
    result = validate_job(case["job"]["Job"])
    assert list(result.errors) == (body["ValidationErrors"] or [])
    assert format_validation_errors(result.errors) == body["Error"]
