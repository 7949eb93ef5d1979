"""``lint --nomad-version``: Nomad's rules of the target release, or of every supported one."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.jobspec.loader import load_directory
from reconciler.jobspec.variables import VariableInputs
from reconciler.lint.runner import lint_snapshot
from reconciler.testing.fake_nomad import FakeNomad

TASK = """  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
"""


def job(body: str) -> str:
    return f'job "j" {{\n{body}{TASK}}}\n'


NO_DATACENTERS = job('  type = "batch"\n')
SYSBATCH = job('  datacenters = ["dc1"]\n  type = "sysbatch"\n')
PRIORITY = job('  datacenters = ["dc1"]\n  priority = 101\n')
REGEXP = job(
    '  datacenters = ["dc1"]\n  constraint {\n    attribute = "${attr.kernel.name}"\n'
    '    operator = "regexp"\n    value = "(?!windows)"\n  }\n'
)
TIME_ZONE = job(
    '  datacenters = ["dc1"]\n  type = "batch"\n'
    '  periodic {\n    cron = "@daily"\n    time_zone = "Europe/Atlantis"\n  }\n'
)


def validation_messages(tmp_path: Path, text: str, **options: object) -> list[str]:
    (tmp_path / "j.nomad").write_text(text)
    snapshot = load_directory(tmp_path, inputs=VariableInputs())
    return [
        d.message
        for d in lint_snapshot(snapshot, **options)  # type: ignore[arg-type]
        if d.rule == "nomad-validate"
    ]


CASES = [
    # (file, --nomad-version, Nomad's findings as lint prints them)
    (NO_DATACENTERS, None, ["Missing job datacenters (rule of Nomad < 1.5.0)"]),
    (NO_DATACENTERS, (1, 0, 18), ["Missing job datacenters (rule of Nomad < 1.5.0)"]),
    (NO_DATACENTERS, (1, 4, 2), ["Missing job datacenters (rule of Nomad < 1.5.0)"]),
    (NO_DATACENTERS, (1, 5, 0), []),
    (NO_DATACENTERS, (2, 0, 0), []),
    (SYSBATCH, None, ['Invalid job type: "sysbatch" (rule of Nomad < 1.2.0)']),
    (SYSBATCH, (1, 2, 0), []),
    (PRIORITY, None, [
        "Job priority must be between [1, 100] (rule of Nomad < 1.5.0)",
        "job priority must be between [1, 100] (rule of Nomad >= 1.5.0)",
    ]),
    (PRIORITY, (1, 6, 0), ["job priority must be between [1, 100] (rule of Nomad >= 1.5.0)"]),
    (REGEXP, None, [
        "Constraint 1 validation failed: Regular expression failed to compile: "
        "error parsing regexp: invalid or unsupported Perl syntax: `(?!`"
    ]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "version", "messages"), CASES)
def test_rules_of_the_target_release(
    tmp_path: Path, text: str, version: tuple[int, int, int] | None, messages: list[str]
) -> None:
    assert validation_messages(tmp_path, text, nomad_version=version) == messages


def test_time_zones_are_checked_against_the_given_database(tmp_path: Path) -> None:
    known = frozenset({"Europe/Berlin", "UTC"})
    assert validation_messages(tmp_path, TIME_ZONE, time_zones=known) == [
        'Invalid time zone "Europe/Atlantis": unknown time zone Europe/Atlantis'
    ]
    assert validation_messages(tmp_path, TIME_ZONE) == []  # no database: no verdict


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, *args: str) -> tuple[int, str]:
    (tmp_path / "j.nomad").write_text(text)
    code = main(["lint", str(tmp_path), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_flag_picks_the_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(tmp_path, capsys, NO_DATACENTERS)
    assert code == 1 and "Missing job datacenters (rule of Nomad < 1.5.0) [nomad-validate]" in out
    code, out = run(tmp_path, capsys, NO_DATACENTERS, "--nomad-version", "1.5.0")
    assert code == 0 and "datacenters" not in out
    code, out = run(tmp_path, capsys, NO_DATACENTERS, "--nomad-version", "v1.4.3")
    assert code == 1


def test_the_command_knows_this_hosts_time_zones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(tmp_path, capsys, TIME_ZONE)
    assert code == 1
    assert 'j.nomad:4: error: Invalid time zone "Europe/Atlantis": unknown time zone' in out


def test_a_bad_version_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(tmp_path, capsys, NO_DATACENTERS, "--nomad-version", "latest")
    assert code == 1 and "--nomad-version 'latest'" in out


@pytest.mark.parametrize(("version", "exit_code"), [("1.0.18", 1), ("1.6.0", 0)])
def test_auto_asks_the_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str, exit_code: int
) -> None:
    with FakeNomad(version=version) as fake:
        code, out = run(tmp_path, capsys, NO_DATACENTERS, "--nomad-version", "auto",
                        "--address", fake.address)  # fmt: skip
    assert code == exit_code, out


def test_auto_without_an_agent_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeNomad() as fake:
        address = fake.address  # closed on exit: nothing listens there any more
    code, out = run(tmp_path, capsys, NO_DATACENTERS, "--nomad-version", "auto", "--address", address)
    assert code == 1 and "--nomad-version auto: cannot reach Nomad" in out
