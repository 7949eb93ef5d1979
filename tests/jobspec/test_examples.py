"""The example jobs/ repository loads cleanly and shows every kind of job it promises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.jobspec.discovery import discover_job_files
from reconciler.jobspec.loader import load_directory
from reconciler.jobspec.variables import VariableInputs
from reconciler.model import DesiredJob, Snapshot

JOBS = Path(__file__).resolve().parents[2] / "jobs"


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return load_directory(JOBS, inputs=VariableInputs())


def by_id(snapshot: Snapshot) -> dict[str, DesiredJob]:
    return {j.job_id: j for j in snapshot.jobs}


def tasks(job: DesiredJob) -> list[dict[str, Any]]:
    return [t for g in job.job["TaskGroups"] for t in g["Tasks"]]


def test_every_example_loads_without_error(snapshot: Snapshot) -> None:
    assert [d.describe() for d in snapshot.errors] == []
    assert snapshot.complete
    assert len(snapshot.jobs) == len(discover_job_files(JOBS)) >= 10


def test_both_namespaces_are_used(snapshot: Snapshot) -> None:
    namespaces = {j.namespace for j in snapshot.jobs}
    assert namespaces == {"default", "platform"}
    for job in snapshot.jobs:
        expected = job.path.split("/", 1)[0]
        assert job.namespace == expected, f"{job.path} is under {expected}/"


def test_ignored_drafts_are_not_loaded(snapshot: Snapshot) -> None:
    assert not any(j.path.startswith("drafts/") for j in snapshot.jobs)
    assert (JOBS / "drafts").is_dir()


def test_job_types_are_all_present(snapshot: Snapshot) -> None:
    jobs = by_id(snapshot)
    types = {j.canonical.get("Type") for j in snapshot.jobs}
    assert {"service", "batch", "system"} <= types
    assert jobs["nightly-report"].job["Periodic"]["Spec"] == "30 2 * * *"
    assert jobs["thumbnailer"].job["ParameterizedJob"]["Payload"] == "required"
    assert jobs["node-exporter"].job["Type"] == "system"


def test_web_rolls_out_with_one_manual_canary(snapshot: Snapshot) -> None:
    update = by_id(snapshot)["web"].job["Update"]
    assert update["Canary"] == 1
    assert update["AutoPromote"] is False
    assert update["MinHealthyTime"] == 5_000_000_000


def test_companion_variables_file_is_applied(snapshot: Snapshot) -> None:
    api = by_id(snapshot)["orders-api"]
    assert api.job["Meta"]["release"] == "2.4.1"
    assert api.job["TaskGroups"][0]["Count"] == 3
    (task,) = tasks(api)
    assert task["Env"] == {"LOG_LEVEL": "warn", "RELEASE": "2.4.1"}


def test_json_job_specification_is_present(snapshot: Snapshot) -> None:
    status = by_id(snapshot)["status-page"]
    assert status.source_format == "json"
    assert status.source.lstrip().startswith('{\n  "Job"')


def test_driver_examples(snapshot: Snapshot) -> None:
    jobs = by_id(snapshot)
    (echo,) = tasks(jobs["echo-server"])
    assert echo["Driver"] == "exec"
    (artifact,) = echo["Artifacts"]
    assert artifact["GetterSource"].endswith(".tar.gz")
    assert artifact["GetterOptions"]["checksum"].startswith("sha256:")

    (nginx,) = tasks(jobs["gateway"])
    assert nginx["Driver"] == "docker"
    assert all(t["DestPath"].startswith("local/") for t in nginx["Templates"])

    (cache,) = tasks(jobs["ios-build-cache"])
    assert cache["Driver"] == "container"
    config = cache["Config"]
    assert {"image", "ports", "network_mode", "volumes", "init", "rosetta"} <= set(config)


def test_examples_use_nomad_1_0_features_only() -> None:
    for path in sorted(JOBS.rglob("*.nomad")):
        text = path.read_text()
        for newer in ("memory_max", "node_pool", "max_client_disconnect", "provider ="):
            assert newer not in text, f"{path}: {newer} is newer than Nomad 1.0"


def test_examples_pass_lint_without_findings(snapshot: Snapshot) -> None:
    from reconciler.lint.runner import lint_snapshot

    assert [d.describe() for d in lint_snapshot(snapshot)] == []
