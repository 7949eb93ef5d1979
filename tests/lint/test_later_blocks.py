"""lint of blocks Nomad added after 1.0 that the converter reads (disconnect, node_pool...):
accepted at the releases that know them, refused before in HCL's words (what that
release's ``nomad job run`` says), with the release that added them.

Releases: api/tasks.go v1.8.0 (disconnect), api/jobs.go v1.6.0 (node_pool), api/tasks.go
v1.5.0 and v1.7.0 (identity: one block of env/file, then repeatable with name, aud...),
api/tasks.go v1.7.0 (action).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main

JOB = """job "edge" {
  datacenters = ["dc1"]
  node_pool   = "default"
  group "app" {
    disconnect {
      lost_after = "1h"
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
      identity {
        name = "vault_default"
        aud  = ["vault.io"]
      }
      action "hello" {
        command = "/bin/echo"
      }
    }
  }
}
"""


def lint(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    (tmp_path / "edge.nomad").write_text(JOB)
    capsys.readouterr()
    code = main(["lint", str(tmp_path), *extra])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("version", ["1.8.0", "1.10.3", "2.0.5"])
def test_accepted_by_the_releases_that_know_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str
) -> None:
    code, out = lint(tmp_path, capsys, "--nomad-version", version)
    assert code == 0, out
    assert "[nomad-version]" not in out and "[load]" not in out, out


def test_refused_by_an_older_release_in_its_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = lint(tmp_path, capsys, "--nomad-version", "1.7.7")
    assert code == 1
    assert (
        'edge.nomad:5: error: Unsupported block type; Blocks of type "disconnect" are not expected here. '
        '("disconnect" is in the job specification from Nomad 1.8.0; this is Nomad 1.7.7) [nomad-version]'
    ) in out
    assert "node_pool" not in out and "action" not in out and "identity" not in out


def test_1_0_18_refuses_every_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = lint(tmp_path, capsys, "--nomad-version", "1.0.18")
    assert code == 1
    for line, kind, name in ((3, "argument", "node_pool"), (5, "block", "disconnect"),
                             (13, "block", "identity"), (17, "block", "action")):  # fmt: skip
        text = (f'An argument named "{name}" is not expected here.' if kind == "argument"
                else f'Blocks of type "{name}" are not expected here.')  # fmt: skip
        assert f"edge.nomad:{line}: error: Unsupported {kind}" in out and text in out, out


def test_without_a_version_each_refusal_names_the_releases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = lint(tmp_path, capsys)
    assert code == 1
    assert (
        'edge.nomad:3: error: Unsupported argument; An argument named "node_pool" is not expected '
        "here. (rule of Nomad < 1.6.0) [nomad-version]"
    ) in out
    assert 'Blocks of type "identity" are not expected here. (rule of Nomad < 1.5.0)' in out
    assert (
        'edge.nomad:14: error: Unsupported argument; An argument named "name" is not expected '
        "here. (rule of Nomad >= 1.5.0, < 1.7.0) [nomad-version]"
    ) in out
