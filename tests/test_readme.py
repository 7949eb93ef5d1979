"""The README's commands are true: the quick start matches what CI and the demo
test run, every `nomad-reconciler` command line parses, and the tutorial runs
end to end, ending with web's canary promoted: against the Nomad fake (its `nomad`
CLI step done through the API) and, when a `nomad` binary is on PATH, literally
against a dev agent of its own."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from reconciler.cli import build_parser
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.network import free_port
from tests.support.nomad_backends import running_nomad_agent

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def shell_blocks() -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    return [[ln.strip() for ln in b.splitlines() if ln.strip() and not ln.strip().startswith("#")]
            for b in blocks]


def our_commands() -> list[str]:
    lines = [ln for block in shell_blocks() for ln in block]
    return [ln for ln in lines if ln.startswith("nomad-reconciler ") or "bin/nomad-reconciler " in ln]


def test_quick_start_is_the_demo_and_the_ci_script() -> None:
    install, tests = shell_blocks()[0]
    assert install == ("python3 -m venv .venv && .venv/bin/pip install -e . && "
                       ".venv/bin/nomad-reconciler demo jobs/")
    assert tests == "bash .ci/run"
    ci = (ROOT / ".ci/run").read_text()
    assert "exec .venv/bin/pytest" in ci


@pytest.mark.parametrize("line", our_commands())
def test_every_documented_command_parses(line: str) -> None:
    command = line.split("&&")[-1].strip()
    argv = shlex.split(command)[1:]
    args = build_parser().parse_args(argv)
    assert callable(args.func)


def _tutorial_lines() -> list[str]:
    start = README.index("## Tutorial")
    end = README.index("## Commands")
    blocks = re.findall(r"```sh\n(.*?)```", README[start:end], flags=re.DOTALL)
    return [ln.strip() for b in blocks for ln in b.splitlines() if ln.strip()]


@contextmanager
def _tutorial_nomad(kind: str) -> Iterator[str]:
    """The tutorial's `nomad agent -dev`: the fake, or a real agent of its own (never a
    shared one: the tutorial starts from an empty Nomad)."""
    if kind == "fake":
        with FakeNomad() as fake:
            yield fake.address
        return
    binary = shutil.which("nomad")
    if binary is None:
        pytest.skip("no `nomad` binary on PATH: real-Nomad variants need one")
    with running_nomad_agent(binary) as address:
        yield address


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("kind", ["fake", pytest.param("real", marks=pytest.mark.real_nomad)])
def test_tutorial_runs_and_ends_with_web_promoted(kind: str, tmp_path: Path) -> None:
    jobs = tmp_path / "nomad-jobs"
    port = free_port()
    with _tutorial_nomad(kind) as address:
        env = {**os.environ, "NOMAD_ADDR": address}
        daemon: subprocess.Popen[str] | None = None
        ran: list[str] = []
        try:
            for line in _tutorial_lines():
                line = line.replace("/tmp/nomad-jobs", str(jobs)).replace("127.0.0.1:9464", f"127.0.0.1:{port}")
                if line == "nomad agent -dev" or line.startswith("export NOMAD_ADDR="):
                    continue  # the agent is started above; env carries its address
                if line == ". .venv/bin/activate":
                    continue  # this test runs the reconciler with its own interpreter
                if line.startswith("nomad namespace apply ") and kind == "fake":
                    name = line.split()[-1]
                    httpx.put(f"{address}/v1/namespace", json={"Name": name}).raise_for_status()
                elif line.startswith("nomad-reconciler daemon"):
                    argv = [sys.executable, "-m", "reconciler", *shlex.split(line)[1:]]
                    daemon = subprocess.Popen(argv, env=env, text=True, stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT)
                    _wait(lambda: _ready(port), "daemon ready")
                elif line.startswith("nomad-reconciler "):
                    argv = [sys.executable, "-m", "reconciler", *shlex.split(line)[1:]]
                    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
                    allowed = {0, 2} if " plan " in f" {line} " else {0}
                    assert result.returncode in allowed, (line, result.stdout, result.stderr)
                else:  # git, cp, sed — and, on a real agent, the `nomad` CLI itself
                    subprocess.run(["bash", "-c", line], cwd=ROOT, env=env, check=True, timeout=60)
                ran.append(line.split()[0] + " " + line.split()[1])
            assert daemon is not None, "the tutorial starts a daemon"
            # The commit after the daemon started (release 1 -> 2) reached Nomad ...
            def web_release() -> bool:
                job = httpx.get(f"{address}/v1/job/web").json()
                return bool((job.get("Meta") or {}).get("release") == "2")
            _wait(web_release, "the committed change registered by the daemon")
            # ... and ends as the README says: the canary promoted after its minute.
            _wait(lambda: _web_promoted(address), "web's canary promoted", timeout_s=400.0)
        finally:
            if daemon is not None:
                daemon.send_signal(signal.SIGTERM)
                out, _ = daemon.communicate(timeout=60)
                assert daemon.returncode == 0, out
    assert {"nomad-reconciler lint", "nomad-reconciler plan", "nomad-reconciler sync",
            "nomad-reconciler status", "nomad-reconciler render", "git -C"} <= set(ran)


def _web_promoted(address: str) -> bool:
    job = httpx.get(f"{address}/v1/job/web").json()
    deployment = httpx.get(f"{address}/v1/job/web/deployment").json()
    if not deployment or deployment.get("JobVersion") != job.get("Version"):
        return False
    groups = deployment.get("TaskGroups") or {}
    return bool(groups) and all(g.get("Promoted") for g in groups.values())


def test_tutorial_puts_the_reconciler_on_path_before_using_it() -> None:
    """The install (command 1) leaves nomad-reconciler in .venv/bin, not on PATH."""
    lines = _tutorial_lines()
    first_use = next(i for i, ln in enumerate(lines) if ln.startswith("nomad-reconciler "))
    assert ". .venv/bin/activate" in lines[:first_use]


def test_tutorial_web_job_needs_no_consul() -> None:
    """The job the tutorial changes must get healthy on a bare dev agent (no Consul)."""
    from reconciler.jobspec.hcl_convert import convert_hcl

    path = ROOT / "jobs/default/web/web.nomad"
    job = convert_hcl(path.read_text(), path=str(path))
    assert job["Update"]["HealthCheck"] == "task_states"
    assert all(not g.get("Services") for g in job["TaskGroups"])  # 1.4+ would need Consul
    assert all(not t.get("Services") for g in job["TaskGroups"] for t in g["Tasks"])


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(check, what: str, timeout_s: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
