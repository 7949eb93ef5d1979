"""lint_snapshot on Snapshots built in the test: validation, load errors, cross-file rules, lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.jobspec.canonical import canonicalize
from reconciler.lint.runner import (
    file_stem,
    lint_job,
    lint_snapshot,
    render_json,
    render_text,
)
from reconciler.model import DesiredJob, Diagnostic, Severity, Snapshot

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
JOBSPEC = GOLDEN / "jobspec"
MANIFEST = json.loads((JOBSPEC / "manifest.json").read_text())


def desired(job: dict[str, Any], *, path: str, source: str = "", fmt: str = "hcl2") -> DesiredJob:
    return DesiredJob(
        path=path,
        job_id=str(job.get("ID")),
        namespace=job.get("Namespace") or "default",
        region=job.get("Region") or "global",
        job=job,
        canonical=canonicalize(job),
        digest="d",
        source=source,
        source_format=fmt,
    )


def corpus_job(entry_file: str) -> tuple[dict[str, Any], str]:
    """A corpus file's job as ``nomad job run -output`` printed it, and its source."""
    stem = entry_file.removesuffix(".nomad")
    output = JOBSPEC / f"{stem}.output.json"
    if output.exists():
        job = json.loads(output.read_text())["Job"]
    else:  # fails_at validate: -output still printed the job
        recorded = json.loads((JOBSPEC / f"{stem}.error.json").read_text())
        job = json.loads(recorded["cli_run_output"]["stdout"])["Job"]
    return job, (JOBSPEC / entry_file).read_text()


VALIDATE_FAILURES = [e for e in MANIFEST["invalid"] if e["fails_at"] == "validate"]


@pytest.mark.parametrize("entry", VALIDATE_FAILURES, ids=lambda e: e["file"])
def test_corpus_validation_failures_fail_lint_with_nomads_reason(entry: dict[str, Any]) -> None:
    recorded = json.loads((JOBSPEC / entry["error"]).read_text())
    job = json.loads(recorded["cli_run_output"]["stdout"])["Job"]
    source = (JOBSPEC / entry["file"]).read_text()
    snapshot = Snapshot(root=".", jobs=(desired(job, path=entry["file"], source=source),))
    errors = [d for d in lint_snapshot(snapshot) if d.rule == "nomad-validate"]
    assert errors, "lint accepted a job Nomad rejects"
    assert all(d.severity is Severity.ERROR and d.line for d in errors)
    # Nomad's innermost reason, word for word, is in the message.
    for reason in recorded["validate_api"]["body"]["ValidationErrors"]:
        leaf = reason.rstrip("\n").split("\t* ")[-1]
        assert any(leaf in d.message for d in errors), leaf


def test_missing_driver_points_at_the_task_line() -> None:
    job, source = corpus_job("bad-04-missing-driver.nomad")
    (error,) = [
        d for d in lint_job(job, path="bad-04.nomad", source=source) if d.rule == "nomad-validate"
    ]
    assert error.message == (
        "Task group g validation failed: Task t validation failed: Missing task driver"
    )
    assert source.splitlines()[error.line - 1].strip().startswith('task "t"')  # type: ignore[operator]


def test_invalid_cron_points_at_the_periodic_block() -> None:
    job, source = corpus_job("bad-08-invalid-cron.nomad")
    (error,) = [
        d for d in lint_job(job, path="x.nomad", source=source) if d.rule == "nomad-validate"
    ]
    assert "periodic" in source.splitlines()[error.line - 1]  # type: ignore[operator]


@pytest.mark.parametrize("entry", MANIFEST["valid"], ids=lambda e: e["file"])
def test_valid_corpus_jobs_have_no_lint_errors_but_nomads_warnings(entry: dict[str, Any]) -> None:
    """Valid for the Nomad that recorded them, 1.0.18 (a CSI volume without access and
    attachment modes is refused from 1.1.1 on: test_validate_volumes)."""
    job, source = corpus_job(entry["file"])
    found = lint_job(job, path=entry["file"], source=source, nomad_version=(1, 0, 18))
    assert [d for d in found if d.severity is Severity.ERROR] == []
    nomad_warnings = [d for d in found if d.rule == "nomad-warning"]
    assert bool(nomad_warnings) == bool(entry["validate_warnings"])


def test_load_errors_are_diagnostics_and_do_not_stop_other_jobs() -> None:
    load_error = Diagnostic(path="broken.nomad", message="Unclosed configuration block", line=3)
    job, source = corpus_job("01-minimal-service.nomad")
    snapshot = Snapshot(
        root=".",
        jobs=(desired(job, path="s01-minimal.nomad", source=source),),
        errors=(load_error,),
    )
    found = lint_snapshot(snapshot)
    assert load_error in found
    assert any(d.path == "s01-minimal.nomad" and d.rule == "raw-exec" for d in found)


def test_duplicate_job_ids_across_files() -> None:
    job, _ = corpus_job("01-minimal-service.nomad")
    snapshot = Snapshot(
        root=".",
        jobs=(desired(job, path="a/s01-minimal.nomad"), desired(job, path="b/s01-minimal.nomad")),
    )
    duplicates = [d for d in lint_snapshot(snapshot) if d.rule == "duplicate-job"]
    assert [d.path for d in duplicates] == ["a/s01-minimal.nomad", "b/s01-minimal.nomad"]
    assert all(d.severity is Severity.ERROR for d in duplicates)
    assert "b/s01-minimal.nomad" in duplicates[0].message


def test_same_id_in_two_namespaces_is_not_a_duplicate() -> None:
    job, _ = corpus_job("01-minimal-service.nomad")
    other = {**job, "Namespace": "platform"}
    snapshot = Snapshot(
        root=".",
        jobs=(desired(job, path="s01-minimal.nomad"), desired(other, path="p/s01-minimal.nomad")),
    )
    assert [d for d in lint_snapshot(snapshot) if d.rule == "duplicate-job"] == []


def test_job_id_differing_from_file_name_is_only_a_warning() -> None:
    job, source = corpus_job("01-minimal-service.nomad")
    snapshot = Snapshot(root=".", jobs=(desired(job, path="web.nomad", source=source),))
    (finding,) = [d for d in lint_snapshot(snapshot) if d.rule == "job-id-file-name"]
    assert finding.severity is Severity.WARNING and finding.line == 2
    matching = Snapshot(root=".", jobs=(desired(job, path="dir/s01-minimal.nomad.hcl"),))
    assert [d for d in lint_snapshot(matching) if d.rule == "job-id-file-name"] == []


@pytest.mark.parametrize(
    ("path", "stem"),
    [
        ("web.nomad", "web"),
        ("a/web.nomad.hcl", "web"),
        ("web.hcl", "web"),
        ("web.json", "web"),
        ("web.nomad.json", "web"),
    ],
)
def test_file_stem(path: str, stem: str) -> None:
    assert file_stem(path) == stem


def test_rule_lines_come_from_the_source() -> None:
    source = """job "web" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "docker"
      config {
        image = "nginx:1"
        port  = ["http"]
      }
    }
  }
}
"""
    job = {
        "ID": "web",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "g",
                "Tasks": [
                    {
                        "Name": "t",
                        "Driver": "docker",
                        "Config": {"image": "nginx:1", "port": ["http"]},
                    }
                ],
            }
        ],
    }
    (finding,) = [
        d for d in lint_job(job, path="web.nomad", source=source) if d.rule == "driver-config"
    ]
    assert finding.line == 8
    assert finding.describe() == (
        'web.nomad:8: error: task "t": unknown docker config key "port"; did you mean "ports"? '
        "[driver-config]"
    )


def test_auto_promote_reported_once_not_twice() -> None:
    job = {
        "ID": "j",
        "Datacenters": ["dc1"],
        "Update": {"AutoPromote": True},
        "TaskGroups": [
            {"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec", "Config": {"command": "x"}}]}
        ],
    }
    found = lint_job(job, path="j.nomad")
    assert [
        d.rule for d in found if "Auto Promote" in d.message or "auto_promote" in d.message
    ] == ["auto-promote-without-canary"]


def test_broken_job_shape_is_reported_not_raised() -> None:
    job = {"ID": "j", "Datacenters": ["dc1"], "TaskGroups": [{"Name": "g", "Count": "two"}]}
    found = lint_job(job, path="j.json", source='{"Job": {"ID": "j"}}', source_format="json")
    assert [(d.severity, d.rule, d.line) for d in found] == [(Severity.ERROR, "nomad-validate", 1)]
    assert "structure" in found[0].message


def test_render_text_and_exit_relevant_counts() -> None:
    diagnostics = [
        Diagnostic(path="a.nomad", line=3, message="bad", rule="r"),
        Diagnostic(path="b.nomad", message="meh", severity=Severity.WARNING, rule="w"),
    ]
    assert render_text(diagnostics) == (
        "a.nomad:3: error: bad [r]\nb.nomad: warning: meh [w]\n1 error(s), 1 warning(s)\n"
    )


def test_render_json_is_the_documented_format() -> None:
    diagnostics = [Diagnostic(path="a.nomad", line=3, message="bad", rule="r")]
    text = render_json(diagnostics, jobs=4, exit_code=1)
    document = json.loads(text)
    assert document == {
        "schema": "nomad-reconciler/v1",
        "command": "lint",
        "exit_code": 1,
        "summary": {"errors": 1, "warnings": 0, "jobs": 4, "files_with_errors": 1},
        "diagnostics": [
            {
                "path": "a.nomad",
                "line": 3,
                "column": None,
                "severity": "error",
                "message": "bad",
                "rule": "r",
            }
        ],
    }
    # key order is part of the format
    assert list(document) == ["schema", "command", "exit_code", "summary", "diagnostics"]
    assert list(document["diagnostics"][0]) == [
        "path",
        "line",
        "column",
        "severity",
        "message",
        "rule",
    ]


def test_sources_mapping_gives_lines_when_the_snapshot_has_no_text() -> None:
    job, source = corpus_job("bad-04-missing-driver.nomad")
    snapshot = Snapshot(root=".", jobs=(desired(job, path="bad-04.nomad", source=""),))
    without = [d for d in lint_snapshot(snapshot) if d.rule == "nomad-validate"]
    with_sources = [
        d
        for d in lint_snapshot(snapshot, sources={"bad-04.nomad": source})
        if d.rule == "nomad-validate"
    ]
    assert [d.line for d in without] == [None]
    assert [d.line for d in with_sources] == [6]
