"""positions.locate: the line of a job part, in HCL2 and JSON sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.jobspec.positions import Step, locate

JOBSPEC = Path(__file__).resolve().parents[1] / "golden" / "jobspec"

HCL = """# comment
job "web" {
  datacenters = ["dc1"]

  group "app" {
    task "first" {
      driver = "docker"
      template {
        data        = "a"
        destination = "local/a"
      }
      template {
        data        = "b"
        destination = "/etc/b"
      }
      config {
        image = "x"
        auth {
          username = "u"
        }
      }
    }
  }
}
"""

JOB, GROUP, TASK = Step("job", "web"), Step("group", "app"), Step("task", "first")


@pytest.mark.parametrize(
    ("steps", "line"),
    [
        ((JOB,), 2),
        ((JOB, GROUP), 5),
        ((JOB, GROUP, TASK), 6),
        ((JOB, GROUP, TASK, Step("attr", "driver")), 7),
        ((JOB, GROUP, TASK, Step("template", index=1)), 12),
        ((JOB, GROUP, TASK, Step("config"), Step("attr", "image")), 17),
        ((JOB, GROUP, TASK, Step("config"), Step("attr", "auth")), 18),
        # not written: the nearest written ancestor
        ((JOB, GROUP, TASK, Step("template", index=5)), 6),
        ((JOB, GROUP, Step("task", "missing")), 5),
        ((JOB, Step("group", "missing"), TASK), 2),
    ],
)
def test_locate_in_hcl(steps: tuple[Step, ...], line: int) -> None:
    assert locate(HCL, steps) == line


def test_task_directly_under_job_is_its_own_group() -> None:
    source = (JOBSPEC / "27-job-level-task-variables-block.nomad").read_text()
    steps = (Step("job", "s27-implicit-group"), Step("group", "say"), Step("task", "say"))
    assert locate(source, steps) == 12
    explicit = (Step("job", "s27-implicit-group"), Step("group", "explicit"), Step("task", "also"))
    assert locate(source, explicit) == 22


def test_unparseable_source_gives_none() -> None:
    assert locate('job "x" {', (Step("job", "x"),)) is None
    assert locate("", (Step("job", "x"),)) is None


JSON = """{
  "Job": {
    "ID": "web",
    "TaskGroups": [
      {
        "Name": "app",
        "Tasks": [
          {
            "Name": "first",
            "Driver": "docker",
            "Config": {"image": "x", "port": 1}
          }
        ]
      }
    ]
  }
}
"""


@pytest.mark.parametrize(
    ("steps", "line"),
    [
        ((JOB,), 3),
        ((JOB, GROUP), 6),
        ((JOB, GROUP, TASK), 9),
        ((JOB, GROUP, TASK, Step("attr", "Driver")), 10),
        ((JOB, GROUP, TASK, Step("config"), Step("attr", "port")), 11),
    ],
)
def test_locate_in_json(steps: tuple[Step, ...], line: int) -> None:
    assert locate(JSON, steps, source_format="json") == line


def test_json_group_named_like_its_job() -> None:
    source = '{"Job": {\n"ID": "web",\n"Name": "web",\n"TaskGroups": [\n{"Name": "web"}]}}'
    steps = (Step("job", "web"), Step("group", "web"))
    assert locate(source, steps, source_format="json") == 5
