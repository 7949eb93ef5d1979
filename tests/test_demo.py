"""`nomad-reconciler demo`: the README's first command, end to end."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.demo import CHANGE_KEY, compute_changed_source
from reconciler.jobspec.hcl_convert import convert_hcl
from reconciler.jobspec.jsonspec import parse_json_job
from tests.support.network import free_port
from tests.support.nomad_backends import FAKE_VERSIONS

ROOT = Path(__file__).resolve().parents[1]


def _tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("nomad_version", FAKE_VERSIONS)
def test_demo_walks_through_a_canary_rollout_without_touching_jobs(tmp_path: Path, nomad_version: str) -> None:
    before = _tree_digest(ROOT / "jobs")
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "demo", str(ROOT / "jobs"), "--exit-after-walkthrough",
         "--listen", f"127.0.0.1:{port}", "--workdir", str(tmp_path), "--promote-after", "1s",
         "--nomad-version", nomad_version],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"Started the embedded Nomad fake (behaves like Nomad {nomad_version})" in out
    assert "First pass done: 11 of 11 declared jobs are registered in Nomad" in out
    assert "requires manual promotion" in out  # the canary waited for the policy
    assert "Rollout of web successful" in out
    assert f"http://127.0.0.1:{port}/metrics" in out
    # The status page's URL comes before the canary rollout, to watch it live.
    page = out.index(f"status page: http://127.0.0.1:{port}/ ")
    assert page < out.index("requires manual promotion")
    assert "What to try next" not in out  # nothing is left running to try it on
    assert (tmp_path / "repo").is_dir()  # a --workdir the user chose is kept
    # The daemon did the promotion, and the change went through git in the scratch copy.
    assert "promoted canaries" in result.stderr
    log = subprocess.run(["git", "-C", str(tmp_path / "repo"), "log", "--format=%s"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert log == [f"web: change Meta {CHANGE_KEY}", "Jobs as declared"]
    assert _tree_digest(ROOT / "jobs") == before


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_removes_its_scratch_repository_when_stopped(
    tmp_path: Path, stop: signal.Signals
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}  # where tempfile makes the scratch copy
    demo = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "demo", str(ROOT / "jobs"),
         "--listen", f"127.0.0.1:{free_port()}", "--promote-after", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        for line in demo.stdout:  # bounded by the test timeout; ends if the demo exits
            lines.append(line)
            if "press Ctrl-C to stop the demo" in line:
                break
        assert any("What to try next" in ln for ln in lines), "".join(lines)
        (made,) = list(scratch.glob("nomad-reconciler-demo-*"))
        assert (made / "repo/.git").is_dir()
        demo.send_signal(stop)
        demo.stdout.read()
        demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()
    assert list(scratch.glob("nomad-reconciler-demo-*")) == []


def test_demo_refuses_a_missing_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "demo", str(tmp_path / "nope"), "--exit-after-walkthrough"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "not a directory" in result.stderr


HCL_WITH_META = """job "a" {
  datacenters = ["dc1"]
  meta {
    team = "x"
  }
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/sleep" }
    }
  }
}
"""
HCL_WITHOUT_META = HCL_WITH_META.replace('  meta {\n    team = "x"\n  }\n', "")


@pytest.mark.parametrize(("source", "expected_meta"), [
    (HCL_WITH_META, {"team": "x", CHANGE_KEY: "2"}),
    (HCL_WITHOUT_META, {CHANGE_KEY: "2"}),
])
def test_changed_hcl_source_differs_only_in_meta(source: str, expected_meta: dict[str, str]) -> None:
    changed = compute_changed_source(source, source_format="hcl2", revision=2)
    old, new = convert_hcl(source), convert_hcl(changed)
    assert new["Meta"] == expected_meta
    assert {**new, "Meta": None} == {**old, "Meta": None}
    # Applying it again moves the same key rather than adding a second one.
    again = convert_hcl(compute_changed_source(changed, source_format="hcl2", revision=3))
    assert again["Meta"][CHANGE_KEY] == "3"


def test_changed_json_source_sets_meta() -> None:
    source = '{"Job": {"ID": "a", "Name": "a", "Datacenters": ["dc1"], "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "raw_exec"}]}]}}'
    changed = parse_json_job(compute_changed_source(source, source_format="json", revision=2), path="a.json")
    assert changed["Meta"] == {CHANGE_KEY: "2"}
