"""Checks of fields and blocks Nomad added after 1.0, each from the release that checks it.

Pure.  The job here is API JSON; the HCL converter and the JSON decoder read Nomad
1.0's job specification, so a job file never carries these fields (an HCL file
using them fails to load, as with ``nomad job run`` of 1.0, and a JSON file's keys
are reported as unknown fields, which Nomad 1.0 drops): these checks judge jobs
that arrive as API JSON written for a later release.  Before the release that
added a field, Nomad's HTTP API drops it without a word, so nothing is said.

Sources (nomad/structs, at the tags named):

* ``max_client_disconnect`` (TaskGroup.Validate, structs.go v1.3.0 to v1.9.x; the
  HTTP API ignores it from v1.10.0);
* ``disconnect`` (DisconnectStrategy.Validate, group.go v1.8.0, unchanged to v2.0.x,
  and the conflicts with the fields it replaces, structs.go v1.8.0 to v1.9.x, where
  TaskGroup.Canonicalize first copies those fields into it);
* ``stop_after_client_disconnect``: Job.Validate checks it before v1.10.0 only;
* the job's ``ui`` description (Job.Validate, structs.go v1.8.0);
* a task's ``action`` blocks (Action.Validate, actions.go v1.7.0 to v2.0.x).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.jobspec.validate.target import Target
from reconciler.jobspec.validate.texts import format_validation_errors

RECONCILE_OPTIONS = ("", "best_score", "longest_running", "keep_original", "keep_replacement")
MAX_UI_DESCRIPTION = 1000  # Job.Validate's MaxDescriptionCharacters, in bytes (Go's len)
_ACTION_NAME = re.compile(r"[a-zA-Z0-9-]{1,128}")


def attach_disconnect(job: Mapping[str, Any], canonical: dict[str, Any]) -> None:
    """Give the canonical groups their ``disconnect`` blocks as written: the normal
    form drops an empty block, which Nomad still holds (and checks)."""
    groups = zip(job.get("TaskGroups") or [], canonical.get("TaskGroups") or [], strict=False)
    for raw, group in groups:
        if isinstance(raw.get("Disconnect"), Mapping):
            group["Disconnect"] = dict(raw["Disconnect"])


def group_disconnect_errors(
    group: Mapping[str, Any], job_type: str, target: Target
) -> tuple[list[str], bool]:
    """The group's disconnect checks (right after "Missing tasks for task group"), and
    whether Nomad stops validating the group there (1.8 and 1.9 return early)."""
    errs: list[str] = []
    max_disconnect = group.get("MaxClientDisconnect")
    stop_after = group.get("StopAfterClientDisconnect")
    if target.at_least(1, 3, 0) and not target.at_least(1, 10, 0):
        if max_disconnect is not None and stop_after is not None:
            errs.append(
                "Task group cannot be configured with both max_client_disconnect and "
                "stop_after_client_disconnect"
            )
        if max_disconnect is not None and max_disconnect < 0:
            errs.append("max_client_disconnect cannot be negative")
    disconnect = group.get("Disconnect")
    if disconnect is None or not target.at_least(1, 8, 0):
        return errs, False
    lost_after = disconnect.get("LostAfter") or 0
    stop_on_client = disconnect.get("StopOnClientAfter")
    if not target.at_least(1, 10, 0):
        # TaskGroup.Canonicalize fills the block from the fields it replaces, so
        # setting both kinds is refused (and the api package sets ``replace``)
        if max_disconnect is not None and lost_after == 0:
            lost_after = max_disconnect
        if stop_after is not None and stop_on_client is None:
            stop_on_client = stop_after
        if max_disconnect is not None and lost_after > 0:
            return [*errs, "using both lost_after and max_client_disconnect is not allowed"], True
        if stop_after is not None and stop_on_client is not None:
            return [
                *errs, "using both stop_after_client_disconnect and stop_on_client_after is not allowed"
            ], True
        if group.get("PreventRescheduleOnLost"):
            return [*errs, "using both prevent_reschedule_on_lost and replace is not allowed"], True
    # DisconnectStrategy.Validate; TaskGroup.Validate appends its errors one by one
    if stop_on_client is not None:
        if stop_on_client < 0:
            errs.append("stop_after cannot be a negative duration")
        if job_type not in ("service", "batch"):
            errs.append("stop_after can only be used with service or batch job types")
    if lost_after < 0:
        errs.append("lost_after cannot be a negative duration")
    if stop_on_client is not None and lost_after != 0:
        errs.append("Disconnect cannot be configured with both lost_after and stop_after")
    reconcile = disconnect.get("Reconcile") or ""
    if reconcile not in RECONCILE_OPTIONS:
        errs.append(f"reconcile option is invalid: {reconcile}")
    return errs, False


def checks_stop_after_client_disconnect(target: Target) -> bool:
    """The HTTP API ignores ``stop_after_client_disconnect`` from 1.10.0 (job_endpoint.go)."""
    return not target.at_least(1, 10, 0)


def ui_errors(job: Mapping[str, Any], target: Target) -> list[str]:
    ui = job.get("UI")
    if ui is None or not target.at_least(1, 8, 0):
        return []
    size = len(str(ui.get("Description") or "").encode())
    if size > MAX_UI_DESCRIPTION:
        return [f"UI description must be under 1000 characters, currently {size}"]
    return []


def action_errors(task: Mapping[str, Any], target: Target) -> list[str]:
    """A task's actions (after its templates): each valid, each name once."""
    if not target.at_least(1, 7, 0):
        return []
    errs: list[str] = []
    reported: dict[str, bool] = {}
    for action in task.get("Actions") or []:
        if action is None:
            continue
        name = str(action.get("Name") or "")
        problems = []
        if not action.get("Command"):
            problems.append("command cannot be empty")
        if not _ACTION_NAME.fullmatch(name):
            problems.append(f"invalid name '{name}'")
        if problems:
            errs.append(
                f"Action {name} validation failed: " + format_validation_errors(problems)
            )
        if name in reported and not reported[name]:
            errs.append(f"Action {name} defined multiple times")
            reported[name] = True
            continue
        reported[name] = False
    return errs
