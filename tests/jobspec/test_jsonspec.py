"""JSON job specifications decode like Nomad's API decodes them, shaped like `-output`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import JobSyntaxError, JobValidationError
from reconciler.jobspec.durations import DurationError, parse_go_duration
from reconciler.jobspec.json_positions import locate_json_value
from reconciler.jobspec.jsonspec import ignored_json_keys, parse_json_job

GOLDEN = Path(__file__).parent.parent / "golden" / "jobspec"
OUTPUTS = sorted(GOLDEN.glob("*.output.json"))


def minimal(**overrides: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "ID": "web",
        "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec"}]}],
    }
    job.update(overrides)
    return job


@pytest.mark.parametrize("output", OUTPUTS, ids=lambda p: p.name)
def test_nomad_output_reads_back_unchanged(output: Path) -> None:
    # What `nomad job run -output` printed is a valid JSON job file: same object, same key order.
    text = output.read_text()
    job = parse_json_job(text, path=output.name)
    expected = json.loads(text)["Job"]
    assert job == expected
    assert list(job) == list(expected)
    assert list(job["TaskGroups"][0]["Tasks"][0]) == list(expected["TaskGroups"][0]["Tasks"][0])


def test_bare_job_object_equals_wrapped_one() -> None:
    bare = parse_json_job(json.dumps(minimal()), path="a.json")
    wrapped = parse_json_job(json.dumps({"Job": minimal()}), path="b.json")
    assert bare == wrapped


def test_missing_fields_take_nomad_output_shape() -> None:
    expected = json.loads((GOLDEN / "01-minimal-service.output.json").read_text())["Job"]
    job = parse_json_job(
        json.dumps({"Job": {
            "ID": "s01-minimal", "Name": "s01-minimal", "Datacenters": ["dc1"],
            "TaskGroups": [{"Name": "app", "Tasks": [{
                "Name": "sleeper", "Driver": "raw_exec",
                "Config": {"command": "/bin/sleep", "args": ["3600"]},
            }]}],
        }}),
        path="min.json",
    )
    assert job == expected
    task = job["TaskGroups"][0]["Tasks"][0]
    assert task["User"] == "" and task["Leader"] is False and task["ShutdownDelay"] == 0
    assert task["Resources"] is None and job["Priority"] is None


def test_keys_match_case_insensitively_and_unknown_keys_are_dropped() -> None:
    job = parse_json_job(
        json.dumps({"job": {
            "id": "web", "datacenters": ["dc1"], "NotAField": 1,
            "taskgroups": [{"name": "g", "count": 2, "tasks": [{"name": "t", "driver": "exec"}]}],
        }}),
        path="x.json",
    )
    assert job["ID"] == "web"
    assert job["TaskGroups"][0]["Count"] == 2
    assert job["TaskGroups"][0]["Tasks"][0]["Driver"] == "exec"
    assert "NotAField" not in job and "id" not in job


def test_null_on_a_value_field_leaves_the_zero_value() -> None:
    job = parse_json_job(
        json.dumps(minimal(TaskGroups=[{"Name": "g", "Tasks": [{"Name": "t", "Leader": None}]}])),
        path="x.json",
    )
    assert job["TaskGroups"][0]["Tasks"][0]["Leader"] is False


def test_opaque_config_keeps_values_and_prints_integral_floats_as_integers() -> None:
    config = {"image": "nginx", "port": 80.0, "ratio": 0.5, "nested": [{"a": 1.0}]}
    job = parse_json_job(
        json.dumps(minimal(TaskGroups=[{"Name": "g", "Tasks": [{"Name": "t", "Config": config}]}])),
        path="x.json",
    )
    got = job["TaskGroups"][0]["Tasks"][0]["Config"]
    assert got == {"image": "nginx", "port": 80, "ratio": 0.5, "nested": [{"a": 1}]}
    assert isinstance(got["port"], int)


def test_broken_json_is_a_syntax_error_with_position() -> None:
    text = '{\n  "Job": {\n    "ID": "web",\n    "Datacenters": ["dc1"\n  }\n}\n'
    with pytest.raises(JobSyntaxError) as exc:
        parse_json_job(text, path="jobs/web.json")
    assert exc.value.path == "jobs/web.json"
    assert exc.value.line == 5
    assert exc.value.column is not None
    assert "invalid JSON" in exc.value.reason


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ("[1, 2]", "JSON array"),
        ('"job"', "JSON string"),
        ('{"dependencies": {}, "private": true}', "no job fields"),
        ('{"job": {"web": {"group": {}}}}', "HCL's JSON syntax"),
    ],
)
def test_a_document_that_is_not_a_job_is_rejected(document: str, needle: str) -> None:
    with pytest.raises(JobValidationError) as exc:
        parse_json_job(document, path="x.json")
    assert needle in exc.value.reason
    assert exc.value.path == "x.json" and exc.value.line == 1


def test_a_job_without_id_is_rejected() -> None:
    job = minimal()
    del job["ID"]
    with pytest.raises(JobValidationError, match='no "ID"'):
        parse_json_job(json.dumps({"Job": job}), path="x.json")


def test_a_job_without_task_groups_is_rejected() -> None:
    with pytest.raises(JobValidationError, match="TaskGroups"):
        parse_json_job(json.dumps({"Job": {"ID": "x", "Datacenters": ["dc1"]}}), path="x.json")


def test_wrong_type_names_the_field_and_its_line() -> None:
    job = minimal(TaskGroups=[{"Name": "g", "Count": "3", "Tasks": [{"Name": "t"}]}])
    text = json.dumps({"Job": job}, indent=2)
    with pytest.raises(JobValidationError) as exc:
        parse_json_job(text, path="x.json")
    line_of_count = next(
        i for i, line in enumerate(text.splitlines(), 1) if '"Count"' in line
    )
    assert exc.value.line == line_of_count
    assert "Job.TaskGroups[0].Count" in exc.value.reason
    assert 'expected an integer, got string "3"' in exc.value.reason


def test_string_duration_is_rejected_with_the_nanoseconds_to_write() -> None:
    job = minimal(Update={"MinHealthyTime": "30s"})
    with pytest.raises(JobValidationError) as exc:
        parse_json_job(json.dumps(job), path="x.json")
    assert "Update.MinHealthyTime" in exc.value.reason
    assert "integer nanoseconds" in exc.value.reason
    assert "30000000000" in exc.value.reason


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("Priority", 1.5, "expected an integer"),
        ("AllAtOnce", "true", "expected a boolean"),
        ("Datacenters", "dc1", "expected a list"),
        ("Meta", {"n": 1}, "expected a string"),
        ("Update", [1], "expected an object"),
    ],
)
def test_type_errors_per_kind(field: str, value: Any, expected: str) -> None:
    with pytest.raises(JobValidationError, match=expected):
        parse_json_job(json.dumps(minimal(**{field: value})), path="x.json")


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("30s", 30_000_000_000),
        ("1m30s", 90_000_000_000),
        ("1.5h", 5_400_000_000_000),
        ("2500ms", 2_500_000_000),
        ("10us", 10_000),
        ("0", 0),
        ("-2s", -2_000_000_000),
        ("10 minutes", None),
        ("300", None),
        ("1d", None),
        ("", None),
    ],
)
def test_parse_go_duration(text: str, ns: int | None) -> None:
    if ns is None:
        with pytest.raises(DurationError):
            parse_go_duration(text)
    else:
        assert parse_go_duration(text) == ns


def test_locate_json_value_finds_nested_keys_and_indexes() -> None:
    text = '{\n "a": [\n  {"b": 1},\n  {"b": 2, "c": "x"}\n ]\n}'
    assert locate_json_value(text, ("a", 1, "c")) == (4, 17)
    assert locate_json_value(text, ("a", 0)) == (3, 3)
    assert locate_json_value(text, ()) == (1, 1)
    # a path that does not exist falls back to the deepest enclosing value
    assert locate_json_value(text, ("a", 1, "zzz")) == (4, 3)


def test_ignored_keys_are_listed_with_position_and_suggestion() -> None:
    job = minimal(Priorty=60, TaskGroups=[{
        "Name": "g", "count": 2, "Tasks": [{"Name": "t", "Confg": {"x": 1}, "Config": {"y": 2}}],
    }])
    text = json.dumps({"Job": job}, indent=2)
    found = ignored_json_keys(text, path="x.json")
    # in document order: json.dumps keeps the insertion order of minimal()
    assert [k.where for k in found] == ["Job.TaskGroups[0].Tasks[0].Confg", "Job.Priorty"]
    assert [k.suggestion for k in found] == ["Config", "Priority"]
    line_of_typo = next(i for i, line in enumerate(text.splitlines(), 1) if '"Priorty"' in line)
    assert found[1].line == line_of_typo
    assert 'did you mean "Priority"' in found[1].describe()


def test_no_ignored_keys_in_nomad_output() -> None:
    text = (GOLDEN / "16-template-blocks.output.json").read_text()
    assert ignored_json_keys(text, path="x.json") == []


def test_omitempty_field_appears_only_when_set() -> None:
    plain = parse_json_job(json.dumps(minimal()), path="x.json")
    assert "CSIPluginConfig" not in plain["TaskGroups"][0]["Tasks"][0]
    plugin = {"ID": "ebs", "Type": "monolith", "MountDir": "/csi"}
    job = minimal(TaskGroups=[{"Name": "g", "Tasks": [{"Name": "t", "CSIPluginConfig": plugin}]}])
    task = parse_json_job(json.dumps(job), path="x.json")["TaskGroups"][0]["Tasks"][0]
    assert task["CSIPluginConfig"] == plugin
    keys = list(task)
    assert keys.index("VolumeMounts") < keys.index("CSIPluginConfig") < keys.index("Leader")
