"""`nomad-reconciler demo`: the README's first command, end to end."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from reconciler.demo import CHANGE_KEY, compute_changed_source
from reconciler.jobspec.hcl_convert import convert_hcl
from reconciler.jobspec.jsonspec import parse_json_job
from tests.support.network import free_port
from tests.support.nomad_backends import FAKE_VERSIONS
from tests.support.prometheus import needs_prometheus

ROOT = Path(__file__).resolve().parents[1]


def _tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


ANALYSIS_REASON = "analysis: http-errors/error-rate = 0.25, wanted < 0.05"
PROMETHEUS_URL = re.compile(r"Canary analysis: the daemon queries .*? at (http://127\.0\.0\.1:\d+)")


def _steps(out: str) -> list[str]:
    return [line[4:] for line in out.splitlines() if line.startswith("==> ")]


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize(("nomad_version", "prometheus"), [
    pytest.param(FAKE_VERSIONS[0], "real", marks=needs_prometheus, id=f"{FAKE_VERSIONS[0]}-real-prometheus"),
    pytest.param(FAKE_VERSIONS[-1], "builtin", id=f"{FAKE_VERSIONS[-1]}-builtin-query-api"),
])  # fmt: skip
def test_demo_walks_through_a_promoted_canary_then_one_failed_by_analysis(
    tmp_path: Path, nomad_version: str, prometheus: str
) -> None:
    before = _tree_digest(ROOT / "jobs")
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "demo", str(ROOT / "jobs"), "--exit-after-walkthrough",
         "--listen", f"127.0.0.1:{port}", "--workdir", str(tmp_path), "--promote-after", "1s",
         "--nomad-version", nomad_version, "--prometheus", prometheus],
        capture_output=True, text=True, timeout=360, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"Started the embedded Nomad fake (behaves like Nomad {nomad_version})" in out
    assert "First pass done: 11 of 11 declared jobs are registered in Nomad" in out
    assert "requires manual promotion" in out  # the canary waited for the policy
    assert f"http://127.0.0.1:{port}/metrics" in out
    # The status page's URL comes before the canary rollout, to watch it live.
    page = out.index(f"status page: http://127.0.0.1:{port}/ ")
    assert page < out.index("requires manual promotion")
    assert "What to try next" not in out  # nothing is left running to try it on
    assert (tmp_path / "repo").is_dir()  # a --workdir the user chose is kept
    assert not (tmp_path / "prometheus").exists()  # Prometheus' scratch data is not

    # The narration, step by step: the first change promoted, the second failed by analysis.
    source = ("a real Prometheus" if prometheus == "real" else "the demo's built-in Prometheus query API")
    steps = _steps(out)
    tail = steps[next(i for i, step in enumerate(steps) if step.startswith("Rollout of web successful")):]
    expected = ["Rollout of web successful", "Committed", "Canary placed", "Canary healthy in Nomad's eyes",
                "Breach", "Nomad auto-reverted web", "Held", "Where to look"]  # fmt: skip
    assert [next((e for e in expected if step.startswith(e)), step) for step in tail] == expected, out
    assert f"Canary analysis: the daemon queries {source}" in out
    assert out.index("Canary analysis: the daemon queries") < out.index("Started the daemon")
    assert 'opts into canary analysis (Meta "gitops.analysis" = "http-errors"' in out
    measured = re.findall(r"measurement (\d+): http-errors/error-rate = (\S+) \(wanted < 0.05\): (\w+)", out)
    assert measured == [("1", "0.25", "fail"), ("2", "0.25", "fail")], out  # failure_limit = 1
    assert f"==> Breach: {ANALYSIS_REASON}" in out
    assert "failed: Deployment marked as failed - rolling back to job version 1" in out
    # The final state: the old spec runs again, and the daemon holds the new one with the value.
    assert 'Nomad auto-reverted web: job version 3 is the last stable spec again (demo_revision = "2")' in out
    assert "running: 3 allocation(s) of job version 3; the failed canary is stopped" in out
    assert f"    daemon: {ANALYSIS_REASON}" in out
    assert re.search(r"status \(.*\): held: the rollout of this spec failed \(Deployment marked as failed", out)
    # The daemon did the promotion and the failing, and the changes went through git in the scratch copy.
    assert "promoted canaries" in result.stderr
    assert 'analysis failed the canaries: deployment failed, Nomad rolls back' in result.stderr
    log = subprocess.run(["git", "-C", str(tmp_path / "repo"), "log", "--format=%s"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert log == ["web: opt into canary analysis http-errors", f"web: change Meta {CHANGE_KEY}", "Jobs as declared"]
    assert _tree_digest(ROOT / "jobs") == before


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("stop", "after"), [
    (signal.SIGINT, "Canary healthy in Nomad's eyes"),  # mid-analysis: Prometheus, exporter, fake, daemon
    (signal.SIGTERM, "press Ctrl-C to stop the demo"),
], ids=["ctrl-c-during-analysis", "sigterm-at-the-end"])  # fmt: skip
def test_demo_removes_its_scratch_repository_and_stops_prometheus_when_stopped(
    tmp_path: Path, stop: signal.Signals, after: str
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
            if after in line:
                break
        text = "".join(lines)
        assert after in text, text
        url = PROMETHEUS_URL.search(text)
        assert url is not None, text
        assert httpx.get(f"{url.group(1)}/api/v1/query", params={"query": "1"}, timeout=5).status_code == 200
        if stop == signal.SIGTERM:
            assert "What to try next" in text
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
    with pytest.raises(httpx.ConnectError):  # Prometheus (or the built-in API) is gone too
        httpx.get(f"{url.group(1)}/api/v1/query", params={"query": "1"}, timeout=5)


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
