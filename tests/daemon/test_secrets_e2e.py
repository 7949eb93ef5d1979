"""No secret the process holds reaches a log line or an error message, whatever its source.

Real subprocesses against the fake (with ACLs): a daemon with a token file
and credentials in ``--address``, the same daemon after a bad token rotation,
a daemon and a one-shot ``sync`` against an unreachable address (transport
errors), and configuration errors.  Every line of output is grepped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from reconciler.testing.fake_nomad import FakeNomad
from tests.support.daemon import REPO_ROOT, DaemonProcess
from tests.support.git import GitCheckout
from tests.support.jobs import job_hcl
from tests.support.network import free_port
from tests.support.waiting import wait_until

USER = "nomad-basic-user"
PASSWORD = "basic-pass-7f3a9c"


def with_credentials(address: str) -> str:
    scheme, _, rest = address.partition("://")
    return f"{scheme}://{USER}:{PASSWORD}@{rest}"


def assert_clean(texts: Iterable[str], secrets: Iterable[str]) -> None:
    text = "\n".join(texts)
    assert text, "nothing to check"
    for secret in secrets:
        assert secret not in text, f"secret {secret[:4]}… leaked"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], cwd=REPO_ROOT, env={**clean, **(env or {})},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture
def acl_fake() -> Iterator[FakeNomad]:
    with FakeNomad(acl=True) as server:
        yield server


def test_token_file_and_address_credentials_never_logged(
    acl_fake: FakeNomad,
    repo: GitCheckout,
    tmp_path: Path,
    start_daemon: Callable[..., DaemonProcess],
) -> None:
    token = acl_fake.bootstrap_acl()
    token_file = tmp_path / "nomad-token"
    token_file.write_text(f"  {token}\n")  # trimmed, as a sidecar would write it
    repo.write("web.nomad", job_hcl("web"))
    repo.commit("web")
    daemon = start_daemon(
        repo.root, with_credentials(acl_fake.address), "--token-file", str(token_file),
        "--log-level", "debug",
    )  # fmt: skip
    daemon.wait_log("daemon started")
    wait_until(lambda: acl_fake.state.get_record("default", "web"), what="web registered")

    # A rotation that leaves two lines (e.g. a template appending): refused, never shown.
    rotated = ["a1b2c3d4-0000-4000-8000-00000000dead", "e5f6a7b8-1111-4111-8111-00000000beef"]
    token_file.write_text("\n".join(rotated) + "\n")
    repo.write("api.nomad", job_hcl("api"))
    repo.commit("api")
    wait_until(
        lambda: any("holds 2 lines" in line for line in daemon.raw), what="token file refused"
    )
    # The last good token keeps working.
    wait_until(lambda: acl_fake.state.get_record("default", "api"), what="api registered")
    daemon.stop()
    started = daemon.logs("daemon started")[0]
    assert started["nomad"].startswith("http://<redacted>@127.0.0.1:")
    assert_clean(daemon.raw, [token, PASSWORD, f"{USER}:{PASSWORD}", *rotated])


def test_unreachable_address_transport_errors_never_show_secrets(
    repo: GitCheckout, tmp_path: Path, start_daemon: Callable[..., DaemonProcess]
) -> None:
    token = "0c0ffee0-aaaa-4bbb-8ccc-1234567890ab"
    token_file = tmp_path / "nomad-token"
    token_file.write_text(token + "\n")
    repo.write("web.nomad", job_hcl("web"))
    repo.commit("web")
    unreachable = with_credentials(f"http://127.0.0.1:{free_port()}")
    daemon = start_daemon(repo.root, unreachable, "--token-file", str(token_file))
    wait_until(
        lambda: [r for r in daemon.logs() if r.get("level") in ("warning", "error")],
        timeout=20, what="a transport error logged",
    )  # fmt: skip
    daemon.stop()
    text_daemon = start_daemon(
        repo.root, unreachable, "--token-file", str(token_file), "--log-format", "text"
    )
    wait_until(
        lambda: any("warning" in line or "error" in line for line in text_daemon.raw),
        timeout=20, what="a transport error logged as text",
    )  # fmt: skip
    text_daemon.stop()

    # One-shot commands: the token from --token, from NOMAD_TOKEN, and from the address.
    flag = run_cli("sync", str(repo.root), "--address", unreachable, "--token", token)
    env = run_cli("plan", str(repo.root), "--address", unreachable, env={"NOMAD_TOKEN": token})
    status = run_cli("status", str(repo.root), "--address", unreachable, "--token", token)
    for done in (flag, env, status):
        assert done.returncode == 1
        assert "cannot reach Nomad at http://<redacted>@127.0.0.1:" in done.stdout + done.stderr
    outputs = [*daemon.raw, *text_daemon.raw]
    outputs += [p.stdout + p.stderr for p in (flag, env, status)]
    assert_clean(outputs, [token, PASSWORD, f"{USER}:{PASSWORD}"])


def test_bad_token_file_and_bad_address_errors_do_not_print_them(
    repo: GitCheckout, tmp_path: Path
) -> None:
    repo.write("web.nomad", job_hcl("web"))
    repo.commit("web")
    secrets = ["first-line-secret-9f8e7d", "second-line-secret-6c5b4a"]
    token_file = tmp_path / "nomad-token"
    token_file.write_text("\n".join(secrets) + "\n")
    address = with_credentials(f"http://127.0.0.1:{free_port()}")
    daemon = ("daemon", str(repo.root), "--address", address, "--token-file", str(token_file))
    two_lines = run_cli(*daemon, "--listen", f"127.0.0.1:{free_port()}")
    assert two_lines.returncode == 1
    assert f"Nomad token file {token_file}: holds 2 lines" in two_lines.stderr
    token_file.write_text("tok\x1ben-with-escape-0001\n")
    control = run_cli(*daemon, "--listen", f"127.0.0.1:{free_port()}")
    bad_port = run_cli("plan", str(repo.root), "--address", f"http://{USER}:{PASSWORD}@h:port")
    assert control.returncode == 1 and bad_port.returncode == 1
    assert "control characters" in control.stdout + control.stderr
    assert "NOMAD_ADDR 'http://<redacted>@h:port': invalid port" in bad_port.stderr
    outputs = [p.stdout + p.stderr for p in (two_lines, control, bad_port)]
    assert_clean(outputs, [*secrets, "en-with-escape-0001", PASSWORD])
