"""``python -m reconciler.testing`` as a real subprocess: prints its address, serves, stops on SIGTERM."""

from __future__ import annotations

import subprocess
import sys

import httpx


def _start(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler.testing", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip()]
    if "--acl" in args:
        lines.append(proc.stdout.readline().strip())
    return proc, lines


def test_standalone_fake_serves_and_exits_cleanly() -> None:
    proc, (address,) = _start("--nomad-version", "1.4.3")
    try:
        assert address.startswith("http://127.0.0.1:")
        body = httpx.get(f"{address}/v1/agent/self", timeout=5).json()
        assert body["config"]["Version"]["Version"] == "1.4.3"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # also closes the pipes
    assert proc.returncode == 0


def test_standalone_fake_with_acl_prints_a_management_token() -> None:
    proc, (address, token_line) = _start("--acl")
    try:
        token = token_line.removeprefix("NOMAD_TOKEN=")
        assert httpx.get(f"{address}/v1/jobs", timeout=5).status_code == 403
        assert httpx.get(f"{address}/v1/jobs", headers={"X-Nomad-Token": token}, timeout=5).json() == []
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # also closes the pipes
    assert proc.returncode == 0
