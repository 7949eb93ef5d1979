"""The lint command end to end: real files in a temporary jobs directory, the real loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main

GOOD = """job "web" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "docker"
      config {
        image = "nginx:1"
      }
    }
  }
}
"""

TYPO = GOOD.replace('image = "nginx:1"', 'image = "nginx:1"\n        port_map2 = 1')

NO_DATACENTERS = """job "batch" {
  type = "batch"
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
"""

VARIABLE = """variable "dcs" {
  type    = list(string)
  default = ["dc1"]
}

job "var" {
  datacenters = var.dcs
  group "g" {
    task "t" {
      driver = "docker"
      config {
        image = "nginx:1"
      }
    }
  }
}
"""


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["lint", str(tmp_path), *args])
    return code, capsys.readouterr().out


def test_clean_directory_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "web.nomad").write_text(GOOD)
    assert run(tmp_path, capsys) == (0, "0 error(s), 0 warning(s)\n")


def test_errors_exit_one_and_name_file_line_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "web.nomad").write_text(TYPO)
    (tmp_path / "batch.nomad").write_text(NO_DATACENTERS)
    code, out = run(tmp_path, capsys)
    assert code == 1
    assert "batch.nomad:1: error: Missing job datacenters (rule of Nomad < 1.5.0) [nomad-validate]" in out
    assert (
        'web.nomad:8: error: task "t": unknown docker config key "port_map2"; did you mean "port_map"? [driver-config]'
        in out
    )
    assert out.endswith("2 error(s), 0 warning(s)\n")


def test_syntax_error_is_a_finding_and_other_files_still_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.nomad").write_text('job "broken" {\n  group "g" {\n')
    (tmp_path / "batch.nomad").write_text(NO_DATACENTERS)
    code, out = run(tmp_path, capsys)
    assert code == 1
    assert out.startswith("batch.nomad:1: error: Missing job datacenters")
    assert "broken.nomad:" in out and "[load]" in out


def test_warnings_exit_zero_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "other-name.nomad").write_text(GOOD)
    code, out = run(tmp_path, capsys)
    assert code == 0 and "[job-id-file-name]" in out
    code, _ = run(tmp_path, capsys, "--warnings-as-errors")
    assert code == 1


def test_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "web.nomad").write_text(TYPO)
    code, out = run(tmp_path, capsys, "--format", "json")
    document = json.loads(out)
    assert code == 1
    assert (document["schema"], document["command"], document["exit_code"]) == (
        "nomad-reconciler/v1",
        "lint",
        1,
    )
    assert document["summary"] == {"errors": 1, "warnings": 0, "jobs": 1, "files_with_errors": 1}
    (finding,) = document["diagnostics"]
    assert (finding["path"], finding["line"], finding["rule"]) == ("web.nomad", 8, "driver-config")


def test_variables_reach_the_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "var.nomad").write_text(VARIABLE)
    assert main(["lint", str(jobs)]) == 0
    capsys.readouterr()
    assert main(["lint", str(jobs), "--var", "dcs=[]"]) == 1
    assert "var.nomad:6: error: Missing job datacenters" in capsys.readouterr().out
    (tmp_path / "empty.vars.hcl").write_text("dcs = []\n")
    assert main(["lint", str(jobs), "--var-file", str(tmp_path / "empty.vars.hcl")]) == 1


def test_missing_directory_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err


JSON_JOB = """{
  "Job": {
    "ID": "api",
    "Datacenters": ["dc1"],
    "TaskGroups": [
      {
        "Name": "api",
        "Tasks": [
          {
            "Name": "api",
            "Driver": "docker",
            "Config": {
              "image": "api:1",
              "volumes": ["local/x:/x"],
              "entrypont": ["/bin/api"]
            },
            "Templates": [{"EmbeddedTmpl": "x", "DestPath": "/etc/api.conf"}]
          }
        ]
      }
    ]
  }
}
"""


def test_json_job_files_get_lines_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "api.json").write_text(JSON_JOB)
    code, out = run(tmp_path, capsys)
    assert code == 1
    assert (
        'api.json:15: error: task "api": unknown docker config key "entrypont"; '
        'did you mean "entrypoint"? [driver-config]'
    ) in out
    assert 'api.json:17: error: task "api": template destination "/etc/api.conf"' in out


def test_validate_is_an_alias(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "batch.nomad").write_text(NO_DATACENTERS)
    assert main(["validate", str(tmp_path)]) == 1
    assert "Missing job datacenters (rule of Nomad < 1.5.0) [nomad-validate]" in capsys.readouterr().out


def test_unknown_json_fields_and_absurd_counts_are_lint_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nomad ignores unknown JSON fields silently (tests/golden/api/10-invalid-registrations
    .jsonl) and places whatever count it is given: lint must say so, with file:line."""
    job = {
        "ID": "typo", "Name": "typo", "Type": "service", "Datacenterz": ["dc1"],
        "Datacenters": ["dc1"],
        "TaskGroups": [{"Name": "g", "Count": 1, "Taks": [], "Tasks": [
            {"Name": "t", "Driver": "exec", "Config": {"command": "/bin/true"}},
        ]}],
    }  # fmt: skip
    (tmp_path / "typo.json").write_text(json.dumps({"Job": job}, indent=2) + "\n")
    huge = GOOD.replace('job "web"', 'job "huge"').replace('group "g" {', 'group "g" {\n    count = 1000000000')
    (tmp_path / "huge.nomad").write_text(huge)
    at_bound = GOOD.replace('job "web"', 'job "ok"').replace('group "g" {', 'group "g" {\n    count = 10000')
    (tmp_path / "ok.nomad").write_text(at_bound)

    assert main(["lint", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert (
        'typo.json:6,20: error: Job.Datacenterz: no such field in a Nomad job, Nomad ignores it; '
        'did you mean "Datacenters"? [unknown-field]'
    ) in out
    assert 'typo.json:16,17: error: Job.TaskGroups[0].Taks: no such field' in out
    assert 'did you mean "Tasks"?' in out
    assert (
        'huge.nomad:4: error: group "g": count = 1000000000 is more than 10000 allocations; '
        "Nomad would try to place every one [count-bound]"
    ) in out
    assert "ok.nomad" not in out  # 10000 itself is fine


def test_max_file_size_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "web.nomad").write_text(GOOD)
    assert main(["lint", str(tmp_path), "--max-file-size", "100"]) == 1
    assert "web.nomad: error: web.nomad is" in capsys.readouterr().out
    assert main(["lint", str(tmp_path), "--max-file-size", "1KiB"]) == 0
    assert main(["lint", str(tmp_path), "--max-file-size", "huge"]) == 1
    assert "--max-file-size: expected a size" in capsys.readouterr().err
