"""Nomad backends for integration tests: the project's fake, and a real agent.

``nomad_agent`` starts its own ``nomad agent -dev`` on free loopback ports
(own data directory, waits for a leader, stops it afterwards) when a
``nomad`` binary is on PATH, and skips otherwise.  ``backend`` runs a test
against both: ``fake`` always, ``real`` when the agent can start.  Nothing
here reads ``NOMAD_ADDR``: it may point at production.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.network import free_port
from tests.support.waiting import stop_process

AGENT_START_TIMEOUT_S = 60.0

# The oldest and the newest Nomad the fake models: tests that matter run at both.
FAKE_VERSIONS = ("1.0.18", "2.0.5")


def fake_backend_params() -> list[Any]:
    """``pytest.param`` per modelled version (ids ``fake-1.0.18`` ...): a fixture with these
    params gets the version as ``request.param`` and starts ``FakeNomad(version=...)``."""
    return [pytest.param(version, id=f"fake-{version}") for version in FAKE_VERSIONS]


@dataclass
class Backend:
    """Where a test's Nomad lives; ``fake`` is set only for the fake backend."""

    kind: str
    address: str
    fake: FakeNomad | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _wait_until_ready(address: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + AGENT_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"nomad agent exited with {process.returncode}: {log_path.read_text()[-2000:]}"
            )
        try:
            if _has_leader(address) and _has_ready_node(address):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)  # polling a starting process; bounded by the deadline
    raise RuntimeError(f"nomad agent had no leader and ready node after {AGENT_START_TIMEOUT_S}s")


def _has_leader(address: str) -> bool:
    response = httpx.get(f"{address}/v1/status/leader", timeout=1.0, trust_env=False)
    return response.status_code == 200 and bool(response.json())


def _has_ready_node(address: str) -> bool:
    """A leader alone is not enough: until the dev agent's client has registered and is
    ready, every job's first evaluation finds no node and is blocked, so a test that
    waits for its evaluations would see none of the allocations placed moments later."""
    response = httpx.get(f"{address}/v1/nodes", timeout=1.0, trust_env=False)
    return response.status_code == 200 and any(n.get("Status") == "ready" for n in response.json())


@contextmanager
def running_nomad_agent(binary: str) -> Iterator[str]:
    """Run ``binary agent -dev`` on free loopback ports with its own data dir; yield its address."""
    workdir = Path(tempfile.mkdtemp(prefix="nomad-agent-"))
    http, rpc, serf = free_port(), free_port(), free_port()
    config = workdir / "agent.hcl"
    config.write_text(
        f'data_dir = "{workdir / "data"}"\n'
        'bind_addr = "127.0.0.1"\n'
        f"ports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n}}\n"
    )
    log_path = workdir / "agent.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, "agent", "-dev", f"-config={config}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    address = f"http://127.0.0.1:{http}"
    try:
        _wait_until_ready(address, process, log_path)
        yield address
    finally:
        stop_process(process, timeout=20)
        _reap_leftovers(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def _reap_leftovers(workdir: Path) -> None:
    """Stop what a dev agent leaves behind when it stops: its task executors, log
    monitors and the tasks themselves outlive it by design (a real client re-attaches to
    them on restart), and exec tasks keep tmpfs mounts under the data dir.  All of them
    run in the agent's working directory or below it, which is this test's own."""
    root = str(workdir.resolve())
    for _ in range(2):  # SIGTERM first, then SIGKILL what is left
        leftover = [pid for pid in _pids() if _cwd_under(pid, root)]
        for pid in leftover:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM if _ == 0 else signal.SIGKILL)
        if not leftover:
            break
        time.sleep(0.5)  # give the signalled processes a moment to exit
    for mount in sorted(_mounts_under(root), reverse=True):  # the deepest first
        subprocess.run(["umount", "-l", mount], capture_output=True, check=False)


def _pids() -> list[int]:
    proc = Path("/proc")
    return [int(p.name) for p in proc.iterdir() if p.name.isdigit()] if proc.is_dir() else []


def _cwd_under(pid: int, root: str) -> bool:
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return cwd == root or cwd.startswith(root + "/")


def _mounts_under(root: str) -> list[str]:
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1] for line in lines if len(line.split()) > 1]
    return [m for m in points if m.startswith(root + "/")]


def purge_all_jobs(address: str) -> None:
    """Empty a Nomad this test session started itself (never anything else)."""
    with httpx.Client(base_url=address, trust_env=False, timeout=10.0) as http:
        for stub in http.get("/v1/jobs", params={"namespace": "*"}).json():
            job_id = quote(stub["ID"], safe="")  # one escaped path segment, as Nomad's client
            http.delete(f"/v1/job/{job_id}", params={"namespace": stub["Namespace"], "purge": "true"})
