"""The fake's job diff (pure): Nomad 1.0.18's Diff shapes, as recorded in 02-plan-diff."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.testing.fake_nomad.diff import job_diff, tasks_updated
from reconciler.testing.fake_nomad.jobs import to_struct_job

GOLDEN_API = Path(__file__).parent.parent / "golden" / "api"


def _job(**changes: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "ID": "web", "Name": "web", "Type": "service", "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "app", "Count": 1, "Tasks": [{
            "Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/sleep", "args": ["1"]},
            "Env": {"MODE": "a"},
        }]}],
    }
    job.update(changes)
    return to_struct_job(job, namespace="default", region="global")


def _fields(diff: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {f["Name"]: (f["Type"], f["Old"], f["New"]) for f in diff.get("Fields") or []}


def test_identical_jobs_diff_as_none_at_every_level() -> None:
    diff = job_diff(_job(), _job())
    assert diff["Type"] == "None"
    assert diff["Fields"] is None and diff["Objects"] is None
    group = diff["TaskGroups"][0]
    assert group["Type"] == "None"
    assert group["Tasks"][0]["Type"] == "None"


def test_new_job_is_added_with_its_flattened_fields() -> None:
    diff = job_diff(None, _job())
    assert diff["Type"] == "Added"
    fields = _fields(diff)
    assert fields["Priority"] == ("Added", "", "50")
    assert fields["AllAtOnce"] == ("Added", "", "false")
    assert "ID" not in fields and "Update" not in fields  # filtered at job level
    assert diff["Objects"][0]["Name"] == "Datacenters"
    task = diff["TaskGroups"][0]["Tasks"][0]
    assert _fields(task)["Env[MODE]"] == ("Added", "", "a")
    assert [o["Name"] for o in task["Objects"]] == ["Config", "Resources", "LogConfig"]


def test_edited_object_is_contextual_but_own_fields_are_not() -> None:
    new = _job(Priority=60)
    new["TaskGroups"][0]["Tasks"][0]["Config"]["args"] = ["2"]
    diff = job_diff(_job(), new)
    assert _fields(diff) == {"Priority": ("Edited", "50", "60")}  # unchanged job fields omitted
    config = diff["TaskGroups"][0]["Tasks"][0]["Objects"][0]
    assert config["Name"] == "Config" and config["Type"] == "Edited"
    assert _fields(config) == {
        "args[0]": ("Edited", "1", "2"),
        "command": ("None", "/bin/sleep", "/bin/sleep"),  # contextual inside objects
    }


@pytest.mark.parametrize(
    ("old_meta", "new_meta", "kind"),
    [({"a": "1"}, {"a": "2"}, "Edited"), (None, {"a": "1"}, "Added"), ({"a": "1"}, None, "Deleted")],
)
def test_meta_entries_are_fields(old_meta: Any, new_meta: Any, kind: str) -> None:
    diff = job_diff(_job(Meta=old_meta), _job(Meta=new_meta))
    assert _fields(diff)["Meta[a]"][0] == kind
    assert diff["Type"] == "Edited"


def test_added_group_is_added_with_its_objects() -> None:
    extra = {"Name": "extra", "Count": 1, "Tasks": [{"Name": "h", "Driver": "raw_exec"}]}
    new = _job()
    new["TaskGroups"].append(to_struct_job({**_raw(), "TaskGroups": [extra]}, namespace="default", region="global")["TaskGroups"][0])
    diff = job_diff(_job(), new)
    added = next(g for g in diff["TaskGroups"] if g["Name"] == "extra")
    assert added["Type"] == "Added"
    assert [o["Name"] for o in added["Objects"]] == ["RestartPolicy", "ReschedulePolicy", "EphemeralDisk", "Update"]
    assert "Stagger" not in _fields(next(o for o in added["Objects"] if o["Name"] == "Update"))


def _raw() -> dict[str, Any]:
    return {"ID": "web", "Name": "web", "Type": "service", "Datacenters": ["dc1"]}


def test_config_change_is_destructive_count_and_constraint_are_not() -> None:
    base = _job()
    config = copy.deepcopy(base)
    config["TaskGroups"][0]["Tasks"][0]["Config"]["args"] = ["9"]
    count = copy.deepcopy(base)
    count["TaskGroups"][0]["Count"] = 5
    constraint = copy.deepcopy(base)
    constraint["TaskGroups"][0]["Tasks"][0]["Constraints"] = [{"LTarget": "a", "Operand": "=", "RTarget": "b"}]
    job_meta = _job(Meta={"owner": "x"})
    assert tasks_updated(base, config, "app")
    assert not tasks_updated(base, count, "app")
    assert not tasks_updated(base, constraint, "app")
    assert tasks_updated(base, job_meta, "app")  # job Meta reaches every task: destructive


def test_recorded_version_diff_is_reproduced() -> None:
    """02-plan-diff #13: versions?diffs=true between the two registered specs."""
    lines = [json.loads(line) for line in (GOLDEN_API / "02-plan-diff.jsonl").read_text().splitlines()]
    v0 = to_struct_job(lines[1]["request"]["body"]["Job"], namespace="default", region="global")
    v1 = to_struct_job(lines[12]["request"]["body"]["Job"], namespace="default", region="global")
    assert job_diff(v0, v1, contextual=True) == lines[13]["response"]["body"]["Diffs"][0]
