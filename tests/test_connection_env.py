"""The same environment gives the same Nomad connection in every command.

Every command that talks to Nomad (``plan``/``diff``, ``sync``, ``status``,
``daemon``, ``demo``) resolves its connection in ``reconciler.config``; these
tests run each of them as a real subprocess against the Nomad fake over
loopback and require one verdict per environment.  The fake's address reaches
the commands only through the config file that ``NOMAD_RECONCILER_CONFIG``
names, so the variable under test decides the rest.  The only ``NOMAD_ADDR``
values set here are ``""`` and an ``ftp://`` URL: neither can reach a cluster.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import REPO_ROOT, daemon_env
from tests.support.jobs import job_hcl
from tests.support.network import free_port

RUN_TIMEOUT_S = 120.0  # bound on one command; they take a few seconds
ONE_SHOT = {
    "plan": ["plan"],
    "diff": ["diff"],
    "sync": ["sync", "--dry-run"],
    "status": ["status"],
}
OFFLINE = {
    "lint": ["lint"],
    "render": ["render"],
}


@dataclass(frozen=True)
class Verdict:
    """What one command made of the environment."""

    connected: bool  # it talked to the fake (the daemon: it became ready)
    rejected_config: bool  # it refused the configuration before connecting
    output: str


@pytest.fixture
def jobs(tmp_path: Path) -> Path:
    root = tmp_path / "jobs"
    root.mkdir()
    (root / "web.nomad").write_text(job_hcl("web"))
    return root


def _env(config: Path, extra: dict[str, str]) -> dict[str, str]:
    return {**daemon_env(), "PYTHONUNBUFFERED": "1", "NOMAD_RECONCILER_CONFIG": str(config), **extra}


def _write_config(tmp_path: Path, address: str) -> Path:
    config = tmp_path / "reconciler.toml"
    config.write_text(f'[nomad]\naddress = "{address}"\n')
    return config


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], env=env, cwd=cwd, capture_output=True,
        text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _one_shot(fake: FakeNomad, name: str, jobs: Path, env: dict[str, str]) -> Verdict:
    before = len(fake.request_log)
    done = _run([*ONE_SHOT[name], str(jobs)], env, REPO_ROOT)
    output = done.stdout + done.stderr
    connected = done.returncode in (0, 2) and len(fake.request_log) > before
    return Verdict(connected, _config_error(done.returncode, output), output)


def _config_error(returncode: int, output: str) -> bool:
    return returncode == 1 and "NOMAD_" in output and "cannot reach" not in output


def _daemon(fake: FakeNomad, jobs: Path, env: dict[str, str], *, until: str = "") -> Verdict:
    """Start the daemon; connected once /readyz says so, rejected when it exits 1.

    ``until``: a text the daemon logs when it cannot connect (it then retries forever).
    """
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "daemon", str(jobs), "--listen",
         f"127.0.0.1:{port}", "--log-format", "json", "--backoffs", "0.2",
         "--resync-interval", "1h"],
        env=env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        connected = False
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if until and until in "".join(lines):
                break
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    connected = True
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            raise AssertionError("daemon neither ready, nor exited, nor failing: " + "".join(lines))
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=10)
        stdout.close()
    output = "".join(lines)
    return Verdict(connected, _config_error(proc.returncode, output), output)


def _demo(tmp_path: Path, jobs: Path, env: dict[str, str]) -> Verdict:
    port = free_port()
    done = _run(["demo", str(jobs), "--exit-after-walkthrough", "--listen",
                 f"127.0.0.1:{port}", "--timeout", "60"], env, tmp_path)  # fmt: skip
    output = done.stdout + done.stderr
    connected = done.returncode == 0 and "Using the Nomad at" in output
    return Verdict(connected, _config_error(done.returncode, output), output)


def _all_verdicts(
    fake: FakeNomad, tmp_path: Path, jobs: Path, env: dict[str, str], *, demo: bool = True,
    daemon_until: str = "",
) -> dict[str, Verdict]:
    verdicts = {name: _one_shot(fake, name, jobs, env) for name in ONE_SHOT}
    verdicts["daemon"] = _daemon(fake, jobs, env, until=daemon_until)
    if demo:
        verdicts["demo"] = _demo(tmp_path, jobs, env)
    return verdicts


def _describe(verdicts: dict[str, Verdict]) -> str:
    return "\n".join(f"--- {name}: {v.connected=} {v.rejected_config=}\n{v.output[-1500:]}"
                     for name, v in verdicts.items())  # fmt: skip


@pytest.fixture
def fake() -> Iterator[FakeNomad]:
    with FakeNomad() as server:
        yield server


@pytest.mark.parametrize(
    ("extra", "accepted"),
    [
        # Nomad: `if addr := os.Getenv("NOMAD_ADDR"); addr != ""`: empty is unset, so the
        # config file's address applies (the daemon used to refuse to start on it).
        ({"NOMAD_ADDR": ""}, True),
        # Not a value strconv.ParseBool accepts: ignored as Nomad ignores it (plan used to
        # refuse it while the daemon took it for "true").
        ({"NOMAD_SKIP_VERIFY": "yes"}, True),
        ({"NOMAD_ADDR": "ftp://127.0.0.1:1"}, False),
    ],
    ids=["addr-empty", "skip-verify-yes", "addr-ftp"],
)
def test_every_command_accepts_or_rejects_the_same_environment(
    fake: FakeNomad, tmp_path: Path, jobs: Path, extra: dict[str, str], accepted: bool
) -> None:
    env = _env(_write_config(tmp_path, fake.address), extra)
    verdicts = _all_verdicts(fake, tmp_path, jobs, env)
    assert {n: v.connected for n, v in verdicts.items()} == dict.fromkeys(verdicts, accepted), (
        _describe(verdicts)
    )
    assert {n: v.rejected_config for n, v in verdicts.items()} == dict.fromkeys(
        verdicts, not accepted
    ), _describe(verdicts)
    if extra.get("NOMAD_SKIP_VERIFY") == "yes":
        for name, verdict in verdicts.items():
            assert "NOMAD_SKIP_VERIFY='yes'" in verdict.output, (name, verdict.output)


def test_offline_commands_never_read_the_connection(tmp_path: Path, jobs: Path) -> None:
    """``lint`` and ``render`` talk to no Nomad: connection settings, even broken, do not matter."""
    extra = {"NOMAD_ADDR": "ftp://127.0.0.1:1", "NOMAD_SKIP_VERIFY": "yes"}
    env = _env(tmp_path / "missing.toml", extra)
    lint = _run([*OFFLINE["lint"], str(jobs)], env, REPO_ROOT)
    render = _run([*OFFLINE["render"], str(jobs / "web.nomad")], env, REPO_ROOT)
    assert (lint.returncode, render.returncode) == (0, 0), lint.stderr + render.stderr
    assert '"ID": "web"' in render.stdout


@pytest.fixture
def tls_fake(tmp_path: Path) -> Iterator[FakeNomad]:
    """The fake behind TLS whose certificate no CA the commands know has signed."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with FakeNomad(ssl_context=context) as server:
        yield server


@pytest.mark.parametrize(
    ("skip_verify", "verified"),
    [("yes", True), ("1", False)],
)
def test_skip_verify_means_the_same_to_every_command(
    tls_fake: FakeNomad, tmp_path: Path, jobs: Path, skip_verify: str, verified: bool
) -> None:
    """With an untrusted certificate, only a value Go's ParseBool reads as true skips the check."""
    env = _env(_write_config(tmp_path, tls_fake.address), {"NOMAD_SKIP_VERIFY": skip_verify})
    verdicts = _all_verdicts(
        tls_fake, tmp_path, jobs, env, demo=False, daemon_until="CERTIFICATE_VERIFY_FAILED"
    )
    assert {n: v.connected for n, v in verdicts.items()} == dict.fromkeys(
        verdicts, not verified
    ), _describe(verdicts)
    if verified:
        for name, verdict in verdicts.items():
            assert "CERTIFICATE_VERIFY_FAILED" in verdict.output, (name, verdict.output)
