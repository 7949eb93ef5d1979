"""The real-agent fixture's lifecycle, exercised with a stand-in ``nomad`` binary.

The stand-in reads the agent config the fixture writes and serves the Nomad
fake on its HTTP port, so starting, waiting for a leader and stopping are
checked even where no Nomad can be installed.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.nomad_backends import running_nomad_agent

STAND_IN = """#!{python}
import os, re, sys
args = sys.argv[1:]
assert args[:2] == ["agent", "-dev"], args
config = next(a.split("=", 1)[1] for a in args if a.startswith("-config="))
text = open(config).read()
assert 'bind_addr = "127.0.0.1"' in text and "data_dir" in text, text
port = re.search(r"http = (\\d+)", text).group(1)
os.execv(sys.executable, [sys.executable, "-m", "reconciler.testing", "--port", port])
"""


def port_is_open(address: str) -> bool:
    host, port = address.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


@pytest.fixture
def stand_in_nomad(tmp_path: Path) -> str:
    binary = tmp_path / "nomad"
    binary.write_text(STAND_IN.format(python=sys.executable))
    binary.chmod(0o755)
    return str(binary)


def test_agent_starts_on_free_ports_serves_and_stops(stand_in_nomad: str) -> None:
    with running_nomad_agent(stand_in_nomad) as address:
        assert address.startswith("http://127.0.0.1:")
        leader = httpx.get(f"{address}/v1/status/leader", trust_env=False, timeout=5)
        assert leader.json()
    assert not port_is_open(address)


def test_agent_that_dies_at_start_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "nomad"
    broken.write_text("#!/bin/sh\necho 'Error: no such flag' >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(RuntimeError, match="no such flag"), running_nomad_agent(str(broken)):
        pass
