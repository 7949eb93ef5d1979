"""Blocks and arguments of later Nomad releases the converter does not model: a load
error that names the release.

The converter reads Nomad 1.0's job specification and the later blocks its schema
lists; a real ``nomad job run -output`` of 1.0.18 refuses a later name with the same
words (recorded: "d.nomad:4,5-26: Unsupported argument; An argument named
"max_client_disconnect" is not expected here.").  The release is the first whose
``api`` package declares the name (see ``reconciler/lint/later_names.py``).
(The modelled ones, ``disconnect``..., are in tests/lint/test_later_blocks.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.lint.later_names import LATER_NAMES, release_hint

LATER = """job "d" {
  datacenters = ["dc1"]
  group "g" {
    volume "v" {
      per_alloc = true
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
"""


def test_a_later_block_fails_to_load_and_lint_names_its_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "d.nomad").write_text(LATER)
    assert main(["lint", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert (
        'd.nomad:5,7: error: Unsupported argument; An argument named "per_alloc" is not expected '
        'here. ("per_alloc" is in the job specification from Nomad 1.1.0; nomad-reconciler reads '
        "Nomad 1.0's and only the later blocks listed in reconciler/jobspec/hcl_schema.py) [load]"
    ) in out


@pytest.mark.parametrize(
    ("name", "release"),
    [
        # each checked against api/*.go at the tag: absent at v1.0.18, present there
        ("max_client_disconnect", (1, 3, 0)),  # api/tasks.go v1.3.0 TaskGroup
        ("disconnect", (1, 8, 0)),  # api/tasks.go v1.8.0 TaskGroup
        ("action", (1, 7, 0)),  # api/tasks.go v1.7.0 Task
        ("node_pool", (1, 6, 0)),  # api/jobs.go v1.6.0 Job
        ("ui", (1, 8, 0)),  # api/jobs.go v1.8.0 Job
        ("provider", (1, 3, 0)),  # api/services.go v1.3.0 Service
    ],
)
def test_known_later_names(name: str, release: tuple[int, int, int]) -> None:
    assert LATER_NAMES[name] == release


def test_typos_and_1_0_names_get_no_release() -> None:
    typo = 'Unsupported argument; An argument named "cuont" is not expected here.'
    assert release_hint(typo) == typo
    assert "count" not in LATER_NAMES and "stop_after_client_disconnect" not in LATER_NAMES
