"""TLS, mutual TLS, server name, skip-verify and unix sockets over real listeners.

Certificates come from a throw-away CA made by ``trustme`` in each test.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from reconciler.config.connection import NomadConfig
from reconciler.config.http_client import TLSSettings
from reconciler.errors import ConfigError, NomadUnavailableError
from reconciler.nomad.client import NomadClient
from reconciler.nomad.retry import RetryPolicy
from tests.support.recorder import recording_server

SERVER_NAME = "server.global.nomad"


@dataclass(frozen=True)
class Pki:
    ca: trustme.CA
    ca_file: str
    client_cert: str
    client_key: str


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    client = ca.issue_cert("reconciler.client")
    cert, key = tmp_path / "client.pem", tmp_path / "client-key.pem"
    for blob in client.cert_chain_pems:
        blob.write_to_path(str(cert), append=True)
    client.private_key_pem.write_to_path(str(key))
    return Pki(ca, str(ca_file), str(cert), str(key))


def server_context(pki: Pki, *names: str, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    pki.ca.issue_cert(*names).configure_cert(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        pki.ca.configure_trust(context)
    return context


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[str]:
    with recording_server(ssl_context=server_context(pki, "127.0.0.1", SERVER_NAME)) as (
        address,
        _,
    ):
        yield address


async def version_via(config: NomadConfig) -> tuple[int, int, int]:
    async with NomadClient(config, retry=RetryPolicy.never()) as client:
        return await client.server_version()


async def test_https_with_the_configured_ca(tls_server: str, pki: Pki) -> None:
    assert tls_server.startswith("https://")
    config = NomadConfig.from_env({"NOMAD_ADDR": tls_server, "NOMAD_CACERT": pki.ca_file})
    assert await version_via(config) == (1, 0, 18)


async def test_https_with_an_unknown_ca_fails_as_unavailable(tls_server: str) -> None:
    with pytest.raises(NomadUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        await version_via(NomadConfig(address=tls_server))


async def test_skip_verify_accepts_an_unknown_ca(tls_server: str) -> None:
    config = NomadConfig.from_env({"NOMAD_ADDR": tls_server, "NOMAD_SKIP_VERIFY": "true"})
    assert await version_via(config) == (1, 0, 18)


async def test_tls_server_name_verifies_a_certificate_without_the_ip(pki: Pki) -> None:
    # Like Nomad's own certificates: issued for server.<region>.nomad, reached by IP.
    with recording_server(ssl_context=server_context(pki, SERVER_NAME)) as (address, _):
        named = NomadConfig(address=address, tls=TLSSettings(ca_cert=pki.ca_file, server_name=SERVER_NAME))
        assert await version_via(named) == (1, 0, 18)
        with pytest.raises(NomadUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
            await version_via(NomadConfig(address=address, tls=TLSSettings(ca_cert=pki.ca_file)))


async def test_mutual_tls(pki: Pki) -> None:
    context = server_context(pki, "127.0.0.1", require_client_cert=True)
    with recording_server(ssl_context=context) as (address, _):
        env = {
            "NOMAD_ADDR": address,
            "NOMAD_CACERT": pki.ca_file,
            "NOMAD_CLIENT_CERT": pki.client_cert,
            "NOMAD_CLIENT_KEY": pki.client_key,
        }
        assert await version_via(NomadConfig.from_env(env)) == (1, 0, 18)
        with pytest.raises(NomadUnavailableError):
            await version_via(NomadConfig(address=address, tls=TLSSettings(ca_cert=pki.ca_file)))


def test_unreadable_ca_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ConfigError, match=r"nope\.pem"):
        NomadClient(NomadConfig(address="https://127.0.0.1:1", tls=TLSSettings(ca_cert=missing)))


def test_bad_client_key_is_a_config_error_naming_it(pki: Pki, tmp_path: Path) -> None:
    bad_key = tmp_path / "bad-key.pem"
    bad_key.write_text("not a key")
    config = NomadConfig(
        address="https://127.0.0.1:1",
        tls=TLSSettings(ca_cert=pki.ca_file, client_cert=pki.client_cert, client_key=str(bad_key)),
    )
    with pytest.raises(ConfigError, match=r"bad-key\.pem"):
        NomadClient(config)


async def test_unix_socket_address(tmp_path: Path) -> None:
    socket_path = str(tmp_path / "nomad.sock")
    with recording_server(unix_socket=socket_path, version="1.6.1") as (address, recorder):
        assert address == f"unix://{socket_path}"
        config = NomadConfig.from_env({"NOMAD_ADDR": address})
        assert await version_via(config) == (1, 6, 1)
        assert recorder.of("/v1/agent/self")


async def test_ca_path_directory(tls_server: str, pki: Pki, tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to name a CA directory entry by subject hash")
    subject_hash = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", pki.ca_file],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ca_dir = tmp_path / "cas"
    ca_dir.mkdir()
    shutil.copy(pki.ca_file, ca_dir / f"{subject_hash}.0")
    config = NomadConfig.from_env({"NOMAD_ADDR": tls_server, "NOMAD_CAPATH": str(ca_dir)})
    assert await version_via(config) == (1, 0, 18)
