"""A daemon that cannot work exits non-zero with the reason; it never lingers half-alive.

A configuration error at start (an unreadable token file, a bad address, a missing
variables file...) must end the process with status 1 and a one-line reason, so that
Nomad's ``restart`` block or systemd restarts it and the operator sees why.  A root
task of the loop that dies later takes the process down the same way instead of
leaving ``/healthz`` answering 200 while nothing works.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from pathlib import Path

import pytest

from reconciler.config.settings import load_settings
from reconciler.daemon.loop import Daemon
from reconciler.errors import ConfigError
from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import DaemonProcess
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl

EXIT_TIMEOUT_S = 30.0  # bound on how long a doomed daemon may take to exit


def _exit_code(daemon: DaemonProcess) -> int:
    try:
        return daemon.proc.wait(timeout=EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"daemon still running after {EXIT_TIMEOUT_S}s:\n{daemon.dump()}") from None


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (("--token-file", "{tmp}/missing-token"), "Nomad token file {tmp}/missing-token: cannot read it"),
        (("--token-file", "{tmp}"), "Nomad token file {tmp}: cannot read it"),
        (("--var-file", "{tmp}/missing.vars.hcl"), "variables file {tmp}/missing.vars.hcl: cannot read it"),
        (("--address", "ftp://127.0.0.1:4646"), "expected http://host:port"),
        (("--listen", "127.0.0.1:99999"), "listen: expected HOST:PORT"),
    ],
    ids=["token-file-missing", "token-file-is-a-directory", "var-file-missing", "bad-address",
         "bad-listen"],
)
def test_configuration_error_at_start_exits_1_with_the_reason(
    fake: FakeNomad, repo: GitCheckout, start_daemon, tmp_path: Path,
    extra: tuple[str, ...], reason: str,
) -> None:
    repo.write("a.nomad", job_hcl("a"))
    repo.commit()
    args = [a.format(tmp=tmp_path) for a in extra]
    address = fake.address
    if "--address" in args:  # the flag given last wins
        address = args[args.index("--address") + 1]
    daemon = start_daemon(repo.root, address, *args)
    assert _exit_code(daemon) == 1
    daemon.stop()
    assert reason.format(tmp=tmp_path) in daemon.dump()
    assert "Task exception was never retrieved" not in daemon.dump()
    assert fake.read_job("a") is None  # nothing was applied with a broken configuration


def test_token_file_readable_at_start_runs_normally(
    fake: FakeNomad, repo: GitCheckout, start_daemon, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("any-token\n")  # the fake has ACLs off: any token is accepted
    repo.write("a.nomad", job_hcl("a"))
    repo.commit()
    daemon = start_daemon(repo.root, fake.address, "--token-file", str(token))
    daemon.wait_ready()
    assert daemon.proc.poll() is None
    assert daemon.stop() == 0


async def _run_with_dying_root_task(tmp_path: Path, error: BaseException) -> Daemon:
    with FakeNomad() as fake:
        settings = load_settings(
            {"jobs_dir": str(tmp_path), "listen": "", "nomad": {"address": fake.address}}, {}
        )
        daemon = Daemon(settings, env={})
        run = asyncio.create_task(daemon.run())
        while not daemon.supervisor.tasks:  # the root tasks are spawned after the first load
            await asyncio.sleep(0.01)

        async def dies() -> None:
            raise error

        daemon.supervisor.spawn(dies(), "doomed", root=True)
        daemon.result = await asyncio.wait_for(run, EXIT_TIMEOUT_S)  # type: ignore[attr-defined]
    return daemon


async def test_a_root_task_that_dies_stops_the_daemon_with_status_1(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="reconciler.daemon"):
        daemon = await _run_with_dying_root_task(tmp_path, RuntimeError("boom"))
    assert daemon.result == 1  # type: ignore[attr-defined]
    (record,) = [r for r in caplog.records if "internal task doomed died" in r.getMessage()]
    assert record.exc_info is not None and str(record.exc_info[1]) == "boom"


async def test_a_root_task_failing_on_configuration_raises_it_for_the_cli(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="token went away"):
        await _run_with_dying_root_task(tmp_path, ConfigError("token went away"))
