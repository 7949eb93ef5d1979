"""Each lint rule on its own: a job that trips it and one that does not."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reconciler.jobspec.canonical import canonicalize
from reconciler.lint.rules import (
    RULES,
    check_artifact_checksum,
    check_auto_promote_without_canary,
    check_canary_count,
    check_driver_config,
    check_image_destinations,
    check_log_disk,
    check_raw_exec,
    destination_visible,
)


def job_with(task: dict[str, Any] | None = None, **group: Any) -> dict[str, Any]:
    base_task: dict[str, Any] = {
        "Name": "t",
        "Driver": "docker",
        "Config": {"image": "nginx:1"},
    }
    base_task.update(task or {})
    return canonicalize(
        {
            "ID": "j",
            "Datacenters": ["dc1"],
            "TaskGroups": [{"Name": "g", "Tasks": [base_task], **group}],
        }
    )


def messages(findings: Any) -> list[str]:
    return [f.message for f in findings]


def test_rule_names_are_unique_and_stable() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert {
        "image-destination",
        "log-disk",
        "driver-config",
        "artifact-checksum",
        "raw-exec",
        "canary-count",
        "auto-promote-without-canary",
        "count-bound",
    } == set(names)


# --- image-destination ---------------------------------------------------------


@pytest.mark.parametrize(
    ("destination", "visible"),
    [
        ("local/app.conf", True),
        ("secrets/token", True),
        ("alloc/data/x", True),
        ("../alloc/shared", True),
        ("${NOMAD_TASK_DIR}/app.conf", True),
        ("${NOMAD_SECRETS_DIR}/t", True),
        ("$NOMAD_ALLOC_DIR/x", True),
        ("local", True),
        ("/etc/nginx/nginx.conf", False),
        ("etc/app.conf", False),
        ("tmp/x", False),
        ("localx/y", False),
        ("${NOMAD_META_dir}/x", None),
    ],
)
def test_destination_visible(destination: str, visible: bool | None) -> None:
    assert destination_visible(destination) is visible


def test_template_outside_task_dirs_in_docker_task() -> None:
    job = job_with({"Templates": [{"EmbeddedTmpl": "x", "DestPath": "/etc/app.conf"}]})
    (finding,) = check_image_destinations(job)
    assert '"/etc/app.conf"' in finding.message and "docker" in finding.message
    assert finding.where[-1].kind == "template"


def test_artifact_outside_task_dirs_in_container_task() -> None:
    job = job_with(
        {
            "Driver": "container",
            "Artifacts": [{"GetterSource": "https://x/y.tgz", "RelativeDest": "opt/y"}],
        }
    )
    (finding,) = check_image_destinations(job)
    assert "artifact" in finding.message and "container" in finding.message


def test_destinations_inside_local_are_fine() -> None:
    job = job_with(
        {
            "Templates": [{"EmbeddedTmpl": "x", "DestPath": "local/app.conf"}],
            "Artifacts": [{"GetterSource": "https://x/y.tgz"}],  # defaults to local/
        }
    )
    assert list(check_image_destinations(job)) == []


def test_chroot_drivers_may_write_anywhere_in_the_task_dir() -> None:
    job = job_with(
        {
            "Driver": "exec",
            "Config": {"command": "x"},
            "Templates": [{"EmbeddedTmpl": "x", "DestPath": "etc/app.conf"}],
        }
    )
    assert list(check_image_destinations(job)) == []


# --- log-disk --------------------------------------------------------------------


def test_logs_larger_than_ephemeral_disk() -> None:
    job = job_with(
        {"LogConfig": {"MaxFiles": 10, "MaxFileSizeMB": 20}}, EphemeralDisk={"SizeMB": 300}
    )
    (finding,) = check_log_disk(job)
    assert "400 MB" in finding.message and "300 MB" in finding.message


def test_logs_counted_twice_for_stdout_and_stderr() -> None:
    # 10 files of 10 MB = 100 MB per stream fits 150 MB once, not twice
    job = job_with(
        {"LogConfig": {"MaxFiles": 10, "MaxFileSizeMB": 10}}, EphemeralDisk={"SizeMB": 150}
    )
    assert len(list(check_log_disk(job))) == 1


def test_default_logs_fit_the_default_disk() -> None:
    assert list(check_log_disk(job_with())) == []


# --- driver-config ----------------------------------------------------------------


def test_unknown_docker_key_with_suggestion() -> None:
    job = job_with({"Config": {"image": "x", "port": ["http"]}})
    (finding,) = check_driver_config(job)
    assert finding.message == 'task "t": unknown docker config key "port"; did you mean "ports"?'
    assert finding.where[-1].label == "port"


def test_unknown_key_without_close_match() -> None:
    job = job_with({"Config": {"image": "x", "zzzqqq": 1}})
    (finding,) = check_driver_config(job)
    assert finding.message.endswith('"zzzqqq"')


def test_missing_required_docker_image() -> None:
    job = job_with({"Config": {"command": "sh"}})
    assert messages(check_driver_config(job)) == ['task "t": docker config needs "image"']


def test_unknown_key_inside_docker_auth_block() -> None:
    job = job_with({"Config": {"image": "x", "auth": [{"username": "u", "pasword": "p"}]}})
    (finding,) = check_driver_config(job)
    assert '"pasword"' in finding.message and 'did you mean "password"' in finding.message


@pytest.mark.parametrize(
    ("driver", "config", "expected"),
    [
        ("exec", {"command": "x", "args": []}, []),
        ("exec", {"args": []}, ['task "t": exec config needs "command"']),
        (
            "raw_exec",
            {"command": "x", "pid_mode": "host"},
            ['unknown raw_exec config key "pid_mode"'],
        ),
        ("java", {"jar_path": "a.jar"}, []),
        ("java", {"args": []}, ['task "t": java config needs "jar_path" or "class"']),
        ("podman", {"image": "x", "working_dir": "/"}, []),
        ("podman", {"image": "x", "work_dir": "/"}, ['unknown podman config key "work_dir"']),
        ("container", {"image": "x", "rosetta": True, "init": True}, []),
        ("container", {"image": "x", "privileged": True}, ["unknown container config key"]),
        ("mock_driver", {"anything": 1}, []),
        ("my-plugin", {}, []),
    ],
)
def test_driver_config_per_driver(driver: str, config: dict[str, Any], expected: list[str]) -> None:
    job = job_with({"Driver": driver, "Config": config})
    got = messages(check_driver_config(job))
    assert len(got) == len(expected)
    for message, fragment in zip(got, expected, strict=True):
        assert fragment in message


# --- artifact-checksum ---------------------------------------------------------------


def test_artifact_without_checksum() -> None:
    job = job_with({"Artifacts": [{"GetterSource": "https://x/y.tgz"}]})
    (finding,) = check_artifact_checksum(job)
    assert "https://x/y.tgz" in finding.message


@pytest.mark.parametrize(
    "artifact",
    [
        {"GetterSource": "https://x/y.tgz", "GetterOptions": {"checksum": "sha256:abc"}},
        {"GetterSource": "https://x/y.tgz?checksum=sha256:abc"},
    ],
)
def test_artifact_with_checksum(artifact: dict[str, Any]) -> None:
    assert list(check_artifact_checksum(job_with({"Artifacts": [artifact]}))) == []


# --- raw-exec, canary-count, auto-promote ------------------------------------------------


def test_raw_exec() -> None:
    job = job_with({"Driver": "raw_exec", "Config": {"command": "x"}})
    assert len(list(check_raw_exec(job))) == 1
    assert list(check_raw_exec(job_with())) == []


def test_canary_greater_than_count() -> None:
    job = job_with(Count=1, Update={"Canary": 2})
    (finding,) = check_canary_count(job)
    assert "canary = 2" in finding.message and "count = 1" in finding.message
    assert list(check_canary_count(job_with(Count=2, Update={"Canary": 2}))) == []


def test_auto_promote_without_canary() -> None:
    job = job_with(Update={"AutoPromote": True})
    assert len(list(check_auto_promote_without_canary(job))) == 1
    fine = job_with(Update={"AutoPromote": True, "Canary": 1})
    assert list(check_auto_promote_without_canary(fine)) == []


def test_auto_promote_inherited_from_job_level_update() -> None:
    raw = {
        "ID": "j",
        "Update": {"AutoPromote": True},
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}],
    }
    assert len(list(check_auto_promote_without_canary(canonicalize(copy.deepcopy(raw))))) == 1


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rules_tolerate_odd_shapes(rule: Any) -> None:
    odd = {"ID": "j", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Config": "x"}]}, 7]}
    assert list(rule.check(odd)) == []  # skipped, not crashed: validation reports the shape
