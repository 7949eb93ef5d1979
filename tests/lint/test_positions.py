"""positions.locate: the line of a job part, in HCL2 and JSON sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import JobSpecError
from reconciler.jobspec.hcl_syntax import Body, parse_body
from reconciler.jobspec.positions import SourceBlock, Step, locate, scan_blocks

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


def test_broken_source_still_locates_what_is_written() -> None:
    assert locate('job "x" {\n  group "g" {\n', (Step("job", "x"), Step("group", "g"))) == 2
    assert locate("", (Step("job", "x"),)) is None
    assert locate("}}} = = {{", (Step("job", "x"),)) is None


def _tree_from_scanner(block: SourceBlock) -> Any:
    return (
        sorted(block.attributes.items()),
        [(b.type, b.labels, b.line, _tree_from_scanner(b)) for b in block.blocks],
    )


def _tree_from_grammar(body: Body) -> Any:
    attributes: dict[str, int] = {}
    for attribute in body.attributes:
        attributes.setdefault(attribute.name, attribute.pos.line)
    return (
        sorted(attributes.items()),
        [(b.type, b.labels, b.pos.line, _tree_from_grammar(b.body)) for b in body.blocks],
    )


def _grammar_accepts(path: Path) -> bool:
    try:
        parse_body(path.read_text())
    except JobSpecError:
        return False
    return True


# The syntax-error corpus files have no full-grammar tree to compare with.
PARSEABLE = [p for p in sorted(JOBSPEC.glob("*.nomad")) if _grammar_accepts(p)]


@pytest.mark.parametrize("path", PARSEABLE, ids=lambda p: p.name)
def test_scanner_agrees_with_the_full_grammar_on_the_corpus(path: Path) -> None:
    source = path.read_text()
    assert _tree_from_scanner(scan_blocks(source)) == _tree_from_grammar(parse_body(source))


def test_corpus_comparison_covers_heredocs_and_dynamic_blocks() -> None:
    names = {p.name for p in PARSEABLE}
    assert {
        "04-string-templates.nomad",
        "06-dynamic-blocks.nomad",
        "16-template-blocks.nomad",
    } <= names


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


TRICKY = """job "web" { # a { brace in a comment
  /* block comment with } and
     job "fake" { */
  meta = { a = "}", b = "${lookup(x, "k}", "{")}" }
  constraint { attribute = "x" }
  datacenters = [
    "dc1",
  ]
  group "g" {
    count = var.n != 0 ? var.n : 1
    task "t" {
      template {
        data = <<-EOT
        job "inside-heredoc" {
        EOT
        destination = "local/x"
      }
      env { A = "{" }
    }
  }
}
"""


@pytest.mark.parametrize(
    ("steps", "line"),
    [
        ((Step("job", "web"),), 1),
        ((Step("job", "web"), Step("attr", "meta")), 4),
        ((Step("job", "web"), Step("constraint")), 5),
        ((Step("job", "web"), Step("attr", "datacenters")), 6),
        ((Step("job", "web"), Step("group", "g")), 9),
        ((Step("job", "web"), Step("group", "g"), Step("attr", "count")), 10),
        ((Step("job", "web"), Step("group", "g"), Step("task", "t")), 11),
        (
            (
                Step("job", "web"),
                Step("group", "g"),
                Step("task", "t"),
                Step("template"),
                Step("attr", "destination"),
            ),
            16,
        ),
        ((Step("job", "web"), Step("group", "g"), Step("task", "t"), Step("env")), 18),
        ((Step("job", "fake"),), None),
        ((Step("job", "inside-heredoc"),), None),
    ],
)
def test_scanner_skips_strings_templates_comments_and_heredocs(
    steps: tuple[Step, ...], line: int | None
) -> None:
    assert locate(TRICKY, steps) == line


def test_parts_made_by_dynamic_blocks_point_at_the_generator() -> None:
    source = (JOBSPEC / "06-dynamic-blocks.nomad").read_text()
    lines = source.splitlines()
    job_line = next(i for i, text in enumerate(lines, 1) if text.startswith("job "))
    steps = (Step("job", "s06-dynamic"), Step("group", "generated-by-dynamic"))
    line = locate(source, steps)
    assert line is not None and line > job_line
    assert lines[line - 1].strip().startswith('dynamic "group"')
