"""Checks of fields Nomad added after 1.0, per release (no recording: no later agent here).

Each case names the Nomad source it follows; before the release that added a field,
Nomad's HTTP API drops it, so the job is judged as if it were absent.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reconciler.jobspec.validate import validate_job
from reconciler.jobspec.validate.target import representative_versions

SECOND = 1_000_000_000
HOUR = 3600 * SECOND


def job(**group: Any) -> dict[str, Any]:
    return {
        "ID": "j", "Name": "j", "Type": "service", "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", **group, "Tasks": [
            {"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}]}],
    }  # fmt: skip


def group_items(version: tuple[int, int, int], spec: dict[str, Any]) -> list[str]:
    """The group's own error items (its multierror's entries)."""
    errors = validate_job(spec, version=version).errors
    if not errors:
        return []
    (only,) = errors
    head = "Task group g validation failed: "
    assert only.startswith(head)
    body = only[len(head) :]
    return [item.rstrip("\n") for item in body.split("\n\t* ")[1:]]


def test_max_client_disconnect_from_1_3_to_1_9() -> None:
    # TaskGroup.Validate, nomad/structs/structs.go v1.3.0 .. v1.9.x; ignored from v1.10.0
    spec = job(MaxClientDisconnect=-HOUR, StopAfterClientDisconnect=HOUR)
    both = (
        "Task group cannot be configured with both max_client_disconnect and "
        "stop_after_client_disconnect"
    )
    for version in ((1, 3, 0), (1, 5, 0), (1, 9, 4)):
        assert group_items(version, spec) == [both, "max_client_disconnect cannot be negative"]
    for version in ((1, 0, 18), (1, 2, 0), (1, 10, 0), (2, 0, 0)):
        assert group_items(version, spec) == []


def test_stop_after_client_disconnect_is_ignored_from_1_10() -> None:
    # Job.Validate checks it up to v1.9.x; the HTTP API stops converting it in v1.10.0
    spec = job(StopAfterClientDisconnect=-HOUR)
    assert validate_job(spec, version=(1, 9, 0)).errors == (
        "stop_after_client_disconnect must be a positive value",
    )
    assert validate_job(spec, version=(1, 10, 0)).errors == ()


@pytest.mark.parametrize(
    ("disconnect", "job_type", "expected"),
    [
        ({"LostAfter": -1}, "service", ["lost_after cannot be a negative duration"]),
        (
            {"StopOnClientAfter": -1, "LostAfter": HOUR},
            "batch",
            [
                "stop_after cannot be a negative duration",
                "Disconnect cannot be configured with both lost_after and stop_after",
            ],
        ),
        (
            {"StopOnClientAfter": HOUR},
            "system",
            ["stop_after can only be used with service or batch job types"],
        ),
        ({"Reconcile": "newest"}, "service", ["reconcile option is invalid: newest"]),
        ({"Reconcile": "keep_original", "LostAfter": HOUR, "Replace": False}, "service", []),
    ],
)
def test_disconnect_block_from_1_8(
    disconnect: dict[str, Any], job_type: str, expected: list[str]
) -> None:
    # DisconnectStrategy.Validate (nomad/structs/group.go v1.8.0, unchanged to v2.0.x); its
    # errors are appended one by one to the group's (multierror.Append, structs.go v1.8.0)
    spec = job(Disconnect=disconnect)
    spec["Type"] = job_type
    if job_type == "system":
        spec["TaskGroups"][0]["Count"] = 1
    for version in ((1, 8, 0), (1, 10, 0), (2, 0, 0)):
        assert group_items(version, spec) == expected
    assert group_items((1, 7, 0), spec) == []  # before 1.8 the API drops the block


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"MaxClientDisconnect": HOUR}, "using both lost_after and max_client_disconnect is not allowed"),
        (
            {"StopAfterClientDisconnect": HOUR},
            "using both stop_after_client_disconnect and stop_on_client_after is not allowed",
        ),
        ({"PreventRescheduleOnLost": True}, "using both prevent_reschedule_on_lost and replace is not allowed"),
    ],
)
def test_disconnect_with_the_fields_it_replaces_in_1_8_and_1_9(fields: dict[str, Any], expected: str) -> None:
    # TaskGroup.Canonicalize copies the old fields into the block (and api.DisconnectStrategy's
    # Canonicalize sets replace), then TaskGroup.Validate returns at the conflict, before any
    # other check of the group (structs.go v1.8.0/v1.9.0); v1.10.0 drops the old fields.
    spec = job(Disconnect={}, RestartPolicy={"Mode": "bogus"}, **fields)
    for version in ((1, 8, 0), (1, 9, 0)):
        assert group_items(version, spec) == [expected]
    assert expected not in "".join(validate_job(spec, version=(1, 10, 0)).errors)


def test_group_sub_validators_are_flattened_from_1_8() -> None:
    # TaskGroup.Validate: mErr.Errors = append(...) keeps RestartPolicy.Validate's multierror
    # as one item up to v1.7.x; multierror.Append flattens it from v1.8.0
    spec = job(RestartPolicy={"Mode": "bogus", "Attempts": 2, "Interval": HOUR, "Delay": SECOND})
    assert validate_job(spec, version=(1, 7, 0)).errors == (
        "Task group g validation failed: 1 error occurred:\n"
        '\t* 1 error occurred:\n\t* Unsupported restart mode: "bogus"\n\n\n\n',
    )
    assert validate_job(spec, version=(1, 8, 0)).errors == (
        'Task group g validation failed: 1 error occurred:\n\t* Unsupported restart mode: "bogus"\n\n',
    )


def test_ui_description_from_1_8() -> None:
    # Job.Validate, structs.go v1.8.0: at most 1000 bytes (Go's len)
    spec = job()
    spec["UI"] = {"Description": "é" * 501}
    assert validate_job(spec, version=(1, 8, 0)).errors == (
        "UI description must be under 1000 characters, currently 1002",
    )
    assert validate_job(spec, version=(1, 7, 0)).errors == ()
    spec["UI"]["Description"] = "x" * 1000
    assert validate_job(spec, version=(1, 8, 0)).errors == ()


def test_task_actions_from_1_7() -> None:
    # Action.Validate (nomad/structs/actions.go v1.7.0 .. v2.0.x) and Task.Validate's
    # duplicate check, reported once per name (structs.go v1.7.0)
    spec = job()
    spec["TaskGroups"][0]["Tasks"][0]["Actions"] = [
        {"Name": "ok", "Command": "/bin/date"},
        {"Name": "bad name", "Command": ""},
        {"Name": "ok", "Command": "/bin/date"},
        {"Name": "ok", "Command": "/bin/date"},
    ]
    (error,) = validate_job(spec, version=(1, 7, 0)).errors
    assert error == (
        "Task group g validation failed: 1 error occurred:\n"
        "\t* Task t validation failed: 2 errors occurred:\n"
        "\t* Action bad name validation failed: 2 errors occurred:\n"
        "\t* command cannot be empty\n"
        "\t* invalid name 'bad name'\n\n\n"
        "\t* Action ok defined multiple times\n\n\n\n"
    )
    assert validate_job(spec, version=(1, 6, 0)).errors == ()


def test_each_later_rule_has_its_own_span() -> None:
    spans = representative_versions()
    for version in ((1, 3, 0), (1, 7, 0), (1, 8, 0), (1, 10, 0)):
        assert version in spans


def test_the_input_is_never_changed() -> None:
    spec = job(Disconnect={}, MaxClientDisconnect=HOUR)
    before = copy.deepcopy(spec)
    validate_job(spec, version=(1, 8, 0))
    assert spec == before
