"""Lint rules: small named checks of one canonical job, beyond Nomad's own validation.

Pure: each rule is a function from a canonical job (``canonicalize`` output:
defaults filled, so ``LogConfig``/``EphemeralDisk``/group ``Update`` are
there) to ``Finding``s; it never raises on odd shapes it does not understand
(Nomad's validation reports those).  Cross-file rules (duplicate job IDs, job
ID vs file name) live in ``runner`` because they need the whole snapshot.

Each ``Rule`` has a stable ``name`` (shown as ``[name]`` and in JSON output)
and a default severity.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.jobspec.positions import Step
from reconciler.lint.drivers import IMAGE_ISOLATION_DRIVERS, SCHEMAS
from reconciler.model import ApiJob, Severity


@dataclass(frozen=True)
class Finding:
    """One problem: its message and where it is in the job (for the line number)."""

    message: str
    where: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    summary: str
    check: Callable[[ApiJob], Iterator[Finding]]


# --- walking a job ------------------------------------------------------------------


def _tasks(job: ApiJob) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any], tuple[Step, ...]]]:
    """(group, task, location of the task) for every task of the job."""
    for group in _dicts(job.get("TaskGroups")):
        group_where = (Step("job", str(job.get("ID", ""))), Step("group", str(group.get("Name"))))
        for task in _dicts(group.get("Tasks")):
            yield group, task, (*group_where, Step("task", str(task.get("Name"))))


def _groups(job: ApiJob) -> Iterator[tuple[Mapping[str, Any], tuple[Step, ...]]]:
    for group in _dicts(job.get("TaskGroups")):
        yield group, (Step("job", str(job.get("ID", ""))), Step("group", str(group.get("Name"))))


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return (
        [item for item in value or () if isinstance(item, Mapping)]
        if isinstance(value, list)
        else []
    )


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


# --- rules --------------------------------------------------------------------------

# Environment variables a destination may start with, and the task-relative
# directory each stands for.
_TASK_DIR_VARIABLES = {
    "NOMAD_TASK_DIR": "local",
    "NOMAD_SECRETS_DIR": "secrets",
    "NOMAD_ALLOC_DIR": "alloc",
}
_VISIBLE_DIRS = ("task/local", "task/secrets", "task/alloc", "alloc")


def destination_visible(destination: str) -> bool | None:
    """Does a template/artifact destination land where an image-isolated task sees it?

    ``None`` when it depends on a runtime variable other than the task-dir ones.
    """
    text = destination
    for name, directory in _TASK_DIR_VARIABLES.items():
        text = re.sub(r"\$\{" + name + r"\}|\$" + name + r"\b", directory, text)
    if "${" in text or "$" in text:
        return None
    # Nomad joins the destination to the task directory (an absolute path too).
    normal = posixpath.normpath(posixpath.join("task", text.lstrip("/")))
    return any(normal == d or normal.startswith(d + "/") for d in _VISIBLE_DIRS)


def check_image_destinations(job: ApiJob) -> Iterator[Finding]:
    for _, task, where in _tasks(job):
        driver = str(task.get("Driver", ""))
        if driver not in IMAGE_ISOLATION_DRIVERS:
            continue
        outputs = [
            ("template", index, str(item.get("DestPath", "")))
            for index, item in enumerate(_dicts(task.get("Templates")))
        ] + [
            ("artifact", index, str(item.get("RelativeDest", "")))
            for index, item in enumerate(_dicts(task.get("Artifacts")))
        ]
        for kind, index, destination in outputs:
            if destination_visible(destination) is False:
                yield Finding(
                    f'task "{task.get("Name")}": {kind} destination "{destination}" is outside '
                    f"local/, secrets/ and alloc/; the {driver} driver isolates the task's "
                    "filesystem as an image, so the task will not see the file",
                    (*where, Step(kind, index=index)),
                )


def check_log_disk(job: ApiJob) -> Iterator[Finding]:
    for group, task, where in _tasks(job):
        disk = _number((group.get("EphemeralDisk") or {}).get("SizeMB"))
        logs = task.get("LogConfig") or {}
        files, size = _number(logs.get("MaxFiles")), _number(logs.get("MaxFileSizeMB"))
        usage = 2 * files * size  # stdout and stderr rotate separately
        if disk and usage > disk:
            yield Finding(
                f'task "{task.get("Name")}": its logs may use {usage:g} MB (stdout and stderr, '
                f"{files:g} files × {size:g} MB each), more than the group's ephemeral_disk "
                f"of {disk:g} MB",
                (*where, Step("logs")),
            )


def check_driver_config(job: ApiJob) -> Iterator[Finding]:
    for _, task, where in _tasks(job):
        driver = str(task.get("Driver", ""))
        schema = SCHEMAS.get(driver)
        if schema is None:
            continue  # third-party or unknown driver: its config is its own business
        config = task.get("Config") or {}
        if not isinstance(config, Mapping):
            continue
        name = task.get("Name")
        config_where = (*where, Step("config"))
        for key in config:
            if key not in schema.keys:
                yield Finding(
                    f'task "{name}": unknown {driver} config key "{key}"{_did_you_mean(key, schema.keys)}',
                    (*config_where, Step("attr", key)),
                )
        for key in schema.required:
            if key not in config:
                yield Finding(f'task "{name}": {driver} config needs "{key}"', config_where)
        for keys in schema.one_of:
            if not any(key in config for key in keys):
                wanted = " or ".join(f'"{key}"' for key in keys)
                yield Finding(f'task "{name}": {driver} config needs {wanted}', config_where)
        for block, known in schema.blocks:
            value = config.get(block)
            items = value if isinstance(value, list) else [value] if value is not None else []
            for item in _dicts(items):
                for key in item:
                    if key not in known:
                        yield Finding(
                            f'task "{name}": unknown key "{key}" in {driver} config block '
                            f'"{block}"{_did_you_mean(key, known)}',
                            (*config_where, Step("attr", block)),
                        )


def _did_you_mean(key: str, known: frozenset[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


def check_artifact_checksum(job: ApiJob) -> Iterator[Finding]:
    for _, task, where in _tasks(job):
        for index, artifact in enumerate(_dicts(task.get("Artifacts"))):
            source = str(artifact.get("GetterSource", ""))
            options = artifact.get("GetterOptions") or {}
            if options.get("checksum") or re.search(r"[?&]checksum=", source):
                continue
            yield Finding(
                f'task "{task.get("Name")}": artifact "{source}" has no checksum '
                '(options { checksum = "sha256:..." }): a changed or tampered download '
                "would run unnoticed",
                (*where, Step("artifact", index=index)),
            )


def check_raw_exec(job: ApiJob) -> Iterator[Finding]:
    for _, task, where in _tasks(job):
        if task.get("Driver") == "raw_exec":
            yield Finding(
                f'task "{task.get("Name")}" uses raw_exec: it runs without any isolation, '
                "as the user of the Nomad client",
                (*where, Step("attr", "driver")),
            )


def check_canary_count(job: ApiJob) -> Iterator[Finding]:
    for group, where in _groups(job):
        update = group.get("Update") or {}
        canary, count = _number(update.get("Canary")), _number(group.get("Count"))
        if canary > 0 and canary > count:
            yield Finding(
                f'group "{group.get("Name")}": canary = {canary:g} is more than count = '
                f"{count:g}; a deployment places more canaries than the group runs",
                (*where, Step("update")),
            )


def check_auto_promote_without_canary(job: ApiJob) -> Iterator[Finding]:
    for group, where in _groups(job):
        update = group.get("Update") or {}
        if update.get("AutoPromote") and not _number(update.get("Canary")):
            yield Finding(
                f'group "{group.get("Name")}": auto_promote = true without canaries: there is '
                "nothing to promote, and Nomad rejects the job (Auto Promote requires a Canary "
                "count greater than zero)",
                (*where, Step("update")),
            )


#: Above this, a group's count is almost surely a typo: Nomad would try to place
#: every one of them (a billion allocations stall its scheduler).  An error, so
#: CI stops it; a deliberate huge fleet is split over groups or jobs.
MAX_GROUP_COUNT = 10_000


def check_group_count(job: ApiJob) -> Iterator[Finding]:
    for group, where in _groups(job):
        count = _number(group.get("Count"))
        if count > MAX_GROUP_COUNT:
            yield Finding(
                f'group "{group.get("Name")}": count = {count:.0f} is more than '
                f"{MAX_GROUP_COUNT} allocations; Nomad would try to place every one",
                (*where, Step("attr", "count")),
            )


#: Nomad validation texts a dedicated rule above explains better; the runner
#: drops Nomad's own line for them so a problem is reported once.
COVERED_VALIDATION_TEXTS: Mapping[str, str] = {
    "Auto Promote requires a Canary count greater than zero": "auto-promote-without-canary",
}

RULES: tuple[Rule, ...] = (
    Rule(
        "image-destination",
        Severity.ERROR,
        "template/artifact written outside local/, secrets/ or alloc/ of an image-isolated task",
        check_image_destinations,
    ),
    Rule(
        "log-disk",
        Severity.WARNING,
        "logs (max_files × max_file_size × 2) larger than the group's ephemeral_disk",
        check_log_disk,
    ),
    Rule(
        "driver-config",
        Severity.ERROR,
        "unknown or missing config keys for docker, podman, container, qemu, exec, raw_exec, java",
        check_driver_config,
    ),
    Rule(
        "artifact-checksum",
        Severity.WARNING,
        "artifact without options.checksum",
        check_artifact_checksum,
    ),
    Rule("raw-exec", Severity.WARNING, "task uses the unisolated raw_exec driver", check_raw_exec),
    Rule(
        "canary-count",
        Severity.WARNING,
        "update.canary greater than the group's count",
        check_canary_count,
    ),
    Rule(
        "count-bound",
        Severity.ERROR,
        f"a group count above {MAX_GROUP_COUNT}",
        check_group_count,
    ),
    Rule(
        "auto-promote-without-canary",
        Severity.ERROR,
        "update.auto_promote without canaries",
        check_auto_promote_without_canary,
    ),
)
